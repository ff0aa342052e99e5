from decimal import Decimal

import pytest

from orders.domain import (
    MAX_STOCK,
    Product,
    ProductDiscontinued,
    ProductPriceChanged,
    StockAdjusted,
    StockReceived,
    StockReservationCommitted,
    StockReservationReleased,
    StockReserved,
)
from tests.domain.scenario import MUG_CREATED, ORDER_ID, OTHER_ORDER_ID, eur, given, refused, usd

STOCKED = (MUG_CREATED, StockReceived(quantity=10))
RESERVED = (*STOCKED, StockReserved(order_id=ORDER_ID, quantity=4))
DISCONTINUED = (*RESERVED, ProductDiscontinued())


# --- Creating and pricing -------------------------------------------------------------------


def test_creating_a_product_records_its_sku_name_and_price():
    product = given(Product)
    product.create(" mug-1 ", "Mug", eur("12.50"))
    assert product.pending == [MUG_CREATED]
    assert (product.sku, product.price) == ("MUG-1", eur("12.50"))
    assert (product.on_hand, product.reserved, product.discontinued) == (0, 0, False)


def test_a_product_is_created_only_once():
    product = given(Product, MUG_CREATED)
    with refused(product, "already_created"):
        product.create("MUG-1", "Mug", eur("12.50"))


@pytest.mark.parametrize(
    "sku, name, price, code",
    [
        ("MUG 1", "Mug", eur("12.50"), "sku_invalid"),
        ("MUG-1", " ", eur("12.50"), "name_invalid"),
        ("MUG-1", "Mug", eur("0.00"), "amount_invalid"),
    ],
)
def test_creating_a_product_needs_a_valid_sku_name_and_positive_price(sku, name, price, code):
    product = given(Product)
    with refused(product, code):
        product.create(sku, name, price)


def test_changing_the_price_records_it():
    product = given(Product, MUG_CREATED)
    product.change_price(eur("13.95"))
    assert product.pending == [ProductPriceChanged(price=Decimal("13.95"))]
    assert product.price == eur("13.95")


def test_setting_the_current_price_again_records_nothing():
    product = given(Product, MUG_CREATED)
    product.change_price(eur("12.5"))
    assert product.pending == []


@pytest.mark.parametrize("price, code", [(usd("13.95"), "currency_mismatch"), (eur("-1.00"), "amount_invalid")])
def test_a_new_price_is_positive_and_in_the_products_currency(price, code):
    product = given(Product, MUG_CREATED)
    with refused(product, code):
        product.change_price(price)


def test_a_discontinued_product_cannot_be_repriced():
    product = given(Product, MUG_CREATED, ProductDiscontinued())
    with refused(product, "product_discontinued") as caught:
        product.change_price(eur("9.95"))
    assert caught.value.message == "The product MUG-1 is discontinued."


# --- Receiving and adjusting stock ----------------------------------------------------------


def test_receiving_stock_adds_it_to_what_is_on_hand():
    product = given(Product, *STOCKED)
    product.receive_stock(5)
    assert product.pending == [StockReceived(quantity=5)]
    assert (product.on_hand, product.available) == (15, 15)


def test_receiving_nothing_is_refused():
    product = given(Product, *STOCKED)
    with refused(product, "quantity_not_positive"):
        product.receive_stock(0)


def test_stock_on_hand_stays_within_the_maximum():
    product = given(Product, MUG_CREATED, StockReceived(quantity=MAX_STOCK - 10))
    product.receive_stock(10)
    with refused(product, "stock_too_large") as caught:
        product.receive_stock(1)
    assert caught.value.fields == {
        "quantity": f"Stock on hand would reach {MAX_STOCK + 1:d}, above the {MAX_STOCK:d} a product may hold."
    }


def test_an_adjustment_keeps_stock_within_the_maximum():
    product = given(Product, MUG_CREATED, StockReceived(quantity=MAX_STOCK))
    with refused(product, "stock_too_large"):
        product.adjust_stock(1, "Recount.")
    product.adjust_stock(-1, "Broken.")
    assert product.on_hand == MAX_STOCK - 1


@pytest.mark.parametrize("quantity", [-6, 3])
def test_adjusting_stock_corrects_what_is_on_hand_with_a_reason(quantity):
    product = given(Product, *RESERVED)
    product.adjust_stock(quantity, " Recount. ")
    assert product.pending == [StockAdjusted(quantity=quantity, reason="Recount.")]
    assert product.on_hand == 10 + quantity


def test_adjusting_stock_below_what_orders_hold_is_refused():
    product = given(Product, *RESERVED)
    with refused(product, "stock_below_reserved") as caught:
        product.adjust_stock(-7, "Broken.")
    assert caught.value.message == "Stock on hand would drop to 3, below the 4 reserved for orders."


@pytest.mark.parametrize("quantity, reason, code", [(0, "Recount.", "adjustment_zero"), (-1, " ", "reason_required")])
def test_an_adjustment_changes_something_and_says_why(quantity, reason, code):
    product = given(Product, *STOCKED)
    with refused(product, code):
        product.adjust_stock(quantity, reason)


# --- Reservations ---------------------------------------------------------------------------


def test_reserving_holds_stock_for_an_order():
    product = given(Product, *STOCKED)
    product.reserve(ORDER_ID, 4)
    assert product.pending == [StockReserved(order_id=ORDER_ID, quantity=4)]
    assert (product.on_hand, product.reserved, product.available) == (10, 4, 6)
    assert product.reservations == {ORDER_ID: 4}


def test_reserving_more_than_is_available_is_refused():
    product = given(Product, *RESERVED)
    with refused(product, "insufficient_stock") as caught:
        product.reserve(OTHER_ORDER_ID, 7)
    assert caught.value.message == "Not enough stock: 6 available, 7 requested."


def test_reserving_again_for_the_same_order_records_nothing():
    product = given(Product, *RESERVED)
    product.reserve(ORDER_ID, 9)
    assert product.pending == []
    assert product.reservations == {ORDER_ID: 4}


def test_a_discontinued_product_cannot_be_reserved():
    product = given(Product, *DISCONTINUED)
    with refused(product, "product_discontinued"):
        product.reserve(OTHER_ORDER_ID, 1)


def test_reserving_needs_a_positive_quantity():
    product = given(Product, *STOCKED)
    with refused(product, "quantity_not_positive"):
        product.reserve(ORDER_ID, 0)


def test_releasing_gives_the_whole_reservation_back():
    product = given(Product, *DISCONTINUED)
    product.release(ORDER_ID)
    assert product.pending == [StockReservationReleased(order_id=ORDER_ID, quantity=4)]
    assert (product.on_hand, product.reserved, product.reservations) == (10, 0, {})


def test_committing_ships_the_reservation_out_of_stock():
    product = given(Product, *DISCONTINUED)
    product.commit(ORDER_ID)
    assert product.pending == [StockReservationCommitted(order_id=ORDER_ID, quantity=4)]
    assert (product.on_hand, product.reserved, product.available) == (6, 0, 6)


@pytest.mark.parametrize("action", [Product.release, Product.commit])
def test_releasing_or_committing_without_a_reservation_records_nothing(action):
    product = given(Product, *RESERVED)
    action(product, OTHER_ORDER_ID)
    assert product.pending == []


def test_the_reservations_cannot_be_changed_from_outside():
    product = given(Product, *RESERVED)
    product.reservations[ORDER_ID] = 0
    assert product.reserved == 4


# --- Discontinuing --------------------------------------------------------------------------


def test_discontinuing_records_it_once():
    product = given(Product, *STOCKED)
    product.discontinue()
    product.discontinue()
    assert product.pending == [ProductDiscontinued()]
    assert product.discontinued


def test_a_product_that_was_never_created_cannot_be_changed():
    with pytest.raises(LookupError):
        given(Product).receive_stock(1)
