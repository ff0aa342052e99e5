"""The read models: what each projection makes of a shop's history, folded in several
goes and small batches, compared row for row with a full rebuild."""

import datetime as dt
from decimal import Decimal

import pytest

from orders.domain import OrderStatus
from orders.history_builder import HOME, Shop
from projections.models import (
    CustomerSummary,
    CustomerValue,
    OrderSummary,
    ProductStock,
    SalesDay,
    SalesProduct,
    StatusCount,
)
from projections.sales import shop_day
from tests.projections.support import (
    LATE_EVENING_UTC,
    NEXT_MORNING_UTC,
    OFFICE,
    a_bit_of_everything,
    catch_up_all,
    rebuilt_snapshot,
    snapshot,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def story():
    """The history, caught up after every chapter in batches of 7 events."""
    return a_bit_of_everything(between=lambda: catch_up_all(batch_size=7))


def test_catching_up_again_changes_nothing_and_equals_a_full_rebuild(story):
    incremental = snapshot()
    catch_up_all()
    assert snapshot() == incremental
    assert rebuilt_snapshot() == incremental


def test_orders_carry_their_lines_totals_payments_and_customer(story):
    delivered = OrderSummary.objects.get(id=story.delivered)
    assert (delivered.status, delivered.item_count, delivered.total) == ("delivered", 3, Decimal("30.00"))
    assert (delivered.amount_paid, delivered.amount_refunded) == (Decimal("30.00"), Decimal("5.00"))
    assert (delivered.customer_name, delivered.customer_email) == ("Ada Lovelace", "ada@lovelace.example")
    assert delivered.placed_at == delivered.paid_at == LATE_EVENING_UTC
    assert delivered.shipping_address == {**HOME.__dict__}
    assert [(line.sku, line.quantity, line.line_total) for line in delivered.lines.all()] == [
        ("MUG-1", 2, Decimal("25.00")),
        ("CAP-1", 1, Decimal("5.00")),
    ]
    assert delivered.version == 10 and delivered.carrier == "PostNL"

    rejected = OrderSummary.objects.get(id=story.rejected)
    assert (rejected.status, rejected.status_reason) == ("rejected", "Not enough stock: 1 available, 5 requested.")
    cancelled = OrderSummary.objects.get(id=story.cancelled_paid)
    assert (cancelled.status, cancelled.cancelled_at, cancelled.amount_refunded) == (
        "cancelled",
        NEXT_MORNING_UTC,
        Decimal("12.50"),
    )


def test_a_changed_draft_keeps_its_remaining_lines_and_totals(story):
    draft = OrderSummary.objects.get(id=story.draft)
    assert (draft.status, draft.item_count, draft.total, draft.placed_at) == ("draft", 3, Decimal("37.50"), None)
    assert [(line.sku, line.quantity) for line in draft.lines.all()] == [("MUG-1", 3)]
    assert draft.shipping_address["city"] == "Paris"


def test_stock_follows_receipts_reservations_shipments_and_adjustments(story):
    stock = {p.sku: (p.on_hand, p.reserved, p.available, p.price, p.discontinued) for p in ProductStock.objects.all()}
    assert stock == {
        "MUG-1": (7, 0, 7, Decimal("14.00"), False),
        "CAP-1": (1, 0, 1, Decimal("5.00"), True),
        "POSTER-1": (3, 0, 3, Decimal("20.00"), False),
    }


def test_reserved_stock_is_not_available():
    shop = Shop()
    mug = shop.create_product(stock=5)
    shop.order(shop.register_customer(), {mug: 2}, until=OrderStatus.CONFIRMED)
    catch_up_all()
    assert ProductStock.objects.values_list("on_hand", "reserved", "available").get() == (5, 2, 3)


def test_customers_and_their_value_per_currency(story):
    ada = CustomerSummary.objects.get(id=story.ada)
    assert (ada.name, ada.email, ada.version) == ("Ada Lovelace", "ada@lovelace.example", 2)
    assert CustomerSummary.objects.get(id=story.grace).shipping_address["country"] == "FR"
    values = {(v.customer.name, v.currency): (v.orders, v.lifetime_value) for v in CustomerValue.objects.all()}
    assert values == {
        ("Ada Lovelace", "EUR"): (1, Decimal("25.00")),
        ("Grace Hopper", "EUR"): (0, Decimal("0.00")),
        ("Grace Hopper", "USD"): (1, Decimal("40.00")),
    }


def test_sales_count_standing_orders_on_the_shop_day_they_were_placed(story):
    """Both days in UTC, one day in Amsterdam; the rejected and the cancelled order were
    placed that day and taken back out; a refund lowers the revenue, but not twice."""
    assert shop_day(LATE_EVENING_UTC) == shop_day(NEXT_MORNING_UTC) == dt.date(2025, 3, 30)
    days = {(d.day, d.currency): (d.orders, d.units, d.revenue) for d in SalesDay.objects.all()}
    assert days == {
        (dt.date(2025, 3, 30), "EUR"): (1, 3, Decimal("25.00")),
        (dt.date(2025, 3, 30), "USD"): (1, 2, Decimal("40.00")),
    }
    products = {p.sku: (p.orders, p.units, p.revenue) for p in SalesProduct.objects.all()}
    assert products == {
        "MUG-1": (1, 2, Decimal("25.00")),
        "CAP-1": (1, 1, Decimal("5.00")),
        "POSTER-1": (1, 2, Decimal("40.00")),
    }


def test_the_funnel_counts_orders_now_in_each_status_and_ever_in_it(story):
    funnel = {s.status: (s.current, s.reached) for s in StatusCount.objects.all()}
    assert funnel == {
        "draft": (1, 5),
        "placed": (0, 4),
        "confirmed": (0, 3),
        "rejected": (1, 1),
        "paid": (0, 3),
        "shipped": (1, 2),
        "delivered": (1, 1),
        "cancelled": (1, 1),
    }


def test_an_order_whose_customer_comes_later_in_the_feed_gets_their_name_when_they_do():
    shop = Shop(autoflush=False)
    ada = shop.register_customer("Ada Lovelace", "ada@example.com")
    order = shop.draft(ada, {shop.create_product(): 1})
    customer_events = shop._outbox.pop(ada)
    shop.flush()
    catch_up_all()
    assert OrderSummary.objects.get(id=order).customer_name == ""

    shop._outbox[ada] = customer_events
    shop.flush()
    catch_up_all()
    assert OrderSummary.objects.values_list("customer_name", "customer_email").get() == (
        "Ada Lovelace",
        "ada@example.com",
    )
    assert rebuilt_snapshot()["OrderSummary"][0]["customer_name"] == "Ada Lovelace"


def test_addresses_are_stored_as_json_and_a_customer_without_one_has_none():
    shop = Shop()
    shop.change_address(shop.register_customer(), OFFICE)
    catch_up_all()
    assert CustomerSummary.objects.get().shipping_address == {**OFFICE.__dict__}


def test_an_order_meant_to_be_cancelled_that_fulfilment_rejects_stays_rejected():
    shop = Shop()
    order = shop.order(shop.register_customer(), {shop.create_product(stock=0): 1}, until=OrderStatus.CANCELLED)
    catch_up_all()
    assert OrderSummary.objects.get(id=order).status == "rejected"
