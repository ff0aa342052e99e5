"""The fulfilment process: what happens to stock when orders are placed, cancelled, shipped.

- **OrderPlaced**: reserve each line's stock; if every reservation succeeds, confirm the
  order; if one is refused (not enough stock, discontinued), release those already made and
  reject the order with the refusal as its reason. If the order was cancelled while the
  reservations were being made, confirming is refused, and the reservations are released.
- **OrderCancelled**: release whatever the order had reserved, and refund what was paid and
  not yet refunded (so never more than was paid, and never twice with a manual refund:
  the refund is pinned to the order's version and recomputed if anything changed).
- **OrderShipped**: commit the reservations (the stock leaves the warehouse).

A domain refusal is an outcome here, never a failure: it is recorded as events (a rejected
order) or simply means there is nothing to do. Every reaction is a command carrying an
idempotency key made of its cause (the event), its action and its target, so running the
process again over the same events appends nothing new; its events name the cause as
their causation id and keep the cause's correlation id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Final
from uuid import UUID

from eventstore.records import RecordedEvent
from projections.subscribers import ProcessManager, handles

from . import bus, repository
from .context import CommandContext
from .domain import DomainError, Order, OrderStatus
from .domain import commands as c
from .domain.commands import Command
from .domain.events import OrderCancelled, OrderPlaced, OrderShipped
from .errors import VersionConflict
from .repository import CommandResult

REFUND_ATTEMPTS: Final = 5
# From placing until shipping commits it, an order holds reserved stock.
HOLDS_RESERVATIONS: Final = frozenset({OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.PAID})


def _send(command: Command, cause: RecordedEvent, action: str, target: UUID) -> CommandResult | DomainError:
    """Dispatch a reaction to ``cause``; a domain refusal is returned, not raised."""
    context = CommandContext.system(
        source="worker",
        correlation_id=cause.metadata.get("correlation_id"),
        causation_id=str(cause.event_id),
    )
    keyed = replace(command, idempotency_key=f"fulfilment:{cause.event_id}:{action}:{target}")
    try:
        return bus.dispatch(keyed, context)
    except DomainError as refusal:
        return refusal


def _order_at(event: RecordedEvent) -> Order:
    return repository.load(Order, event.stream_id, to_version=event.version)


def _release(cause: RecordedEvent, order_id: UUID, product_ids: Iterable[UUID]) -> None:
    for product_id in product_ids:
        _send(c.ReleaseStock(product_id, order_id), cause, "release", product_id)


def order_placed(event: RecordedEvent) -> None:
    order = _order_at(event)
    reserved: list[UUID] = []
    for line in order.lines:
        outcome = _send(c.ReserveStock(line.product_id, order.id, line.quantity), event, "reserve", line.product_id)
        if isinstance(outcome, DomainError):
            _release(event, order.id, reserved)
            _send(c.RejectOrder(order.id, f"{line.sku}: {outcome.message}"), event, "reject", order.id)
            return
        reserved.append(line.product_id)
    if isinstance(_send(c.ConfirmOrder(order.id), event, "confirm", order.id), DomainError):
        _release(event, order.id, reserved)  # no longer placed: cancelled meanwhile


def order_cancelled(event: RecordedEvent) -> None:
    if OrderStatus(event.data["previous_status"]) in HOLDS_RESERVATIONS:
        _release(event, event.stream_id, [line.product_id for line in _order_at(event).lines])
    _refund_what_was_paid(event)


def _refund_what_was_paid(event: RecordedEvent) -> None:
    for _attempt in range(REFUND_ATTEMPTS):
        order = repository.load(Order, event.stream_id)
        if order.refundable.amount <= 0:
            return
        refund = c.RefundOrder(order.id, order.refundable, "Order cancelled", expected_version=order.version)
        try:
            outcome = _send(refund, event, f"refund-v{order.version}", order.id)
        except VersionConflict:
            continue  # a manual refund (or payment) landed meanwhile: recompute
        if isinstance(outcome, CommandResult):
            return
    raise RuntimeError(f"could not settle the refund of cancelled order {event.stream_id}")


def order_shipped(event: RecordedEvent) -> None:
    order = _order_at(event)
    for line in order.lines:
        _send(c.CommitStock(line.product_id, order.id), event, "commit", line.product_id)


class FulfilmentProcess(ProcessManager):
    """The process on the subscription runner: one event at a time, outside transactions."""

    name = "fulfilment"

    @handles(OrderPlaced)
    def placed(self, event: RecordedEvent) -> None:
        order_placed(event)

    @handles(OrderCancelled)
    def cancelled(self, event: RecordedEvent) -> None:
        order_cancelled(event)

    @handles(OrderShipped)
    def shipped(self, event: RecordedEvent) -> None:
        order_shipped(event)
