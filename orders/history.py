"""Selectors for an entity's history and past states, shared by the admin and the API.

Time travel is a fold: the state at version N, or at a moment, is the aggregate rebuilt
from its events up to that point (from the nearest snapshot at or below it). A history
page is keyset-paginated by version, so the thousandth page of a long stream costs what the
first does; the state before each event comes from one fold per page, not one per event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from eventstore import store
from eventstore.records import RecordedEvent
from eventstore.serialization import registry

from .domain import STREAM_TYPES
from .domain.aggregate import Aggregate
from .errors import CommandRefused, NotFound
from .repository import load

MAX_PAGE: Final = 1000


class VersionOutOfRange(CommandRefused):
    code = "version_out_of_range"
    status_code = 400

    def __init__(self, version: int, current: int) -> None:
        super().__init__(
            f"Version {version} does not exist: the latest is {current}.", fields={"version": "out of range"}
        )


@dataclass(frozen=True)
class EntityState:
    stream_type: str
    id: UUID
    # 0 when the entity did not exist yet at the requested moment.
    version: int
    # Recorded time of the event at `version`, None at version 0.
    as_of: dt.datetime | None
    state: dict[str, Any] | None


@dataclass(frozen=True)
class Change:
    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryEntry:
    event: RecordedEvent
    # The entity's state before the event ({} before its first) and after it, so a page can
    # show each change with what surrounds it (``history_labels`` needs the currency).
    before: dict[str, Any]
    after: dict[str, Any]

    @property
    def changes(self) -> list[Change]:
        return diff(self.before, self.after)


def _aggregate_type(stream_type: str) -> type[Aggregate]:
    try:
        return STREAM_TYPES[stream_type]
    except KeyError:
        raise NotFound(stream_type, "?") from None


def current_version(stream_type: str, stream_id: UUID) -> int:
    """The entity's version; NotFound unless it is a stream of this type."""
    _aggregate_type(stream_type)
    first = store.read_stream(stream_id, to_version=1)
    if not first or first[0].stream_type != stream_type:
        raise NotFound(stream_type, stream_id)
    return store.stream_version(stream_id)


def state_at(
    stream_type: str, stream_id: UUID, *, version: int | None = None, at: dt.datetime | None = None
) -> EntityState:
    """The entity as of ``version``, or as of recorded time ``at``, or now (neither)."""
    cls = _aggregate_type(stream_type)
    current = current_version(stream_type, stream_id)
    if at is not None:
        version = store.stream_version(stream_id, as_of=at)
    elif version is None:
        version = current
    elif not 0 <= version <= current:
        raise VersionOutOfRange(version, current)
    if version == 0:
        return EntityState(stream_type, stream_id, 0, None, None)
    aggregate = load(cls, stream_id, to_version=version)
    (event,) = store.read_stream(stream_id, from_version=version, to_version=version)
    return EntityState(stream_type, stream_id, version, event.recorded_at, aggregate.state_dict())


def history(stream_type: str, stream_id: UUID, *, after_version: int = 0, limit: int = 100) -> list[HistoryEntry]:
    """Events after ``after_version`` in version order, each with what it changed."""
    cls = _aggregate_type(stream_type)
    current_version(stream_type, stream_id)
    limit = max(1, min(limit, MAX_PAGE))
    events = store.read_stream(stream_id, from_version=after_version + 1, to_version=after_version + limit)
    aggregate = load(cls, stream_id, to_version=after_version) if after_version else cls(stream_id)
    entries = []
    for event in events:
        before = aggregate.state_dict() if aggregate.exists else {}
        aggregate.apply(registry.decode(event.event_type, event.data))
        entries.append(HistoryEntry(event, before, aggregate.state_dict()))
    return entries


def fields(state: dict[str, Any] | None) -> list[tuple[str, Any]]:
    """A state as (dotted path, value) pairs, the way ``diff`` names them."""
    return list(_flatten(state or {}))


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """Field-level differences between two states, as dotted paths (``lines[SKU-1].quantity``)."""
    old, new = dict(fields(before)), dict(fields(after))
    return [
        Change(path, old.get(path), new.get(path))
        for path in sorted(old.keys() | new.keys())
        if old.get(path) != new.get(path)
    ]


def _flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and value and all(isinstance(i, dict) and "sku" in i for i in value):
        for item in value:
            yield from _flatten(item, f"{prefix}[{item['sku']}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value
