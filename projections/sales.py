"""The sales projection: sales per day, per product and per customer, and the order funnel.

What counts as a sale, so that every figure on the dashboard can be explained:

- An order counts once it is placed (``OrderPlaced``): on the day it was placed in the
  shop's time zone (``settings.TIME_ZONE``), by business time (``occurred_at``), in its own
  currency. Drafts never count.
- It stops counting when it is rejected or cancelled, whenever that happens: it is taken
  back out of the day it was placed on, of its products and of its customer. A day's figures
  are therefore what the orders placed that day are worth now.
- Revenue is the order's total less what was refunded on it: a refund lowers the revenue of
  the day the order was placed (and the customer's lifetime value). A refund of an order
  that no longer counts changes nothing: it is out already.
- Units are the items on its lines. Per product, revenue is the line totals: refunds are
  per order, not per line, so they are not spread over products.
- Amounts in different currencies are never converted or added up: every figure is per
  currency (a customer who bought in two currencies has two ``CustomerValue`` rows).

The funnel (``StatusCount``) counts orders by status: ``current`` (in it now) and
``reached`` (ever in it), so placed -> confirmed -> paid -> shipped -> delivered reads as a
funnel and rejected and cancelled as the ways out.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings

from eventstore.records import RecordedEvent
from orders.domain import (
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderLineAdded,
    OrderLineQuantityChanged,
    OrderLineRemoved,
    OrderPaid,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderStatus,
    RefundIssued,
)

from .models import CustomerValue, SalesDay, SalesOrder, SalesProduct, StatusCount
from .subscribers import Projection, Table, handles

_STATUS_AFTER = {
    "OrderCreated": OrderStatus.DRAFT,
    "OrderPlaced": OrderStatus.PLACED,
    "OrderConfirmed": OrderStatus.CONFIRMED,
    "OrderRejected": OrderStatus.REJECTED,
    "OrderPaid": OrderStatus.PAID,
    "OrderShipped": OrderStatus.SHIPPED,
    "OrderDelivered": OrderStatus.DELIVERED,
    "OrderCancelled": OrderStatus.CANCELLED,
}


@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def shop_day(moment: dt.datetime) -> dt.date:
    """The date of ``moment`` in the shop's time zone."""
    return moment.astimezone(_zone(settings.TIME_ZONE)).date()


def day_key(day: dt.date, currency: str) -> str:
    return f"{day.isoformat()}:{currency}"


def per_currency_key(id: UUID | str, currency: str) -> str:
    return f"{id}:{currency}"


class SalesProjection(Projection):
    name = "sales"
    orders = Table(SalesOrder)
    days = Table(SalesDay)
    products = Table(SalesProduct)
    customers = Table(CustomerValue)
    statuses = Table(StatusCount)

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        ids = {event.stream_id for event in events}
        self.orders.fetch(ids)
        self.statuses.fetch(status.value for status in OrderStatus)
        placed = {e.stream_id: shop_day(e.occurred_at) for e in events if e.event_type == "OrderPlaced"}
        known = [order for order in map(self.orders.get, ids) if order is not None]
        self.days.fetch(
            day_key(order.placed_day or placed[order.id], order.currency)
            for order in known
            if order.placed_day or order.id in placed
        )
        self.products.fetch(per_currency_key(product, order.currency) for order in known for product in order.lines)
        self.customers.fetch(per_currency_key(order.customer_id, order.currency) for order in known)

    # --- Drafting: lines are remembered until the order is placed -----------------------

    @handles(OrderCreated)
    def order_created(self, event: RecordedEvent) -> None:
        data = event.data
        order = self.orders.new(id=event.stream_id, customer_id=UUID(data["customer_id"]), currency=data["currency"])
        self._move(order, event)

    @handles(OrderLineAdded)
    def order_line_added(self, event: RecordedEvent) -> None:
        data = event.data
        self.orders[event.stream_id].lines[data["product_id"]] = [data["sku"], data["quantity"], data["unit_price"]]

    @handles(OrderLineQuantityChanged)
    def order_line_quantity_changed(self, event: RecordedEvent) -> None:
        self.orders[event.stream_id].lines[event.data["product_id"]][1] = event.data["quantity"]

    @handles(OrderLineRemoved)
    def order_line_removed(self, event: RecordedEvent) -> None:
        del self.orders[event.stream_id].lines[event.data["product_id"]]

    # --- Counting in and out ------------------------------------------------------------

    @handles(OrderPlaced)
    def order_placed(self, event: RecordedEvent) -> None:
        order = self._move(self.orders[event.stream_id], event)
        order.placed_day, order.total, order.counted = shop_day(event.occurred_at), Decimal(event.data["total"]), True
        self._count(order, 1)

    @handles(OrderRejected, OrderCancelled)
    def order_withdrawn(self, event: RecordedEvent) -> None:
        order = self._move(self.orders[event.stream_id], event)
        if order.counted:
            self._count(order, -1)
            order.counted = False

    @handles(RefundIssued)
    def refund_issued(self, event: RecordedEvent) -> None:
        order, amount = self.orders[event.stream_id], Decimal(event.data["amount"])
        if order.counted:
            self._day(order).revenue -= amount
            self._customer(order).lifetime_value -= amount
        order.refunded += amount

    @handles(OrderConfirmed, OrderPaid, OrderShipped, OrderDelivered)
    def order_moved_on(self, event: RecordedEvent) -> None:
        self._move(self.orders[event.stream_id], event)

    def _count(self, order: SalesOrder, sign: int) -> None:
        """Add the order to (sign 1) or take it out of (sign -1) every sales figure."""
        value = sign * (order.total - order.refunded)
        day, customer = self._day(order), self._customer(order)
        day.orders += sign
        day.revenue += value
        customer.orders += sign
        customer.lifetime_value += value
        for product_id, (sku, quantity, unit_price) in order.lines.items():
            product = self._product(order, product_id, sku)
            product.orders += sign
            product.units += sign * quantity
            product.revenue += sign * quantity * Decimal(unit_price)
            day.units += sign * quantity

    def _move(self, order: SalesOrder, event: RecordedEvent) -> SalesOrder:
        """Move the order to the status ``event`` leads to, in the funnel too."""
        status = _STATUS_AFTER[event.event_type]
        if order.status:
            self._status(order.status).current -= 1
        new = self._status(status)
        new.current += 1
        new.reached += 1
        order.status = status
        return order

    # --- The aggregate rows, created on first use ---------------------------------------

    def _day(self, order: SalesOrder) -> SalesDay:
        assert order.placed_day is not None
        key = day_key(order.placed_day, order.currency)
        return self.days.get(key) or self.days.new(id=key, day=order.placed_day, currency=order.currency)

    def _customer(self, order: SalesOrder) -> CustomerValue:
        key = per_currency_key(order.customer_id, order.currency)
        return self.customers.get(key) or self.customers.new(
            id=key, customer_id=order.customer_id, currency=order.currency
        )

    def _product(self, order: SalesOrder, product_id: str, sku: str) -> SalesProduct:
        key = per_currency_key(product_id, order.currency)
        return self.products.get(key) or self.products.new(
            id=key, product_id=UUID(product_id), sku=sku, currency=order.currency
        )

    def _status(self, status: str) -> StatusCount:
        return self.statuses.get(status) or self.statuses.new(status=status)
