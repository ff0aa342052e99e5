"""Exporting the event log to a file and restoring a database from that file alone.

The file is JSON lines: a header, then one line per sealed event in leaf order (the order
the sealer read the feed), as stored (payloads not upcast, key ids and hashes kept), with
each seal (``{"seal": {...}}``, its signed fields) right after the event that completes
its tree; the last line is the newest seal. The event lines are the leaves: a leaf's bytes
are its line's stored columns as canonical JSON (see ``sealing``). Exporting first seals
every event committed before the export began, then streams the log page by page, in
constant memory.

Restoring verifies the whole file first (every stream's hash chain from version 1, every
leaf, every seal's signature with the public keyring and its root against the leaves
before it, and that the file ends with a seal over all of them) and writes nothing unless
all of it holds. It loads the events into an empty log keeping their ids, streams,
versions, positions, recorded times, metadata, key ids and hashes, in the file's order:
each run of rising positions in transactions of its own, so the restored feed lists the
events exactly as the file does (on PostgreSQL the feed orders by transaction, then
position; SQLite's feed is position order, as its exports are). It keeps the leaves and
the seals exactly, so the restored log verifies against seals, and witness lines, made
before the restore; the sealer resumes after the last restored leaf. It then moves the
position sequence past what it loaded, starts a new log epoch (feed cursors from before
are refused as expired) and sends ``log_restored`` so the other apps rebuild what derives
from the log (uniqueness claims, order numbers, where process managers start).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid4

from django.db import connections, transaction
from django.dispatch import Signal

from . import merkle, sealing
from . import store as event_store
from .cursor import FeedKey
from .exceptions import EventStoreError
from .export import STORED_COLUMNS, stored_row
from .models import Event, Leaf, LogIdentity, Seal
from .recorders import recorder_for
from .serialization import canonical_json, parse_datetime
from .signing import event_hash, key_for

FORMAT = "chronicle-events"
FORMAT_VERSION = 2
IMPORT_BATCH = 2000

# Sent after a restore, inside no transaction, with `using`: rebuild what derives from the log.
log_restored = Signal()


class RestoreRefused(EventStoreError):
    """The file does not verify, or the database is not empty: nothing was written."""


class TextOut(Protocol):
    """Where text is written: a file, or a management command's stdout and stderr."""

    def write(self, text: str, /) -> object: ...


class ExportIncomplete(EventStoreError):
    """A transaction older than the export stayed open, so the feed could not pass every
    event committed before the export began; no seal was written."""


def export_events(
    out: TextOut,
    *,
    after: str | None = None,
    using: str = "default",
    progress: TextOut = sys.stderr,
    wait_seconds: float = 60.0,
) -> int:
    """Write the log to ``out``; returns the events written.

    The file holds at least every event committed before the export began: they are
    sealed first. The feed (and so the sealer) only passes an event once every older
    transaction has ended, so an export that started while such a transaction was open
    waits for it (up to ``wait_seconds``) instead of writing a file that silently stops
    short; past that it raises ExportIncomplete. With ``after`` (a feed cursor) it writes
    the events after it in feed order and no seals: such a file cannot restore a log.
    """
    out.write(json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "after": after}) + "\n")
    written = 0
    if after:
        for events in _pages(after, using, event_store.committed_key(using=using), wait_seconds):
            for event in events:
                out.write(json.dumps(stored_row(event), ensure_ascii=False) + "\n")
            written += len(events)
        return written
    newest = _sealed_past(event_store.committed_key(using=using), using, wait_seconds)
    if newest is None:
        return 0
    seals = iter(Seal.objects.using(using).filter(tree_size__lte=newest.tree_size).order_by("tree_size"))
    next_seal = next(seals, None)
    for events in _sealed_events(newest.tree_size, using):
        for event in events:
            out.write(json.dumps(stored_row(event), ensure_ascii=False) + "\n")
            written += 1
            while next_seal is not None and next_seal.tree_size == written:
                out.write(json.dumps({"seal": sealing.SignedSeal.of(next_seal).to_json()}) + "\n")
                next_seal = next(seals, None)
        progress.write(f"\rexported {written} events")
    progress.write(f"\rexported {written} events\n")
    return written


def _sealed_past(until: FeedKey, using: str, wait_seconds: float) -> Seal | None:
    """Wait until the feed's horizon passes ``until`` (older transactions have ended), then
    seal: the newest seal covers every event committed before ``until``. None: an empty log."""
    deadline = time.monotonic() + wait_seconds
    while recorder_for(using).horizon()[0] < until:
        if time.monotonic() >= deadline:
            raise ExportIncomplete(
                f"a transaction older than the export stayed open for {wait_seconds:g}s, "
                "so events committed before it began could not be sealed; retry when it has ended"
            )
        time.sleep(0.05)
    sealing.seal(using=using)
    return sealing.newest_seal(using=using)


def _sealed_events(tree_size: int, using: str) -> Iterator[list[Event]]:
    """The first ``tree_size`` leaves' events, as stored, in leaf order, a page at a time."""
    after = -1
    while after + 1 < tree_size:
        leaves = list(Leaf.objects.using(using).filter(index__gt=after, index__lt=tree_size).order_by("index")[:1000])
        if not leaves:
            return
        rows = {e.position: e for e in Event.objects.using(using).filter(position__in=[x.position for x in leaves])}
        missing = [leaf.index for leaf in leaves if leaf.position not in rows]
        if missing:
            raise ExportIncomplete(f"leaf {missing[0]}'s event is gone: the log does not verify (run verify_events)")
        yield [rows[leaf.position] for leaf in leaves]
        after = leaves[-1].index


def _pages(after: str | None, using: str, until: FeedKey, wait_seconds: float) -> Iterator[list[Event]]:
    """Stored events in feed order, a page at a time, until the feed has passed ``until``
    (the feed decides the order and the horizon; the rows themselves are read as stored)."""
    cursor = after
    deadline = time.monotonic() + wait_seconds
    while True:
        page = event_store.read_feed(cursor, limit=1000, using=using)
        positions = [e.position for e in page.events]
        if positions:
            rows = {e.position: e for e in Event.objects.using(using).filter(position__in=positions)}
            yield [rows[p] for p in positions]
        cursor = page.next_cursor
        if page.caught_up and event_store.cursor_key(cursor, using=using) >= until:
            return
        if page.caught_up:
            if time.monotonic() >= deadline:
                raise ExportIncomplete(
                    f"a transaction older than the export stayed open for {wait_seconds:g}s, "
                    "so events committed before it began could not be read; retry when it has ended"
                )
            time.sleep(0.05)


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                raise RestoreRefused(f"line {number} is not JSON") from None
            if not isinstance(line, dict):
                raise RestoreRefused(f"line {number} is not a JSON object")
            yield line


def verify_file(path: Path, *, rising: bool = False) -> int:
    """Check the file end to end; returns its number of events or raises RestoreRefused.
    ``rising``: the events must come in position order (SQLite's feed is position order, so
    a file exported from PostgreSQL in another order cannot be restored there)."""
    lines = _read_lines(path)
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise RestoreRefused(f"not a {FORMAT} v{FORMAT_VERSION} file")
    if header.get("after"):
        raise RestoreRefused("a partial export (--after) cannot restore a log on its own")
    heads: dict[str, tuple[int, str]] = {}
    frontier = merkle.Frontier()
    last_position, last_seal = 0, None
    for line in lines:
        if "seal" in line:
            last_seal = _check_seal(line["seal"], frontier, last_position, last_seal)
            continue
        _check_link(line, heads)
        if rising and line["position"] <= last_position:
            raise RestoreRefused("the events are not in position order, which this database's feed follows")
        frontier.append(sealing.leaf_hash_of(line))
        last_position = line["position"]
    if last_seal is None or last_seal.tree_size != frontier.size:
        raise RestoreRefused("the file does not end with a seal over all its events: it was cut short")
    return frontier.size


def _check_seal(
    value: Any, frontier: merkle.Frontier, last_position: int, previous: sealing.SignedSeal | None
) -> sealing.SignedSeal:
    """A seal line: signed by a key of the keyring, over exactly the events before it."""
    try:
        signed = sealing.SignedSeal.from_json(value)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RestoreRefused("a seal line is incomplete or unreadable") from None
    if not signed.signature_checks():
        raise RestoreRefused(f"the seal of tree size {signed.tree_size}: its signature does not verify")
    if (
        signed.tree_size != frontier.size
        or signed.root_hash != frontier.root().hex()
        or signed.last_position != last_position
        or (previous is not None and signed.tree_size <= previous.tree_size)
    ):
        raise RestoreRefused(
            f"the seal of tree size {signed.tree_size} does not match the {frontier.size} events before it"
        )
    return signed


def _check_link(line: dict[str, Any], heads: dict[str, tuple[int, str]]) -> None:
    try:
        stream = line["stream_id"]
        version, previous = heads.get(stream, (0, ""))
        if line["version"] != version + 1:
            raise RestoreRefused(f"stream {stream}: version {line['version']} follows version {version}")
        expected = event_hash(
            key_for(line["key_id"]),
            event_id=line["event_id"],
            stream_type=line["stream_type"],
            stream_id=stream,
            version=line["version"],
            event_type=line["event_type"],
            schema_version=line["schema_version"],
            data_json=canonical_json(line["data"]),
            metadata_json=canonical_json(line["metadata"]),
            occurred_at=line["occurred_at"],
            previous_hash=previous,
        )
    except (KeyError, TypeError, EventStoreError) as exc:
        raise RestoreRefused(f"an event line is incomplete or unreadable ({exc})") from None
    if expected != line["hash"]:
        raise RestoreRefused(f"stream {stream} version {line['version']}: the hash does not verify")
    heads[stream] = (line["version"], line["hash"])


def import_events(path: Path, *, using: str = "default", progress: TextOut = sys.stderr) -> int:
    """Restore a log from an export into an empty database; returns the events loaded."""
    if connections[using].in_atomic_block:
        raise RuntimeError("a restore commits in transactions of its own: do not call it inside atomic()")
    with sealing.sealer_held(using):
        return _import(path, using, progress)


def _import(path: Path, using: str, progress: TextOut) -> int:
    for model in (Event, Leaf, Seal):
        if model.objects.using(using).exists():
            raise RestoreRefused("the event log is not empty: restore into a new database")
    total = verify_file(path, rising=connections[using].vendor != "postgresql")
    batch = _Batch(using)
    frontier = merkle.Frontier()
    for line in _read_lines(path):
        if "seal" in line:
            batch.seals.append((sealing.SignedSeal.from_json(line["seal"]), frontier.to_json()))
        elif "stream_id" in line:
            if len(batch.events) >= IMPORT_BATCH or line["position"] <= batch.last_position:
                batch.commit()
                progress.write(f"\rimported {frontier.size}/{total} events")
            digest = sealing.leaf_hash_of(line)
            batch.add(line, Leaf(index=frontier.size, position=line["position"], hash=digest.hex()))
            frontier.append(digest)
    batch.commit()
    progress.write(f"\rimported {frontier.size}/{total} events\n")
    _after_restore(using)
    log_restored.send(sender=import_events, using=using)
    return frontier.size


class _Batch:
    """Events, their leaves and the seals that follow them, committed together. A batch
    holds rising positions only, so the feed (transaction, then position) keeps the file's
    order; the seals' place in the feed is this transaction's id."""

    def __init__(self, using: str) -> None:
        self.using = using
        self.events: list[dict[str, Any]] = []
        self.leaves: list[Leaf] = []
        self.seals: list[tuple[sealing.SignedSeal, dict[str, Any]]] = []
        self.last_position = 0

    def add(self, line: dict[str, Any], leaf: Leaf) -> None:
        self.events.append(line)
        self.leaves.append(leaf)
        self.last_position = line["position"]

    def commit(self) -> None:
        if not self.events and not self.seals:
            return
        with transaction.atomic(using=self.using):
            _insert(self.events, self.using)
            Leaf.objects.using(self.using).bulk_create(self.leaves, batch_size=2000)
            transaction_id = _transaction_id(self.using)
            Seal.objects.using(self.using).bulk_create(
                [
                    Seal(
                        tree_size=signed.tree_size,
                        root_hash=signed.root_hash,
                        last_position=signed.last_position,
                        epoch=signed.epoch,
                        sealed_at=parse_datetime(signed.sealed_at),
                        key_id=signed.key_id,
                        signature=signed.signature,
                        feed_transaction_id=transaction_id,
                        frontier=frontier,
                    )
                    for signed, frontier in self.seals
                ]
            )
        self.events, self.leaves, self.seals = [], [], []


def _transaction_id(using: str) -> int:
    """This transaction's id, which the feed orders by (PostgreSQL); 0 on SQLite."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        transaction_id: int = cursor.fetchone()[0]
        return transaction_id


def _as_is(value: Any) -> Any:
    return value


def _insert(batch: list[dict[str, Any]], using: str) -> None:
    """Insert as stored, each row in ``STORED_COLUMNS`` order; the transaction id column
    keeps its default (this transaction)."""
    if not batch:
        return
    connection = connections[using]
    stored: dict[str, Callable[[Any], Any]] = {
        "event_id": lambda value: _uuid(value, connection.vendor),
        "stream_id": lambda value: _uuid(value, connection.vendor),
        "data": canonical_json,
        "metadata": canonical_json,
        "occurred_at": lambda value: _time(value, connection),
        "recorded_at": lambda value: _time(value, connection),
    }
    rows = [tuple(stored.get(column, _as_is)(line[column]) for column in STORED_COLUMNS) for line in batch]
    columns, marks = ", ".join(STORED_COLUMNS), ", ".join(["%s"] * len(STORED_COLUMNS))
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO chronicle_event ({columns}) VALUES ({marks})", rows)


def _uuid(text: str, vendor: str) -> Any:
    value = UUID(text)
    return value.hex if vendor == "sqlite" else value


def _time(text: str, connection: Any) -> Any:
    moment = parse_datetime(text)
    return connection.ops.adapt_datetimefield_value(moment)


def _after_restore(using: str) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('chronicle_event', 'position'), "
                "COALESCE((SELECT MAX(position) FROM chronicle_event), 1))"
            )
            cursor.execute("ANALYZE chronicle_event")  # fresh statistics, or the feed's plans go astray
    LogIdentity.objects.using(using).create(epoch=uuid4().hex)
