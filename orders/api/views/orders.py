"""Orders: list and read them; create, draft (lines, address), place, pay, ship, deliver,
cancel, refund.

Every answer also carries the order's ``number``. Amounts in a body are in the order's
currency.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from orders.domain import Money, Order
from orders.domain import commands as c
from projections import selectors

from ..serializers import (
    AddressSerializer,
    OrderListQuerySerializer,
    OrderPageSerializer,
    OrderResultSerializer,
    OrderSerializer,
    amount_field,
    currency_field,
    quantity_field,
    reason_field,
    text_field,
)
from .base import CommandApi, CreateApi, existing
from .queries import DetailApi, ListApi


class OrderListApi(ListApi):
    """Orders, newest first (by `created_at`, then id), a page at a time.

    Filter by `status`, `customer_id` and when they were placed (`placed_after` inclusive,
    `placed_before` exclusive; either leaves drafts out). Follow `next` (null on the last
    page).
    """

    QuerySerializer = OrderListQuerySerializer
    OutputSerializer = OrderPageSerializer
    projections = selectors.ORDER_PROJECTIONS
    scope = "orders"

    def select(self, **query: Any) -> selectors.Page[selectors.Order]:
        return selectors.order_list(**query)


class OrderApi(DetailApi):
    """An order, with its lines.

    Its status, amounts, shipping address and when it was created, placed, paid and shipped.
    """

    OutputSerializer = OrderSerializer
    projections = selectors.ORDER_PROJECTIONS
    kind = Order.STREAM_TYPE

    def select(self, id: UUID) -> selectors.Order | None:
        return selectors.order_get(order_id=id)


class OrderCommandApi(CommandApi):
    result_serializer = OrderResultSerializer

    def amount(self, order_id: UUID, data: dict[str, Any]) -> Money:
        return Money(data["amount"], existing(Order, order_id).currency)


class CreateOrderApi(CreateApi):
    """Start a draft order for a customer.

    It gets a number and, for now, the customer's shipping address. An unknown customer is
    404 with `fields.customer_id`.
    """

    command = c.CreateOrder
    collection = "api:orders"
    result_serializer = OrderResultSerializer

    class InputSerializer(serializers.Serializer):
        customer_id = serializers.UUIDField()
        currency = currency_field()


# `orders/`: GET lists, POST creates. (each documented from its own side)
class OrdersApi(OrderListApi, CreateOrderApi):
    pass


class OrderLineSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    quantity = quantity_field()


class AddOrderLineApi(OrderCommandApi):
    """Add a product to a draft order, at the product's current price.

    One line per product (422 `line_already_exists`: change its quantity instead); a
    discontinued product is 422 `product_discontinued`, an unknown one 404.
    """

    command = c.AddOrderLine
    InputSerializer = OrderLineSerializer


class ChangeOrderLineQuantityApi(OrderCommandApi):
    """Change the quantity of a draft order's line. The same quantity changes nothing."""

    command = c.ChangeOrderLineQuantity
    InputSerializer = OrderLineSerializer


class RemoveOrderLineApi(OrderCommandApi):
    """Remove a line from a draft order."""

    command = c.RemoveOrderLine

    class InputSerializer(serializers.Serializer):
        product_id = serializers.UUIDField()


class SetShippingAddressApi(OrderCommandApi):
    """Set where an order goes; possible until it ships. The same address changes nothing."""

    command = c.SetShippingAddress

    class InputSerializer(serializers.Serializer):
        shipping_address = AddressSerializer()


class PlaceOrderApi(OrderCommandApi):
    """Place a draft order: it needs lines and a shipping address.

    The fulfilment process then reserves its stock and confirms or rejects it.
    """

    command = c.PlaceOrder


class PayOrderApi(OrderCommandApi):
    """Record a payment for a confirmed order, in its currency.

    Partial payments add up; the one that completes the total makes the order paid. More
    than is due is 422 `payment_exceeds_balance`.
    """

    command = c.RecordPayment

    class InputSerializer(serializers.Serializer):
        amount = amount_field()
        method = text_field()
        reference = text_field(required=False)

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        return c.RecordPayment(id, self.amount(id, data), data["method"], data["reference"], **options)


class ShipOrderApi(OrderCommandApi):
    """Ship a paid order, with the carrier and its tracking number."""

    command = c.ShipOrder

    class InputSerializer(serializers.Serializer):
        carrier = text_field()
        tracking_number = text_field()


class DeliverOrderApi(OrderCommandApi):
    """Record that a shipped order was delivered."""

    command = c.DeliverOrder


class CancelOrderApi(OrderCommandApi):
    """Cancel an order that has not shipped, with a reason. Money paid stays paid: refund it."""

    command = c.CancelOrder

    class InputSerializer(serializers.Serializer):
        reason = reason_field()


class RefundOrderApi(OrderCommandApi):
    """Refund money paid for an order, in its currency, with a reason.

    At most what was paid and not yet refunded (422 `refund_exceeds_paid`).
    """

    command = c.RefundOrder

    class InputSerializer(serializers.Serializer):
        amount = amount_field()
        reason = reason_field()

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        return c.RefundOrder(id, self.amount(id, data), data["reason"], **options)
