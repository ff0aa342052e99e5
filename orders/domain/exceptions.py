"""The domain's refusals: one class per rule, each with a stable code and a readable sentence.

``code`` is the contract that the handler layer, the API and process managers rely on;
``message`` is for staff (the admin shows it as is); ``fields`` points a form at the
inputs at fault. A class's ``template`` is formatted with the keyword arguments given when
it is raised, e.g. ``InsufficientStock(available=3, requested=5)``; a message passed
explicitly replaces it. Errors about a single input name that input in ``field`` and
report their message under it unless ``fields`` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class DomainError(Exception):
    """Base of every refusal. A refusal records no event and changes no state."""

    code: ClassVar[str] = "domain_error"
    template: ClassVar[str] = "This change is not allowed."
    field: ClassVar[str | None] = None

    def __init__(
        self, message: str | None = None, *, fields: Mapping[str, str] | None = None, **params: object
    ) -> None:
        self.message = message if message is not None else self.template.format(**params)
        if fields is None:
            fields = {self.field: self.message} if self.field else {}
        self.fields: dict[str, str] = dict(fields)
        super().__init__(self.message)


# --- Inputs -------------------------------------------------------------------------------


class QuantityInvalid(DomainError):
    code = "quantity_invalid"
    template = "Enter the quantity as a whole number."
    field = "quantity"


class QuantityNotPositive(DomainError):
    code = "quantity_not_positive"
    template = "The quantity must be at least 1, not {quantity}."
    field = "quantity"


class QuantityTooLarge(DomainError):
    code = "quantity_too_large"
    template = "The quantity may be at most {maximum}, not {quantity}."
    field = "quantity"


class AdjustmentZero(DomainError):
    code = "adjustment_zero"
    template = "A stock adjustment must add or remove at least 1; 0 changes nothing."
    field = "quantity"


class CurrencyInvalid(DomainError):
    code = "currency_invalid"
    template = "Use a three-letter currency code in capitals, such as EUR, not {value!r}."
    field = "currency"


class CurrencyMismatch(DomainError):
    code = "currency_mismatch"
    template = "Expected an amount in {expected}, not in {given}."
    field = "currency"


class AmountInvalid(DomainError):
    code = "amount_invalid"
    template = "Enter an amount above zero with at most 2 decimal places."
    field = "amount"


class EmailInvalid(DomainError):
    code = "email_invalid"
    template = "Enter a valid e-mail address, such as name@example.com."
    field = "email"


class NameInvalid(DomainError):
    code = "name_invalid"
    template = "Enter a name of 1 to 200 characters on one line."
    field = "name"


class SkuInvalid(DomainError):
    code = "sku_invalid"
    template = "A SKU has 1 to 64 characters: letters, digits, '-' and '_'."
    field = "sku"


class AddressInvalid(DomainError):
    code = "address_invalid"
    template = "The address is incomplete or invalid."


class ReasonRequired(DomainError):
    code = "reason_required"
    template = "Give a reason."
    field = "reason"


class OrderNumberInvalid(DomainError):
    code = "order_number_invalid"
    template = "An order number has 1 to 64 characters on one line."
    field = "number"


class ShipmentDetailsInvalid(DomainError):
    code = "shipment_details_invalid"
    template = "Give the carrier and the tracking number of the shipment."


class PaymentDetailsInvalid(DomainError):
    code = "payment_details_invalid"
    template = "Give the payment method; the reference is optional."


# --- Existence and uniqueness ---------------------------------------------------------------


class AlreadyCreated(DomainError):
    code = "already_created"
    template = "A {stream_type} with id {id} already exists."


class AlreadyRegistered(AlreadyCreated):
    code = "already_registered"
    template = "A customer with id {id} is already registered."


class SkuTaken(DomainError):
    """Raised by the handler layer, which can see every product."""

    code = "sku_taken"
    template = "The SKU {sku} is already used by another product."
    field = "sku"


class EmailTaken(DomainError):
    """Raised by the handler layer, which can see every customer."""

    code = "email_taken"
    template = "The e-mail address {email} is already used by another customer."
    field = "email"


# --- Products -------------------------------------------------------------------------------


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    template = "Not enough stock: {available} available, {requested} requested."


class StockBelowReserved(DomainError):
    code = "stock_below_reserved"
    template = "Stock on hand would drop to {on_hand}, below the {reserved} reserved for orders."


class StockTooLarge(DomainError):
    code = "stock_too_large"
    template = "Stock on hand would reach {on_hand}, above the {maximum} a product may hold."
    field = "quantity"


class ProductIsDiscontinued(DomainError):
    code = "product_discontinued"
    template = "The product {sku} is discontinued."


# --- Orders ---------------------------------------------------------------------------------


class OrderNotDraft(DomainError):
    code = "order_not_draft"
    template = "Order {number} is {status}; only a draft order can be changed or placed."


class OrderNotPlaced(DomainError):
    code = "order_not_placed"
    template = "Order {number} is {status}; only a placed order can be confirmed or rejected."


class OrderNotConfirmed(DomainError):
    code = "order_not_confirmed"
    template = "Order {number} is {status}; payments are taken only for confirmed orders."


class OrderNotPaid(DomainError):
    code = "order_not_paid"
    template = "Order {number} is {status}, not paid."


class OrderNotShipped(DomainError):
    code = "order_not_shipped"
    template = "Order {number} is {status}, not shipped."


class OrderAlreadyShipped(DomainError):
    code = "order_already_shipped"
    template = "Order {number} is already {status}."


class OrderNotCancellable(DomainError):
    code = "order_not_cancellable"
    template = "Order {number} is {status} and cannot be cancelled."


class OrderClosed(DomainError):
    code = "order_closed"
    template = "Order {number} is {status}; it can no longer be changed."


class OrderEmpty(DomainError):
    code = "order_empty"
    template = "Order {number} has no lines; add a product before placing it."


class ShippingAddressMissing(DomainError):
    code = "shipping_address_missing"
    template = "Order {number} has no shipping address."


class LineAlreadyExists(DomainError):
    code = "line_already_exists"
    template = "Order {number} already has a line for {sku}; change its quantity instead."


class TooManyLines(DomainError):
    code = "too_many_lines"
    template = "Order {number} already has {maximum} lines, as many as an order may have."


class OrderTotalTooLarge(DomainError):
    code = "order_total_too_large"
    template = "Order {number} would total {total}, above the {maximum} an order may reach."


class LineNotFound(DomainError):
    code = "line_not_found"
    template = "Order {number} has no line for product {product_id}."


class PaymentExceedsBalance(DomainError):
    code = "payment_exceeds_balance"
    template = "A payment of {amount} is more than the {balance} still due."
    field = "amount"


class RefundExceedsPaid(DomainError):
    code = "refund_exceeds_paid"
    template = "A refund of {amount} is more than the {refundable} paid and not yet refunded."
    field = "amount"


class NothingToRefund(DomainError):
    code = "nothing_to_refund"
    template = "Order {number} has nothing left to refund."
