"""Commands: what staff and integrations ask for, in the imperative.

Each names its target (``customer_id``, ``product_id`` or ``order_id``; creating commands
carry the new aggregate's id, chosen by the caller, so a retry targets the same stream)
plus its inputs. The common options come last and are keyword-only:

- ``expected_version``: the version the caller saw; the handler refuses on a mismatch.
- ``idempotency_key``: repeating a command with the same key appends nothing new.
- ``occurred_at``: business time, when it differs from the moment of recording.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

from .values import Address, Money


@dataclass(frozen=True, kw_only=True)
class Command:
    expected_version: int | None = None
    idempotency_key: str | None = None
    occurred_at: datetime | None = None


# --- Customer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterCustomer(Command):
    customer_id: UUID
    name: str
    email: str
    shipping_address: Address | None = None


@dataclass(frozen=True)
class ChangeCustomerEmail(Command):
    customer_id: UUID
    email: str


@dataclass(frozen=True)
class ChangeCustomerAddress(Command):
    customer_id: UUID
    shipping_address: Address


# --- Product --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateProduct(Command):
    product_id: UUID
    sku: str
    name: str
    price: Money


@dataclass(frozen=True)
class ChangeProductPrice(Command):
    product_id: UUID
    price: Money


@dataclass(frozen=True)
class ReceiveStock(Command):
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class AdjustStock(Command):
    product_id: UUID
    quantity: int  # signed
    reason: str


@dataclass(frozen=True)
class ReserveStock(Command):
    product_id: UUID
    order_id: UUID
    quantity: int


@dataclass(frozen=True)
class ReleaseStock(Command):
    product_id: UUID
    order_id: UUID


@dataclass(frozen=True)
class CommitStock(Command):
    product_id: UUID
    order_id: UUID


@dataclass(frozen=True)
class DiscontinueProduct(Command):
    product_id: UUID


# --- Order ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOrder(Command):
    """The handler assigns the order number and passes the customer's address along."""

    order_id: UUID
    customer_id: UUID
    currency: str


@dataclass(frozen=True)
class AddOrderLine(Command):
    """The handler looks up the product's SKU and current price for the line."""

    order_id: UUID
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class ChangeOrderLineQuantity(Command):
    order_id: UUID
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class RemoveOrderLine(Command):
    order_id: UUID
    product_id: UUID


@dataclass(frozen=True)
class SetShippingAddress(Command):
    order_id: UUID
    shipping_address: Address


@dataclass(frozen=True)
class PlaceOrder(Command):
    order_id: UUID


@dataclass(frozen=True)
class ConfirmOrder(Command):
    order_id: UUID


@dataclass(frozen=True)
class RejectOrder(Command):
    order_id: UUID
    reason: str


@dataclass(frozen=True)
class RecordPayment(Command):
    order_id: UUID
    amount: Money
    method: str
    reference: str = ""


@dataclass(frozen=True)
class ShipOrder(Command):
    order_id: UUID
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class DeliverOrder(Command):
    order_id: UUID


@dataclass(frozen=True)
class CancelOrder(Command):
    order_id: UUID
    reason: str


@dataclass(frozen=True)
class RefundOrder(Command):
    order_id: UUID
    amount: Money
    reason: str


# Every command, for the handler layer's routing table and its completeness test.
ALL_COMMANDS: Final[tuple[type[Command], ...]] = tuple(Command.__subclasses__())
