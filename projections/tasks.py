"""Celery tasks: thin wrappers around the runner and the rebuild jobs. All are safe to
deliver any number of times: a batch re-reads its checkpoint inside its transaction, so a
duplicate finds nothing left to do, and a rebuild job is claimed once."""

from collections.abc import Sequence

from celery import current_app, shared_task

from . import rebuild_jobs, runner
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


@shared_task(name="projections.rebuild", ignore_result=True)
def rebuild(job_ids: Sequence[int]) -> None:
    """Sent by the admin's Rebuild: run the queued jobs (how they end is recorded on them)."""
    rebuild_jobs.run(job_ids)


@shared_task(name="projections.retry", ignore_result=True)
def retry(name: str) -> None:
    """Sent by the admin's Retry once it has cleared the subscriber's failure: run it now
    rather than at the next sweep."""
    runner.catch_up([name])


def in_background() -> bool:
    """Whether tasks go to workers (a broker is configured) rather than running here and now."""
    return not current_app.conf.task_always_eager
