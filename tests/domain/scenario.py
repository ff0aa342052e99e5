"""Given past events, when a command, then new events or a refusal: helpers and sample facts.

order = given(Order, *PLACED)
order.confirm()
assert order.pending == [OrderConfirmed()]

with refused(order, "order_not_draft"):
    order.place()
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import TypeVar
from uuid import uuid4

import pytest

from orders.domain import (
    Address,
    Aggregate,
    CustomerRegistered,
    DomainError,
    DomainEvent,
    Money,
    OrderCancelled,
    OrderConfirmed,
    OrderCreated,
    OrderDelivered,
    OrderLineAdded,
    OrderPaid,
    OrderPlaced,
    OrderRejected,
    OrderShipped,
    OrderStatus,
    PaymentRecorded,
    ProductCreated,
)

A = TypeVar("A", bound=Aggregate)


def given(aggregate_type: type[A], *events: DomainEvent) -> A:
    """An aggregate whose stream already holds ``events``."""
    return aggregate_type.replay(uuid4(), events)


@contextmanager
def raises_code(code: str) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The block raises the DomainError whose code is ``code``."""
    with pytest.raises(DomainError) as caught:
        yield caught
    assert caught.value.code == code, f"refused with {caught.value.code!r}, not {code!r}"


@contextmanager
def refused(aggregate: Aggregate, code: str) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The block raises the DomainError ``code`` and leaves no event and no change behind."""
    pending, version, state = list(aggregate.pending), aggregate.version, _state(aggregate)
    with raises_code(code) as caught:
        yield caught
    after = (aggregate.pending, aggregate.version, _state(aggregate))
    assert after == (pending, version, state), "a refusal recorded or changed something"


def _state(aggregate: Aggregate) -> dict[str, object] | None:
    return aggregate.state_dict() if aggregate.exists else None


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


HOME = Address(line1="Keizersgracht 1", line2="", postal_code="1015 AA", city="Amsterdam", country="NL")
OFFICE = Address(line1="Rue de Rivoli 2", line2="3e étage", postal_code="75001", city="Paris", country="FR")

CUSTOMER_ID = uuid4()
MUG_ID = uuid4()
CAP_ID = uuid4()
ORDER_ID = uuid4()
OTHER_ORDER_ID = uuid4()

# --- Customers ------------------------------------------------------------------------------

REGISTERED = CustomerRegistered(name="Ada Lovelace", email="Ada@Example.com", shipping_address=HOME)

# --- Products -------------------------------------------------------------------------------

MUG_CREATED = ProductCreated(sku="MUG-1", name="Mug", price=Decimal("12.50"), currency="EUR")

# --- Orders, one history per status ---------------------------------------------------------

DRAFT = (
    OrderCreated(number="CH-0001", customer_id=CUSTOMER_ID, currency="EUR", shipping_address=HOME),
    OrderLineAdded(product_id=MUG_ID, sku="MUG-1", quantity=2, unit_price=Decimal("12.50")),
)
PLACED = (*DRAFT, OrderPlaced(total=Decimal("25.00")))
CONFIRMED = (*PLACED, OrderConfirmed())
REJECTED = (*PLACED, OrderRejected(reason="Out of stock."))
PAID = (
    *CONFIRMED,
    PaymentRecorded(amount=Decimal("25.00"), method="card", reference="psp-1"),
    OrderPaid(amount_paid=Decimal("25.00")),
)
SHIPPED = (*PAID, OrderShipped(carrier="PostNL", tracking_number="3SABC123"))
DELIVERED = (*SHIPPED, OrderDelivered())
CANCELLED = (
    *CONFIRMED,
    OrderCancelled(reason="Customer changed their mind.", previous_status=OrderStatus.CONFIRMED),
)

HISTORIES: dict[OrderStatus, tuple[DomainEvent, ...]] = {
    OrderStatus.DRAFT: DRAFT,
    OrderStatus.PLACED: PLACED,
    OrderStatus.CONFIRMED: CONFIRMED,
    OrderStatus.REJECTED: REJECTED,
    OrderStatus.PAID: PAID,
    OrderStatus.SHIPPED: SHIPPED,
    OrderStatus.DELIVERED: DELIVERED,
    OrderStatus.CANCELLED: CANCELLED,
}
