"""The orders projection: one row per order with its lines, for order lists and the API.

The customer's name and e-mail are copied onto each order so lists can search them; the
projection keeps its own record of every customer (``OrderCustomer``) to copy them from,
and to update the orders of a customer whose e-mail changes. A customer whose events come
after their first order (possible when transactions commit out of order) is filled in
when they arrive.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from uuid import UUID, uuid5

from eventstore.records import RecordedEvent
from orders.domain import (
    Customer,
    CustomerEmailChanged,
    CustomerRegistered,
    Order,
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
    OrderShippingAddressSet,
    OrderStatus,
    PaymentRecorded,
    RefundIssued,
)

from .models import ZERO, OrderCustomer, OrderSummary, OrderSummaryLine
from .subscribers import Projection, Table, handles

_LINE_EVENTS = frozenset({"OrderLineAdded", "OrderLineQuantityChanged", "OrderLineRemoved"})


def line_id(order_id: UUID, product_id: UUID) -> UUID:
    """An order has at most one line per product, so this names the line for good."""
    return uuid5(order_id, str(product_id))


class OrdersProjection(Projection):
    name = "orders"
    orders = Table(OrderSummary)
    lines = Table(OrderSummaryLine)
    customers = Table(OrderCustomer)

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        customer_ids = {e.stream_id for e in events if e.stream_type == Customer.STREAM_TYPE}
        customer_ids |= {UUID(e.data["customer_id"]) for e in events if e.event_type == "OrderCreated"}
        self.customers.fetch(customer_ids)
        self.orders.fetch(e.stream_id for e in events if e.stream_type == Order.STREAM_TYPE)
        self.lines.fetch(
            line_id(e.stream_id, UUID(e.data["product_id"])) for e in events if e.event_type in _LINE_EVENTS
        )
        customers = (self.customers.get(e.stream_id) for e in events if e.stream_type == Customer.STREAM_TYPE)
        self.orders.fetch(UUID(order_id) for customer in customers if customer for order_id in customer.order_ids)

    # --- Customers ----------------------------------------------------------------------

    @handles(CustomerRegistered)
    def customer_registered(self, event: RecordedEvent) -> None:
        customer = self._customer(event.stream_id)
        customer.name, customer.email = event.data["name"], event.data["email"]
        self._copy_to_orders(customer)

    @handles(CustomerEmailChanged)
    def customer_email_changed(self, event: RecordedEvent) -> None:
        customer = self._customer(event.stream_id)
        customer.email = event.data["email"]
        self._copy_to_orders(customer)

    def _customer(self, customer_id: UUID) -> OrderCustomer:
        return self.customers.get(customer_id) or self.customers.new(id=customer_id)

    def _copy_to_orders(self, customer: OrderCustomer) -> None:
        for order_id in customer.order_ids:
            order = self.orders[UUID(order_id)]
            order.customer_name, order.customer_email = customer.name, customer.email

    # --- Drafting -----------------------------------------------------------------------

    @handles(OrderCreated)
    def order_created(self, event: RecordedEvent) -> None:
        data = event.data
        customer = self._customer(UUID(data["customer_id"]))
        customer.order_ids.append(str(event.stream_id))
        order = self.orders.new(
            id=event.stream_id,
            number=data["number"],
            customer_id=customer.id,
            customer_name=customer.name,
            customer_email=customer.email,
            status=OrderStatus.DRAFT,
            currency=data["currency"],
            shipping_address=data["shipping_address"],
            created_at=event.occurred_at,
        )
        self.stamped(order, event)

    @handles(OrderLineAdded)
    def order_line_added(self, event: RecordedEvent) -> None:
        data, order = event.data, self._order(event)
        product_id, unit_price = UUID(data["product_id"]), Decimal(data["unit_price"])
        line = self.lines.new(
            id=line_id(order.id, product_id),
            order_id=order.id,
            product_id=product_id,
            sku=data["sku"],
            quantity=0,
            unit_price=unit_price,
            line_total=ZERO,
            added_in_version=event.version,
        )
        self._set_quantity(order, line, data["quantity"])

    @handles(OrderLineQuantityChanged)
    def order_line_quantity_changed(self, event: RecordedEvent) -> None:
        order = self._order(event)
        self._set_quantity(order, self.lines[self._line_id(event)], event.data["quantity"])

    @handles(OrderLineRemoved)
    def order_line_removed(self, event: RecordedEvent) -> None:
        order, key = self._order(event), self._line_id(event)
        self._set_quantity(order, self.lines[key], 0)
        self.lines.remove(key)

    def _line_id(self, event: RecordedEvent) -> UUID:
        return line_id(event.stream_id, UUID(event.data["product_id"]))

    def _set_quantity(self, order: OrderSummary, line: OrderSummaryLine, quantity: int) -> None:
        """Change a line's quantity and the order's item count and total with it."""
        order.item_count += quantity - line.quantity
        order.total -= line.line_total
        line.quantity, line.line_total = quantity, line.unit_price * quantity
        order.total += line.line_total

    @handles(OrderShippingAddressSet)
    def order_shipping_address_set(self, event: RecordedEvent) -> None:
        self._order(event).shipping_address = event.data["shipping_address"]

    # --- The order's life ---------------------------------------------------------------

    @handles(OrderPlaced)
    def order_placed(self, event: RecordedEvent) -> None:
        order = self._step(event, OrderStatus.PLACED)
        order.placed_at, order.total = event.occurred_at, Decimal(event.data["total"])

    @handles(OrderConfirmed)
    def order_confirmed(self, event: RecordedEvent) -> None:
        self._step(event, OrderStatus.CONFIRMED).confirmed_at = event.occurred_at

    @handles(OrderRejected)
    def order_rejected(self, event: RecordedEvent) -> None:
        order = self._step(event, OrderStatus.REJECTED)
        order.rejected_at, order.status_reason = event.occurred_at, event.data["reason"]

    @handles(PaymentRecorded)
    def payment_recorded(self, event: RecordedEvent) -> None:
        self._order(event).amount_paid += Decimal(event.data["amount"])

    @handles(OrderPaid)
    def order_paid(self, event: RecordedEvent) -> None:
        self._step(event, OrderStatus.PAID).paid_at = event.occurred_at

    @handles(OrderShipped)
    def order_shipped(self, event: RecordedEvent) -> None:
        order = self._step(event, OrderStatus.SHIPPED)
        order.shipped_at = event.occurred_at
        order.carrier, order.tracking_number = event.data["carrier"], event.data["tracking_number"]

    @handles(OrderDelivered)
    def order_delivered(self, event: RecordedEvent) -> None:
        self._step(event, OrderStatus.DELIVERED).delivered_at = event.occurred_at

    @handles(OrderCancelled)
    def order_cancelled(self, event: RecordedEvent) -> None:
        order = self._step(event, OrderStatus.CANCELLED)
        order.cancelled_at, order.status_reason = event.occurred_at, event.data["reason"]

    @handles(RefundIssued)
    def refund_issued(self, event: RecordedEvent) -> None:
        self._order(event).amount_refunded += Decimal(event.data["amount"])

    def _step(self, event: RecordedEvent, status: OrderStatus) -> OrderSummary:
        order = self._order(event)
        order.status = status
        return order

    def _order(self, event: RecordedEvent) -> OrderSummary:
        return self.stamped(self.orders[event.stream_id], event)
