"""Rebuilding read models without downtime.

For the projections named, read once for all of them:

1. Create each projection's shadow tables (``projections.shadow``): empty copies of its
   live tables, while readers and the live projection carry on with the live ones.
2. Replay the log from its start into them: the feed filtered by their event types, a page
   at a time, outside any transaction; each page is folded into the rows in memory, which
   are written in bulk when there are more than MAX_ROWS_IN_MEMORY and at the end.
3. Swap, one projection at a time: catch the shadow tables up with what was appended
   meanwhile, then in one short transaction take ownership (waiting at most
   SWAP_LOCK_TIMEOUT_MS for the live projection's batch), apply the last events, swap the
   tables and set the checkpoint to where the shadow tables are. The projection continues
   from there. If more than a page arrived in between, or readers hold the tables past the
   timeout, it catches up again and retries.

A second rebuild of a projection is refused while one runs. Process managers are never
rebuilt. A handler that fails during the replay stops the rebuild, and so does a progress
callback that raises (``RebuildCancelled``, how a cancelled job stops): the shadow tables
are dropped and the live tables are untouched.

``projections.rebuild_jobs`` runs this as jobs that any process can watch and cancel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

from django.db import OperationalError, transaction
from django.utils import timezone

from eventstore import store
from eventstore.recorders import collector_paused
from eventstore.records import RecordedEvent

from . import locks
from .models import Checkpoint
from .runner import ensure_checkpoint
from .shadow import ShadowTables
from .subscribers import Projection

log = logging.getLogger(__name__)

MAX_ROWS_IN_MEMORY = 200_000
SWAP_LOCK_TIMEOUT_MS = 2_000
SWAP_ATTEMPTS = 10

# Called before the first page and after each page with (events replayed so far, events to
# replay in all as counted before the first page).
Progress = Callable[[int, int], None]


class RebuildError(Exception):
    pass


class RebuildCancelled(RebuildError):
    """Raised by a progress callback to stop the replay; nothing is swapped in."""


@dataclass(frozen=True)
class Rebuilt:
    name: str
    # Events its read models were rebuilt from.
    events: int


@dataclass
class _Replayed:
    """What a projection's shadow tables hold: the events folded in, the last one's position."""

    shadow: ShadowTables
    events: int = 0
    last_position: int = 0

    def flush(self, projection: Projection) -> None:
        """Write the rows in memory; the first time, index the tables after loading them."""
        projection.flush()
        self.shadow.index()


def rebuild(
    classes: Sequence[type[Projection]],
    *,
    progress: Progress | None = None,
    started: Callable[[], None] | None = None,
    page_size: int = store.MAX_FEED_PAGE,
) -> list[Rebuilt]:
    """Rebuild the read models of ``classes`` from the whole log and swap them in.
    ``started`` is called once the rebuild owns its projections (``lock_name``), before it
    touches any table."""
    with ExitStack() as stack:
        for cls in classes:
            if not stack.enter_context(locks.session_lock(lock_name(cls.name))):
                raise RebuildError(f"a rebuild of {cls.name} is already running")
            ensure_checkpoint(cls)
        if started:
            started()
        shadows = {cls: ShadowTables(cls.models) for cls in classes}
        for shadow in shadows.values():
            stack.callback(shadow.drop)  # gone after a swap; left behind only by a failure
            shadow.create()
        projections = [cls(tables=shadows[cls].names, empty=True) for cls in classes]
        replayed = {projection: _Replayed(shadows[type(projection)]) for projection in projections}
        cursor = _replay(projections, replayed, None, page_size, progress)
        return [
            _swap(projection, shadows[type(projection)], cursor, replayed[projection]) for projection in projections
        ]


def lock_name(projection: str) -> str:
    """The session lock a rebuild of ``projection`` holds while it runs."""
    return f"rebuild:{projection}"


def _replay(
    projections: Sequence[Projection],
    replayed: dict[Projection, _Replayed],
    cursor: str | None,
    page_size: int,
    progress: Progress | None = None,
) -> str:
    """Fold every event after ``cursor`` into the projections and write them; returns the
    cursor they are at.

    Python's cycle collector is paused meanwhile: the rows in memory (up to
    MAX_ROWS_IN_MEMORY model instances and their values) form no cycles, yet every full
    collection scans them all, and the replay makes enough objects to trigger many (paused
    only while a page is folded, it still took a tenth of the time)."""
    event_types = sorted({event_type for projection in projections for event_type in projection.event_types})
    total = store.feed_backlog(cursor, event_types=event_types, limit=2**62).count if progress else 0
    done = 0
    if progress:
        progress(done, total)
    with collector_paused():
        while True:
            page = store.read_feed(cursor, limit=page_size, event_types=event_types)
            for projection in projections:
                _fold(projection, page.events, replayed[projection])
            cursor, done = page.next_cursor, done + len(page.events)
            if progress:
                progress(done, total)
            if page.caught_up:
                break
        for projection in projections:
            replayed[projection].flush(projection)
    return cursor


def _fold(projection: Projection, events: Sequence[RecordedEvent], replayed: _Replayed) -> None:
    types = projection.event_types
    mine = [event for event in events if event.event_type in types]
    if not mine:
        return
    projection.apply(mine)
    replayed.events += len(mine)
    replayed.last_position = mine[-1].position
    if projection.rows_in_memory > MAX_ROWS_IN_MEMORY:
        replayed.flush(projection)


def _swap(projection: Projection, shadow: ShadowTables, cursor: str, replayed: _Replayed) -> Rebuilt:
    cls = type(projection)
    for _attempt in range(SWAP_ATTEMPTS):
        cursor = _replay([projection], {projection: replayed}, cursor, store.MAX_FEED_PAGE)
        try:
            with transaction.atomic():
                if _take_over(cls, shadow, cursor, replayed):
                    return Rebuilt(cls.name, replayed.events)
        except OperationalError as error:  # readers or the live batch held on past the timeout
            log.warning("rebuild of %s: could not swap yet (%s); trying again", cls.name, error)
    raise RebuildError(f"could not take {cls.name} over from the live projection in {SWAP_ATTEMPTS} attempts")


def _take_over(cls: type[Projection], shadow: ShadowTables, cursor: str, replayed: _Replayed) -> bool:
    """In the swap transaction: own the projection, read what the shadow tables still miss
    (False if it is more than a page), apply it, swap the tables, move the checkpoint."""
    locks.wait_own_batch(cls.name, timeout_ms=SWAP_LOCK_TIMEOUT_MS)
    page = store.read_feed(cursor, event_types=cls.event_types)
    if not page.caught_up:
        return False
    last = cls(tables=shadow.names)
    last.apply(page.events)
    last.flush()
    shadow.swap()
    now = timezone.now()
    last_position = page.events[-1].position if page.events else replayed.last_position
    Checkpoint.objects.filter(pk=cls.name).update(
        cursor=page.next_cursor,
        state=Checkpoint.RUNNING,
        last_error="",
        failed_position=None,
        failed_event_id=None,
        failed_event_type="",
        failed_at=None,
        last_position=last_position,
        events_processed=replayed.events + len(page.events),
        rebuilt_at=now,
        updated_at=now,
    )
    return True
