"""Periodic work on the event log (scheduled by Celery beat, see settings)."""

from celery import shared_task

from . import integrity


@shared_task(name="eventstore.seal")
def seal_event_log() -> int:
    """Seal the heads of the streams that changed since the last seal; returns the seal id.

    Cheap and incremental, so it runs often; the full ``verify_events`` walk is left to
    operators (and to ``verify_events --seal``, which verifies before sealing).
    """
    return integrity.seal().id
