"""Subscribers: projections and process managers, and how they declare what they handle.

A subscriber is a class with a ``name`` (the key of its checkpoint: renaming it starts it
afresh), a ``kind``, and one small method per event type, marked with ``@handles``::

    class StockProjection(Projection):
        name = "stock"
        products = Table(ProductStock)

        @handles(StockReceived)
        def stock_received(self, event: RecordedEvent) -> None:
            self.products[event.stream_id].on_hand += event.data["quantity"]

The event types it subscribes to are exactly those its methods handle; the runner
(``projections.runner``) reads the feed filtered by them and calls the matching method for
each event, in feed order. ``event.data`` is the payload in its current shape, as JSON
(decimals and UUIDs are strings); ``stream_id``, ``event_id``, ``version``, ``position``,
``occurred_at`` and ``metadata`` come with it. List every subscriber, by dotted path, in
``settings.PROJECTIONS_SUBSCRIBERS``.

There are two kinds, driven by the same runner:

``Projection`` (``transactional = True``) keeps read models. Its handlers run inside the
batch's transaction, together with the checkpoint update, so a batch is applied exactly
once or not at all. A projection writes only the tables it declares with ``Table(Model)``
and only through them: ``self.products[key]`` / ``.get(key)`` / ``.new(**values)`` /
``.remove(key)``. Rows are fetched in bulk (override ``prefetch``), changed in memory, and
written back in bulk when the batch ends, so a rebuild can fold tens of thousands of events
per second and point the same code at shadow tables. Handlers never query by themselves.

``ProcessManager`` (``transactional = False``) reacts to events by issuing commands. Its
handlers run outside any transaction, one event at a time; the command handlers they call
open transactions of their own. The checkpoint advances after each event in a short
transaction, so after a crash the last event may be handled again: reactions must be
idempotent, e.g. events with deterministic ids (``uuid5`` of the cause's ``event_id`` and
the target), which the store takes as a retry and does not append twice; pass the cause's
``event_id`` as ``causation_id``. A process manager starts at the head of the log on its
first run (and after a restore), so create its checkpoint when it is deployed (``manage.py
catch_up NAME``): otherwise the commit that first wakes it is already behind it. It is never
rebuilt, and a handler that raises stops it like any subscriber: treat a domain refusal as
an outcome inside the handler and raise only for what a person must look at. Lost
connections and lock timeouts (``OperationalError``) only interrupt a run.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any, ClassVar, Generic, Literal, TypeVar, overload

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.models import Model
from django.utils.module_loading import import_string

from eventstore.context import bound
from eventstore.records import RecordedEvent
from orders.domain import DomainEvent

from .rows import Rows

M = TypeVar("M", bound=Model)
Handler = TypeVar("Handler", bound=Callable[..., None])


class Kind(StrEnum):
    PROJECTION = "projection"
    PROCESS_MANAGER = "process manager"


class UnknownSubscriber(LookupError):
    def __init__(self, unknown: Iterable[str], valid: Iterable[str]) -> None:
        super().__init__(f"unknown subscriber {', '.join(unknown)}; choose from {', '.join(valid)}")


# Database trouble that says nothing about the subscriber's code (a lost connection, a lock
# timeout): it interrupts a run, and the next run resumes, instead of failing the subscriber.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class SubscriberFailed(Exception):
    """A subscriber cannot go on: its handler raised on ``event``, or (``event`` None)
    writing its batch failed or its cursor is no longer valid."""

    def __init__(self, event: RecordedEvent | None, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.event = event
        self.error = error


def handles(*event_classes: type[DomainEvent]) -> Callable[[Handler], Handler]:
    """Mark a subscriber method as the handler of these domain event classes.

    By the type name each class declares, not the codec's registry: a subscriber module may
    be imported before the write side registers the events (``OrdersConfig.ready``).
    """
    names = tuple(cls.EVENT_TYPE for cls in event_classes)

    def mark(method: Handler) -> Handler:
        method.handles = names  # type: ignore[attr-defined]  # a mark on the function object
        return method

    return mark


class Subscriber:
    name: ClassVar[str]
    kind: ClassVar[Kind]
    # Whether handlers run inside the batch transaction that advances the checkpoint.
    transactional: ClassVar[bool]
    # The event types it subscribes to, collected from its @handles methods.
    event_types: ClassVar[tuple[str, ...]]
    _handlers: ClassVar[dict[str, str]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers = {}
        for klass in reversed(cls.__mro__):
            for attribute, member in vars(klass).items():
                for event_type in getattr(member, "handles", ()):
                    handlers[event_type] = attribute
        cls._handlers = handlers
        cls.event_types = tuple(sorted(handlers))

    def handle(self, event: RecordedEvent) -> None:
        """Call the method that handles this event's type (looked up by name, at call time),
        with the event's correlation id in effect: what a worker logs, and what a process
        manager's reactions do, is found under the id of the request that caused it."""
        with bound(correlation_id=event.metadata.get("correlation_id")):
            getattr(self, self._handlers[event.event_type])(event)


class ProcessManager(Subscriber):
    kind = Kind.PROCESS_MANAGER
    transactional = False


class Table(Generic[M]):
    """Declares a read model a projection owns; on an instance, the rows it is working on."""

    def __init__(self, model: type[M]) -> None:
        self.model = model

    @overload
    def __get__(self, projection: None, owner: type) -> Table[M]: ...
    @overload
    def __get__(self, projection: Projection, owner: type) -> Rows[M]: ...
    def __get__(self, projection: Projection | None, owner: type) -> Table[M] | Rows[M]:
        return self if projection is None else projection.rows[self.model]


class Projection(Subscriber):
    kind = Kind.PROJECTION
    transactional = True
    # The read models it owns, from its Table attributes: rebuilt and swapped together.
    models: ClassVar[tuple[type[Model], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        tables = [m for k in reversed(cls.__mro__) for m in vars(k).values() if isinstance(m, Table)]
        cls.models = tuple(table.model for table in tables)

    def __init__(self, *, tables: Mapping[type[Model], str] | None = None, empty: bool = False) -> None:
        """Work on the models' own tables, or on ``tables`` (a rebuild's shadow tables);
        ``empty`` promises they hold no rows yet, so nothing is ever fetched."""
        names = tables or {}
        self.rows: dict[type[Model], Rows[Any]] = {
            model: Rows(model, names.get(model, model._meta.db_table), complete=empty) for model in self.models
        }

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        """Fetch the rows ``events`` will touch in a few queries. Optional: a row that is
        not fetched here is fetched on its own when a handler asks for it."""

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        """Fold ``events`` into the rows in memory (nothing is written until ``flush``).

        Like ``handle`` for each event, with the handlers looked up once per call and the
        correlation id bound once per run of events that share it (the events of one
        command): a rebuild calls tens of thousands of handlers a second, and binding
        context variables for each cost a third of their time."""
        if not all(rows.complete for rows in self.rows.values()):  # else there is nothing to fetch
            self.prefetch(events)
        handlers = {event_type: getattr(self, name) for event_type, name in self._handlers.items()}
        for correlation_id, run in itertools.groupby(events, _correlation_id):
            with bound(correlation_id=correlation_id):
                for event in run:
                    try:
                        handlers[event.event_type](event)
                    except TRANSIENT_ERRORS:
                        raise
                    except Exception as error:
                        raise SubscriberFailed(event, error) from error

    def flush(self) -> None:
        """Write every row in memory back to its table and forget them."""
        try:
            for rows in self.rows.values():
                rows.flush()
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            raise SubscriberFailed(None, error) from error

    @staticmethod
    def stamped(row: M, event: RecordedEvent) -> M:
        """Record on a row that mirrors one stream the version and position it is now at."""
        row.version, row.last_position = event.version, event.position  # type: ignore[attr-defined]  # rows of stream mirrors have both
        return row

    @property
    def rows_in_memory(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def _correlation_id(event: RecordedEvent) -> str | None:
    return event.metadata.get("correlation_id")


def all_subscribers() -> dict[str, type[Subscriber]]:
    """Every subscriber in settings.PROJECTIONS_SUBSCRIBERS, by name, in that order."""
    return _load(tuple(settings.PROJECTIONS_SUBSCRIBERS))


@functools.cache
def _load(paths: tuple[str, ...]) -> dict[str, type[Subscriber]]:
    subscribers: dict[str, type[Subscriber]] = {}
    for path in paths:
        cls = import_string(path)
        if cls.name in subscribers:
            raise ValueError(f"two subscribers are named {cls.name!r}")
        subscribers[cls.name] = cls
    return subscribers


@overload
def select(names: Sequence[str] | None = None, *, kind: Literal[Kind.PROJECTION]) -> list[type[Projection]]: ...
@overload
def select(names: Sequence[str] | None = None, *, kind: Kind | None = None) -> list[type[Subscriber]]: ...
def select(
    names: Sequence[str] | None = None, *, kind: Kind | None = None
) -> list[type[Subscriber]] | list[type[Projection]]:
    """The named subscribers (all when ``names`` is empty or None), limited to ``kind``;
    ``UnknownSubscriber`` lists the valid names when one is not among them."""
    candidates = {name: cls for name, cls in all_subscribers().items() if kind is None or cls.kind == kind}
    unknown = [name for name in names or () if name not in candidates]
    if unknown:
        raise UnknownSubscriber(unknown, candidates)
    return [candidates[name] for name in dict.fromkeys(names)] if names else list(candidates.values())
