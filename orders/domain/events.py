"""Domain events: facts in the past tense, each naming its stable type name and schema version.

A payload holds only what happened to its own stream: the stream id is not repeated, ids of
other aggregates are. Amounts are Decimals in the currency of their stream (a product's
``currency``, an order's ``currency``). Events carry no clock: the store records
``occurred_at`` beside them. Changing a payload's shape means a new schema version and an
upcaster in ``eventstore.serialization``, never an edit of stored events. The write side
registers the events with that codec (``orders.codec``); the domain does not know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar, Final
from uuid import UUID

from .values import Address, OrderStatus


@dataclass(frozen=True)
class DomainEvent:
    """Base of every event of the three aggregates. ``EVENT_TYPE`` is the name it is stored
    under, which outlives a renamed class; ``SCHEMA_VERSION`` the shape of its payload."""

    EVENT_TYPE: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1


# --- Customer -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CustomerRegistered(DomainEvent):
    EVENT_TYPE = "CustomerRegistered"

    name: str
    email: str
    shipping_address: Address | None


@dataclass(frozen=True, kw_only=True)
class CustomerEmailChanged(DomainEvent):
    EVENT_TYPE = "CustomerEmailChanged"

    email: str


@dataclass(frozen=True, kw_only=True)
class CustomerAddressChanged(DomainEvent):
    EVENT_TYPE = "CustomerAddressChanged"

    shipping_address: Address


# --- Product --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProductCreated(DomainEvent):
    EVENT_TYPE = "ProductCreated"

    sku: str
    name: str
    price: Decimal
    currency: str


@dataclass(frozen=True, kw_only=True)
class ProductPriceChanged(DomainEvent):
    EVENT_TYPE = "ProductPriceChanged"

    price: Decimal


@dataclass(frozen=True, kw_only=True)
class StockReceived(DomainEvent):
    EVENT_TYPE = "StockReceived"

    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockAdjusted(DomainEvent):
    EVENT_TYPE = "StockAdjusted"

    quantity: int  # signed: negative for shrinkage, positive for a recount that found more
    reason: str


@dataclass(frozen=True, kw_only=True)
class StockReserved(DomainEvent):
    EVENT_TYPE = "StockReserved"

    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockReservationReleased(DomainEvent):
    EVENT_TYPE = "StockReservationReleased"

    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class StockReservationCommitted(DomainEvent):
    """The reserved items left the warehouse: on hand and reserved both drop by ``quantity``."""

    EVENT_TYPE = "StockReservationCommitted"

    order_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class ProductDiscontinued(DomainEvent):
    EVENT_TYPE = "ProductDiscontinued"


# --- Order ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderCreated(DomainEvent):
    EVENT_TYPE = "OrderCreated"

    number: str
    customer_id: UUID
    currency: str
    shipping_address: Address | None


@dataclass(frozen=True, kw_only=True)
class OrderLineAdded(DomainEvent):
    EVENT_TYPE = "OrderLineAdded"

    product_id: UUID
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderLineQuantityChanged(DomainEvent):
    EVENT_TYPE = "OrderLineQuantityChanged"

    product_id: UUID
    quantity: int


@dataclass(frozen=True, kw_only=True)
class OrderLineRemoved(DomainEvent):
    EVENT_TYPE = "OrderLineRemoved"

    product_id: UUID


@dataclass(frozen=True, kw_only=True)
class OrderShippingAddressSet(DomainEvent):
    EVENT_TYPE = "OrderShippingAddressSet"

    shipping_address: Address


@dataclass(frozen=True, kw_only=True)
class OrderPlaced(DomainEvent):
    EVENT_TYPE = "OrderPlaced"

    total: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderConfirmed(DomainEvent):
    EVENT_TYPE = "OrderConfirmed"


@dataclass(frozen=True, kw_only=True)
class OrderRejected(DomainEvent):
    EVENT_TYPE = "OrderRejected"

    reason: str


@dataclass(frozen=True, kw_only=True)
class PaymentRecorded(DomainEvent):
    EVENT_TYPE = "PaymentRecorded"

    amount: Decimal
    method: str
    reference: str


@dataclass(frozen=True, kw_only=True)
class OrderPaid(DomainEvent):
    """Recorded together with the PaymentRecorded that covers the rest of the total."""

    EVENT_TYPE = "OrderPaid"

    amount_paid: Decimal


@dataclass(frozen=True, kw_only=True)
class OrderShipped(DomainEvent):
    EVENT_TYPE = "OrderShipped"

    carrier: str
    tracking_number: str


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(DomainEvent):
    EVENT_TYPE = "OrderDelivered"


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(DomainEvent):
    """``previous_status`` tells the fulfilment process whether stock was reserved."""

    EVENT_TYPE = "OrderCancelled"

    reason: str
    previous_status: OrderStatus


@dataclass(frozen=True, kw_only=True)
class RefundIssued(DomainEvent):
    EVENT_TYPE = "RefundIssued"

    amount: Decimal
    reason: str


ALL_EVENTS: Final[tuple[type[DomainEvent], ...]] = tuple(DomainEvent.__subclasses__())
