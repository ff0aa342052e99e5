"""A log written before the domain's limits replays: the read models are sized for what old
events may hold, so such an event neither stops a projection (numeric overflow on
PostgreSQL) nor breaks reading the rows back (SQLite)."""

from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from eventstore import store
from eventstore.records import NO_STREAM, utcnow
from orders.domain import (
    MAX_ORDER_TOTAL,
    MAX_STOCK,
    OrderCreated,
    OrderLineAdded,
    OrderPlaced,
    StockReceived,
)
from orders.history_builder import HOME, Shop, new_event
from projections.models import OrderSummary, ProductStock, SalesDay, SalesProduct
from tests.api.conftest import client_for
from tests.projections.support import catch_up_all, rebuilt_snapshot, snapshot
from tests.support import META

pytestmark = pytest.mark.django_db(transaction=True)

# What the API accepted before the limits: the dearest price, a million of it, twice.
PRICE = Decimal("9999999999.99")
LINE_TOTAL = PRICE * 1_000_000
STOCK = 3 * MAX_STOCK


def append_raw(stream_type: str, stream_id, *events, expected_version: int) -> None:
    """Straight into the log, past the domain's guards, as an old release could have."""
    new = [new_event(event, utcnow()) for event in events]
    store.append(stream_type, stream_id, new, expected_version=expected_version, metadata=META)


@pytest.fixture
def old_log():
    shop = Shop()
    customer = shop.register_customer()
    mug, cap = shop.create_product("MUG-1", "Mug", str(PRICE)), shop.create_product("CAP-1", "Cap", str(PRICE))
    append_raw("product", mug, StockReceived(quantity=STOCK), expected_version=1)
    order = uuid4()
    append_raw(
        "order",
        order,
        OrderCreated(number="CH-OLD-1", customer_id=customer, currency="EUR", shipping_address=HOME),
        OrderLineAdded(product_id=mug, sku="MUG-1", quantity=1_000_000, unit_price=PRICE),
        OrderLineAdded(product_id=cap, sku="CAP-1", quantity=1_000_000, unit_price=PRICE),
        OrderPlaced(total=2 * LINE_TOTAL),
        expected_version=NO_STREAM,
    )
    return order, mug


def test_an_order_and_a_stock_from_before_the_limits_project_and_rebuild(old_log):
    order, mug = old_log
    assert 2 * LINE_TOTAL > MAX_ORDER_TOTAL and STOCK > MAX_STOCK
    catch_up_all()
    summary = OrderSummary.objects.get(id=order)
    assert (summary.total, summary.item_count) == (2 * LINE_TOTAL, 2_000_000)
    assert [line.line_total for line in summary.lines.all()] == [LINE_TOTAL, LINE_TOTAL]
    assert ProductStock.objects.get(id=mug).on_hand == STOCK
    assert SalesDay.objects.get().revenue == 2 * LINE_TOTAL
    assert SalesProduct.objects.get(product_id=mug).revenue == LINE_TOTAL
    before = snapshot()
    assert rebuilt_snapshot() == before


def test_the_api_and_the_admin_show_such_an_order(old_log):
    order, mug = old_log
    catch_up_all()
    api = client_for(User.objects.create_superuser("api-root"))
    listed = api.get("/api/v1/orders/")
    assert listed.status_code == 200 and listed.json()["results"][0]["total"] == str(2 * LINE_TOTAL)
    assert api.get(f"/api/v1/orders/{order}/").json()["total"] == str(2 * LINE_TOTAL)
    assert api.get(f"/api/v1/products/{mug}/").json()["on_hand"] == STOCK
    admin = Client()
    admin.force_login(User.objects.create_superuser("root"))
    for page in ("admin:orders_order_changelist", "admin:orders_product_changelist"):
        assert admin.get(reverse(page)).status_code == 200, page
    assert admin.get(reverse("admin:orders_order_change", args=[order])).status_code == 200
