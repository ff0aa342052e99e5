"""Rebuilds as jobs that any process can start, follow and cancel.

A rebuild (``projections.rebuild``) may run for minutes, in a Celery worker, in the web
request that asked for it (no broker) or in ``manage.py rebuild_projections``. Each is a
row of ``projection_rebuild`` (``RebuildJob``), so whichever web process shows the
projections page can show it and cancel it:

1. ``request`` adds a queued job for each projection. A partial unique index allows one
   queued or running job per projection, so a second rebuild is refused
   (``AlreadyRebuilding``) whoever asks, from whatever process.
2. ``run`` (here, or in the ``projections.rebuild`` task) claims the jobs once the rebuild
   owns its projections, writes the replay's progress at most every PROGRESS_SECONDS, each
   write its own autocommit statement (the replay runs outside any transaction, so others
   see it at once), and reads the cancel flag at the same points: a cancelled rebuild
   stops there and drops its shadow tables, and the live tables were never touched. It
   then records how the jobs ended.
3. ``cancel`` sets the flag (a queued job is cancelled at once).

A job whose process died (a worker killed mid-rebuild) would otherwise block its projection
for good: it is taken for abandoned, and marked failed when someone asks again or cancels
it, once on PostgreSQL nobody holds its rebuild lock (a dead session lets go of its locks),
or on SQLite, which has no locks across processes, it has written no progress for
ABANDONED_AFTER_SECONDS.

Projections rebuilt together (``rebuild_projections --all``) share one replay: cancelling
one cancels them all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import locks
from .models import Checkpoint, RebuildJob
from .rebuild import Progress, RebuildCancelled, RebuildError, Rebuilt, lock_name, rebuild
from .subscribers import Kind, SubscriberFailed, select

log = logging.getLogger(__name__)

PROGRESS_SECONDS = 0.5
ABANDONED_AFTER_SECONDS = 300


class AlreadyRebuilding(RebuildError):
    """A rebuild of the projection is queued or running already."""

    def __init__(self, job: RebuildJob) -> None:
        when = timezone.localtime(job.requested_at).strftime("%H:%M:%S")
        super().__init__(
            f"a rebuild of {job.projection} is already {job.state} (asked for by {job.requested_by or 'someone'} "
            f"at {when}): wait for it to end, or cancel it on the projections page"
        )
        self.job = job


def request(names: Sequence[str], *, requested_by: str) -> list[RebuildJob]:
    """A queued job for each named projection, or ``AlreadyRebuilding`` (and none at all)."""
    select(names, kind=Kind.PROJECTION)  # UnknownSubscriber for a name that is not one
    for job in RebuildJob.objects.filter(projection__in=names, state__in=RebuildJob.ACTIVE):
        _end_if_abandoned(job)
    try:
        with transaction.atomic():
            return [RebuildJob.objects.create(projection=name, requested_by=requested_by) for name in names]
    except IntegrityError:
        active = RebuildJob.objects.filter(projection__in=names, state__in=RebuildJob.ACTIVE).first()
        if active is None:
            raise RebuildError(f"another rebuild of {', '.join(names)} was just asked for") from None
        raise AlreadyRebuilding(active) from None


def run(job_ids: Sequence[int], *, echo: Progress | None = None) -> list[RebuildJob]:
    """Run the queued jobs ``job_ids`` together, here and now, and return them as they
    ended. Jobs no longer queued (cancelled, or taken by a duplicate delivery of their task)
    are left alone. ``echo`` is told the progress too (a command's progress bar)."""
    tracker = _Tracker(job_ids, echo)
    names = list(tracker.jobs.order_by("pk").values_list("projection", flat=True))
    if not names or len(names) != tracker.count:  # never "all" for want of names
        return list(tracker.jobs.order_by("pk"))
    try:
        rebuilt = rebuild(select(names, kind=Kind.PROJECTION), progress=tracker, started=tracker.claim)
    except (RebuildError, SubscriberFailed) as error:
        _end(tracker, RebuildJob.CANCELLED if isinstance(error, RebuildCancelled) else RebuildJob.FAILED, str(error))
    except BaseException as error:
        _end(tracker, RebuildJob.FAILED, f"{type(error).__name__}: {error}")
        raise
    else:
        _done(tracker, rebuilt)
    return list(tracker.jobs.order_by("pk"))


def cancel(name: str) -> RebuildJob | None:
    """Ask the active rebuild of ``name`` to stop; None if there is none. A queued job is
    cancelled at once, an abandoned one marked failed; a running one stops at its next
    progress write."""
    job = RebuildJob.objects.filter(projection=name, state__in=RebuildJob.ACTIVE).first()
    if job is None:
        return None
    now = timezone.now()
    if RebuildJob.objects.filter(pk=job.pk, state=RebuildJob.QUEUED).update(
        state=RebuildJob.CANCELLED, cancel_requested=True, error="cancelled before it started", finished_at=now
    ):
        log.info("rebuild of %s cancelled before it started", name)
    else:
        RebuildJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        _end_if_abandoned(job)
    job.refresh_from_db()
    return job


def give_up(job_ids: Sequence[int], reason: str) -> None:
    """Mark jobs that will never be run (their task could not be sent) failed."""
    RebuildJob.objects.filter(pk__in=job_ids, state=RebuildJob.QUEUED).update(
        state=RebuildJob.FAILED, error=reason, finished_at=timezone.now()
    )


def active() -> list[RebuildJob]:
    """The jobs queued or running, oldest first."""
    return list(RebuildJob.objects.filter(state__in=RebuildJob.ACTIVE).order_by("requested_at", "pk"))


def recent(limit: int = 5) -> list[RebuildJob]:
    """The jobs that ended last, newest first."""
    return list(RebuildJob.objects.exclude(state__in=RebuildJob.ACTIVE).order_by("-finished_at", "-pk")[:limit])


def abandoned(job: RebuildJob) -> bool:
    """Whether a running job's process is gone (see the module docstring)."""
    if job.state != RebuildJob.RUNNING:
        return False
    if connection.vendor == "postgresql":
        return not locks.held_elsewhere(lock_name(job.projection))
    return timezone.now() - job.updated_at > timedelta(seconds=ABANDONED_AFTER_SECONDS)


def _end_if_abandoned(job: RebuildJob) -> None:
    if abandoned(job):
        log.warning("rebuild of %s was abandoned by the process that ran it", job.projection)
        RebuildJob.objects.filter(pk=job.pk, state=RebuildJob.RUNNING).update(
            state=RebuildJob.FAILED,
            error="abandoned: the process that ran it stopped; the read models are unchanged",
            finished_at=timezone.now(),
        )


class _Tracker:
    """The jobs' side of one rebuild: claims them, writes progress, reads the cancel flag."""

    def __init__(self, job_ids: Sequence[int], echo: Progress | None) -> None:
        self.jobs = RebuildJob.objects.filter(pk__in=job_ids)
        self.count = len(set(job_ids))
        self.echo = echo
        self.claimed = False
        self.written = float("-inf")

    def claim(self) -> None:
        """Once the rebuild owns its projections: queued → running, or stop."""
        now = timezone.now()
        with transaction.atomic():
            claimed = self.jobs.filter(state=RebuildJob.QUEUED, cancel_requested=False).update(
                state=RebuildJob.RUNNING, started_at=now, updated_at=now
            )
            if claimed != self.count:  # all or none
                raise RebuildCancelled("no longer waiting to run (cancelled, or taken by another worker)")
        self.claimed = True

    def __call__(self, done: int, total: int) -> None:
        if self.echo:
            self.echo(done, total)
        if time.monotonic() - self.written >= PROGRESS_SECONDS or done >= total:
            self.written = time.monotonic()
            self._write(done, total)
        pause = settings.PROJECTIONS_REBUILD_PAUSE_MS
        if pause:
            time.sleep(pause / 1000)

    def _write(self, done: int, total: int) -> None:
        running = self.jobs.filter(state=RebuildJob.RUNNING)
        if running.update(events_done=done, events_total=max(done, total), updated_at=timezone.now()) != self.count:
            raise RebuildCancelled("its job was ended by someone else (taken for abandoned)")
        if running.filter(cancel_requested=True).exists():
            raise RebuildCancelled("cancelled")


def _end(tracker: _Tracker, state: str, error: str) -> None:
    """Record how the jobs ended: the ones this run claimed, or (if it never got to claim
    them) the ones still queued. A projection swapped in before a later one failed is done."""
    if not tracker.claimed and state == RebuildJob.CANCELLED:
        return  # cancelled or taken before it started: whoever did that has recorded it
    ended = list(tracker.jobs.filter(state=RebuildJob.RUNNING if tracker.claimed else RebuildJob.QUEUED))
    rebuilt_at = dict(
        Checkpoint.objects.filter(pk__in=[job.projection for job in ended]).values_list("pk", "rebuilt_at")
    )
    now = timezone.now()
    for job in ended:
        swapped = job.started_at is not None and (rebuilt_at.get(job.projection) or job.started_at) > job.started_at
        RebuildJob.objects.filter(pk=job.pk).update(
            state=RebuildJob.DONE if swapped else state, error="" if swapped else error, finished_at=now, updated_at=now
        )
    if ended:
        log.warning("rebuild of %s %s: %s", ", ".join(job.projection for job in ended), state, error)


def _done(tracker: _Tracker, rebuilt: list[Rebuilt]) -> None:
    now = timezone.now()
    for result in rebuilt:
        tracker.jobs.filter(projection=result.name, state=RebuildJob.RUNNING).update(
            state=RebuildJob.DONE, events_done=result.events, finished_at=now, updated_at=now
        )
