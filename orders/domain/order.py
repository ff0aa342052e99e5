"""The order and its life: draft -> placed -> confirmed -> paid -> shipped -> delivered.

A placed order is confirmed or rejected by the fulfilment process (once it has reserved the
stock, or failed to). Orders can be cancelled until they ship, and refunded once money has
come in. Prices are copied onto the lines when they are added, so later price changes of
the product do not alter an order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from .aggregate import Aggregate, JSONDict, applies
from .commands import (
    AddOrderLine,
    CancelOrder,
    ChangeOrderLineQuantity,
    Command,
    ConfirmOrder,
    DeliverOrder,
    PlaceOrder,
    RecordPayment,
    RefundOrder,
    RejectOrder,
    RemoveOrderLine,
    SetShippingAddress,
    ShipOrder,
)
from .events import (
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
    PaymentRecorded,
    RefundIssued,
)
from .exceptions import (
    DomainError,
    LineAlreadyExists,
    LineNotFound,
    NothingToRefund,
    OrderAlreadyShipped,
    OrderClosed,
    OrderEmpty,
    OrderNotCancellable,
    OrderNotConfirmed,
    OrderNotDraft,
    OrderNotPaid,
    OrderNotPlaced,
    OrderNotShipped,
    OrderNumberInvalid,
    OrderTotalTooLarge,
    PaymentDetailsInvalid,
    PaymentExceedsBalance,
    RefundExceedsPaid,
    ShipmentDetailsInvalid,
    ShippingAddressMissing,
    TooManyLines,
)
from .values import (
    MAX_LINES,
    MAX_ORDER_TOTAL,
    Address,
    Money,
    OrderStatus,
    address_from_json,
    address_to_json,
    check_positive,
    check_same_currency,
    clean_currency,
    clean_quantity,
    clean_reason,
    clean_sku,
    clean_texts,
)

MAX_ORDER_NUMBER: Final = 64
_SHIPPED: Final = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})
_UNTIL_SHIPPED: Final = (SetShippingAddress, CancelOrder)
_DRAFTING: Final = (AddOrderLine, ChangeOrderLineQuantity, RemoveOrderLine, PlaceOrder)

# The commands an order takes in each status, the one statement of its state machine: the
# order's guards refuse by it and the back office offers its buttons by it. What else a
# command needs (lines to place, money to refund) each guard checks on its own.
STATUS_ALLOWS: Final[Mapping[OrderStatus, frozenset[type[Command]]]] = {
    OrderStatus.DRAFT: frozenset({*_DRAFTING, *_UNTIL_SHIPPED}),
    OrderStatus.PLACED: frozenset({ConfirmOrder, RejectOrder, *_UNTIL_SHIPPED}),
    OrderStatus.CONFIRMED: frozenset({RecordPayment, *_UNTIL_SHIPPED}),
    OrderStatus.PAID: frozenset({ShipOrder, RefundOrder, *_UNTIL_SHIPPED}),
    OrderStatus.SHIPPED: frozenset({DeliverOrder, RefundOrder}),
    OrderStatus.DELIVERED: frozenset({RefundOrder}),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.CANCELLED: frozenset({RefundOrder}),
}


@dataclass(frozen=True)
class OrderLine:
    product_id: UUID
    sku: str
    quantity: int
    unit_price: Money

    @property
    def line_total(self) -> Money:
        return self.unit_price * self.quantity

    def to_json(self) -> JSONDict:
        return {
            "product_id": str(self.product_id),
            "sku": self.sku,
            "quantity": self.quantity,
            "unit_price": str(self.unit_price.amount),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], currency: str) -> OrderLine:
        unit_price = Money(Decimal(data["unit_price"]), currency)
        return cls(UUID(data["product_id"]), data["sku"], data["quantity"], unit_price)


class Order(Aggregate):
    STREAM_TYPE = "order"

    number: str
    customer_id: UUID
    currency: str
    shipping_address: Address | None
    status: OrderStatus
    amount_paid: Money
    amount_refunded: Money
    _lines: dict[UUID, OrderLine]

    @property
    def lines(self) -> tuple[OrderLine, ...]:
        """In the order they were added."""
        return tuple(self._lines.values())

    @property
    def total(self) -> Money:
        return sum((line.line_total for line in self._lines.values()), Money.zero(self.currency))

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self._lines.values())

    @property
    def amount_due(self) -> Money:
        return self.total - self.amount_paid

    @property
    def refundable(self) -> Money:
        return self.amount_paid - self.amount_refunded

    @staticmethod
    def status_allows(status: str, command: type[Command]) -> bool:
        """Takes the status as a string too, as a read model holds it."""
        return command in STATUS_ALLOWS[OrderStatus(status)]

    # --- Commands ---------------------------------------------------------------------------

    def create(self, number: str, customer_id: UUID, currency: str, shipping_address: Address | None = None) -> None:
        """``number`` is assigned by the handler layer; the address defaults to the customer's."""
        self.check_new()
        number = clean_texts(OrderNumberInvalid, {"number": number}, max_length=MAX_ORDER_NUMBER)["number"]
        currency = clean_currency(currency)
        event = OrderCreated(
            number=number, customer_id=customer_id, currency=currency, shipping_address=shipping_address
        )
        self._record(event)

    def add_line(self, product_id: UUID, sku: str, quantity: int, unit_price: Money) -> None:
        self.check_allows(AddOrderLine, OrderNotDraft)
        sku, quantity = clean_sku(sku), clean_quantity(quantity)
        self.check_amount(unit_price)
        self.check_no_line(product_id)
        self.check_room_for_line()
        self.check_total_within(self.total + unit_price * quantity)
        self._record(OrderLineAdded(product_id=product_id, sku=sku, quantity=quantity, unit_price=unit_price.amount))

    def change_quantity(self, product_id: UUID, quantity: int) -> None:
        """Setting the quantity a line already has records nothing."""
        self.check_allows(ChangeOrderLineQuantity, OrderNotDraft)
        quantity = clean_quantity(quantity)
        self.check_has_line(product_id)
        line = self._lines[product_id]
        if quantity > line.quantity:
            self.check_total_within(self.total + line.unit_price * (quantity - line.quantity))
        if quantity != line.quantity:
            self._record(OrderLineQuantityChanged(product_id=product_id, quantity=quantity))

    def remove_line(self, product_id: UUID) -> None:
        self.check_allows(RemoveOrderLine, OrderNotDraft)
        self.check_has_line(product_id)
        self._record(OrderLineRemoved(product_id=product_id))

    def set_shipping_address(self, address: Address) -> None:
        """The same address records nothing."""
        self.check_not_shipped()
        self.check_allows(SetShippingAddress, OrderClosed)
        if address != self.shipping_address:
            self._record(OrderShippingAddressSet(shipping_address=address))

    def place(self) -> None:
        self.check_allows(PlaceOrder, OrderNotDraft)
        self.check_has_lines()
        self.check_has_shipping_address()
        self._record(OrderPlaced(total=self.total.amount))

    def confirm(self) -> None:
        self.check_allows(ConfirmOrder, OrderNotPlaced)
        self._record(OrderConfirmed())

    def reject(self, reason: str) -> None:
        self.check_allows(RejectOrder, OrderNotPlaced)
        self._record(OrderRejected(reason=clean_reason(reason)))

    def record_payment(self, amount: Money, method: str, reference: str = "") -> None:
        """Partial payments add up; the one that completes the total also records OrderPaid."""
        self.check_allows(RecordPayment, OrderNotConfirmed)
        self.check_amount(amount)
        texts = {"method": method, "reference": reference}
        details = clean_texts(PaymentDetailsInvalid, texts, optional={"reference"})
        self.check_payment_due(amount)
        self._record(PaymentRecorded(amount=amount.amount, **details))
        if self.amount_paid == self.total:
            self._record(OrderPaid(amount_paid=self.amount_paid.amount))

    def ship(self, carrier: str, tracking_number: str) -> None:
        self.check_allows(ShipOrder, OrderNotPaid)
        texts = {"carrier": carrier, "tracking_number": tracking_number}
        self._record(OrderShipped(**clean_texts(ShipmentDetailsInvalid, texts)))

    def deliver(self) -> None:
        self.check_allows(DeliverOrder, OrderNotShipped)
        self._record(OrderDelivered())

    def cancel(self, reason: str) -> None:
        self.check_not_shipped()
        self.check_allows(CancelOrder, OrderNotCancellable)
        self._record(OrderCancelled(reason=clean_reason(reason), previous_status=self.status))

    def refund(self, amount: Money, reason: str) -> None:
        """Money goes back once it came in: paid, shipped, delivered or cancelled orders."""
        self.check_refundable()
        self.check_allows(RefundOrder, OrderNotPaid)
        self.check_amount(amount)
        reason = clean_reason(reason)
        self.check_refund_covered(amount)
        self._record(RefundIssued(amount=amount.amount, reason=reason))

    # --- Guards -----------------------------------------------------------------------------

    def check_allows(self, command: type[Command], error: type[DomainError]) -> None:
        """The status allows ``command`` (``STATUS_ALLOWS``); ``error`` says what it is not."""
        self.check_exists()
        if not self.status_allows(self.status, command):
            raise error(number=self.number, status=self.status)

    def check_not_shipped(self) -> None:
        """Refuses a shipped order in words of its own, before the status rule would."""
        self.check_exists()
        if self.status in _SHIPPED:
            raise OrderAlreadyShipped(number=self.number, status=self.status)

    def check_has_line(self, product_id: UUID) -> None:
        if product_id not in self._lines:
            raise LineNotFound(number=self.number, product_id=product_id)

    def check_no_line(self, product_id: UUID) -> None:
        if product_id in self._lines:
            raise LineAlreadyExists(number=self.number, sku=self._lines[product_id].sku)

    def check_room_for_line(self) -> None:
        if len(self._lines) >= MAX_LINES:
            raise TooManyLines(number=self.number, maximum=MAX_LINES)

    def check_total_within(self, total: Money) -> None:
        """The total the order would have after a change stays within MAX_ORDER_TOTAL."""
        if total.amount > MAX_ORDER_TOTAL:
            raise OrderTotalTooLarge(number=self.number, total=total, maximum=Money(MAX_ORDER_TOTAL, self.currency))

    def check_has_lines(self) -> None:
        if not self._lines:
            raise OrderEmpty(number=self.number)

    def check_has_shipping_address(self) -> None:
        if self.shipping_address is None:
            raise ShippingAddressMissing(number=self.number)

    def check_payment_due(self, amount: Money) -> None:
        if amount > self.amount_due:
            raise PaymentExceedsBalance(amount=amount, balance=self.amount_due)

    def check_refundable(self) -> None:
        """Something was paid and not yet refunded: checked before the status, so an unpaid
        order is refused as having nothing to refund."""
        self.check_exists()
        if not self.refundable.amount:
            raise NothingToRefund(number=self.number)

    def check_refund_covered(self, amount: Money) -> None:
        if amount > self.refundable:
            raise RefundExceedsPaid(amount=amount, refundable=self.refundable)

    def check_amount(self, amount: Money) -> None:
        check_same_currency(self.currency, amount.currency)
        check_positive(amount)

    # --- State changes ----------------------------------------------------------------------

    @applies(OrderCreated)
    def _created(self, event: OrderCreated) -> None:
        self.number = event.number
        self.customer_id = event.customer_id
        self.currency = event.currency
        self.shipping_address = event.shipping_address
        self.status = OrderStatus.DRAFT
        self.amount_paid = self.amount_refunded = Money.zero(event.currency)
        self._lines = {}

    @applies(OrderLineAdded)
    def _line_added(self, event: OrderLineAdded) -> None:
        unit_price = Money(event.unit_price, self.currency)
        self._lines[event.product_id] = OrderLine(event.product_id, event.sku, event.quantity, unit_price)

    @applies(OrderLineQuantityChanged)
    def _line_quantity_changed(self, event: OrderLineQuantityChanged) -> None:
        self._lines[event.product_id] = replace(self._lines[event.product_id], quantity=event.quantity)

    @applies(OrderLineRemoved)
    def _line_removed(self, event: OrderLineRemoved) -> None:
        del self._lines[event.product_id]

    @applies(OrderShippingAddressSet)
    def _shipping_address_set(self, event: OrderShippingAddressSet) -> None:
        self.shipping_address = event.shipping_address

    @applies(OrderPlaced)
    def _placed(self, event: OrderPlaced) -> None:
        self.status = OrderStatus.PLACED

    @applies(OrderConfirmed)
    def _confirmed(self, event: OrderConfirmed) -> None:
        self.status = OrderStatus.CONFIRMED

    @applies(OrderRejected)
    def _rejected(self, event: OrderRejected) -> None:
        self.status = OrderStatus.REJECTED

    @applies(PaymentRecorded)
    def _payment_recorded(self, event: PaymentRecorded) -> None:
        self.amount_paid += Money(event.amount, self.currency)

    @applies(OrderPaid)
    def _paid(self, event: OrderPaid) -> None:
        self.status = OrderStatus.PAID

    @applies(OrderShipped)
    def _shipped(self, event: OrderShipped) -> None:
        self.status = OrderStatus.SHIPPED

    @applies(OrderDelivered)
    def _delivered(self, event: OrderDelivered) -> None:
        self.status = OrderStatus.DELIVERED

    @applies(OrderCancelled)
    def _cancelled(self, event: OrderCancelled) -> None:
        self.status = OrderStatus.CANCELLED

    @applies(RefundIssued)
    def _refund_issued(self, event: RefundIssued) -> None:
        self.amount_refunded += Money(event.amount, self.currency)

    # --- Snapshots --------------------------------------------------------------------------

    def to_snapshot(self) -> JSONDict:
        return {
            "number": self.number,
            "customer_id": str(self.customer_id),
            "currency": self.currency,
            "shipping_address": address_to_json(self.shipping_address),
            "status": self.status.value,
            "lines": [line.to_json() for line in self._lines.values()],
            "amount_paid": str(self.amount_paid.amount),
            "amount_refunded": str(self.amount_refunded.amount),
        }

    def _restore(self, state: Mapping[str, Any]) -> None:
        self.number = state["number"]
        self.customer_id = UUID(state["customer_id"])
        self.currency = state["currency"]
        self.shipping_address = address_from_json(state["shipping_address"])
        self.status = OrderStatus(state["status"])
        lines = (OrderLine.from_json(data, self.currency) for data in state["lines"])
        self._lines = {line.product_id: line for line in lines}
        self.amount_paid = Money(Decimal(state["amount_paid"]), self.currency)
        self.amount_refunded = Money(Decimal(state["amount_refunded"]), self.currency)

    def state_dict(self) -> JSONDict:
        return {
            **self.to_snapshot(),
            "total": str(self.total.amount),
            "amount_due": str(self.amount_due.amount),
            "item_count": self.item_count,
        }
