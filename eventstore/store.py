"""The event store's public API: append, read a stream, read the feed, snapshots.

Everything here takes and returns plain values (``records``); callers never see ORM objects
or database errors.

Appends. Each stream's versions run 1, 2, 3... without gaps; an append names the version
it expects the stream to be at (``NO_STREAM`` for a new stream, ``ANY_VERSION`` to take
whatever it is) and fails with ``ConcurrencyError`` otherwise. Outside a transaction an
append is a single statement: one round trip. Inside the caller's transaction it runs in a
savepoint, so a conflict leaves that transaction usable.

The feed. On PostgreSQL positions are taken at insert but transactions commit in another
order, so "everything after the last position I saw" can skip an event that commits late.
Each event records its transaction id, and the feed only hands out events of transactions
older than the oldest one still running (``pg_snapshot_xmin``), ordered by
(transaction id, position). Writers stay concurrent; a reader never passes an open
transaction's events. That horizon spans the whole server: keep transactions short (the
settings cap idle ones) and take locks with advisory locks, not ``SELECT ... FOR UPDATE``.
A reader never sees its own open transaction's events either: read the feed after commit.

Within a stream, feed order is version order. A transaction takes its id at its first
write, so one that wrote something else before appending to a stream could hold an older
id than the transaction that committed the stream's previous event. The append checks for
that and raises ``TransactionOrderConflict`` (a ``ConcurrencyError``) so the unit of work is
retried; appending before other writes avoids it altogether.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from uuid import UUID, uuid4

from django.db import transaction
from django.dispatch import Signal

from . import cursor as feed_cursor
from .exceptions import (
    ConcurrencyError,
    DuplicateEventError,
    InvalidEvent,
    StreamTypeMismatch,
    TransactionOrderConflict,
)
from .recorders import ChainLink, Recorder, Row, UniqueViolation, recorder_for
from .records import (
    ANY_VERSION,
    METADATA_KEYS,
    NO_STREAM,
    SOURCES,
    Backlog,
    FeedPage,
    NewEvent,
    Payload,
    RecordedEvent,
    StoredSnapshot,
)
from .serialization import canonical_json, check_text, format_datetime, to_json_object, to_json_value
from .signing import current_key, event_hash

# Sent inside the appending transaction, after the events are written; receivers that
# act on them (waking the projections) defer their work with transaction.on_commit. Its
# receivers are cached (every append sends it, always with ``append`` as the sender).
events_appended = Signal(use_caching=True)

MAX_EVENTS_PER_APPEND = 1000
MAX_FEED_PAGE = 1000
_ATTEMPTS = 5


class _HeadCache:
    """Stream heads (version -> hash) this process appended, so the next append to the
    stream needs no extra read for the previous event's hash. Only a hint: the insert
    itself checks the hash it chained to, and a stale entry costs one retry."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._heads: dict[UUID, tuple[int, str]] = {}
        self._lock = threading.Lock()

    def get(self, stream_id: UUID, version: int) -> str | None:
        head = self._heads.get(stream_id)
        return head[1] if head is not None and head[0] == version else None

    def put(self, stream_id: UUID, version: int, hash_: str) -> None:
        with self._lock:
            if len(self._heads) >= self.size:
                self._heads.clear()
            self._heads[stream_id] = (version, hash_)

    def forget(self, stream_id: UUID) -> None:
        self._heads.pop(stream_id, None)


_heads = _HeadCache()


# --- Appending ----------------------------------------------------------------------------


def _metadata(given: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(METADATA_KEYS)
    if unknown:
        raise InvalidEvent(f"unknown metadata keys: {', '.join(sorted(unknown))}")
    meta = {key: given.get(key) for key in METADATA_KEYS}
    if not isinstance(meta["actor"], str) or not meta["actor"]:
        raise InvalidEvent("metadata needs an actor: a user id, or 'system'")
    if meta["source"] not in SOURCES:
        raise InvalidEvent(f"metadata source must be one of {', '.join(sorted(SOURCES))}")
    for key in METADATA_KEYS:
        value = meta[key]
        if isinstance(value, UUID):
            meta[key] = str(value)
        elif isinstance(value, str):
            meta[key] = check_text(str(value))
        elif value is not None:
            raise InvalidEvent(f"metadata {key} must be a string")
    return meta


def _check_event(event: NewEvent) -> None:
    if not isinstance(event, NewEvent):
        raise InvalidEvent(f"append() takes NewEvent objects, not {type(event).__name__}")
    if not event.event_type or len(event.event_type) > 128:
        raise InvalidEvent("event_type must be 1 to 128 characters")
    if not isinstance(event.schema_version, int) or not 1 <= event.schema_version <= 32767:
        raise InvalidEvent("schema_version must be an integer from 1 to 32767")
    if not isinstance(event.data, Mapping):
        raise InvalidEvent("event data must be a JSON object")


def _rows(
    stream_type: str,
    stream_id: UUID,
    events: Sequence[NewEvent],
    metadata: Mapping[str, Any],
    head: ChainLink | None,
    key: bytes,
) -> list[Row]:
    """Rows for insert after ``head``, each signed and chained to the one before it."""
    rows = []
    stream = str(stream_id)
    shared_metadata = _metadata(metadata)
    shared_metadata_json = canonical_json(shared_metadata)
    previous_hash = head.hash if head is not None else ""
    for version, event in enumerate(events, start=head.version + 1 if head is not None else 1):
        data = to_json_object(event.data)
        data_json = canonical_json(data)
        if event.metadata:
            event_metadata = _metadata({**metadata, **event.metadata})
            metadata_json = canonical_json(event_metadata)
        else:
            event_metadata, metadata_json = shared_metadata, shared_metadata_json
        previous_hash = event_hash(
            key,
            event_id=str(event.event_id),
            stream_type=stream_type,
            stream_id=stream,
            version=version,
            event_type=event.event_type,
            schema_version=event.schema_version,
            data_json=data_json,
            metadata_json=metadata_json,
            occurred_at=format_datetime(event.occurred_at),
            previous_hash=previous_hash,
        )
        rows.append(
            Row(
                event.event_id,
                version,
                event.event_type,
                event.schema_version,
                data,
                data_json,
                dict(event_metadata),
                metadata_json,
                event.occurred_at,
                previous_hash,
            )
        )
    return rows


def append(
    stream_type: str,
    stream_id: UUID,
    events: Sequence[NewEvent],
    *,
    expected_version: int,
    metadata: Mapping[str, Any],
    using: str = "default",
) -> list[RecordedEvent]:
    """Append ``events`` to a stream and return them as stored.

    ``expected_version`` is the version the stream must be at: ``NO_STREAM`` (0) for a new
    stream, N for a stream whose last event is version N, or ``ANY_VERSION``. ``metadata``
    needs ``actor`` and ``source``; each NewEvent's own metadata is merged over it.

    Appending events whose ids are all stored already, with the same content, is a retry:
    it returns the stored events and appends nothing.
    """
    _check_append(stream_type, stream_id, events, expected_version)
    recorder = recorder_for(using)
    key_id, key = current_key()
    for _attempt in range(_ATTEMPTS):
        head = _head(recorder, stream_id, stream_type, expected_version)
        rows = _rows(stream_type, stream_id, events, metadata, head, key)
        try:
            if recorder.connection.in_atomic_block:
                with transaction.atomic(using=using):  # a savepoint
                    inserted = recorder.insert(stream_type, stream_id, key_id, rows, head)
            else:
                inserted = recorder.insert(stream_type, stream_id, key_id, rows, head)
        except UniqueViolation:
            stored = _stored_copies(recorder, stream_type, stream_id, events, metadata)
            if stored is not None:
                return stored
            if expected_version != ANY_VERSION:
                raise _conflict(recorder, stream_id, head.version if head else 0) from None
            continue
        if inserted is None:
            _check_guard_failure(recorder, stream_id, stream_type, head, expected_version)
            continue
        recorded = [
            RecordedEvent(
                position,
                event.event_id,
                stream_type,
                stream_id,
                version,
                event.event_type,
                event.schema_version,
                row.data,
                row.metadata,
                event.occurred_at,
                recorded_at,
                transaction_id,
            )
            for event, row, (position, version, recorded_at, transaction_id) in zip(events, rows, inserted, strict=True)
        ]
        last = rows[-1]
        recorder.connection.on_commit(functools.partial(_heads.put, stream_id, last.version, last.hash))
        events_appended.send(sender=append, events=recorded, using=using)
        return recorded
    raise _conflict(recorder, stream_id, expected_version)


@contextlib.contextmanager
def writers_turn(stream_id: UUID, *, timeout_ms: int = 5000, using: str = "default") -> Iterator[None]:
    """Outside a transaction: wait behind the other writers queued for ``stream_id``, then
    hold the turn for the block, across as many transactions as it runs.

    Optimistic appends need no lock, but under heavy contention an unlucky writer can lose
    every race. A writer that lost once retries inside its turn, so losers take turns
    instead of colliding again, and one that loses again to a writer that never queued
    keeps its place at the head. Times out (an OperationalError) rather than wait for ever.
    On SQLite, where writes already take turns on the database lock, it does nothing.
    """
    digest = hashlib.blake2b(b"chronicle:stream:" + stream_id.bytes, digest_size=8).digest()
    with session_lock(int.from_bytes(digest, "big", signed=True), timeout_ms=timeout_ms, using=using):
        yield


@contextlib.contextmanager
def session_lock(key: int, *, timeout_ms: int | None = None, using: str = "default") -> Iterator[None]:
    """Hold the PostgreSQL advisory lock ``key`` for the block, on this session (outside any
    transaction), waiting for it at most ``timeout_ms`` (an OperationalError after that) or,
    with None, as long as it takes. SQLite has no such locks: it does nothing there."""
    connection = recorder_for(using).connection
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        previous = None
        if timeout_ms is not None:
            cursor.execute(
                "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, false)", [f"{timeout_ms}ms"]
            )
            (previous, _) = cursor.fetchone()
        try:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        finally:
            if previous is not None:
                cursor.execute("SELECT set_config('lock_timeout', %s, false)", [previous])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _check_append(stream_type: str, stream_id: UUID, events: Sequence[NewEvent], expected_version: int) -> None:
    if not isinstance(stream_type, str) or not 1 <= len(stream_type) <= 64:
        raise InvalidEvent("stream_type must be 1 to 64 characters")
    if not isinstance(stream_id, UUID):
        raise InvalidEvent("stream_id must be a UUID")
    if not events:
        raise InvalidEvent("append() needs at least one event")
    if len(events) > MAX_EVENTS_PER_APPEND:
        raise InvalidEvent(f"at most {MAX_EVENTS_PER_APPEND} events per append")
    if not isinstance(expected_version, int) or expected_version < ANY_VERSION:
        raise InvalidEvent("expected_version must be NO_STREAM, ANY_VERSION or a version")
    for event in events:
        _check_event(event)
    if len(events) > 1 and len({event.event_id for event in events}) != len(events):
        raise InvalidEvent("the events of one append need distinct event ids")


def _head(recorder: Recorder, stream_id: UUID, stream_type: str, expected_version: int) -> ChainLink | None:
    """The event to chain the append to: None for a new stream."""
    if expected_version == NO_STREAM:
        return None
    if expected_version == ANY_VERSION:
        head = recorder.head(stream_id)
    else:
        head = _head_at(recorder, stream_id, stream_type, expected_version)
    if head is not None and head.stream_type != stream_type:
        raise StreamTypeMismatch(f"stream {stream_id} holds {head.stream_type!r} events, not {stream_type!r}")
    return head


def _conflict(recorder: Recorder, stream_id: UUID, expected: int) -> ConcurrencyError:
    actual = recorder.head(stream_id)
    return ConcurrencyError(stream_id, expected, actual.version if actual else 0)


def _check_guard_failure(
    recorder: Recorder, stream_id: UUID, stream_type: str, head: ChainLink | None, expected_version: int
) -> None:
    """The insert found no event ``head`` to chain to: raise, or return to try again."""
    assert head is not None  # only appends to an existing stream are guarded
    actual = recorder.head(stream_id)
    if actual is not None and actual.stream_type != stream_type:
        raise StreamTypeMismatch(f"stream {stream_id} holds {actual.stream_type!r} events, not {stream_type!r}")
    if actual is not None and actual.version == head.version:
        if actual.hash == head.hash:
            raise TransactionOrderConflict(stream_id, head.version)
        _heads.forget(stream_id)  # a stale cached hash: read it again
    elif expected_version != ANY_VERSION:
        raise ConcurrencyError(stream_id, head.version, actual.version if actual else 0)


def _head_at(recorder: Recorder, stream_id: UUID, stream_type: str, version: int) -> ChainLink:
    """The stream's event ``version`` as the head to chain to; ConcurrencyError if absent."""
    cached = _heads.get(stream_id, version)
    if cached is not None:
        return ChainLink(version, cached, stream_type)
    head = recorder.head_at(stream_id, version)
    if head is None:
        actual = recorder.head(stream_id)
        raise ConcurrencyError(stream_id, version, actual.version if actual else 0)
    return head


def _stored_copies(
    recorder: Recorder,
    stream_type: str,
    stream_id: UUID,
    events: Sequence[NewEvent],
    metadata: Mapping[str, Any],
) -> list[RecordedEvent] | None:
    """The stored events if this append is a retry; None if none of its ids are stored."""
    stored = {e.event_id: e for e in recorder.events_by_id([event.event_id for event in events])}
    if not stored:
        return None
    for event in events:
        copy = stored.get(event.event_id)
        if copy is None:
            raise DuplicateEventError(
                f"some events of this append are stored already and some are not (e.g. {event.event_id})"
            )
        same = (
            copy.stream_type == stream_type
            and copy.stream_id == stream_id
            and copy.event_type == event.event_type
            and copy.data == to_json_value(event.data)
            and copy.metadata == _metadata({**metadata, **event.metadata})
            and copy.occurred_at == event.occurred_at
        )
        if not same:
            raise DuplicateEventError(f"event {event.event_id} is stored already with other content")
    return sorted(stored.values(), key=lambda e: e.version)


# --- Reading ------------------------------------------------------------------------------


def read_stream(
    stream_id: UUID,
    *,
    from_version: int = 1,
    to_version: int | None = None,
    as_of: dt.datetime | None = None,
    using: str = "default",
) -> list[RecordedEvent]:
    """A stream's events in version order, from/to a version or as of a recorded time."""
    return recorder_for(using).read_stream(stream_id, from_version, to_version, as_of)


def read_payloads(
    stream_id: UUID, *, from_version: int = 1, to_version: int | None = None, using: str = "default"
) -> list[Payload]:
    """A stream's payloads in version order, without metadata or times: the lean read for
    rebuilding an entity's state, where every microsecond per event counts."""
    return recorder_for(using).read_payloads(stream_id, from_version, to_version)


def stream_version(stream_id: UUID, *, as_of: dt.datetime | None = None, using: str = "default") -> int:
    """The stream's version now, or as of a recorded time; 0 if it had no events yet."""
    recorder = recorder_for(using)
    if as_of is not None:
        return recorder.version_at(stream_id, as_of)
    head = recorder.head(stream_id)
    return head.version if head else 0


def read_feed(
    cursor: str | None = None,
    *,
    limit: int = MAX_FEED_PAGE,
    stream_types: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
    using: str = "default",
) -> FeedPage:
    """The next page of the global feed after ``cursor`` (None: from the start).

    Every committed event appears exactly once when following ``next_cursor`` from the
    start, in feed order, while writers keep committing. With filters, a page may be empty
    while the cursor still advances past what was skipped.
    """
    page, _ = _read_page(cursor, limit, stream_types, event_types, using)
    return page


def iter_feed(
    cursor: str | None = None,
    *,
    page_size: int = MAX_FEED_PAGE,
    stream_types: Sequence[str] | None = None,
    event_types: Sequence[str] | None = None,
    using: str = "default",
) -> Iterator[tuple[RecordedEvent, str]]:
    """Every event after ``cursor`` up to now, each with the cursor just past it."""
    while True:
        page, epoch = _read_page(cursor, page_size, stream_types, event_types, using)
        for event in page.events:
            yield event, feed_cursor.encode(epoch, feed_cursor.FeedKey(*event.feed_key))
        cursor = page.next_cursor
        if page.caught_up:
            return


def _read_page(
    cursor: str | None,
    limit: int,
    stream_types: Sequence[str] | None,
    event_types: Sequence[str] | None,
    using: str,
) -> tuple[FeedPage, str]:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_FEED_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_FEED_PAGE}")
    recorder = recorder_for(using)
    # The horizon is read before the page, so the page cannot outrun it.
    horizon, epoch = recorder.horizon()
    epoch = epoch or _ensure_epoch(using)
    after = feed_cursor.decode(cursor, epoch)
    events = recorder.read_feed(after, horizon, limit, stream_types, event_types)
    if len(events) == limit:
        next_key = feed_cursor.FeedKey(*events[-1].feed_key)
        return FeedPage(events, feed_cursor.encode(epoch, next_key), False), epoch
    return FeedPage(events, feed_cursor.encode(epoch, max(after, horizon)), True), epoch


def head_cursor(*, using: str = "default") -> str:
    """A cursor past every event committed so far: where a new follower starts."""
    horizon, epoch = recorder_for(using).horizon()
    return feed_cursor.encode(epoch or _ensure_epoch(using), horizon)


def committed_key(*, using: str = "default") -> feed_cursor.FeedKey:
    """A feed key past every event committed so far; the feed's horizon passes it once the
    transactions running now have ended (see ``read_feed``)."""
    return recorder_for(using).committed()


def feed_backlog(
    cursor: str | None,
    *,
    event_types: Sequence[str] | None = None,
    limit: int = 10_000,
    using: str = "default",
) -> Backlog:
    """How far a follower at ``cursor`` is behind the log: its lag, for status pages.

    Counts committed events after the cursor (up to ``limit``, so a far-behind follower
    costs no more than a near one), including those a reader cannot take yet because an
    older transaction is still open: they are waiting all the same.
    """
    count, oldest = recorder_for(using).backlog(cursor_key(cursor, using=using), event_types, limit)
    return Backlog(count, oldest)


def covered_position(key: feed_cursor.FeedKey, *, using: str = "default") -> int:
    """What a follower at feed key ``key`` (``cursor_key`` of its cursor) has seen, as a
    position: the highest P such that every event committed now at a position at or below
    P lies at or before ``key`` in feed order (0 for none).

    On PostgreSQL this is not the position of the last event the follower took: positions
    are taken at insert and transactions commit in another order, so an event at a lower
    position can come later in the feed. P stops just below the first such event. An event
    of a transaction still open is invisible here; its position reaches nobody before it
    commits.
    """
    return recorder_for(using).covered_position(key)


def cursor_key(cursor: str | None, *, using: str = "default") -> feed_cursor.FeedKey:
    """The feed key inside a cursor of this log (raises InvalidCursor / CursorExpired)."""
    return feed_cursor.decode(cursor, current_epoch(using=using))


def current_epoch(*, using: str = "default") -> str:
    _, epoch = recorder_for(using).horizon()
    return epoch or _ensure_epoch(using)


def _ensure_epoch(using: str) -> str:
    from .models import LogIdentity

    """A log with no epoch yet (its tables just emptied) records its first one."""
    newest = LogIdentity.objects.using(using).order_by("-id").first()
    return newest.epoch if newest else LogIdentity.objects.using(using).create(epoch=uuid4().hex).epoch


def event_at_position(position: int, *, using: str = "default") -> RecordedEvent | None:
    return recorder_for(using).event_at_position(position)


# --- Snapshots ----------------------------------------------------------------------------


def save_snapshot(
    stream_type: str,
    stream_id: UUID,
    *,
    version: int,
    state: Mapping[str, Any],
    state_schema: int,
    using: str = "default",
) -> None:
    """Cache an entity's state at ``version``. Snapshots are never the source of truth."""
    snapshot = StoredSnapshot(stream_id, stream_type, version, state_schema, dict(state))
    recorder_for(using).save_snapshot(snapshot, canonical_json(to_json_value(state)))


def load_snapshot(
    stream_id: UUID, *, state_schema: int, max_version: int | None = None, using: str = "default"
) -> StoredSnapshot | None:
    """The newest snapshot of this state shape at or below ``max_version``."""
    return recorder_for(using).load_snapshot(stream_id, state_schema, max_version)
