"""Who issues a command, from where, and as part of what: the metadata of its events."""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from eventstore.context import current_correlation_id
from eventstore.records import SOURCES, utcnow

_business_time: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("business_time", default=None)


@dataclass(frozen=True)
class CommandContext:
    """``actor`` is a user id or ``system``; ``user`` (a Django user) is checked for
    permissions, and a context without one is a trusted system caller (process managers,
    demo data, operators' command-line tools)."""

    actor: str
    source: str
    correlation_id: str = field(default_factory=current_correlation_id)
    causation_id: str | None = None
    user: Any = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(sorted(SOURCES))}")

    @classmethod
    def for_user(cls, user: Any, *, source: str, correlation_id: str | None = None) -> CommandContext:
        return cls(
            actor=str(user.pk), source=source, correlation_id=correlation_id or current_correlation_id(), user=user
        )

    @classmethod
    def system(
        cls, *, source: str = "system", correlation_id: str | None = None, causation_id: str | None = None
    ) -> CommandContext:
        return cls(
            actor="system",
            source=source,
            correlation_id=correlation_id or current_correlation_id(),
            causation_id=causation_id,
        )

    def caused_by(self, causation_id: str) -> CommandContext:
        return replace(self, causation_id=causation_id)

    @property
    def is_system(self) -> bool:
        return self.user is None


@contextmanager
def business_time(at: dt.datetime) -> Iterator[None]:
    """Within the block, a command that names no business time of its own takes ``at``.

    For writing a past day in one go (the demo data): the processes reacting to its commands
    (fulfilment confirming an order) then act at that day's time too, not at the moment the
    data is written, so an order is not paid before it is confirmed. Requests never set it:
    live, a reaction happens when it happens."""
    token = _business_time.set(at)
    try:
        yield
    finally:
        _business_time.reset(token)


def business_now() -> dt.datetime:
    """The business time of a command that names none: now, unless ``business_time`` is in effect."""
    return _business_time.get() or utcnow()
