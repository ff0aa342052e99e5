"""Commands: what staff and integrations ask for, in the imperative.

Each names its target (``customer_id``, ``product_id`` or ``order_id``; creating commands
carry the new aggregate's id, chosen by the caller, so a retry targets the same stream)
plus its inputs. The common options come last and are keyword-only:

- ``expected_version``: the version the caller saw; the handler refuses on a mismatch.
- ``idempotency_key``: repeating a command with the same key appends nothing new.
- ``occurred_at``: business time, when it differs from the moment of recording.

Each command's docstring is what staff and API clients are told about it: its first line
says what it does, the rest what it needs and what follows. The admin shows it as the
command's help and the API documents the command's endpoint with it, so it is written once,
here, in the shop's words (no HTTP, no buttons).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar
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
    """Register a customer.

    The e-mail address must not belong to another customer. The shipping address is
    optional: orders can be given one of their own.
    """

    customer_id: UUID
    name: str
    email: str
    shipping_address: Address | None = None


@dataclass(frozen=True)
class ChangeCustomerEmail(Command):
    """Change a customer's e-mail address.

    Orders show the new address from now on. The same address again changes nothing; it
    must not belong to another customer.
    """

    customer_id: UUID
    email: str


@dataclass(frozen=True)
class ChangeCustomerAddress(Command):
    """Change a customer's shipping address (used for their new orders)."""

    customer_id: UUID
    shipping_address: Address


# --- Product --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateProduct(Command):
    """Create a product.

    The SKU must not be used by another product. The price's currency is the product's for
    good.
    """

    product_id: UUID
    sku: str
    name: str
    price: Money


@dataclass(frozen=True)
class ChangeProductPrice(Command):
    """Change a product's price, in the product's currency.

    Lines already on orders keep the price they were added at. A discontinued product's price
    cannot change.
    """

    product_id: UUID
    price: Money


@dataclass(frozen=True)
class ReceiveStock(Command):
    """Stock arrived: it adds to what is on hand."""

    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class AdjustStock(Command):
    """Correct the count on hand (a recount, breakage), with a reason.

    Stock reserved for orders cannot be adjusted away.
    """

    product_id: UUID
    quantity: int  # signed
    reason: str


@dataclass(frozen=True)
class ReserveStock(Command):
    """Hold stock for a placed order's line (the fulfilment process)."""

    product_id: UUID
    order_id: UUID
    quantity: int


@dataclass(frozen=True)
class ReleaseStock(Command):
    """Give an order's reserved stock back (the fulfilment process)."""

    product_id: UUID
    order_id: UUID


@dataclass(frozen=True)
class CommitStock(Command):
    """Ship an order's reserved stock: it leaves on hand (the fulfilment process)."""

    product_id: UUID
    order_id: UUID


@dataclass(frozen=True)
class DiscontinueProduct(Command):
    """Stop selling a product: it can no longer be added to orders. Again changes nothing."""

    product_id: UUID


# --- Order ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOrder(Command):
    """Start a draft order for a customer.

    It gets a number and, for now, the customer's shipping address.
    """

    # The handler assigns the order number and passes the customer's address along.
    order_id: UUID
    customer_id: UUID
    currency: str


@dataclass(frozen=True)
class AddOrderLine(Command):
    """Add a product to a draft order, at the product's current price.

    One line per product: change its quantity instead. A discontinued product cannot be
    added.
    """

    # The handler looks up the product's SKU and current price for the line.
    order_id: UUID
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class ChangeOrderLineQuantity(Command):
    """Change the quantity of a draft order's line. The same quantity changes nothing."""

    order_id: UUID
    product_id: UUID
    quantity: int


@dataclass(frozen=True)
class RemoveOrderLine(Command):
    """Remove a line from a draft order."""

    order_id: UUID
    product_id: UUID


@dataclass(frozen=True)
class SetShippingAddress(Command):
    """Set where an order goes; possible until it ships. The same address changes nothing."""

    order_id: UUID
    shipping_address: Address


@dataclass(frozen=True)
class PlaceOrder(Command):
    """Place a draft order: it needs lines and a shipping address.

    The fulfilment process then reserves its stock and confirms or rejects it.
    """

    order_id: UUID


@dataclass(frozen=True)
class ConfirmOrder(Command):
    """Confirm a placed order once its stock is reserved (the fulfilment process)."""

    order_id: UUID


@dataclass(frozen=True)
class RejectOrder(Command):
    """Reject a placed order, with the reason (the fulfilment process)."""

    order_id: UUID
    reason: str


@dataclass(frozen=True)
class RecordPayment(Command):
    """Record a payment for a confirmed order, in its currency.

    Partial payments add up; the one that completes the total makes the order paid. A payment
    cannot be more than is due.
    """

    order_id: UUID
    amount: Money
    method: str
    reference: str = ""


@dataclass(frozen=True)
class ShipOrder(Command):
    """Ship a paid order, with the carrier and its tracking number."""

    order_id: UUID
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class DeliverOrder(Command):
    """Record that a shipped order was delivered."""

    order_id: UUID


@dataclass(frozen=True)
class CancelOrder(Command):
    """Cancel an order that has not shipped, with a reason.

    The fulfilment process then releases the stock it reserved and refunds what was paid.
    """

    order_id: UUID
    reason: str


@dataclass(frozen=True)
class RefundOrder(Command):
    """Refund money paid for an order, in its currency, with a reason.

    At most what was paid and not yet refunded.
    """

    order_id: UUID
    amount: Money
    reason: str


# Every command, for the handler layer's routing table and its completeness test.
ALL_COMMANDS: Final[tuple[type[Command], ...]] = tuple(Command.__subclasses__())

C = TypeVar("C", bound=Command)


def for_target(command: type[C], target: UUID, /, **fields: Any) -> C:
    """``command`` for the entity ``target``, which every command names first."""
    return command(target, **fields)  # type: ignore[call-arg, arg-type]  # the base names no target
