"""Loading aggregates from the log and appending what they decided: the unit of work.

One ``UnitOfWork`` serves one command inside its transaction. It loads each aggregate from
its newest snapshot plus the events after it, appends the aggregate's pending events with
the version it was loaded at as the expected version, stamps every event with the command's
metadata, takes a snapshot every ``SNAPSHOT_EVERY`` events, and keeps the uniqueness claims
(SKU, e-mail) in the same transaction as the events that introduce them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from eventstore import store
from eventstore.records import NewEvent, RecordedEvent
from eventstore.serialization import registry

from .context import CommandContext, business_now
from .domain import Snapshot
from .domain.aggregate import Aggregate
from .errors import NotFound, VersionConflict
from .models import OrderNumberCounter, UniqueClaim

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class CommandResult:
    """What a command did: its target stream, that stream's version afterwards, and the
    global position of the last event appended (or of the stream's last event when the
    command changed nothing)."""

    id: UUID
    version: int
    position: int | None
    number: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version, "position": self.position, "number": self.number}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CommandResult:
        return cls(UUID(data["id"]), data["version"], data["position"], data.get("number"))


def load(cls: type[A], stream_id: UUID, *, to_version: int | None = None) -> A:
    """The aggregate from its newest usable snapshot and the events after it (up to
    ``to_version`` when given). An aggregate without events has ``exists`` false, and so
    has one whose id names a stream of another kind (a product's id given as an order's)."""
    snapshot = store.load_snapshot(stream_id, state_schema=cls.SNAPSHOT_SCHEMA, max_version=to_version)
    if snapshot and snapshot.stream_type != cls.STREAM_TYPE:
        return cls(stream_id)
    start = Snapshot(snapshot.version, snapshot.state) if snapshot else None
    payloads = store.read_payloads(
        stream_id, from_version=snapshot.version + 1 if snapshot else 1, to_version=to_version
    )
    events = [registry.decode(p.event_type, p.data) for p in payloads]
    if events and type(events[0]) not in cls.EVENT_TYPES:
        return cls(stream_id)
    return cls.replay(stream_id, events, snapshot=start)


class UnitOfWork:
    def __init__(self, context: CommandContext, command_id: UUID, occurred_at: dt.datetime | None) -> None:
        self.context = context
        self.command_id = command_id
        self.occurred_at = occurred_at or business_now()
        self.appended: list[RecordedEvent] = []

    def load(
        self,
        cls: type[A],
        stream_id: UUID,
        *,
        expected_version: int | None = None,
        must_exist: bool = True,
        field: str | None = None,
    ) -> A:
        """Load an aggregate. ``expected_version`` is the caller's pin (If-Match, the
        version a form showed): a mismatch is refused before anything is decided."""
        aggregate = load(cls, stream_id)
        if must_exist and not aggregate.exists:
            raise NotFound(cls.STREAM_TYPE, stream_id, field=field)
        if expected_version is not None and aggregate.version != expected_version:
            raise VersionConflict(aggregate.version, expected_version)
        return aggregate

    def save(self, aggregate: Aggregate) -> list[RecordedEvent]:
        """Append the aggregate's pending events; nothing pending appends nothing."""
        if not aggregate.pending:
            return []
        before = aggregate.stored_version
        events = [self._new_event(event) for event in aggregate.pending]
        recorded = store.append(
            aggregate.STREAM_TYPE,
            aggregate.id,
            events,
            expected_version=before,
            metadata={
                "actor": self.context.actor,
                "source": self.context.source,
                "correlation_id": self.context.correlation_id,
                "causation_id": self.context.causation_id or str(self.command_id),
                "command_id": str(self.command_id),
            },
        )
        aggregate.pending.clear()
        self.appended += recorded
        every = settings.SNAPSHOT_EVERY
        if aggregate.version // every > before // every:
            store.save_snapshot(
                aggregate.STREAM_TYPE,
                aggregate.id,
                version=aggregate.version,
                state=aggregate.to_snapshot(),
                state_schema=aggregate.SNAPSHOT_SCHEMA,
            )
        return recorded

    def _new_event(self, event: object) -> NewEvent:
        name, version, data = registry.encode(event)
        return NewEvent(name, data, schema_version=version, occurred_at=self.occurred_at)

    def result(self, aggregate: Aggregate, *, number: str | None = None) -> CommandResult:
        mine = [e for e in self.appended if e.stream_id == aggregate.id]
        position: int | None
        if mine:
            position = mine[-1].position
        else:
            last = store.read_stream(aggregate.id, from_version=aggregate.version) if aggregate.version else []
            position = last[-1].position if last else None
        return CommandResult(aggregate.id, aggregate.version, position, number)

    # --- Uniqueness across streams ------------------------------------------------------------

    def claim(self, kind: str, value: str, owner_id: UUID, taken: Exception) -> None:
        """Claim ``value`` for ``owner_id`` (dropping the owner's previous claim of this kind)
        or raise ``taken``. Runs after the append, in the same transaction: concurrent
        claims meet at the unique index, and the loser's whole unit of work rolls back."""
        holder = UniqueClaim.objects.filter(kind=kind, value=value).values_list("owner_id", flat=True).first()
        if holder is not None:
            if holder != owner_id:
                raise taken
            return
        UniqueClaim.objects.filter(kind=kind, owner_id=owner_id).delete()
        try:
            with transaction.atomic():  # a savepoint, so the violation can be told apart
                UniqueClaim.objects.create(kind=kind, value=value, owner_id=owner_id)
        except IntegrityError:
            raise taken from None

    # --- Order numbers ------------------------------------------------------------------------

    def next_order_number(self) -> str:
        """``CH-000123``: unique and increasing, from a sequence (so with gaps)."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT nextval('chronicle_order_number')")
                (number,) = cursor.fetchone()
        else:
            number = OrderNumberCounter.objects.create().id
        return f"CH-{number:06d}"
