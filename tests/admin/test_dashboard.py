"""The admin index's dashboard: today's sales in the shop's time zone, 30 days of sales as
a chart, products low on stock, and the subscribers' health."""

import datetime as dt
import re
from uuid import UUID, uuid4

import pytest
from django.urls import reverse

from orders.domain import commands as c
from projections import dashboard
from projections.runner import catch_up
from tests.factories import customer, product, run
from tests.projections.support import catch_up_all

pytestmark = pytest.mark.django_db(transaction=True)
INDEX = reverse("admin:index")

# Amsterdam is UTC+1 that night: 22:30 UTC is 23:30 on the 29th, 23:30 UTC is 00:30 on the 30th.
EVENING_29TH = dt.datetime(2025, 3, 29, 22, 30, tzinfo=dt.UTC)
JUST_AFTER_MIDNIGHT_30TH = dt.datetime(2025, 3, 29, 23, 30, tzinfo=dt.UTC)
# Still the 29th in UTC, already the 30th in the shop.
NOW = dt.datetime(2025, 3, 29, 23, 45, tzinfo=dt.UTC)
BAR = re.compile(r'<rect class="bar"[^>]*data-day="([\d-]+)" data-revenue="([\d.]+)" data-orders="(\d+)"')


def placed(lines: list[tuple[UUID, int]], at: dt.datetime, currency: str = "EUR") -> UUID:
    order_id = uuid4()
    run(c.CreateOrder(order_id, customer(), currency, occurred_at=at))
    for product_id, quantity in lines:
        run(c.AddOrderLine(order_id, product_id, quantity, occurred_at=at))
    run(c.PlaceOrder(order_id, occurred_at=at))
    return order_id


def section(html: str, name: str) -> str:
    """The dashboard's module with this id, up to its end."""
    start = html.index(f'id="{name}"')
    return html[start : html.index("</div>", start)]


def charts(html: str) -> dict[str, list[tuple[str, str, int]]]:
    """Each chart's bars, by currency: (day, revenue, orders)."""
    found = {}
    for currency, body in re.findall(r'<svg class="sales-chart" data-currency="(\w*)"(.*?)</svg>', html, re.S):
        found[currency] = [(day, revenue, int(orders)) for day, revenue, orders in BAR.findall(body)]
    return found


@pytest.fixture
def shop_day_30th(settings, monkeypatch):
    settings.TIME_ZONE = "Europe/Amsterdam"
    monkeypatch.setattr(dashboard, "now", lambda: NOW)


def test_today_counts_the_orders_placed_since_midnight_in_the_shops_time_zone_per_currency(
    shop_day_30th, operator_client
):
    mug, poster = product(price="10.00", stock=50), product(price="15.00", stock=50, currency="USD")
    placed([(mug, 2)], EVENING_29TH)
    placed([(mug, 3)], JUST_AFTER_MIDNIGHT_30TH)
    placed([(poster, 1)], JUST_AFTER_MIDNIGHT_30TH, currency="USD")
    catch_up_all()

    response = operator_client.get(INDEX)

    assert response.status_code == 200
    html = response.content.decode()
    today = section(html, "dashboard-today")
    assert "Sunday 30 March 2025" in today
    rows = re.findall(
        r'data-currency="(\w+)"><td>\w+</td><td class="num orders">(\d+)</td>.*?revenue">([\d.]+)<', today
    )
    assert rows == [("EUR", "1", "30.00"), ("USD", "1", "15.00")]


def test_the_chart_has_a_bar_for_each_of_30_days_zero_where_nothing_sold(shop_day_30th, operator_client):
    mug = product(price="10.00", stock=50)
    placed([(mug, 2)], EVENING_29TH)
    placed([(mug, 3)], JUST_AFTER_MIDNIGHT_30TH)
    placed([(mug, 1)], dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC))  # the first day shown
    placed([(mug, 4)], dt.datetime(2025, 2, 28, 12, 0, tzinfo=dt.UTC))  # a day too early
    catch_up_all()

    html = operator_client.get(INDEX).content.decode()

    bars = charts(html)["EUR"]
    assert len(bars) == 30
    assert [day for day, _, _ in bars] == [f"2025-03-{n:02}" for n in range(1, 31)]
    selling = {day: (revenue, orders) for day, revenue, orders in bars if orders}
    assert selling == {"2025-03-01": ("10.00", 1), "2025-03-29": ("20.00", 1), "2025-03-30": ("30.00", 1)}
    assert {revenue for day, revenue, _ in bars if day not in selling} == {"0.00"}
    assert '<title id="chart-title-EUR">Revenue in EUR per day, 01 Mar to 30 Mar 2025</title>' in html
    assert 'role="img"' in html and ">Revenue (EUR)</text>" in html and ">Day (Europe/Amsterdam)</text>" in html


def test_with_no_sales_the_chart_shows_30_days_of_zero(shop_day_30th, operator_client):
    bars = charts(operator_client.get(INDEX).content.decode())
    assert list(bars) == [""] and len(bars[""]) == 30 and {revenue for _, revenue, _ in bars[""]} == {"0.00"}


def test_products_with_fewer_than_the_threshold_available_are_listed_linking_to_their_page(settings, operator_client):
    settings.LOW_STOCK_BELOW = 5
    low = product(sku="LOW-1", stock=4)
    product(sku="PLENTY-1", stock=5)
    gone = product(sku="GONE-1", stock=1)
    run(c.DiscontinueProduct(gone))
    empty = product(sku="EMPTY-1")
    catch_up_all()

    html = operator_client.get(INDEX).content.decode()

    listed = section(html, "dashboard-low-stock")
    assert re.findall(r">([A-Z]+-1)</a>", listed) == ["EMPTY-1", "LOW-1"]
    assert reverse("admin:orders_product_change", args=[low]) in listed
    assert reverse("admin:orders_product_change", args=[empty]) in listed
    assert "fewer than 5 available" in listed


def test_each_subscriber_shows_ok_lagging_or_failed_linking_to_the_projections_page(
    settings, operator_client, poisoned_stock
):
    settings.PROJECTIONS_DEGRADED_LAG_SECONDS = 0
    mug = product(stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    assert catch_up(["stock"], patience=5)[0].outcome == "failed"
    customer()

    html = operator_client.get(INDEX).content.decode()

    health = section(html, "dashboard-health")
    shown = dict(re.findall(r'data-subscriber="(\w+)">.*?chronicle-health-(\w+)', health, re.S))
    assert shown == {"orders": "lagging", "stock": "failed", "customers": "lagging", "sales": "ok"}
    assert reverse("admin:projections_checkpoint_changelist") in health


def test_people_who_may_not_read_the_read_models_see_no_dashboard(outsider_client):
    response = outsider_client.get(INDEX)
    assert response.status_code == 200 and 'id="chronicle-dashboard"' not in response.content.decode()
