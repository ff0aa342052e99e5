"""Creating an order, filling its lines and address, and placing it."""

import dataclasses
from decimal import Decimal
from uuid import uuid4

import pytest

from orders.domain import (
    MAX_LINES,
    MAX_ORDER_TOTAL,
    Order,
    OrderLine,
    OrderLineAdded,
    OrderLineQuantityChanged,
    OrderLineRemoved,
    OrderPlaced,
    OrderShippingAddressSet,
    OrderStatus,
)
from tests.domain.scenario import (
    CAP_ID,
    CONFIRMED,
    CUSTOMER_ID,
    DRAFT,
    HOME,
    MUG_ID,
    OFFICE,
    PAID,
    eur,
    given,
    refused,
    usd,
)

CREATED = DRAFT[:1]
CREATED_WITHOUT_ADDRESS = dataclasses.replace(CREATED[0], shipping_address=None)
CAPS_ADDED = OrderLineAdded(product_id=CAP_ID, sku="CAP-1", quantity=1, unit_price=Decimal("5.00"))


def test_creating_an_order_records_its_number_customer_currency_and_address():
    order = given(Order)
    order.create(" CH-0001 ", CUSTOMER_ID, "EUR", HOME)
    assert order.pending == list(CREATED)
    assert (order.status, order.total, order.lines, order.item_count) == (OrderStatus.DRAFT, eur("0"), (), 0)


def test_an_order_may_start_without_a_shipping_address():
    order = given(Order)
    order.create("CH-0001", CUSTOMER_ID, "EUR")
    assert order.pending == [CREATED_WITHOUT_ADDRESS]


def test_an_order_is_created_only_once():
    order = given(Order, *CREATED)
    with refused(order, "already_created"):
        order.create("CH-0002", CUSTOMER_ID, "EUR", HOME)


@pytest.mark.parametrize(
    "number, currency, code", [("", "EUR", "order_number_invalid"), ("CH-1", "eur", "currency_invalid")]
)
def test_creating_an_order_needs_a_number_and_a_currency(number, currency, code):
    order = given(Order)
    with refused(order, code):
        order.create(number, CUSTOMER_ID, currency, HOME)


# --- Lines ----------------------------------------------------------------------------------


def test_adding_a_line_copies_the_sku_and_price_onto_the_order():
    order = given(Order, *DRAFT)
    order.add_line(CAP_ID, "cap-1", 1, eur("5.00"))
    assert order.pending == [CAPS_ADDED]
    assert order.lines[-1] == OrderLine(CAP_ID, "CAP-1", 1, eur("5.00"))
    assert (order.total, order.item_count, order.lines[0].line_total) == (eur("30.00"), 3, eur("25.00"))


def test_a_product_appears_on_one_line_only():
    order = given(Order, *DRAFT)
    with refused(order, "line_already_exists") as caught:
        order.add_line(MUG_ID, "MUG-1", 1, eur("12.50"))
    assert caught.value.message == "Order CH-0001 already has a line for MUG-1; change its quantity instead."


@pytest.mark.parametrize(
    "sku, quantity, price, code",
    [
        ("CAP 1", 1, eur("5.00"), "sku_invalid"),
        ("CAP-1", 0, eur("5.00"), "quantity_not_positive"),
        ("CAP-1", 1, usd("5.00"), "currency_mismatch"),
        ("CAP-1", 1, eur("0.00"), "amount_invalid"),
    ],
)
def test_a_line_needs_a_sku_a_positive_quantity_and_a_positive_price_in_the_orders_currency(sku, quantity, price, code):
    order = given(Order, *DRAFT)
    with refused(order, code):
        order.add_line(CAP_ID, sku, quantity, price)


def test_changing_a_quantity_records_it():
    order = given(Order, *DRAFT)
    order.change_quantity(MUG_ID, 3)
    assert order.pending == [OrderLineQuantityChanged(product_id=MUG_ID, quantity=3)]
    assert order.total == eur("37.50")


def test_setting_the_quantity_a_line_already_has_records_nothing():
    order = given(Order, *DRAFT)
    order.change_quantity(MUG_ID, 2)
    assert order.pending == []


def test_changing_the_quantity_of_a_missing_line_is_refused():
    order = given(Order, *DRAFT)
    with refused(order, "line_not_found"):
        order.change_quantity(CAP_ID, 3)


def test_a_new_quantity_must_be_positive():
    order = given(Order, *DRAFT)
    with refused(order, "quantity_not_positive"):
        order.change_quantity(MUG_ID, 0)


# --- Limits that depend on the order -------------------------------------------------------

BIG_PRICE = eur("9999999999.99")
FULL = tuple(
    OrderLineAdded(product_id=uuid4(), sku=f"SKU-{n}", quantity=1, unit_price=Decimal("1.00")) for n in range(MAX_LINES)
)


def test_an_order_takes_at_most_max_lines_lines():
    order = given(Order, *CREATED, *FULL[:-1])
    order.add_line(CAP_ID, "CAP-1", 1, eur("5.00"))
    with refused(order, "too_many_lines"):
        order.add_line(MUG_ID, "MUG-1", 1, eur("12.50"))


def test_a_line_that_would_take_the_total_past_the_maximum_is_refused():
    order = given(Order, *CREATED)
    order.add_line(CAP_ID, "CAP-1", 99, BIG_PRICE)
    with refused(order, "order_total_too_large") as caught:
        order.add_line(MUG_ID, "MUG-1", 2, BIG_PRICE)
    assert str(MAX_ORDER_TOTAL) in caught.value.message


def test_a_quantity_that_would_take_the_total_past_the_maximum_is_refused():
    order = given(Order, *CREATED)
    order.add_line(CAP_ID, "CAP-1", 100, BIG_PRICE)
    with refused(order, "order_total_too_large"):
        order.change_quantity(CAP_ID, 101)


def test_an_order_over_the_maximum_from_before_the_limit_may_still_shrink():
    old = OrderLineAdded(product_id=CAP_ID, sku="CAP-1", quantity=1_000_000, unit_price=BIG_PRICE.amount)
    order = given(Order, *CREATED, old)
    order.change_quantity(CAP_ID, 999_999)
    assert order.pending == [OrderLineQuantityChanged(product_id=CAP_ID, quantity=999_999)]


def test_removing_a_line_keeps_the_others_in_order():
    order = given(Order, *DRAFT, CAPS_ADDED)
    order.remove_line(MUG_ID)
    assert order.pending == [OrderLineRemoved(product_id=MUG_ID)]
    assert [line.product_id for line in order.lines] == [CAP_ID]


def test_removing_a_missing_line_is_refused():
    order = given(Order, *DRAFT)
    with refused(order, "line_not_found"):
        order.remove_line(CAP_ID)


# --- Shipping address -----------------------------------------------------------------------


@pytest.mark.parametrize("history", [DRAFT, CONFIRMED, PAID], ids=["draft", "confirmed", "paid"])
def test_the_shipping_address_can_change_until_the_order_ships(history):
    order = given(Order, *history)
    order.set_shipping_address(OFFICE)
    assert order.pending == [OrderShippingAddressSet(shipping_address=OFFICE)]
    assert order.shipping_address == OFFICE


def test_setting_the_same_shipping_address_records_nothing():
    order = given(Order, *DRAFT)
    order.set_shipping_address(HOME)
    assert order.pending == []


# --- Placing --------------------------------------------------------------------------------


def test_placing_records_the_total():
    order = given(Order, *DRAFT)
    order.place()
    assert order.pending == [OrderPlaced(total=Decimal("25.00"))]
    assert order.status == OrderStatus.PLACED


def test_an_order_without_lines_cannot_be_placed():
    order = given(Order, *CREATED)
    with refused(order, "order_empty"):
        order.place()


def test_an_order_without_a_shipping_address_cannot_be_placed():
    order = given(Order, CREATED_WITHOUT_ADDRESS, *DRAFT[1:])
    with refused(order, "shipping_address_missing"):
        order.place()


def test_an_order_that_was_never_created_cannot_be_changed():
    with pytest.raises(LookupError):
        given(Order).place()
