"""An event as the log's exports write it out: the one place its columns are named.

Two shapes share the columns that identify an event. The admin's CSV and JSON-lines exports
are for people and spreadsheets: ISO times, and each metadata key (``METADATA_KEYS``) a
column of its own. The backup file (``backup.export_events``) is for restoring: the event
as stored, metadata whole, times in the store's own spelling, key id and hash, so the
restore can verify every line and insert it unchanged.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from .models import Event
from .records import METADATA_KEYS, RecordedEvent
from .serialization import canonical_json, format_datetime

IDENTITY_COLUMNS: Final = (
    "position",
    "event_id",
    "stream_type",
    "stream_id",
    "version",
    "event_type",
    "schema_version",
)
TABLE_COLUMNS: Final = (*IDENTITY_COLUMNS, "occurred_at", "recorded_at", *METADATA_KEYS, "data")
STORED_COLUMNS: Final = (*IDENTITY_COLUMNS, "data", "metadata", "occurred_at", "recorded_at", "key_id", "hash")


def _identity(event: Event | RecordedEvent) -> dict[str, Any]:
    return {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_type": event.stream_type,
        "stream_id": str(event.stream_id),
        "version": event.version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
    }


def table_row(event: Event) -> dict[str, Any]:
    """The admin export's row, keyed by ``TABLE_COLUMNS`` in order; absent metadata is ""."""
    return {
        **_identity(event),
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        **{key: event.metadata.get(key) or "" for key in METADATA_KEYS},
        "data": event.data,
    }


def stored_row(event: Event) -> dict[str, Any]:
    """The backup file's line, keyed by ``STORED_COLUMNS`` in order."""
    return stored_line(event, event.key_id, event.hash)


def stored_line(event: Event | RecordedEvent, key_id: str, hash_: str) -> dict[str, Any]:
    """The backup file's line of a stored event (a row, or one the recorder read without
    upcasting), with its key id and hash."""
    return {
        **_identity(event),
        "data": event.data,
        "metadata": event.metadata,
        "occurred_at": format_datetime(event.occurred_at),
        "recorded_at": format_datetime(event.recorded_at),
        "key_id": key_id,
        "hash": hash_,
    }


def line_bytes(line: dict[str, Any]) -> bytes:
    """A backup line as canonical JSON (``serialization.canonical_json``), UTF-8: the bytes
    a Merkle leaf hashes (``sealing``)."""
    line = line if len(line) == len(STORED_COLUMNS) else {column: line[column] for column in STORED_COLUMNS}
    try:
        return orjson.dumps(line, option=orjson.OPT_SORT_KEYS)  # canonical_json's bytes, without a copy
    except orjson.JSONEncodeError:
        return canonical_json(line).encode()
