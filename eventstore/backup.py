"""Exporting the event log to a file and restoring a database from that file alone.

The file is JSON lines: a header, one line per event in feed order (as stored: payloads
are not upcast, hashes and key ids are kept), and a trailing seal that signs the number of
events and a digest of every (stream, version, hash) in file order. Exporting streams
the log page by page, in constant memory.

Restoring verifies the whole file first (every stream's hash chain from version 1, the
seal's signature, count and digest) and writes nothing unless all of it holds. It loads
the events into an empty log keeping their ids, streams, versions, positions, recorded
times, metadata, key ids and hashes; the database stamps its own transaction ids. It then
moves the position sequence past what it loaded, starts a new log epoch (so feed cursors
from before the restore are refused as expired), seals the restored heads, and sends
``log_restored`` so the other apps rebuild what derives from the log (uniqueness claims,
order numbers, where process managers start).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid4

from django.db import connections, transaction
from django.dispatch import Signal

from . import integrity
from . import store as event_store
from .cursor import FeedKey
from .exceptions import EventStoreError
from .export import STORED_COLUMNS, stored_row
from .models import Event, LogIdentity
from .serialization import canonical_json, parse_datetime
from .signing import current_key, event_hash, key_for, sign_text

FORMAT = "chronicle-events"
FORMAT_VERSION = 1
IMPORT_BATCH = 2000

# Sent after a restore, inside no transaction, with `using`: rebuild what derives from the log.
log_restored = Signal()


class RestoreRefused(EventStoreError):
    """The file does not verify, or the database is not empty: nothing was written."""


class ExportIncomplete(EventStoreError):
    """A transaction older than the export stayed open, so the feed could not pass every
    event committed before the export began; no seal was written."""


@dataclass
class _Seal:
    count: int = 0
    digest: Any = None

    def __post_init__(self) -> None:
        self.digest = hashlib.sha256()

    def add(self, line: dict[str, Any]) -> None:
        self.count += 1
        self.digest.update(f"{line['stream_id']}:{line['version']}:{line['hash']}\n".encode())

    def text(self) -> str:
        return canonical_json({"digest": self.digest.hexdigest(), "event_count": self.count})


def export_events(
    out: IO[str],
    *,
    after: str | None = None,
    using: str = "default",
    progress: IO[str] = sys.stderr,
    wait_seconds: float = 60.0,
) -> int:
    """Write the log (after the cursor ``after``) to ``out``; returns the events written.

    The file holds at least every event committed before the export began. The feed only
    passes an event once every older transaction has ended, so an export that started
    while such a transaction was open waits for it (up to ``wait_seconds``) instead of
    sealing a file that silently stops short; past that it raises ExportIncomplete.
    """
    seal = _Seal()
    out.write(json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "after": after}) + "\n")
    for events in _pages(after, using, event_store.committed_key(using=using), wait_seconds):
        for event in events:
            line = stored_row(event)
            seal.add(line)
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        progress.write(f"\rexported {seal.count} events")
    key_id, key = current_key()
    text = seal.text()
    out.write(json.dumps({"seal": {**json.loads(text), "key_id": key_id, "signature": sign_text(key, text)}}) + "\n")
    progress.write(f"\rexported {seal.count} events\n")
    return seal.count


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
                yield json.loads(text)
            except json.JSONDecodeError:
                raise RestoreRefused(f"line {number} is not JSON") from None


def verify_file(path: Path) -> int:
    """Check the file end to end; returns its number of events or raises RestoreRefused."""
    lines = _read_lines(path)
    header = next(lines, None)
    if not isinstance(header, dict) or header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
        raise RestoreRefused(f"not a {FORMAT} v{FORMAT_VERSION} file")
    if header.get("after"):
        raise RestoreRefused("a partial export (--after) cannot restore a log on its own")
    heads: dict[str, tuple[int, str]] = {}
    seal, signed = _Seal(), None
    for line in lines:
        if signed is not None:
            raise RestoreRefused("lines follow the seal")
        if "seal" in line:
            signed = line["seal"]
            continue
        _check_link(line, heads)
        seal.add(line)
    if signed is None:
        raise RestoreRefused("the file has no seal: it was cut short")
    try:
        valid = sign_text(key_for(signed["key_id"]), seal.text()) == signed["signature"]
    except (KeyError, EventStoreError):
        valid = False
    if not valid or signed.get("event_count") != seal.count:
        raise RestoreRefused(f"the seal does not match the {seal.count} events in the file")
    return seal.count


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


def import_events(path: Path, *, using: str = "default", progress: IO[str] = sys.stderr) -> int:
    """Restore a log from an export into an empty database; returns the events loaded."""
    if Event.objects.using(using).exists():
        raise RestoreRefused("the event log is not empty: restore into a new database")
    total = verify_file(path)
    loaded = 0
    for batch in _batches(line for line in _read_lines(path) if "stream_id" in line):
        with transaction.atomic(using=using):
            _insert(batch, using)
        loaded += len(batch)
        progress.write(f"\rimported {loaded}/{total} events")
    progress.write("\n")
    _after_restore(using)
    log_restored.send(sender=import_events, using=using)
    return loaded


def _batches(lines: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for line in lines:
        batch.append(line)
        if len(batch) == IMPORT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _as_is(value: Any) -> Any:
    return value


def _insert(batch: list[dict[str, Any]], using: str) -> None:
    """Insert as stored, each row in ``STORED_COLUMNS`` order; the transaction id column
    keeps its default (this transaction)."""
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
    integrity.seal(using=using)
