"""Celery tasks: thin wrappers around the runner. Both are safe to deliver any number of
times: a batch re-reads its checkpoint inside its transaction, so a duplicate finds
nothing left to do."""

from celery import shared_task

from . import runner
from .gate import clear_gate

# How long a wake-up waits for events that committed but that an older transaction, still
# open, keeps out of the feed: usually milliseconds; past this the sweep takes them.
WAKE_PATIENCE_SECONDS = 2.0


@shared_task(name="projections.wake", ignore_result=True)
def wake(patience: float = WAKE_PATIENCE_SECONDS) -> None:
    """Sent after commits: catch every subscriber up."""
    clear_gate()
    runner.catch_up(patience=patience)


@shared_task(name="projections.sweep", ignore_result=True)
def sweep() -> None:
    """Run by Celery beat every few seconds: catches up whatever a lost wake-up missed."""
    runner.catch_up()
