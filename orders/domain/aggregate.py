"""What every aggregate shares: replay, recording new events, snapshots.

An aggregate's state changes only in its appliers, methods marked ``@applies(EventType)``.
A command method checks its rules (``check_*`` guards, ``clean_*`` inputs) and then calls
``_record(event)``, which applies the event exactly as a replay would and keeps it in
``pending`` for the handler to append. A refusal raises before anything is recorded.

State attributes are set by the creation event's applier (or ``from_snapshot``); before
that the aggregate does not exist and every command but the creating one raises
``LookupError``, a programming error: the handler reports a missing aggregate itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

from .events import DomainEvent
from .exceptions import AlreadyCreated

JSONDict = dict[str, Any]
Applier = TypeVar("Applier", bound=Callable[..., None])


def applies(event_type: type[DomainEvent]) -> Callable[[Applier], Applier]:
    """Mark a method as the state change that ``event_type`` makes."""

    def mark(method: Applier) -> Applier:
        method.applies_to = event_type  # type: ignore[attr-defined]  # a mark on the function object
        return method

    return mark


@dataclass(frozen=True)
class Snapshot:
    """A cached state: the aggregate as it was after ``version`` events."""

    version: int
    state: Mapping[str, Any]


class Aggregate(ABC):
    STREAM_TYPE: ClassVar[str]
    SNAPSHOT_SCHEMA: ClassVar[int] = 1
    ALREADY_EXISTS: ClassVar[type[AlreadyCreated]] = AlreadyCreated
    # The events this aggregate's stream holds, collected from its appliers.
    EVENT_TYPES: ClassVar[frozenset[type[DomainEvent]]]
    _appliers: ClassVar[dict[type[DomainEvent], Callable[[Any, Any], None]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._appliers = {member.applies_to: member for member in vars(cls).values() if hasattr(member, "applies_to")}
        cls.EVENT_TYPES = frozenset(cls._appliers)

    def __init__(self, id: UUID) -> None:
        self.id = id
        self.version = 0
        self.pending: list[DomainEvent] = []

    @classmethod
    def replay(cls, id: UUID, events: Iterable[DomainEvent], *, snapshot: Snapshot | None = None) -> Self:
        """The aggregate after ``events``, which follow ``snapshot`` when one is given."""
        aggregate = cls(id) if snapshot is None else cls.from_snapshot(id, snapshot.version, snapshot.state)
        for event in events:
            aggregate._apply(event)
        return aggregate

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def stored_version(self) -> int:
        """The version before the pending events: the expected version for appending them."""
        return self.version - len(self.pending)

    def check_exists(self) -> None:
        if not self.exists:
            raise LookupError(f"{self.STREAM_TYPE} {self.id} does not exist yet")

    def check_new(self) -> None:
        if self.exists:
            raise self.ALREADY_EXISTS(stream_type=self.STREAM_TYPE, id=self.id)

    def apply(self, event: DomainEvent) -> None:
        """Apply one stored event, as replay does (time travel walks events one by one)."""
        self._apply(event)

    def _record(self, event: DomainEvent) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: DomainEvent) -> None:
        try:
            applier = self._appliers[type(event)]
        except KeyError:
            raise TypeError(f"a {self.STREAM_TYPE} stream cannot hold {type(event).__name__}") from None
        applier(self, event)
        self.version += 1

    # --- Snapshots: a cache of the fold, never the source of truth ----------------------------

    @classmethod
    def from_snapshot(cls, id: UUID, version: int, state: Mapping[str, Any]) -> Self:
        """Rebuild from ``to_snapshot()`` output taken at ``version`` under ``SNAPSHOT_SCHEMA``."""
        aggregate = cls(id)
        aggregate.version = version
        aggregate._restore(state)
        return aggregate

    @abstractmethod
    def to_snapshot(self) -> JSONDict:
        """The full state as JSON types only (Decimals and UUIDs as strings)."""

    @abstractmethod
    def _restore(self, state: Mapping[str, Any]) -> None:
        """Set the state from ``to_snapshot()`` output."""

    def state_dict(self) -> JSONDict:
        """The state for time travel and diffs: the snapshot plus figures derived from it."""
        return self.to_snapshot()
