"""Domain events: facts in the past tense, registered under a stable type name and version.

A payload holds only what happened to its own stream: the stream id is not repeated, ids of
other aggregates are. Amounts are Decimals in the currency of their stream (a product's
``currency``, an order's ``currency``). Events carry no clock: the store records
``occurred_at`` beside them. Changing a payload's shape means a new schema version and an
upcaster in ``eventstore.serialization``, never an edit of stored events.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final
from uuid import UUID

from eventstore.serialization import registry

from .values import Address, OrderStatus


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event of the three aggregates."""


# --- Customer -------------------------------------------------------------------------------


@registry.event("CustomerRegistered", version=1)
@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(DomainEvent):
    name: str
    email: str
    shipping_address: Address | None


@registry.event("CustomerEmailChanged", version=1)
@dataclass(frozen=True, kw_only=True)
class CustomerEmailChanged(DomainEvent):
    email: str


@registry.event("CustomerAddressChanged", version=1)
@dataclass(frozen=True, kw_only=True)
class CustomerAddressChanged(DomainEvent):
    shipping_address: Address


# --- Product --------------------------------------------------------------------------------


@registry.event("ProductCreated", version=1)
@dataclass(frozen=True, kw_only=True)
class ProductCreated(DomainEvent):
    sku: str
    name: str
    price: Decimal
    currency: str


@registry.event("ProductPriceChanged", version=1)
@dataclass(frozen=True, kw_only=True)
class ProductPriceChanged(DomainEvent):
    price: Decimal


@registry.event("StockReceived", version=1)
@dataclass(frozen=True, kw_only=True)
class StockReceived(DomainEvent):
    quantity: int


@registry.event("StockAdjusted", version=1)
@dataclass(frozen=True, kw_only=True)
class StockAdjusted(DomainEvent):
    quantity: int  # signed: negative for shrinkage, positive for a recount that found more
    reason: str


@registry.event("StockReserved", version=1)
@dataclass(frozen=True, kw_only=True)
class StockReserved(DomainEvent):
    order_id: UUID
    quantity: int


@registry.event("StockReservationReleased", version=1)
@dataclass(frozen=True, kw_only=True)
class StockReservationReleased(DomainEvent):
    order_id: UUID
    quantity: int


@registry.event("StockReservationCommitted", version=1)
@dataclass(frozen=True, kw_only=True)
class StockReservationCommitted(DomainEvent):
    """The reserved items left the warehouse: on hand and reserved both drop by ``quantity``."""

    order_id: UUID
    quantity: int


@registry.event("ProductDiscontinued", version=1)
@dataclass(frozen=True, kw_only=True)
class ProductDiscontinued(DomainEvent):
    pass


# --- Order ----------------------------------------------------------------------------------


@registry.event("OrderCreated", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderCreated(DomainEvent):
    number: str
    customer_id: UUID
    currency: str
    shipping_address: Address | None


@registry.event("OrderLineAdded", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderLineAdded(DomainEvent):
    product_id: UUID
    sku: str
    quantity: int
    unit_price: Decimal


@registry.event("OrderLineQuantityChanged", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderLineQuantityChanged(DomainEvent):
    product_id: UUID
    quantity: int


@registry.event("OrderLineRemoved", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderLineRemoved(DomainEvent):
    product_id: UUID


@registry.event("OrderShippingAddressSet", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderShippingAddressSet(DomainEvent):
    shipping_address: Address


@registry.event("OrderPlaced", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderPlaced(DomainEvent):
    total: Decimal


@registry.event("OrderConfirmed", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(DomainEvent):
    pass


@registry.event("OrderRejected", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderRejected(DomainEvent):
    reason: str


@registry.event("PaymentRecorded", version=1)
@dataclass(frozen=True, kw_only=True)
class PaymentRecorded(DomainEvent):
    amount: Decimal
    method: str
    reference: str


@registry.event("OrderPaid", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderPaid(DomainEvent):
    """Recorded together with the PaymentRecorded that covers the rest of the total."""

    amount_paid: Decimal


@registry.event("OrderShipped", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderShipped(DomainEvent):
    carrier: str
    tracking_number: str


@registry.event("OrderDelivered", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderDelivered(DomainEvent):
    pass


@registry.event("OrderCancelled", version=1)
@dataclass(frozen=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """``previous_status`` tells the fulfilment process whether stock was reserved."""

    reason: str
    previous_status: OrderStatus


@registry.event("RefundIssued", version=1)
@dataclass(frozen=True, kw_only=True)
class RefundIssued(DomainEvent):
    amount: Decimal
    reason: str


ALL_EVENTS: Final[tuple[type[DomainEvent], ...]] = tuple(DomainEvent.__subclasses__())
