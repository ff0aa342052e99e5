"""The runner: moves every subscriber along the feed, records failures, reports lag.

A projection runs in batches, each one transaction that, in this order, takes ownership
(``pg_try_advisory_xact_lock``), reads the checkpoint, reads a page of the feed, and only
then writes: the read models and the checkpoint together. Reading before writing keeps the
batch's transaction id out of the feed's horizon while it reads (see ``eventstore.store``);
reading the checkpoint inside the transaction, after taking ownership, is what stops two
workers (or a duplicated wake-up) from applying a batch twice. On SQLite the IMMEDIATE
transaction takes the write lock first, which serialises batches the same way.

A process manager runs outside any transaction under a session advisory lock held for the
whole run; its checkpoint advances after each event, in a short transaction of its own.

A subscriber whose code raises stops: its batch rolls back, and the error, the event's
position, id and type are recorded on its checkpoint (state failed) in a separate
transaction. Others go on. ``retry`` clears the failure and runs it again from where it
stopped: nothing is ever skipped.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from eventstore import cursor as feed_cursor
from eventstore import store
from eventstore.exceptions import CursorExpired, InvalidCursor
from eventstore.records import FeedPage, RecordedEvent
from eventstore.seams import PausePoint

from . import locks
from .models import Checkpoint
from .subscribers import TRANSIENT_ERRORS, Kind, Projection, Subscriber, SubscriberFailed, select

log = logging.getLogger(__name__)

LAG_LIMIT = 10_000
HELD_BACK_POLL_SECONDS = 0.02
MAX_ERROR_LENGTH = 20_000

# Where tests of crashes and races step in (see ``eventstore.seams``).
batch_written: PausePoint[[str, list[RecordedEvent]]] = PausePoint(
    "a projection's batch has written its read models, not yet its checkpoint; its transaction is open"
)
reacted: PausePoint[[str, RecordedEvent]] = PausePoint(
    "a process manager has reacted to an event; its checkpoint has not moved past it yet"
)
waiting_for_held_back: PausePoint[[]] = PausePoint(
    "a patient catch-up found committed events the feed still holds back and waits for them"
)


class Outcome(StrEnum):
    CAUGHT_UP = "caught up"
    # Another worker owns the subscriber right now; it will take what is new.
    BUSY = "busy"
    FAILED = "failed"
    # A database error (connection lost, lock timeout) cut the run short; the next one resumes.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunResult:
    name: str
    outcome: Outcome
    # Events handled in this run.
    events: int

    def __str__(self) -> str:
        return f"{self.name}: {self.outcome}, {self.events} events handled"


def catch_up(
    names: Sequence[str] | None = None, *, batch_size: int | None = None, patience: float = 0.0
) -> list[RunResult]:
    """Run each subscriber (all by default) until it has caught up, failed, or is owned
    elsewhere. One subscriber's failure or database trouble never stops the others.

    With ``patience``, events that are committed but still held back by the feed's horizon
    (an older transaction somewhere on the server is open, see ``eventstore.store``) are
    waited for, up to that many seconds, rather than left to the next wake-up or sweep.
    A round that handled events is followed by the next at once: what is waiting then is
    most likely new, committed while the round ran, rather than held back. (A worker that
    slept after every round made each event of a steady stream of commands wait out the
    poll as well: the lag from a command to its read models doubled.)
    """
    classes = select(names)
    deadline = time.monotonic() + patience
    handled = dict.fromkeys((cls.name for cls in classes), 0)
    while True:
        results = [_run_one(cls, batch_size) for cls in classes]
        for result in results:
            handled[result.name] += result.events
        if time.monotonic() >= deadline or not _held_back(classes):
            return [RunResult(result.name, result.outcome, handled[result.name]) for result in results]
        if not any(result.events for result in results):
            waiting_for_held_back()
            time.sleep(HELD_BACK_POLL_SECONDS)


def _run_one(cls: type[Subscriber], batch_size: int | None) -> RunResult:
    try:
        return run(cls, batch_size=batch_size)
    except DatabaseError:
        log.exception("subscriber %s was interrupted; the next wake-up or sweep resumes it", cls.name)
        return RunResult(cls.name, Outcome.INTERRUPTED, 0)


def _held_back(classes: Sequence[type[Subscriber]]) -> bool:
    """Whether a running subscriber has committed events waiting that the feed does not
    hand out yet."""
    checkpoints = Checkpoint.objects.filter(state=Checkpoint.RUNNING).in_bulk([cls.name for cls in classes])
    return any(
        store.feed_backlog(checkpoints[cls.name].cursor or None, event_types=cls.event_types, limit=1).count
        for cls in classes
        if cls.name in checkpoints
    )


def run(cls: type[Subscriber], *, batch_size: int | None = None) -> RunResult:
    """Run one subscriber until it has caught up, failed, or is owned elsewhere.

    After the last batch releases ownership it looks once more for new events: an event
    committed while it still held ownership may have woken a worker that found it busy.
    """
    if connection.in_atomic_block:
        raise RuntimeError("subscribers run outside any transaction: they read the feed after the writers commit")
    ensure_checkpoint(cls)
    size = batch_size or settings.PROJECTIONS_BATCH_SIZE
    handled = 0
    while True:
        if cls.transactional:
            outcome, events = _run_batches(cls, size)
        else:
            outcome, events = _run_process_manager(cls, size)
        handled += events
        if outcome is not Outcome.CAUGHT_UP or not _more_waiting(cls):
            return RunResult(cls.name, outcome, handled)


def retry(name: str) -> RunResult:
    """Clear a subscriber's failure and run it again from the event that failed."""
    (cls,) = select([name])
    clear_failure(name)
    return run(cls)


def clear_failure(name: str) -> None:
    """Mark a failed subscriber running again, from the event that failed: the next run
    (a worker's wake-up or sweep) starts there."""
    Checkpoint.objects.filter(pk=name).update(
        state=Checkpoint.RUNNING,
        last_error="",
        failed_position=None,
        failed_event_id=None,
        failed_event_type="",
        failed_at=None,
        updated_at=timezone.now(),
    )


def ensure_checkpoint(cls: type[Subscriber], *, using: str = "default") -> None:
    """A projection starts at the beginning of the log, a process manager at its head:
    it reacts to what happens from now on, never to history (nor after a restore)."""
    checkpoints = Checkpoint.objects.using(using)
    if checkpoints.filter(pk=cls.name).exists():
        return
    start = store.head_cursor(using=using) if cls.kind is Kind.PROCESS_MANAGER else ""
    checkpoints.get_or_create(name=cls.name, defaults={"kind": cls.kind.value, "cursor": start})


def start_process_managers(using: str = "default", **signal: Any) -> None:
    """post_migrate: give each process manager its checkpoint at the head of the log, so it
    reacts to everything from its deployment on (and to no history)."""
    for cls in select(kind=Kind.PROCESS_MANAGER):
        ensure_checkpoint(cls, using=using)


def restart_process_managers(**signal: Any) -> None:
    """log_restored: move each process manager to the head of the restored log, so the
    restored history is not acted on a second time."""
    for cls in select(kind=Kind.PROCESS_MANAGER):
        Checkpoint.objects.update_or_create(
            name=cls.name,
            defaults={"kind": cls.kind.value, "cursor": store.head_cursor(), "state": Checkpoint.RUNNING},
        )


def _more_waiting(cls: type[Subscriber]) -> bool:
    checkpoint = Checkpoint.objects.get(pk=cls.name)
    if checkpoint.state == Checkpoint.FAILED:
        return False
    return bool(store.read_feed(checkpoint.cursor or None, limit=1, event_types=cls.event_types).events)


# --- Projections: one transaction a batch -------------------------------------------------


def _run_batches(cls: type[Subscriber], size: int) -> tuple[Outcome, int]:
    handled = 0
    while True:
        outcome, events, caught_up = _batch(cls, size)
        handled += events
        if outcome is not Outcome.CAUGHT_UP or caught_up:
            return outcome, handled


def _batch(cls: type[Subscriber], size: int) -> tuple[Outcome, int, bool]:
    """(outcome, events applied, whether the feed has nothing more for now)."""
    cursor, events = None, []
    try:
        with transaction.atomic():
            _commit_without_waiting_for_the_disk()
            if not locks.try_own_batch(cls.name):
                return Outcome.BUSY, 0, True
            checkpoint = Checkpoint.objects.get(pk=cls.name)
            if checkpoint.state == Checkpoint.FAILED:
                return Outcome.FAILED, 0, True
            cursor = checkpoint.cursor
            page = _read(cursor, size, cls.event_types)
            events = page.events
            projection = cls()
            assert isinstance(projection, Projection)
            projection.apply(events)
            projection.flush()
            batch_written(cls.name, events)
            _advance(cls.name, page, len(events))
    except SubscriberFailed as failure:
        before = events.index(failure.event) if failure.event in events else 0
        if before:  # apply the events before it, so that the subscriber stops right at it
            outcome, applied, _ = _batch(cls, before)
            return outcome, applied, outcome is not Outcome.CAUGHT_UP
        assert cursor is not None
        _record_failure(cls.name, cursor, failure)
        return Outcome.FAILED, 0, True
    return Outcome.CAUGHT_UP, len(events), page.caught_up


def _commit_without_waiting_for_the_disk() -> None:
    """On PostgreSQL, this batch's commit returns before its WAL is flushed (asynchronous
    commit). A batch writes only what the log can give again: read models and the checkpoint
    saying how far they got, in one transaction. A server crash may lose the last batches
    (up to three ``wal_writer_delay``s of them, 0.6 s by default) as a whole, read models and
    checkpoint together, and the subscriber applies those events again. Every commit saves a
    flush to disk, the largest part of a small batch's time (the lag from a command to its
    read models) and disk time the appends no longer share. The log's own writes never
    commit this way."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _read(cursor: str, size: int, event_types: Sequence[str]) -> FeedPage:
    try:
        return store.read_feed(cursor or None, limit=size, event_types=event_types)
    except (CursorExpired, InvalidCursor) as error:
        raise SubscriberFailed(None, error) from error


def _advance(name: str, page: FeedPage, events: int) -> None:
    changes = {"cursor": page.next_cursor, "updated_at": timezone.now()}
    if events:
        changes |= {"events_processed": F("events_processed") + events, "last_position": page.events[-1].position}
    Checkpoint.objects.filter(pk=name).update(**changes)


# --- Process managers: outside transactions, checkpoint after each event ------------------


def _run_process_manager(cls: type[Subscriber], size: int) -> tuple[Outcome, int]:
    with locks.session_lock(cls.name) as owned:
        if not owned:
            return Outcome.BUSY, 0
        checkpoint = Checkpoint.objects.get(pk=cls.name)
        if checkpoint.state == Checkpoint.FAILED:
            return Outcome.FAILED, 0
        return _follow(cls, checkpoint.cursor, size)


def _follow(cls: type[Subscriber], cursor: str, size: int) -> tuple[Outcome, int]:
    manager, epoch, handled = cls(), store.current_epoch(), 0
    while True:
        try:
            page = store.read_feed(cursor or None, limit=size, event_types=cls.event_types)
        except CursorExpired:
            log.warning("process manager %s: the log was restored; starting at its head", cls.name)
            page = FeedPage([], store.head_cursor(), False)
        for event in page.events:
            try:
                manager.handle(event)
            except TRANSIENT_ERRORS:
                raise
            except Exception as error:
                _record_failure(cls.name, cursor, SubscriberFailed(event, error))
                return Outcome.FAILED, handled
            reacted(cls.name, event)
            after = feed_cursor.encode(epoch, feed_cursor.FeedKey(*event.feed_key))
            if not _move(cls.name, cursor, after, event):
                return Outcome.BUSY, handled
            cursor, handled = after, handled + 1
        if page.next_cursor != cursor:
            if not _move(cls.name, cursor, page.next_cursor, None):
                return Outcome.BUSY, handled
            cursor = page.next_cursor
        if page.caught_up:
            return Outcome.CAUGHT_UP, handled


def _move(name: str, old: str, new: str, event: RecordedEvent | None) -> bool:
    """Advance the checkpoint from ``old`` to ``new``; False if it was no longer at ``old``
    (someone else moved it: let them go on)."""
    changes = {"cursor": new, "updated_at": timezone.now()}
    if event is not None:
        changes |= {"events_processed": F("events_processed") + 1, "last_position": event.position}
    with transaction.atomic():
        return bool(Checkpoint.objects.filter(pk=name, cursor=old).update(**changes))


# --- Failures -----------------------------------------------------------------------------


def _record_failure(name: str, cursor: str, failure: SubscriberFailed) -> None:
    """Mark the subscriber failed, unless its checkpoint moved on meanwhile."""
    event = failure.event
    error = "".join(traceback.format_exception(failure.error))[-MAX_ERROR_LENGTH:]
    now = timezone.now()
    with transaction.atomic():
        Checkpoint.objects.filter(pk=name, cursor=cursor, state=Checkpoint.RUNNING).update(
            state=Checkpoint.FAILED,
            last_error=f"{failure}\n\n{error}",
            failed_position=event.position if event else None,
            failed_event_id=event.event_id if event else None,
            failed_event_type=event.event_type if event else "",
            failed_at=now,
            updated_at=now,
        )
    where = f"at position {event.position} ({event.event_type})" if event else "outside any one event"
    log.error("subscriber %s failed %s: %s", name, where, failure)


# --- Lag and status -----------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    name: str
    kind: str
    state: str
    # Position of the last event handled (0: none yet).
    position: int
    events_processed: int
    # Events it has still to handle, counted up to LAG_LIMIT (None: its cursor is invalid).
    events_behind: int | None
    # Age of the oldest of them (0 when there are none).
    seconds_behind: float
    last_error: str

    @property
    def failed(self) -> bool:
        return self.state == Checkpoint.FAILED


def status() -> list[Status]:
    """Every subscriber's state and lag, in settings order."""
    checkpoints = Checkpoint.objects.in_bulk()
    return [_status(cls, checkpoints.get(cls.name)) for cls in select()]


def _status(cls: type[Subscriber], checkpoint: Checkpoint | None) -> Status:
    if checkpoint is None:  # not run yet: where it would start
        checkpoint = Checkpoint(name=cls.name, kind=cls.kind.value)
        if cls.kind is Kind.PROCESS_MANAGER:
            checkpoint.cursor = store.head_cursor()
    behind, seconds = _lag(cls, checkpoint.cursor)
    return Status(
        cls.name,
        cls.kind.value,
        checkpoint.state,
        checkpoint.last_position,
        checkpoint.events_processed,
        behind,
        seconds,
        checkpoint.last_error.split("\n", 1)[0],
    )


def _lag(cls: type[Subscriber], cursor: str) -> tuple[int | None, float]:
    try:
        backlog = store.feed_backlog(cursor or None, event_types=cls.event_types, limit=LAG_LIMIT)
    except (CursorExpired, InvalidCursor):
        return None, 0.0
    if backlog.oldest_recorded_at is None:
        return backlog.count, 0.0
    return backlog.count, max(0.0, (timezone.now() - backlog.oldest_recorded_at).total_seconds())
