"""The plain values the event store takes and gives back. No ORM object leaves the store."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple
from uuid import UUID

# Expected versions for append(): a stream that must not exist yet, or whatever it is at.
NO_STREAM: Final = 0
ANY_VERSION: Final = -1
# The highest version a stream can reach (the column is a 32-bit integer).
MAX_VERSION: Final = 2**31 - 1

SOURCES: Final = frozenset({"admin", "api", "worker", "command-line", "system"})
METADATA_KEYS: Final = ("actor", "source", "correlation_id", "causation_id", "command_id")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_event_id() -> UUID:
    """A UUIDv7 (RFC 9562 section 5.7): the Unix time in milliseconds, then 74 random bits.

    Ids made one after another sort one after another, so appending puts each into the
    event-id index beside the last rather than on a random page: fewer index pages
    written (and logged) per commit than with random version 4 ids.
    """
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
    return UUID(int=value & ~(0xF << 76 | 0x3 << 62) | 0x7 << 76 | 0x2 << 62)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event to append. Its id and business time are fixed when it is made, so appending
    the same NewEvent again is recognised as a retry and stores nothing new."""

    event_type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    event_id: UUID = field(default_factory=new_event_id)
    occurred_at: dt.datetime = field(default_factory=utcnow)
    # Merged over the metadata given to append(), e.g. a per-event causation_id.
    metadata: Mapping[str, Any] = field(default_factory=dict)


class RecordedEvent(NamedTuple):
    """An event as stored, with its payload upcast to the current schema version."""

    position: int
    event_id: UUID
    stream_type: str
    stream_id: UUID
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    occurred_at: dt.datetime
    recorded_at: dt.datetime
    # PostgreSQL's id of the writing transaction; None on SQLite.
    transaction_id: int | None

    @property
    def feed_key(self) -> tuple[int, int]:
        """Where the event sits in the feed: (transaction id, position)."""
        return (self.transaction_id or 0, self.position)


class Payload(NamedTuple):
    """What rebuilding an entity needs of an event: its place, type and current-shape data."""

    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FeedPage:
    events: list[RecordedEvent]
    # Where to continue; always set, also when a filtered page is empty.
    next_cursor: str
    # True when the page reached everything committed so far.
    caught_up: bool


@dataclass(frozen=True, slots=True)
class Backlog:
    """How far a follower is behind: the events after its cursor, counted up to a limit,
    and when the oldest of them was recorded (None when there are none)."""

    count: int
    oldest_recorded_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    stream_id: UUID
    stream_type: str
    version: int
    state_schema: int
    state: dict[str, Any]
