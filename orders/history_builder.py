"""A fast builder of large histories, for the benchmark (``orders.benchmarks.read_side``)
and the projection tests: customers, products and orders in any status, appended straight
to the store.

Every step runs the aggregates' own command methods, so each event is one the domain would
record, appended with the version the aggregate was at. It is not a way into the write
side: behaviour tests of the commands, the API and the admin dispatch commands through
``orders.bus`` (``tests/factories.py``). It skips what the bus, the handlers and the unit
of work add to the aggregates:

- permissions, idempotency keys and per-command metadata: every event is the system's,
  with one correlation id and no command or causation id;
- retries on a version conflict: a ``Shop`` keeps its aggregates in memory and never
  reloads them, so it must be the only writer of its streams;
- the uniqueness claims for e-mails and SKUs: no claim is recorded, so duplicates are not
  refused here, nor later by a command taking a built customer's e-mail or product's SKU;
- the handlers' own checks: a draft may take a line of a discontinued product;
- order numbers from the sequence: a built order's number is ``CH-`` and its id's first
  eight hex digits;
- snapshots every ``SNAPSHOT_EVERY`` events;
- the fulfilment process: ``fulfil``, ``ship`` and ``cancel`` reserve, commit and release
  stock inline, as that process does, but a cancel refunds nothing and a rejection's
  reason does not name the SKU.

``Shop()`` appends after every step, like commands would; ``Shop(autoflush=False)``
collects the events and ``flush()`` appends each stream's in batches, which writes a
100,000-event log in seconds (each stream's events stay in order; streams are appended
in the order they were first touched).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar
from uuid import UUID, uuid4

from eventstore import store
from eventstore.records import NewEvent, utcnow
from eventstore.serialization import registry
from orders.domain import Address, Aggregate, Customer, DomainError, DomainEvent, Money, Order, OrderStatus, Product

A = TypeVar("A", bound=Aggregate)

META = {"actor": "system", "source": "system", "correlation_id": "scenario"}
HOME = Address(line1="Keizersgracht 1", line2="", postal_code="1015 AA", city="Amsterdam", country="NL")

# How many of the steps place, fulfil, pay, ship, deliver lead to a status.
_STEPS = {
    OrderStatus.DRAFT: 0,
    OrderStatus.PLACED: 1,
    OrderStatus.REJECTED: 1,
    OrderStatus.CONFIRMED: 2,
    OrderStatus.CANCELLED: 2,
    OrderStatus.PAID: 3,
    OrderStatus.SHIPPED: 4,
    OrderStatus.DELIVERED: 5,
}


@dataclass
class _Outbox:
    stream_type: str
    expected_version: int
    events: list[NewEvent] = field(default_factory=list)


def new_event(event: DomainEvent, occurred_at: dt.datetime) -> NewEvent:
    name, version, data = registry.encode(event)
    return NewEvent(name, data, version, occurred_at=occurred_at)


class Shop:
    def __init__(self, *, clock: Callable[[], dt.datetime] = utcnow, autoflush: bool = True) -> None:
        # Business time given to the events of each step.
        self.clock = clock
        self.autoflush = autoflush
        self.customers: dict[UUID, Customer] = {}
        self.products: dict[UUID, Product] = {}
        self.orders: dict[UUID, Order] = {}
        self._outbox: dict[UUID, _Outbox] = {}

    # --- Customers --------------------------------------------------------------------------

    def register_customer(self, name: str = "Ada Lovelace", email: str | None = None, address: Address = HOME) -> UUID:
        customer = self._new(Customer, self.customers)
        customer.register(name, email or f"{customer.id.hex[:12]}@example.com", address)
        return self._record(customer)

    def change_email(self, customer_id: UUID, email: str) -> None:
        self.customers[customer_id].change_email(email)
        self._record(self.customers[customer_id])

    def change_address(self, customer_id: UUID, address: Address) -> None:
        self.customers[customer_id].change_address(address)
        self._record(self.customers[customer_id])

    # --- Products ---------------------------------------------------------------------------

    def create_product(
        self, sku: str | None = None, name: str = "Mug", price: str = "12.50", currency: str = "EUR", stock: int = 0
    ) -> UUID:
        product = self._new(Product, self.products)
        product.create(sku or f"SKU-{product.id.hex[:10].upper()}", name, Money(Decimal(price), currency))
        if stock:
            product.receive_stock(stock)
        return self._record(product)

    def receive_stock(self, product_id: UUID, quantity: int) -> None:
        self.products[product_id].receive_stock(quantity)
        self._record(self.products[product_id])

    def adjust_stock(self, product_id: UUID, quantity: int, reason: str = "Recount.") -> None:
        self.products[product_id].adjust_stock(quantity, reason)
        self._record(self.products[product_id])

    def change_price(self, product_id: UUID, price: str) -> None:
        product = self.products[product_id]
        product.change_price(Money(Decimal(price), product.price.currency))
        self._record(product)

    def discontinue(self, product_id: UUID) -> None:
        self.products[product_id].discontinue()
        self._record(self.products[product_id])

    # --- Orders -----------------------------------------------------------------------------

    def draft(self, customer_id: UUID, lines: Mapping[UUID, int], currency: str = "EUR") -> UUID:
        """A draft order with a line per product, at the product's current price."""
        order = self._new(Order, self.orders)
        address = self.customers[customer_id].shipping_address
        order.create(f"CH-{order.id.hex[:8].upper()}", customer_id, currency, address)
        self._set_lines(order, lines)
        return self._record(order)

    def change_lines(self, order_id: UUID, lines: Mapping[UUID, int]) -> None:
        """Set a draft's quantities: a new product adds a line, 0 removes one."""
        self._set_lines(self.orders[order_id], lines)
        self._record(self.orders[order_id])

    def _set_lines(self, order: Order, lines: Mapping[UUID, int]) -> None:
        current = {line.product_id for line in order.lines}
        for product_id, quantity in lines.items():
            if product_id not in current:
                product = self.products[product_id]
                order.add_line(product_id, product.sku, quantity, product.price)
            elif quantity:
                order.change_quantity(product_id, quantity)
            else:
                order.remove_line(product_id)

    def set_shipping_address(self, order_id: UUID, address: Address) -> None:
        self.orders[order_id].set_shipping_address(address)
        self._record(self.orders[order_id])

    def order(
        self, customer_id: UUID, lines: Mapping[UUID, int], *, until: OrderStatus = OrderStatus.DELIVERED
    ) -> UUID:
        """An order taken through placed, confirmed, paid, shipped and delivered as far as
        ``until`` (cancelled: once confirmed; rejected: once placed). It stops early when
        fulfilment rejects it for want of stock."""
        order_id = self.draft(customer_id, lines, self.products[next(iter(lines))].price.currency)
        for step in (self.place, self.fulfil, self.pay, self.ship, self.deliver)[: _STEPS[until]]:
            step(order_id)
            if self.orders[order_id].status == OrderStatus.REJECTED:
                return order_id
        if until == OrderStatus.CANCELLED:
            self.cancel(order_id)
        elif until == OrderStatus.REJECTED:
            self.reject(order_id)
        return order_id

    def place(self, order_id: UUID) -> None:
        self.orders[order_id].place()
        self._record(self.orders[order_id])

    def fulfil(self, order_id: UUID) -> None:
        """Reserve every line's stock and confirm, or release what was reserved and reject."""
        order = self.orders[order_id]
        reserved: list[Product] = []
        try:
            for line in order.lines:
                product = self.products[line.product_id]
                product.reserve(order_id, line.quantity)
                reserved.append(product)
        except DomainError as refusal:
            for product in reserved:
                product.release(order_id)
            order.reject(refusal.message)
        else:
            order.confirm()
        for product in reserved:
            self._record(product)
        self._record(order)

    def pay(self, order_id: UUID, amount: str | None = None) -> None:
        order = self.orders[order_id]
        paying = Money(Decimal(amount), order.currency) if amount else order.amount_due
        order.record_payment(paying, "card", f"psp-{uuid4().hex[:8]}")
        self._record(order)

    def ship(self, order_id: UUID) -> None:
        order = self.orders[order_id]
        order.ship("PostNL", f"3S{order_id.hex[:10].upper()}")
        self._release_or_commit(order, Product.commit)
        self._record(order)

    def deliver(self, order_id: UUID) -> None:
        self.orders[order_id].deliver()
        self._record(self.orders[order_id])

    def cancel(self, order_id: UUID, reason: str = "Customer changed their mind.") -> None:
        order = self.orders[order_id]
        order.cancel(reason)
        self._release_or_commit(order, Product.release)
        self._record(order)

    def reject(self, order_id: UUID, reason: str = "Out of stock.") -> None:
        self.orders[order_id].reject(reason)
        self._record(self.orders[order_id])

    def refund(self, order_id: UUID, amount: str) -> None:
        order = self.orders[order_id]
        order.refund(Money(Decimal(amount), order.currency), "Goodwill.")
        self._record(order)

    def _release_or_commit(self, order: Order, step: Callable[[Product, UUID], None]) -> None:
        for line in order.lines:
            product = self.products[line.product_id]
            step(product, order.id)
            self._record(product)

    # --- Appending --------------------------------------------------------------------------

    def _new(self, cls: type[A], index: dict[UUID, A]) -> A:
        aggregate = cls(uuid4())
        index[aggregate.id] = aggregate
        return aggregate

    def _record(self, aggregate: Aggregate) -> UUID:
        """Take the aggregate's pending events into the outbox; append them if autoflush."""
        if aggregate.pending:
            when = self.clock()
            box = self._outbox.setdefault(aggregate.id, _Outbox(aggregate.STREAM_TYPE, aggregate.stored_version))
            box.events += [new_event(event, when) for event in aggregate.pending]
            aggregate.pending.clear()
        if self.autoflush:
            self.flush()
        return aggregate.id

    def flush(self) -> int:
        """Append everything in the outbox, each stream in batches; returns the event count."""
        count = 0
        for stream_id, box in self._outbox.items():
            for start in range(0, len(box.events), store.MAX_EVENTS_PER_APPEND):
                batch = box.events[start : start + store.MAX_EVENTS_PER_APPEND]
                expected = box.expected_version + start
                store.append(box.stream_type, stream_id, batch, expected_version=expected, metadata=META)
                count += len(batch)
        self._outbox.clear()
        return count
