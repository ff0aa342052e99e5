"""The SQL behind ``eventstore.store``, one recorder per database engine.

The hot paths (append, read a stream, read the feed) bypass the ORM: prepared statements
on Django's own connection, so they join the caller's transaction and Django's pool, at one
round trip per append. Database errors are turned into the store's own errors here, at one
boundary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

import orjson
import psycopg
from django.db import IntegrityError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.datetime import TimestamptzLoader

from .cursor import MAX_POSITION, FeedKey
from .export import line_bytes, stored_line
from .records import Payload, RecordedEvent, StoredSnapshot
from .serialization import registry

_loads = orjson.loads


class UniqueViolation(Exception):
    """An insert hit a unique constraint; the store works out which one and why."""


@dataclass(frozen=True, slots=True)
class Head:
    version: int
    hash: str
    stream_type: str


class Row(NamedTuple):
    """One event ready for insert: payloads normalised and as canonical JSON, hash computed."""

    event_id: UUID
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    data_json: str
    metadata: dict[str, Any]
    metadata_json: str
    occurred_at: dt.datetime
    hash: str


# What the database assigned to an inserted event.
Inserted = tuple[int, int, dt.datetime, int | None]  # position, version, recorded_at, transaction_id


def _build(rows: Iterable[Sequence[Any]], stream_id: UUID | None = None, *, upcast: bool = True) -> list[RecordedEvent]:
    """RecordedEvents from rows of COLUMNS (or STREAM_COLUMNS when ``stream_id`` is given),
    payloads upcast to their current shape unless ``upcast`` is false."""
    upcast_keys = registry.upcast_keys if upcast else {}
    upcast = registry.upcast
    out = []
    append = out.append
    new = RecordedEvent
    if stream_id is None:
        for pos, eid, st, sid, ver, et, sv, data, meta, occ, rec, tx in rows:
            data = _loads(data)
            if upcast_keys and (et, sv) in upcast_keys:
                sv, data = upcast(et, sv, data)
            append(new(pos, eid, st, sid, ver, et, sv, data, _loads(meta), occ, rec, tx))
    else:
        for pos, eid, st, ver, et, sv, data, meta, occ, rec, tx in rows:
            data = _loads(data)
            if upcast_keys and (et, sv) in upcast_keys:
                sv, data = upcast(et, sv, data)
            append(new(pos, eid, st, stream_id, ver, et, sv, data, _loads(meta), occ, rec, tx))
    return out


def _payloads(rows: Iterable[Sequence[Any]]) -> list[Payload]:
    upcast_keys, upcast = registry.upcast_keys, registry.upcast
    out = []
    for version, event_type, schema_version, data in rows:
        data = _loads(data)
        if upcast_keys and (event_type, schema_version) in upcast_keys:
            schema_version, data = upcast(event_type, schema_version, data)
        out.append(Payload(version, event_type, schema_version, data))
    return out


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a page of events is fetched and built.

    A page allocates thousands of containers (rows, payload dicts, records) and none of them
    can form a cycle, yet each 700 allocations trigger a collection that scans them all:
    up to a fifth of the time of reading the feed. The collector is restarted only by the
    call that stopped it, so nesting and threads are safe.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _canonical(text: str) -> bytes:
    """A stored JSON payload in canonical form (``serialization.canonical_json``; payload
    integers fit in 64 bits, so orjson reads and writes them exactly)."""
    return orjson.dumps(orjson.loads(text), option=orjson.OPT_SORT_KEYS)


def _respelled(fragment: str) -> bytes:
    """A run of a leaf's scalar fields as the server spelled it, canonical: PostgreSQL's
    to_json and orjson escape the same characters, but a string that needed escaping is
    written again by orjson, to be sure of the escapes' spelling."""
    if "\\" not in fragment:
        return fragment.encode()
    # ',"a":1,"b":' or ',"c":2}': parse the fields as an object and write them back.
    opened = "{" + fragment[1:]
    closed = opened if opened.endswith("}") else opened + "null}"
    written = orjson.dumps(orjson.loads(closed))
    return b"," + (written[1:] if closed is opened else written[1:-5])


def _line(row: Sequence[Any]) -> dict[str, Any]:
    """An export line from the server's spelling of its columns (``PostgresRecorder._LINE``)."""
    return {
        "position": row[0],
        "event_id": row[1],
        "stream_type": row[2],
        "stream_id": row[3],
        "version": row[4],
        "event_type": row[5],
        "schema_version": row[6],
        "data": _loads(row[7]),
        "metadata": _loads(row[8]),
        "occurred_at": row[9],
        "recorded_at": row[10],
        "key_id": row[11],
        "hash": row[12],
    }


COLUMNS = (
    "position, event_id, stream_type, stream_id, version, event_type, schema_version, data, "
    "metadata, occurred_at, recorded_at, transaction_id"
)
STREAM_COLUMNS = COLUMNS.replace(" stream_id,", "")
INSERT_COLUMNS = (
    "event_id, stream_type, stream_id, version, event_type, schema_version, data, metadata, occurred_at, key_id, hash"
)


class Recorder:
    vendor: str

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    # Subclasses implement these.
    def insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: Head | None
    ) -> list[Inserted] | None:
        raise NotImplementedError

    def head(self, stream_id: UUID) -> Head | None:
        raise NotImplementedError

    def head_at(self, stream_id: UUID, version: int) -> Head | None:
        raise NotImplementedError

    def events_by_id(self, event_ids: list[UUID]) -> list[RecordedEvent]:
        raise NotImplementedError

    def read_stream(
        self, stream_id: UUID, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent]:
        raise NotImplementedError

    def read_payloads(self, stream_id: UUID, from_version: int, to_version: int | None) -> list[Payload]:
        sql = (
            "SELECT version, event_type, schema_version, data FROM chronicle_event "
            "WHERE stream_id = %s AND version >= %s"
        )
        params: list[Any] = [self._uuid(stream_id), from_version]
        if to_version is not None:
            sql += " AND version <= %s"
            params.append(to_version)
        with collector_paused():
            return _payloads(self._fetchall(self._sql(sql + " ORDER BY version"), params))

    def version_at(self, stream_id: UUID, as_of: dt.datetime) -> int:
        """The stream's version as of a recorded time (versions are recorded in order)."""
        rows = self._fetchall(
            self._sql("SELECT MAX(version) FROM chronicle_event WHERE stream_id = %s AND recorded_at <= %s"),
            [self._uuid(stream_id), self._time(as_of)],
        )
        return rows[0][0] or 0

    def _uuid(self, value: UUID) -> Any:
        return value

    def _time(self, value: dt.datetime) -> Any:
        return value

    def _sql(self, sql: str) -> str:
        return sql

    def horizon(self) -> tuple[FeedKey, str]:
        """(the highest feed key every committed event is at or below, the log's epoch)."""
        raise NotImplementedError

    def committed(self) -> FeedKey:
        """A feed key at or past every event committed so far. The horizon reaches it once
        every transaction that was running at this moment has ended."""
        raise NotImplementedError

    def read_feed(
        self,
        after: FeedKey,
        below: FeedKey,
        limit: int,
        stream_types: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        raise NotImplementedError

    def event_at_position(self, position: int) -> RecordedEvent | None:
        raise NotImplementedError

    def backlog(self, after: FeedKey, event_types: Sequence[str] | None, limit: int) -> tuple[int, dt.datetime | None]:
        """(events after ``after`` in feed order, at most ``limit``; the oldest one's recorded_at)."""
        raise NotImplementedError

    def covered_position(self, upto: FeedKey) -> int:
        """The highest position P such that every committed event at or below P is at or
        before ``upto`` in feed order (see ``store.covered_position``)."""
        raise NotImplementedError

    def save_snapshot(self, snapshot: StoredSnapshot, state_json: str) -> None:
        raise NotImplementedError

    def load_snapshot(self, stream_id: UUID, state_schema: int, max_version: int | None) -> StoredSnapshot | None:
        raise NotImplementedError

    def iter_by_stream(self, page_size: int) -> Iterator[tuple[RecordedEvent, str, str]]:
        """Every event as stored (not upcast) with its key id and hash, ordered by
        (stream id, version), page by page."""
        raise NotImplementedError

    def read_leaf_lines(self, after: FeedKey, below: FeedKey, limit: int) -> list[tuple[FeedKey, dict[str, Any]]]:
        """The feed after ``after`` up to the horizon ``below``, each event as its export line
        (``export.stored_row``, payloads as stored), with its place in the feed: what the
        sealer makes leaves of."""
        raise NotImplementedError

    def read_leaves(self, after: FeedKey, below: FeedKey, limit: int) -> Iterator[tuple[int, int, bytes]]:
        """What ``read_leaf_lines`` reads, as (transaction id, position, leaf bytes: the
        ``export.line_bytes`` of its line) for each event."""
        for place, line in self.read_leaf_lines(after, below, limit):
            yield place.transaction_id, place.position, line_bytes(line)

    def leaves_with_lines(self, after_index: int, limit: int) -> list[tuple[int, int, str, dict[str, Any] | None, int]]:
        """Leaves after ``after_index`` in index order: (index, position, leaf hash, the export
        line of the event now at that position or None if there is none, and that event's
        transaction id, which with the position is its place in the feed; 0 on SQLite)."""
        raise NotImplementedError

    def insert_leaves(self, leaves: Iterable[tuple[int, int, str]]) -> None:
        """Append (index, position, leaf hash) rows, iterating ``leaves`` once."""
        raise NotImplementedError

    def count_upto(self, upto: FeedKey) -> int:
        raise NotImplementedError


class PostgresRecorder(Recorder):
    vendor = "postgresql"

    # The event chained to must exist with that hash and type, and come before this
    # transaction in feed order (see store.TransactionOrderConflict).
    _GUARD = (
        "WHERE EXISTS (SELECT 1 FROM chronicle_event p WHERE p.stream_id = ${} AND p.version = ${} "
        "AND p.hash = ${} AND p.stream_type = ${} "
        "AND p.transaction_id <= pg_current_xact_id()::text::bigint) "
    )
    _ROW = "(${}::uuid, ${}, ${}::uuid, ${}::int, ${}, ${}::int, ${}::jsonb, ${}::jsonb, ${}::timestamptz, ${}, ${})"

    @staticmethod
    @functools.cache
    def _insert_sql(count: int, guarded: bool) -> str:
        """The insert of ``count`` events, written with PostgreSQL's own ``$n`` placeholders
        for the raw cursor: psycopg parses and caches ``%s`` queries of at most 50 values,
        and parsed a 10-event insert (110 values) anew on every append."""
        values = ", ".join([PostgresRecorder._ROW] * count)
        if guarded:
            body = f"SELECT * FROM (VALUES {values}) AS e ({INSERT_COLUMNS}) {PostgresRecorder._GUARD}"
        else:
            body = f"VALUES {values} "
        numbers = range(1, 11 * count + (4 if guarded else 0) + 1)
        return (
            f"INSERT INTO chronicle_event ({INSERT_COLUMNS}) {body}"
            "RETURNING position, version, recorded_at, transaction_id"
        ).format(*numbers)

    def _cursor(self, cursor_class: type[psycopg.Cursor] = psycopg.Cursor) -> psycopg.Cursor:
        """One server-binding cursor per connection and class, kept for its prepared
        statements and the C timestamp loader (Django's own time-zone loader is pure Python)."""
        wrapper = self.connection
        wrapper.ensure_connection()
        raw = wrapper.connection
        cursors = getattr(wrapper, "_chronicle_cursors", None)
        if cursors is None or next(iter(cursors.values())).connection is not raw:
            cursors = wrapper._chronicle_cursors = {}
        cursor = cursors.get(cursor_class)
        if cursor is None or cursor.closed:
            cursor = cursors[cursor_class] = cursor_class(raw)
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        return cursor

    def _fetchall(self, sql: str, params: Sequence[Any], *, prepare: bool = True) -> list[Any]:
        cursor = self._cursor()
        with self.connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=prepare)
            return cursor.fetchall()

    def insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: Head | None
    ) -> list[Inserted] | None:
        params: list[Any] = []
        for r in rows:
            params += (
                r.event_id,
                stream_type,
                stream_id,
                r.version,
                r.event_type,
                r.schema_version,
                r.data_json,
                r.metadata_json,
                r.occurred_at,
                key_id,
                r.hash,
            )
        sql = self._insert_sql(len(rows), guard is not None)
        if guard is not None:
            params += (stream_id, guard.version, guard.hash, guard.stream_type)
        cursor = self._cursor(psycopg.RawCursor)
        try:
            with self.connection.wrap_database_errors:
                cursor.execute(sql, params, prepare=True)
                result = cursor.fetchall()
        except IntegrityError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == "23505":  # unique_violation
                raise UniqueViolation(str(exc)) from exc
            raise
        return result or None

    def head(self, stream_id: UUID) -> Head | None:
        rows = self._fetchall(
            "SELECT version, hash, stream_type FROM chronicle_event WHERE stream_id = %s ORDER BY version DESC LIMIT 1",
            [stream_id],
        )
        return Head(*rows[0]) if rows else None

    def head_at(self, stream_id: UUID, version: int) -> Head | None:
        rows = self._fetchall(
            "SELECT version, hash, stream_type FROM chronicle_event WHERE stream_id = %s AND version = %s",
            [stream_id, version],
        )
        return Head(*rows[0]) if rows else None

    def events_by_id(self, event_ids: list[UUID]) -> list[RecordedEvent]:
        return _build(
            self._fetchall(
                f"SELECT {COLUMNS} FROM chronicle_event WHERE event_id = ANY(%s) ORDER BY position",
                [event_ids],
            )
        )

    def read_stream(
        self, stream_id: UUID, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent]:
        sql = f"SELECT {STREAM_COLUMNS} FROM chronicle_event WHERE stream_id = %s AND version >= %s"
        params: list[Any] = [stream_id, from_version]
        if to_version is not None:
            sql += " AND version <= %s"
            params.append(to_version)
        if as_of is not None:
            sql += " AND recorded_at <= %s"
            params.append(as_of)
        with collector_paused():
            return _build(self._fetchall(sql + " ORDER BY version", params), stream_id)

    def horizon(self) -> tuple[FeedKey, str]:
        # Every transaction id below the oldest one still running belongs to a transaction
        # that has ended, so every event it wrote is visible now and forever.
        (xmin, epoch) = self._fetchall(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
            "(SELECT epoch FROM chronicle_log_identity ORDER BY id DESC LIMIT 1)",
            [],
        )[0]
        return FeedKey(xmin - 1, MAX_POSITION), epoch

    def committed(self) -> FeedKey:
        # Every transaction that had committed had an id below this snapshot's xmax.
        (xmax,) = self._fetchall("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint", [])[0]
        return FeedKey(xmax - 1, MAX_POSITION)

    def read_feed(
        self,
        after: FeedKey,
        below: FeedKey,
        limit: int,
        stream_types: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        sql = (
            f"SELECT {COLUMNS} FROM chronicle_event "
            "WHERE (transaction_id, position) > (%s, %s) AND transaction_id <= %s"
        )
        params: list[Any] = [after.transaction_id, after.position, below.transaction_id]
        if stream_types is not None:
            sql += " AND stream_type = ANY(%s)"
            params.append(list(stream_types))
        if event_types is not None:
            sql += " AND event_type = ANY(%s)"
            params.append(list(event_types))
        params.append(limit)
        with collector_paused():
            return _build(self._fetchall(sql + " ORDER BY transaction_id, position LIMIT %s", params))

    def event_at_position(self, position: int) -> RecordedEvent | None:
        rows = _build(self._fetchall(f"SELECT {COLUMNS} FROM chronicle_event WHERE position = %s", [position]))
        return rows[0] if rows else None

    def backlog(self, after: FeedKey, event_types: Sequence[str] | None, limit: int) -> tuple[int, dt.datetime | None]:
        sql = "SELECT recorded_at FROM chronicle_event WHERE (transaction_id, position) > (%s, %s)"
        params: list[Any] = [after.transaction_id, after.position]
        if event_types is not None:
            sql += " AND event_type = ANY(%s)"
            params.append(list(event_types))
        sql = f"SELECT count(*), min(recorded_at) FROM ({sql} ORDER BY transaction_id, position LIMIT %s) AS behind"
        count, oldest = self._fetchall(sql, [*params, limit])[0]
        return count, oldest

    def covered_position(self, upto: FeedKey) -> int:
        # Just below the lowest position after ``upto`` in feed order; with none, the highest.
        # Never prepared: after five runs PostgreSQL may keep a generic plan, which cannot
        # see that few events follow ``upto`` and finds min(position) by walking the primary
        # key from the log's start, past every event (25 ms at 100,000 events, growing with
        # the log, on every API query's position). Planned with its values, it reads the few
        # entries after ``upto`` in the feed index.
        return self._fetchall(
            "SELECT COALESCE("
            "(SELECT min(position) - 1 FROM chronicle_event WHERE (transaction_id, position) > (%s, %s)), "
            "(SELECT max(position) FROM chronicle_event), 0)",
            [upto.transaction_id, upto.position],
            prepare=False,
        )[0][0]

    def save_snapshot(self, snapshot: StoredSnapshot, state_json: str) -> None:
        self._fetchall(
            "INSERT INTO chronicle_snapshot (stream_id, stream_type, version, state_schema, state) "
            "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING RETURNING 1",
            [snapshot.stream_id, snapshot.stream_type, snapshot.version, snapshot.state_schema, state_json],
        )

    def load_snapshot(self, stream_id: UUID, state_schema: int, max_version: int | None) -> StoredSnapshot | None:
        sql = "SELECT stream_type, version, state FROM chronicle_snapshot WHERE stream_id = %s AND state_schema = %s"
        params: list[Any] = [stream_id, state_schema]
        if max_version is not None:
            sql += " AND version <= %s"
            params.append(max_version)
        rows = self._fetchall(sql + " ORDER BY version DESC LIMIT 1", params)
        if not rows:
            return None
        stream_type, version, state = rows[0]
        return StoredSnapshot(stream_id, stream_type, version, state_schema, _loads(state))

    def iter_by_stream(self, page_size: int) -> Iterator[tuple[RecordedEvent, str, str]]:
        sql = (
            f"SELECT {COLUMNS}, key_id, hash FROM chronicle_event "
            "WHERE (stream_id, version) > (%s, %s) ORDER BY stream_id, version LIMIT %s"
        )
        after: tuple[UUID, int] = (UUID(int=0), 0)
        while True:
            rows = self._fetchall(sql, [*after, page_size])
            events = _build((row[:-2] for row in rows), upcast=False)
            yield from zip(events, (row[-2] for row in rows), (row[-1] for row in rows), strict=True)
            if len(rows) < page_size:
                return
            after = (events[-1].stream_id, events[-1].version)

    # The export line's columns, spelled by the server as ``export.stored_row`` spells them
    # (text ids, UTC times with microseconds and a Z), so no row becomes a RecordedEvent.
    _LINE = (
        "{t}position, {t}event_id::text, {t}stream_type, {t}stream_id::text, {t}version, {t}event_type, "
        "{t}schema_version, {t}data::text, {t}metadata::text, "
        "to_char({t}occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "to_char({t}recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), {t}key_id, {t}hash"
    )

    def read_leaf_lines(self, after: FeedKey, below: FeedKey, limit: int) -> list[tuple[FeedKey, dict[str, Any]]]:
        with collector_paused():
            rows = self._fetchall(
                f"SELECT {self._LINE.format(t='')}, transaction_id FROM chronicle_event "
                "WHERE (transaction_id, position) > (%s, %s) AND transaction_id <= %s "
                "ORDER BY transaction_id, position LIMIT %s",
                [after.transaction_id, after.position, below.transaction_id, limit],
            )
            return [(FeedKey(row[-1], row[0]), _line(row)) for row in rows]

    # A leaf's bytes are canonical JSON with sorted keys: "data", then the fields up to
    # "metadata", then the rest. The server spells the two runs of scalars between the
    # payloads (strings through to_json, which escapes exactly what orjson escapes: ", \\
    # and control characters); the payloads, which JSONB does not keep in canonical form,
    # are parsed and written back canonically here.
    _LEAF_PARTS = (
        "position, transaction_id, data::text, metadata::text, "
        '\',"event_id":"\' || event_id::text || \'","event_type":\' || to_json(event_type)::text '
        "|| ',\"hash\":' || to_json(hash)::text || ',\"key_id\":' || to_json(key_id)::text || ',\"metadata\":', "
        '\',"occurred_at":"\' || to_char(occurred_at AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') '
        '|| \'","position":\' || position '
        '|| \',"recorded_at":"\' || to_char(recorded_at AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') '
        '|| \'","schema_version":\' || schema_version || \',"stream_id":"\' || stream_id::text '
        "|| '\",\"stream_type\":' || to_json(stream_type)::text || ',\"version\":' || version || '}'"
    )

    def read_leaves(self, after: FeedKey, below: FeedKey, limit: int) -> Iterator[tuple[int, int, bytes]]:
        sql = (
            f"SELECT {self._LEAF_PARTS} FROM chronicle_event "
            "WHERE (transaction_id, position) > (%s, %s) AND transaction_id <= %s "
            "ORDER BY transaction_id, position LIMIT %s"
        )
        # A page at a time, prepared, small enough that the planner walks the feed's index
        # whatever its statistics (a fresh table's lead it to sort the whole backlog for a
        # large LIMIT). A backlog beyond the first page is streamed in chunks where libpq
        # can (17 and later), so the server spells the next rows while these are hashed.
        while limit > 0:
            page = min(limit, 1000)
            rows = self._fetchall(sql, [after.transaction_id, after.position, below.transaction_id, page])
            yield from self._leaves_of(rows)
            if len(rows) < page:
                return
            limit -= len(rows)
            after = FeedKey(rows[-1][1], rows[-1][0])
            if limit and psycopg.pq.version() >= 170000:
                cursor = self._cursor()
                with self.connection.wrap_database_errors:
                    cursor.execute("SET LOCAL enable_sort = off")
                    params = [after.transaction_id, after.position, below.transaction_id, limit]
                    yield from self._leaves_of(cursor.stream(sql, params, size=1000))
                return

    @staticmethod
    def _leaves_of(rows: Iterable[Any]) -> Iterator[tuple[int, int, bytes]]:
        for position, transaction_id, data, metadata, middle, tail in rows:
            yield (
                transaction_id,
                position,
                b"".join((b'{"data":', _canonical(data), _respelled(middle), _canonical(metadata), _respelled(tail))),
            )

    def leaves_with_lines(self, after_index: int, limit: int) -> list[tuple[int, int, str, dict[str, Any] | None, int]]:
        rows = self._fetchall(
            f"SELECT l.leaf_index, l.position, l.hash, e.transaction_id, {self._LINE.format(t='e.')} "
            "FROM chronicle_leaf l LEFT JOIN chronicle_event e ON e.position = l.position "
            "WHERE l.leaf_index > %s ORDER BY l.leaf_index LIMIT %s",
            [after_index, limit],
        )
        return [(row[0], row[1], row[2], _line(row[4:]) if row[4] is not None else None, row[3] or 0) for row in rows]

    def insert_leaves(self, leaves: Iterable[tuple[int, int, str]]) -> None:
        # COPY, the rows written as one block of text: a fraction of an INSERT per leaf.
        block = "".join(f"{index}\t{position}\t{hash_}\n" for index, position, hash_ in leaves)
        with self._cursor().copy("COPY chronicle_leaf (leaf_index, position, hash) FROM STDIN") as copy:
            copy.write(block)

    def count_upto(self, upto: FeedKey) -> int:
        return self._fetchall(
            "SELECT count(*) FROM chronicle_event WHERE (transaction_id, position) <= (%s, %s)",
            [upto.transaction_id, upto.position],
        )[0][0]


def _sqlite_time(value: dt.datetime) -> str:
    """Django's SQLite format: naive UTC, space-separated."""
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")


def _sqlite_parse_time(value: dt.datetime | str) -> dt.datetime:
    """Django's converters already parse declared datetime columns; make them aware."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC)


class SqliteRecorder(Recorder):
    vendor = "sqlite"

    def _uuid(self, value: UUID) -> Any:
        return value.hex

    def _time(self, value: dt.datetime) -> Any:
        return _sqlite_time(value)

    def _sql(self, sql: str) -> str:
        return sql.replace("%s", "?")

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        self.connection.ensure_connection()
        cur = self.connection.connection.cursor()
        try:
            with self.connection.wrap_database_errors:
                cur.execute(sql, params)
                return cur.fetchall()
        finally:
            cur.close()

    def _events(self, rows: list[Any], stream_id: UUID | None = None, *, upcast: bool = True) -> list[RecordedEvent]:
        t = _sqlite_parse_time
        if stream_id is None:
            fixed = (
                (pos, UUID(eid), st, UUID(sid), ver, et, sv, data, meta, t(occ), t(rec), tx)
                for pos, eid, st, sid, ver, et, sv, data, meta, occ, rec, tx in rows
            )
        else:
            fixed = (
                (pos, UUID(eid), st, ver, et, sv, data, meta, t(occ), t(rec), tx)
                for pos, eid, st, ver, et, sv, data, meta, occ, rec, tx in rows
            )
        return _build(fixed, stream_id, upcast=upcast)

    def insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: Head | None
    ) -> list[Inserted] | None:
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
        sql = (
            f"INSERT INTO chronicle_event ({INSERT_COLUMNS}) "
            "SELECT column1, ?, ?, column2, column3, column4, column5, column6, column7, ?, column8 "
            f"FROM (VALUES {values}) "
        )
        params: list[Any] = [stream_type, stream_id.hex, key_id]
        for r in rows:
            params += [
                r.event_id.hex,
                r.version,
                r.event_type,
                r.schema_version,
                r.data_json,
                r.metadata_json,
                _sqlite_time(r.occurred_at),
                r.hash,
            ]
        if guard is not None:
            sql += (
                "WHERE EXISTS (SELECT 1 FROM chronicle_event p WHERE p.stream_id = ? "
                "AND p.version = ? AND p.hash = ? AND p.stream_type = ?) "
            )
            params += [stream_id.hex, guard.version, guard.hash, guard.stream_type]
        sql += "ORDER BY column2 RETURNING position, version, recorded_at, transaction_id"
        try:
            result = self._fetchall(sql, params)
        except IntegrityError as exc:
            if "UNIQUE constraint failed" not in str(exc):
                raise
            raise UniqueViolation(str(exc)) from exc
        if not result:
            return None
        return [(pos, ver, _sqlite_parse_time(rec), tx) for pos, ver, rec, tx in result]

    def head(self, stream_id: UUID) -> Head | None:
        rows = self._fetchall(
            "SELECT version, hash, stream_type FROM chronicle_event WHERE stream_id = ? ORDER BY version DESC LIMIT 1",
            [stream_id.hex],
        )
        return Head(*rows[0]) if rows else None

    def head_at(self, stream_id: UUID, version: int) -> Head | None:
        rows = self._fetchall(
            "SELECT version, hash, stream_type FROM chronicle_event WHERE stream_id = ? AND version = ?",
            [stream_id.hex, version],
        )
        return Head(*rows[0]) if rows else None

    def events_by_id(self, event_ids: list[UUID]) -> list[RecordedEvent]:
        marks = ", ".join("?" * len(event_ids))
        return self._events(
            self._fetchall(
                f"SELECT {COLUMNS} FROM chronicle_event WHERE event_id IN ({marks}) ORDER BY position",
                [e.hex for e in event_ids],
            )
        )

    def read_stream(
        self, stream_id: UUID, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent]:
        sql = f"SELECT {STREAM_COLUMNS} FROM chronicle_event WHERE stream_id = ? AND version >= ?"
        params: list[Any] = [stream_id.hex, from_version]
        if to_version is not None:
            sql += " AND version <= ?"
            params.append(to_version)
        if as_of is not None:
            sql += " AND recorded_at <= ?"
            params.append(_sqlite_time(as_of))
        return self._events(self._fetchall(sql + " ORDER BY version", params), stream_id)

    def horizon(self) -> tuple[FeedKey, str]:
        # SQLite has one writer at a time, so events commit in position order: everything
        # at or below the highest committed position is final.
        (head, epoch) = self._fetchall(
            "SELECT (SELECT COALESCE(MAX(position), 0) FROM chronicle_event), "
            "(SELECT epoch FROM chronicle_log_identity ORDER BY id DESC LIMIT 1)",
            [],
        )[0]
        return FeedKey(0, head), epoch

    def committed(self) -> FeedKey:
        return self.horizon()[0]

    def read_feed(
        self,
        after: FeedKey,
        below: FeedKey,
        limit: int,
        stream_types: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        sql = f"SELECT {COLUMNS} FROM chronicle_event WHERE position > ? AND position <= ?"
        params: list[Any] = [after.position, below.position]
        for column, values in (("stream_type", stream_types), ("event_type", event_types)):
            if values is not None:
                values = list(values) or [""]
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                params += values
        params.append(limit)
        return self._events(self._fetchall(sql + " ORDER BY position LIMIT ?", params))

    def event_at_position(self, position: int) -> RecordedEvent | None:
        rows = self._events(self._fetchall(f"SELECT {COLUMNS} FROM chronicle_event WHERE position = ?", [position]))
        return rows[0] if rows else None

    def backlog(self, after: FeedKey, event_types: Sequence[str] | None, limit: int) -> tuple[int, dt.datetime | None]:
        sql = "SELECT recorded_at FROM chronicle_event WHERE position > ?"
        params: list[Any] = [after.position]
        if event_types is not None:
            types = list(event_types) or [""]
            sql += f" AND event_type IN ({', '.join('?' * len(types))})"
            params += types
        sql = f"SELECT count(*), min(recorded_at) FROM ({sql} ORDER BY position LIMIT ?)"
        count, oldest = self._fetchall(sql, [*params, limit])[0]
        return count, _sqlite_parse_time(oldest) if oldest is not None else None

    def covered_position(self, upto: FeedKey) -> int:
        # Feed order is position order here: everything up to the cursor's position, at most
        # the highest there is.
        (head,) = self._fetchall("SELECT COALESCE(MAX(position), 0) FROM chronicle_event", [])[0]
        return min(upto.position, head)

    def save_snapshot(self, snapshot: StoredSnapshot, state_json: str) -> None:
        self._fetchall(
            "INSERT INTO chronicle_snapshot (stream_id, stream_type, version, state_schema, state) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [snapshot.stream_id.hex, snapshot.stream_type, snapshot.version, snapshot.state_schema, state_json],
        )

    def load_snapshot(self, stream_id: UUID, state_schema: int, max_version: int | None) -> StoredSnapshot | None:
        sql = "SELECT stream_type, version, state FROM chronicle_snapshot WHERE stream_id = ? AND state_schema = ?"
        params: list[Any] = [stream_id.hex, state_schema]
        if max_version is not None:
            sql += " AND version <= ?"
            params.append(max_version)
        rows = self._fetchall(sql + " ORDER BY version DESC LIMIT 1", params)
        if not rows:
            return None
        stream_type, version, state = rows[0]
        return StoredSnapshot(stream_id, stream_type, version, state_schema, _loads(state))

    def iter_by_stream(self, page_size: int) -> Iterator[tuple[RecordedEvent, str, str]]:
        sql = (
            f"SELECT {COLUMNS}, key_id, hash FROM chronicle_event "
            "WHERE (stream_id, version) > (?, ?) ORDER BY stream_id, version LIMIT ?"
        )
        after: tuple[str, int] = ("", 0)
        while True:
            rows = self._fetchall(sql, [*after, page_size])
            events = self._events([row[:-2] for row in rows], upcast=False)
            yield from zip(events, (row[-2] for row in rows), (row[-1] for row in rows), strict=True)
            if len(rows) < page_size:
                return
            after = (events[-1].stream_id.hex, events[-1].version)

    def read_leaf_lines(self, after: FeedKey, below: FeedKey, limit: int) -> list[tuple[FeedKey, dict[str, Any]]]:
        rows = self._fetchall(
            f"SELECT {COLUMNS}, key_id, hash FROM chronicle_event "
            "WHERE position > ? AND position <= ? ORDER BY position LIMIT ?",
            [after.position, below.position, limit],
        )
        events = self._events([row[:-2] for row in rows], upcast=False)
        return [(FeedKey(0, e.position), stored_line(e, row[-2], row[-1])) for e, row in zip(events, rows, strict=True)]

    def leaves_with_lines(self, after_index: int, limit: int) -> list[tuple[int, int, str, dict[str, Any] | None, int]]:
        columns = ", ".join(f"e.{column}" for column in COLUMNS.split(", "))
        rows = self._fetchall(
            f"SELECT l.leaf_index, l.position, l.hash, {columns}, e.key_id, e.hash FROM chronicle_leaf l "
            "LEFT JOIN chronicle_event e ON e.position = l.position "
            "WHERE l.leaf_index > ? ORDER BY l.leaf_index LIMIT ?",
            [after_index, limit],
        )
        present = [row[3:] for row in rows if row[3] is not None]
        events = iter(self._events([row[:-2] for row in present], upcast=False))
        keys = iter((row[-2], row[-1]) for row in present)
        return [
            (row[0], row[1], row[2], stored_line(next(events), *next(keys)) if row[3] is not None else None, 0)
            for row in rows
        ]

    def insert_leaves(self, leaves: Sequence[tuple[int, int, str]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany("INSERT INTO chronicle_leaf (leaf_index, position, hash) VALUES (%s, %s, %s)", leaves)

    def count_upto(self, upto: FeedKey) -> int:
        return self._fetchall("SELECT count(*) FROM chronicle_event WHERE position <= ?", [upto.position])[0][0]


def recorder_for(using: str = "default") -> Recorder:
    """The recorder of a database connection (one per connection, kept on it)."""
    connection = connections[using]
    recorder = connection.__dict__.get("_chronicle_recorder")
    if recorder is None:
        if connection.vendor == "postgresql":
            recorder = PostgresRecorder(connection)
        elif connection.vendor == "sqlite":
            recorder = SqliteRecorder(connection)
        else:
            raise NotImplementedError(f"the event store supports PostgreSQL and SQLite, not {connection.vendor}")
        connection._chronicle_recorder = recorder
    return recorder
