"""Confirming or rejecting a placed order, shipping, delivering and cancelling it."""

import pytest

from orders.domain import (
    Order,
    OrderCancelled,
    OrderConfirmed,
    OrderDelivered,
    OrderRejected,
    OrderShipped,
    OrderStatus,
)
from tests.domain.scenario import DRAFT, HISTORIES, PAID, PLACED, SHIPPED, given, refused


def test_confirming_a_placed_order_records_it():
    order = given(Order, *PLACED)
    order.confirm()
    assert order.pending == [OrderConfirmed()]
    assert order.status == OrderStatus.CONFIRMED


def test_rejecting_a_placed_order_records_the_reason():
    order = given(Order, *PLACED)
    order.reject(" Out of stock. ")
    assert order.pending == [OrderRejected(reason="Out of stock.")]
    assert order.status == OrderStatus.REJECTED


def test_a_rejection_needs_a_reason():
    order = given(Order, *PLACED)
    with refused(order, "reason_required"):
        order.reject("  ")


def test_shipping_a_paid_order_records_carrier_and_tracking_number():
    order = given(Order, *PAID)
    order.ship(" PostNL ", " 3SABC123 ")
    assert order.pending == [OrderShipped(carrier="PostNL", tracking_number="3SABC123")]
    assert order.status == OrderStatus.SHIPPED


def test_a_shipment_needs_a_carrier_and_a_tracking_number():
    order = given(Order, *PAID)
    with refused(order, "shipment_details_invalid") as caught:
        order.ship("", "x" * 201)
    assert caught.value.fields == {
        "carrier": "This field is required.",
        "tracking_number": "Use at most 200 characters.",
    }


def test_delivering_a_shipped_order_records_it():
    order = given(Order, *SHIPPED)
    order.deliver()
    assert order.pending == [OrderDelivered()]
    assert order.status == OrderStatus.DELIVERED


CANCELLABLE = [OrderStatus.DRAFT, OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.PAID]


@pytest.mark.parametrize("status", CANCELLABLE)
def test_cancelling_before_shipping_records_the_reason_and_the_status_it_left(status):
    order = given(Order, *HISTORIES[status])
    order.cancel(" Customer changed their mind. ")
    assert order.pending == [OrderCancelled(reason="Customer changed their mind.", previous_status=status)]
    assert order.status == OrderStatus.CANCELLED


def test_a_cancellation_needs_a_reason():
    order = given(Order, *DRAFT)
    with refused(order, "reason_required"):
        order.cancel("")
