"""Periodic work on the event log (scheduled by Celery beat, see settings)."""

from celery import shared_task

from . import sealing


@shared_task(name="eventstore.seal")
def seal_event_log() -> int | None:
    """Seal the events since the last seal; returns the new tree size (None: nothing new).

    Cheap and incremental, so it runs often; the full ``verify_events`` walk is left to
    operators.
    """
    made = sealing.seal()
    return made.tree_size if made else None
