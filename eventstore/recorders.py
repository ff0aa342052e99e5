"""The SQL behind ``eventstore.store``, one recorder per database engine.

The hot paths (append, read a stream, read the feed) bypass the ORM: prepared statements
on Django's own connection, so they join the caller's transaction and Django's pool, at one
round trip per append. Database errors are turned into the store's own errors here, at one
boundary.

``Recorder`` holds each query the engines share once, in PostgreSQL's spelling (``%s``
placeholders); the SQLite recorder respells it and converts values through the hooks
``_uuid``, ``_time``, ``_datetime`` and ``_events``. The engines keep their own feed order,
insert, horizon and leaf reading.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import functools
import gc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple
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

# SQL with its parameters.
Clause = tuple[str, list[Any]]
# What the database assigned to an inserted event.
Inserted = tuple[int, int, dt.datetime, int | None]  # position, version, recorded_at, transaction_id


class UniqueViolation(Exception):
    """An insert hit a unique constraint; the store works out which one and why."""


@dataclass(frozen=True, slots=True)
class ChainLink:
    """A stream's event as an append chains to it: its version and hash, and the stream's
    type (the stream's last event, or the one at the version the append expects)."""

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


def _build(rows: Iterable[Sequence[Any]], stream_id: UUID | None = None, *, upcast: bool = True) -> list[RecordedEvent]:
    """RecordedEvents from rows of COLUMNS (or STREAM_COLUMNS when ``stream_id`` is given),
    payloads upcast to their current shape unless ``upcast`` is false."""
    upcast_keys = registry.upcast_keys if upcast else {}
    upcast_to = registry.upcast
    out: list[RecordedEvent] = []
    append = out.append
    new = RecordedEvent
    if stream_id is None:
        for pos, eid, st, sid, ver, et, sv, data, meta, occ, rec, tx in rows:
            data = _loads(data)
            if upcast_keys and (et, sv) in upcast_keys:
                sv, data = upcast_to(et, sv, data)
            append(new(pos, eid, st, sid, ver, et, sv, data, _loads(meta), occ, rec, tx))
    else:
        for pos, eid, st, ver, et, sv, data, meta, occ, rec, tx in rows:
            data = _loads(data)
            if upcast_keys and (et, sv) in upcast_keys:
                sv, data = upcast_to(et, sv, data)
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
_EPOCH = "(SELECT epoch FROM chronicle_log_identity ORDER BY id DESC LIMIT 1)"


class Recorder(abc.ABC):
    # The columns of the feed's order, for ORDER BY.
    _FEED_ORDER: ClassVar[str]
    # An event's export line as columns of the event table ``{t}``, read back by ``_lines``.
    _LINE: ClassVar[str]

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection

    @abc.abstractmethod
    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of ``sql``, written in PostgreSQL's spelling."""

    @abc.abstractmethod
    def _insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: ChainLink | None
    ) -> list[Inserted]: ...

    @staticmethod
    @abc.abstractmethod
    def _unique_violation(error: IntegrityError) -> bool: ...

    @abc.abstractmethod
    def _feed_compare(self, op: str, key: FeedKey) -> Clause:
        """An event's place in the feed compared by ``op`` with ``key``."""

    @abc.abstractmethod
    def _feed_range(self, after: FeedKey, below: FeedKey) -> Clause:
        """The events after ``after`` in the feed, up to the horizon ``below``."""

    @abc.abstractmethod
    def _any(self, column: str, values: Sequence[Any]) -> Clause:
        """``column`` holds one of ``values``."""

    @abc.abstractmethod
    def _lines(self, rows: list[Any]) -> list[dict[str, Any]]:
        """Export lines from rows of ``_LINE``."""

    @abc.abstractmethod
    def horizon(self) -> tuple[FeedKey, str]:
        """(the highest feed key every committed event is at or below, the log's epoch)."""

    @abc.abstractmethod
    def committed(self) -> FeedKey:
        """A feed key at or past every event committed so far. The horizon reaches it once
        every transaction that was running at this moment has ended."""

    @abc.abstractmethod
    def covered_position(self, upto: FeedKey) -> int:
        """The highest position P such that every committed event at or below P is at or
        before ``upto`` in feed order (see ``store.covered_position``)."""

    @abc.abstractmethod
    def insert_leaves(self, leaves: Iterable[tuple[int, int, str]]) -> None:
        """Append (index, position, leaf hash) rows, iterating ``leaves`` once."""

    # Values to and from the database; PostgreSQL's driver converts them itself.
    def _uuid(self, value: UUID) -> object:
        return value

    def _time(self, value: dt.datetime) -> object:
        return value

    def _datetime(self, value: dt.datetime) -> dt.datetime:
        return value

    def _events(
        self, rows: Iterable[Sequence[Any]], stream_id: UUID | None = None, *, upcast: bool = True
    ) -> list[RecordedEvent]:
        return _build(rows, stream_id, upcast=upcast)

    def insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: ChainLink | None
    ) -> list[Inserted] | None:
        """Insert ``rows`` chained to ``guard`` (None: a new stream): what the database
        assigned them, or None when ``guard`` is no longer an event the stream can chain to."""
        try:
            return self._insert(stream_type, stream_id, key_id, rows, guard) or None
        except IntegrityError as exc:
            if not self._unique_violation(exc):
                raise
            raise UniqueViolation(str(exc)) from exc

    def head(self, stream_id: UUID) -> ChainLink | None:
        return self._link("stream_id = %s ORDER BY version DESC LIMIT 1", [self._uuid(stream_id)])

    def head_at(self, stream_id: UUID, version: int) -> ChainLink | None:
        return self._link("stream_id = %s AND version = %s", [self._uuid(stream_id), version])

    def _link(self, where: str, params: list[Any]) -> ChainLink | None:
        rows = self._fetchall(f"SELECT version, hash, stream_type FROM chronicle_event WHERE {where}", params)
        return ChainLink(*rows[0]) if rows else None

    def events_by_id(self, event_ids: list[UUID]) -> list[RecordedEvent]:
        match, params = self._any("event_id", [self._uuid(event_id) for event_id in event_ids])
        return self._events(
            self._fetchall(f"SELECT {COLUMNS} FROM chronicle_event WHERE {match} ORDER BY position", params)
        )

    def read_stream(
        self, stream_id: UUID, from_version: int, to_version: int | None, as_of: dt.datetime | None
    ) -> list[RecordedEvent]:
        where, params = self._versions(stream_id, from_version, to_version)
        if as_of is not None:
            where += " AND recorded_at <= %s"
            params.append(self._time(as_of))
        with collector_paused():
            rows = self._fetchall(
                f"SELECT {STREAM_COLUMNS} FROM chronicle_event WHERE {where} ORDER BY version", params
            )
            return self._events(rows, stream_id)

    def read_payloads(self, stream_id: UUID, from_version: int, to_version: int | None) -> list[Payload]:
        where, params = self._versions(stream_id, from_version, to_version)
        sql = f"SELECT version, event_type, schema_version, data FROM chronicle_event WHERE {where} ORDER BY version"
        with collector_paused():
            return _payloads(self._fetchall(sql, params))

    def _versions(self, stream_id: UUID, from_version: int, to_version: int | None) -> Clause:
        if to_version is None:
            return "stream_id = %s AND version >= %s", [self._uuid(stream_id), from_version]
        return "stream_id = %s AND version >= %s AND version <= %s", [self._uuid(stream_id), from_version, to_version]

    def version_at(self, stream_id: UUID, as_of: dt.datetime) -> int:
        """The stream's version as of a recorded time (versions are recorded in order)."""
        version: int | None = self._fetchall(
            "SELECT MAX(version) FROM chronicle_event WHERE stream_id = %s AND recorded_at <= %s",
            [self._uuid(stream_id), self._time(as_of)],
        )[0][0]
        return version or 0

    def read_feed(
        self,
        after: FeedKey,
        below: FeedKey,
        limit: int,
        stream_types: Sequence[str] | None,
        event_types: Sequence[str] | None,
    ) -> list[RecordedEvent]:
        where, params = self._filtered(self._feed_range(after, below), stream_type=stream_types, event_type=event_types)
        sql = f"SELECT {COLUMNS} FROM chronicle_event WHERE {where} ORDER BY {self._FEED_ORDER} LIMIT %s"
        with collector_paused():
            return self._events(self._fetchall(sql, [*params, limit]))

    def _filtered(self, clause: Clause, **columns: Sequence[str] | None) -> Clause:
        """``clause``, and each column given values holds one of them."""
        where, params = clause
        for column, values in columns.items():
            if values is not None:
                match, given = self._any(column, values)
                where, params = f"{where} AND {match}", params + given
        return where, params

    def event_at_position(self, position: int) -> RecordedEvent | None:
        rows = self._events(self._fetchall(f"SELECT {COLUMNS} FROM chronicle_event WHERE position = %s", [position]))
        return rows[0] if rows else None

    def backlog(self, after: FeedKey, event_types: Sequence[str] | None, limit: int) -> tuple[int, dt.datetime | None]:
        """(events after ``after`` in feed order, at most ``limit``; the oldest one's recorded_at)."""
        where, params = self._filtered(self._feed_compare(">", after), event_type=event_types)
        behind = f"SELECT recorded_at FROM chronicle_event WHERE {where} ORDER BY {self._FEED_ORDER} LIMIT %s"
        count, oldest = self._fetchall(
            f"SELECT count(*), min(recorded_at) FROM ({behind}) AS behind", [*params, limit]
        )[0]
        return count, None if oldest is None else self._datetime(oldest)

    def count_upto(self, upto: FeedKey) -> int:
        where, params = self._feed_compare("<=", upto)
        count: int = self._fetchall(f"SELECT count(*) FROM chronicle_event WHERE {where}", params)[0][0]
        return count

    def save_snapshot(self, snapshot: StoredSnapshot, state_json: str) -> None:
        self._fetchall(
            "INSERT INTO chronicle_snapshot (stream_id, stream_type, version, state_schema, state) "
            "VALUES (%s, %s, %s, %s, %s::jsonb) ON CONFLICT DO NOTHING RETURNING 1",
            [self._uuid(snapshot.stream_id), snapshot.stream_type, snapshot.version, snapshot.state_schema, state_json],
        )

    def load_snapshot(self, stream_id: UUID, state_schema: int, max_version: int | None) -> StoredSnapshot | None:
        sql = "SELECT stream_type, version, state FROM chronicle_snapshot WHERE stream_id = %s AND state_schema = %s"
        params: list[Any] = [self._uuid(stream_id), state_schema]
        if max_version is not None:
            sql += " AND version <= %s"
            params.append(max_version)
        rows = self._fetchall(sql + " ORDER BY version DESC LIMIT 1", params)
        if not rows:
            return None
        stream_type, version, state = rows[0]
        return StoredSnapshot(stream_id, stream_type, version, state_schema, _loads(state))

    def iter_by_stream(self, page_size: int) -> Iterator[tuple[RecordedEvent, str, str]]:
        """Every event as stored (not upcast) with its key id and hash, ordered by
        (stream id, version), page by page."""
        sql = (
            f"SELECT {COLUMNS}, key_id, hash FROM chronicle_event "
            "WHERE (stream_id, version) > (%s, %s) ORDER BY stream_id, version LIMIT %s"
        )
        after = [self._uuid(UUID(int=0)), 0]
        while True:
            rows = self._fetchall(sql, [*after, page_size])
            events = self._events([row[:-2] for row in rows], upcast=False)
            yield from zip(events, (row[-2] for row in rows), (row[-1] for row in rows), strict=True)
            if len(rows) < page_size:
                return
            after = [self._uuid(events[-1].stream_id), events[-1].version]

    def read_leaf_lines(self, after: FeedKey, below: FeedKey, limit: int) -> list[tuple[FeedKey, dict[str, Any]]]:
        """The feed after ``after`` up to the horizon ``below``, each event as its export line
        (``export.stored_row``, payloads as stored), with its place in the feed: what the
        sealer makes leaves of."""
        where, params = self._feed_range(after, below)
        with collector_paused():
            rows = self._fetchall(
                f"SELECT {self._LINE.format(t='')}, transaction_id FROM chronicle_event "
                f"WHERE {where} ORDER BY {self._FEED_ORDER} LIMIT %s",
                [*params, limit],
            )
            lines = self._lines([row[:-1] for row in rows])
            return [(FeedKey(row[-1] or 0, row[0]), line) for row, line in zip(rows, lines, strict=True)]

    def read_leaves(self, after: FeedKey, below: FeedKey, limit: int) -> Iterator[tuple[int, int, bytes]]:
        """What ``read_leaf_lines`` reads, as (transaction id, position, leaf bytes: the
        ``export.line_bytes`` of its line) for each event."""
        for place, line in self.read_leaf_lines(after, below, limit):
            yield place.transaction_id, place.position, line_bytes(line)

    def leaves_with_lines(self, after_index: int, limit: int) -> list[tuple[int, int, str, dict[str, Any] | None, int]]:
        """Leaves after ``after_index`` in index order: (index, position, leaf hash, the export
        line of the event now at that position or None if there is none, and that event's
        transaction id, which with the position is its place in the feed; 0 on SQLite)."""
        rows = self._fetchall(
            f"SELECT l.leaf_index, l.position, l.hash, e.transaction_id, {self._LINE.format(t='e.')} "
            "FROM chronicle_leaf l LEFT JOIN chronicle_event e ON e.position = l.position "
            "WHERE l.leaf_index > %s ORDER BY l.leaf_index LIMIT %s",
            [after_index, limit],
        )
        lines = iter(self._lines([row[4:] for row in rows if row[4] is not None]))
        return [(row[0], row[1], row[2], next(lines) if row[4] is not None else None, row[3] or 0) for row in rows]


# PostgreSQL's insert: a row of values, and the guard of an append to an existing stream
# (the event chained to must exist with that hash and type, and come before this transaction
# in feed order, see store.TransactionOrderConflict). Written with PostgreSQL's own ``$n``
# placeholders, numbered by ``_insert_sql``, for a raw cursor: psycopg parses and caches
# ``%s`` queries of at most 50 values, and parsed a 10-event insert (110 values) anew on
# every append.
_INSERT_ROW = "(${}::uuid, ${}, ${}::uuid, ${}::int, ${}, ${}::int, ${}::jsonb, ${}::jsonb, ${}::timestamptz, ${}, ${})"
_INSERT_GUARD = (
    "WHERE EXISTS (SELECT 1 FROM chronicle_event p WHERE p.stream_id = ${} AND p.version = ${} "
    "AND p.hash = ${} AND p.stream_type = ${} "
    "AND p.transaction_id <= pg_current_xact_id()::text::bigint) "
)


@functools.cache
def _insert_sql(count: int, guarded: bool) -> str:
    values = ", ".join([_INSERT_ROW] * count)
    if guarded:
        body = f"SELECT * FROM (VALUES {values}) AS e ({INSERT_COLUMNS}) {_INSERT_GUARD}"
    else:
        body = f"VALUES {values} "
    sql = (
        f"INSERT INTO chronicle_event ({INSERT_COLUMNS}) {body}RETURNING position, version, recorded_at, transaction_id"
    )
    return sql.format(*range(1, sql.count("${}") + 1))


class PostgresRecorder(Recorder):
    _FEED_ORDER = "transaction_id, position"

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        self._kept_cursors: dict[type[psycopg.Cursor[Any]], psycopg.Cursor[Any]] = {}

    def _cursor(self, cursor_class: type[psycopg.Cursor[Any]] = psycopg.Cursor) -> psycopg.Cursor[Any]:
        """One server-binding cursor of each class per connection, kept for its prepared
        statements and the C timestamp loader (Django's own time-zone loader is pure Python)."""
        self.connection.ensure_connection()
        raw = self.connection.connection
        cursor = self._kept_cursors.get(cursor_class)
        if cursor is None or cursor.connection is not raw or cursor.closed:
            cursor = self._kept_cursors[cursor_class] = cursor_class(raw)
            cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        return cursor

    def _fetchall(self, sql: str, params: Sequence[Any], *, prepare: bool = True, raw: bool = False) -> list[Any]:
        cursor = self._cursor(psycopg.RawCursor if raw else psycopg.Cursor)
        with self.connection.wrap_database_errors:
            cursor.execute(sql, params, prepare=prepare)
            return cursor.fetchall()

    def _insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: ChainLink | None
    ) -> list[Inserted]:
        params: list[Any] = []
        for r in rows:
            params += (r.event_id, stream_type, stream_id, r.version, r.event_type, r.schema_version, r.data_json)
            params += (r.metadata_json, r.occurred_at, key_id, r.hash)
        if guard is not None:
            params += (stream_id, guard.version, guard.hash, guard.stream_type)
        return self._fetchall(_insert_sql(len(rows), guard is not None), params, raw=True)

    @staticmethod
    def _unique_violation(error: IntegrityError) -> bool:
        return getattr(error.__cause__, "sqlstate", None) == "23505"

    def _feed_compare(self, op: str, key: FeedKey) -> Clause:
        return f"(transaction_id, position) {op} (%s, %s)", [key.transaction_id, key.position]

    def _feed_range(self, after: FeedKey, below: FeedKey) -> Clause:
        return (
            "(transaction_id, position) > (%s, %s) AND transaction_id <= %s",
            [after.transaction_id, after.position, below.transaction_id],
        )

    def _any(self, column: str, values: Sequence[Any]) -> Clause:
        return f"{column} = ANY(%s)", [list(values)]

    def horizon(self) -> tuple[FeedKey, str]:
        # Every transaction id below the oldest one still running belongs to a transaction
        # that has ended, so every event it wrote is visible now and forever.
        (xmin, epoch) = self._fetchall(f"SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, {_EPOCH}", [])[0]
        return FeedKey(xmin - 1, MAX_POSITION), epoch

    def committed(self) -> FeedKey:
        # Every transaction that had committed had an id below this snapshot's xmax.
        (xmax,) = self._fetchall("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint", [])[0]
        return FeedKey(xmax - 1, MAX_POSITION)

    def covered_position(self, upto: FeedKey) -> int:
        # Just below the lowest position after ``upto`` in feed order; with none, the highest.
        # Never prepared: after five runs PostgreSQL may keep a generic plan, which cannot
        # see that few events follow ``upto`` and finds min(position) by walking the primary
        # key from the log's start, past every event (25 ms at 100,000 events, growing with
        # the log, on every API query's position). Planned with its values, it reads the few
        # entries after ``upto`` in the feed index.
        position: int = self._fetchall(
            "SELECT COALESCE("
            "(SELECT min(position) - 1 FROM chronicle_event WHERE (transaction_id, position) > (%s, %s)), "
            "(SELECT max(position) FROM chronicle_event), 0)",
            [upto.transaction_id, upto.position],
            prepare=False,
        )[0][0]
        return position

    # The export line's columns, spelled by the server as ``export.stored_row`` spells them
    # (text ids, UTC times with microseconds and a Z), so no row becomes a RecordedEvent.
    _LINE = (
        "{t}position, {t}event_id::text, {t}stream_type, {t}stream_id::text, {t}version, {t}event_type, "
        "{t}schema_version, {t}data::text, {t}metadata::text, "
        "to_char({t}occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
        "to_char({t}recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), {t}key_id, {t}hash"
    )

    def _lines(self, rows: list[Any]) -> list[dict[str, Any]]:
        return [_line(row) for row in rows]

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

    def insert_leaves(self, leaves: Iterable[tuple[int, int, str]]) -> None:
        # COPY, the rows written as one block of text: a fraction of an INSERT per leaf.
        block = "".join(f"{index}\t{position}\t{hash_}\n" for index, position, hash_ in leaves)
        with self._cursor().copy("COPY chronicle_leaf (leaf_index, position, hash) FROM STDIN") as copy:
            copy.write(block)


class SqliteRecorder(Recorder):
    # One writer at a time: events commit in position order, the feed's order here.
    _FEED_ORDER = "position"
    _LINE = ", ".join("{t}" + column for column in (*COLUMNS.split(", "), "key_id", "hash"))

    def _fetchall(self, sql: str, params: Sequence[Any]) -> list[Any]:
        # PostgreSQL's spelling respelled: ? placeholders, and no jsonb (SQLite keeps text).
        sql = sql.replace("::jsonb", "").replace("%s", "?")
        self.connection.ensure_connection()
        cursor = self.connection.connection.cursor()
        try:
            with self.connection.wrap_database_errors:
                cursor.execute(sql, params)
                rows: list[Any] = cursor.fetchall()
                return rows
        finally:
            cursor.close()

    def _uuid(self, value: UUID) -> str:
        return value.hex

    def _time(self, value: dt.datetime) -> str:
        """Django's SQLite format: naive UTC, space-separated."""
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")

    def _datetime(self, value: dt.datetime | str) -> dt.datetime:
        """Django's converters already parse declared datetime columns; make them aware."""
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        return value.replace(tzinfo=dt.UTC)

    def _events(
        self, rows: Iterable[Sequence[Any]], stream_id: UUID | None = None, *, upcast: bool = True
    ) -> list[RecordedEvent]:
        t = self._datetime
        fixed: Iterator[tuple[Any, ...]]
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

    def _insert(
        self, stream_type: str, stream_id: UUID, key_id: str, rows: list[Row], guard: ChainLink | None
    ) -> list[Inserted]:
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        sql = (
            f"INSERT INTO chronicle_event ({INSERT_COLUMNS}) "
            "SELECT column1, %s, %s, column2, column3, column4, column5, column6, column7, %s, column8 "
            f"FROM (VALUES {values}) "
        )
        params: list[Any] = [stream_type, stream_id.hex, key_id]
        for r in rows:
            params += (r.event_id.hex, r.version, r.event_type, r.schema_version, r.data_json, r.metadata_json)
            params += (self._time(r.occurred_at), r.hash)
        if guard is not None:
            sql += (
                "WHERE EXISTS (SELECT 1 FROM chronicle_event p WHERE p.stream_id = %s "
                "AND p.version = %s AND p.hash = %s AND p.stream_type = %s) "
            )
            params += [stream_id.hex, guard.version, guard.hash, guard.stream_type]
        result = self._fetchall(
            sql + "ORDER BY column2 RETURNING position, version, recorded_at, transaction_id", params
        )
        return [(pos, ver, self._datetime(rec), tx) for pos, ver, rec, tx in result]

    @staticmethod
    def _unique_violation(error: IntegrityError) -> bool:
        return "UNIQUE constraint failed" in str(error)

    def _feed_compare(self, op: str, key: FeedKey) -> Clause:
        return f"position {op} %s", [key.position]

    def _feed_range(self, after: FeedKey, below: FeedKey) -> Clause:
        return "position > %s AND position <= %s", [after.position, below.position]

    def _any(self, column: str, values: Sequence[Any]) -> Clause:
        values = list(values) or [""]
        return f"{column} IN ({', '.join(['%s'] * len(values))})", values

    def horizon(self) -> tuple[FeedKey, str]:
        # Everything at or below the highest committed position is final.
        (head, epoch) = self._fetchall(
            f"SELECT (SELECT COALESCE(MAX(position), 0) FROM chronicle_event), {_EPOCH}", []
        )[0]
        return FeedKey(0, head), epoch

    def committed(self) -> FeedKey:
        return self.horizon()[0]

    def covered_position(self, upto: FeedKey) -> int:
        # Feed order is position order here: everything up to the cursor's position, at most
        # the highest there is.
        head: int = self._fetchall("SELECT COALESCE(MAX(position), 0) FROM chronicle_event", [])[0][0]
        return min(upto.position, head)

    def _lines(self, rows: list[Any]) -> list[dict[str, Any]]:
        events = self._events([row[:-2] for row in rows], upcast=False)
        return [stored_line(event, row[-2], row[-1]) for event, row in zip(events, rows, strict=True)]

    def insert_leaves(self, leaves: Iterable[tuple[int, int, str]]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO chronicle_leaf (leaf_index, position, hash) VALUES (%s, %s, %s)", list(leaves)
            )


_RECORDERS: dict[str, type[Recorder]] = {"postgresql": PostgresRecorder, "sqlite": SqliteRecorder}


def recorder_for(using: str = "default") -> Recorder:
    """The recorder of a database connection (one per connection, kept on it)."""
    connection = connections[using]
    recorder: Recorder | None = connection.__dict__.get("_chronicle_recorder")
    if recorder is None:
        if connection.vendor not in _RECORDERS:
            raise NotImplementedError(f"the event store supports PostgreSQL and SQLite, not {connection.vendor}")
        recorder = connection.__dict__["_chronicle_recorder"] = _RECORDERS[connection.vendor](connection)
    return recorder
