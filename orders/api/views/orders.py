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
    stream_type = Order.STREAM_TYPE

    def select(self, id: UUID) -> selectors.Order | None:
        return selectors.order_get(order_id=id)


class OrderCommandApi(CommandApi):
    result_serializer = OrderResultSerializer

    def amount(self, order_id: UUID, data: dict[str, Any]) -> Money:
        return Money(data["amount"], existing(Order, order_id).currency)


class CreateOrderApi(CreateApi):
    """An unknown customer is 404 with `fields.customer_id`."""

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
    """A second line for a product is 422 `line_already_exists`; a discontinued product is 422
    `product_discontinued`, an unknown one 404."""

    command = c.AddOrderLine
    InputSerializer = OrderLineSerializer


class ChangeOrderLineQuantityApi(OrderCommandApi):
    command = c.ChangeOrderLineQuantity
    InputSerializer = OrderLineSerializer


class RemoveOrderLineApi(OrderCommandApi):
    command = c.RemoveOrderLine

    class InputSerializer(serializers.Serializer):
        product_id = serializers.UUIDField()


class SetShippingAddressApi(OrderCommandApi):
    command = c.SetShippingAddress

    class InputSerializer(serializers.Serializer):
        shipping_address = AddressSerializer()


class PlaceOrderApi(OrderCommandApi):
    command = c.PlaceOrder


class PayOrderApi(OrderCommandApi):
    """More is 422 `payment_exceeds_balance`."""

    command = c.RecordPayment

    class InputSerializer(serializers.Serializer):
        amount = amount_field()
        method = text_field()
        reference = text_field(required=False)

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        return c.RecordPayment(id, self.amount(id, data), data["method"], data["reference"], **options)


class ShipOrderApi(OrderCommandApi):
    command = c.ShipOrder

    class InputSerializer(serializers.Serializer):
        carrier = text_field()
        tracking_number = text_field()


class DeliverOrderApi(OrderCommandApi):
    command = c.DeliverOrder


class CancelOrderApi(OrderCommandApi):
    command = c.CancelOrder

    class InputSerializer(serializers.Serializer):
        reason = reason_field()


class RefundOrderApi(OrderCommandApi):
    """More than that is 422 `refund_exceeds_paid`."""

    command = c.RefundOrder

    class InputSerializer(serializers.Serializer):
        amount = amount_field()
        reason = reason_field()

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        return c.RefundOrder(id, self.amount(id, data), data["reason"], **options)
