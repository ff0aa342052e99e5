"""Queries of the read models: customers, products, orders; pages, filters, ETags, freshness."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import connection, transaction

from orders.domain import Money, Product
from orders.domain import commands as c
from orders.repository import UnitOfWork
from projections import freshness
from projections.models import Checkpoint
from projections.runner import _batch, catch_up
from projections.stock import StockProjection
from tests.factories import SYSTEM, customer, order, order_at, product, run
from tests.projections.support import feed_passed_everything, settle
from tests.support import run_threads

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

POSITION = "X-Chronicle-Position"


def walk(client, url: str) -> list[dict]:
    """Every item of a list, following ``next`` to the last page."""
    items = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        items += response.json()["results"]
        url = response.json()["next"]
    return items


# --- Happy paths --------------------------------------------------------------------------


def test_a_product_reads_as_the_stock_projection_has_it(auditor_api):
    pid = product("MUG-1", price="12.50", stock=7)
    settle()

    response = auditor_api.get(f"{API}products/{pid}/")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(pid),
        "sku": "MUG-1",
        "name": "A product",
        "price": "12.50",
        "currency": "EUR",
        "on_hand": 7,
        "reserved": 0,
        "available": 7,
        "discontinued": False,
        "version": 2,
    }
    assert response["ETag"] == '"2"'


def test_a_customer_reads_with_order_count_and_lifetime_value_per_currency(auditor_api):
    cid = customer("Grace Hopper", "grace@example.com")
    for currency in ("EUR", "EUR", "USD"):
        oid = order(cid, [(product(price="10.00", stock=5, currency=currency), 2)], currency=currency)
        run(c.PlaceOrder(oid))
    settle()

    body = auditor_api.get(f"{API}customers/{cid}/").json()

    assert body["name"] == "Grace Hopper" and body["email"] == "grace@example.com"
    assert body["shipping_address"]["city"] == "Amsterdam"
    assert body["order_count"] == 3
    assert body["lifetime_value"] == {"EUR": "40.00", "USD": "20.00"}
    assert body["version"] == 1


def test_an_order_reads_with_its_lines_amounts_and_times(auditor_api):
    oid = order_at("paid")
    settle()

    response = auditor_api.get(f"{API}orders/{oid}/")

    body = response.json()
    assert body["status"] == "paid" and body["currency"] == "EUR"
    assert (body["total"], body["amount_paid"], body["amount_refunded"]) == ("20.00", "20.00", "0.00")
    assert body["number"].startswith("CH-") and body["shipping_address"]["country"] == "NL"
    assert body["placed_at"] and body["paid_at"] and body["shipped_at"] is None
    [line] = body["lines"]
    assert set(line) == {"product_id", "sku", "quantity", "unit_price", "line_total"}
    assert (line["quantity"], line["unit_price"], line["line_total"]) == (2, "10.00", "20.00")
    assert response["ETag"] == f'"{body["version"]}"' and body["version"] == 6


# --- Lists and pages ------------------------------------------------------------------------


def test_pages_visit_every_product_once_in_sku_order(auditor_api):
    skus = [f"SKU-{n:02d}" for n in range(7)]
    for sku in reversed(skus):
        product(sku)
    settle()

    first = auditor_api.get(f"{API}products/?limit=3")
    items = walk(auditor_api, f"{API}products/?limit=3")

    assert len(first.json()["results"]) == 3 and first.json()["next"]
    assert [item["sku"] for item in items] == skus


def test_pages_visit_every_customer_once_by_name_then_id(auditor_api):
    ids = [customer(name) for name in ("Bea", "Ada", "Ada", "Cy", "Ada")]
    settle()

    items = walk(auditor_api, f"{API}customers/?limit=2")

    assert sorted(item["id"] for item in items) == sorted(map(str, ids))
    assert [(i["name"], i["id"]) for i in items] == sorted((i["name"], i["id"]) for i in items)


def test_pages_visit_every_order_once_newest_first_even_with_equal_times(auditor_api):
    same_moment = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
    cid = customer()
    ids = []
    for n in range(5):
        oid = uuid4()
        at = same_moment if n < 3 else same_moment + dt.timedelta(hours=n)
        run(c.CreateOrder(oid, cid, "EUR", occurred_at=at))
        ids.append(oid)
    settle()

    items = walk(auditor_api, f"{API}orders/?limit=2")

    assert len(items) == 5 and {i["id"] for i in items} == {str(i) for i in ids}
    keys = [(i["created_at"], i["id"]) for i in items]
    assert keys == sorted(keys, reverse=True)


def test_a_row_added_after_the_first_page_does_not_shift_the_rest(auditor_api):
    for sku in ("B", "C", "D"):
        product(f"SKU-{sku}")
    settle()
    first = auditor_api.get(f"{API}products/?limit=2").json()
    product("SKU-A")  # sorts before everything already read
    settle()

    rest = walk(auditor_api, first["next"])

    assert [i["sku"] for i in first["results"] + rest] == ["SKU-B", "SKU-C", "SKU-D"]


def test_orders_filter_by_status_customer_and_placing_time(auditor_api):
    ada, grace = customer("Ada"), customer("Grace")
    mug = product(stock=10)
    draft = order(ada, [(mug, 1)])
    early, late = uuid4(), uuid4()
    for oid, day in ((early, 1), (late, 3)):
        run(c.CreateOrder(oid, grace, "EUR"))
        run(c.AddOrderLine(oid, mug, 1))
        run(c.PlaceOrder(oid, occurred_at=dt.datetime(2026, 2, day, 9, tzinfo=dt.UTC)))
    settle()

    def ids(query: str) -> set[str]:
        return {item["id"] for item in walk(auditor_api, f"{API}orders/?{query}")}

    assert ids("status=draft") == {str(draft)}
    assert ids("status=placed") == {str(early), str(late)}
    assert ids(f"customer_id={ada}") == {str(draft)}
    assert ids("placed_after=2026-02-02T00:00:00Z") == {str(late)}
    assert ids("placed_before=2026-02-02T00:00:00Z") == {str(early)}
    assert ids("placed_after=2026-02-01T09:00:00Z&placed_before=2026-02-03T09:00:00Z") == {str(early)}
    assert ids(f"status=placed&customer_id={ada}") == set()


@pytest.mark.parametrize(
    "query, field",
    [
        ("status=lost", "status"),
        ("customer_id=42", "customer_id"),
        ("placed_after=yesterday", "placed_after"),
        ("placed_before=2026-13-01", "placed_before"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("min_position=-1", "min_position"),
        ("min_position=two", "min_position"),
        ("min_position=1.5", "min_position"),
    ],
)
def test_bad_query_values_are_400_with_the_field(auditor_api, query, field):
    response = auditor_api.get(f"{API}orders/?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and set(error["fields"]) == {field}


def test_a_page_is_50_by_default_and_500_at_most(auditor_api):
    for n in range(51):
        product(f"SKU-{n:03d}")
    settle()

    assert len(auditor_api.get(f"{API}products/").json()["results"]) == 50
    assert len(auditor_api.get(f"{API}products/?limit=500").json()["results"]) == 51


@pytest.mark.parametrize("cursor", ["garbage", "W10:abc", "eyJub3QiOiJzaWduZWQifQ"])
def test_a_cursor_this_list_did_not_hand_out_is_400(auditor_api, cursor):
    response = auditor_api.get(f"{API}orders/", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert set(response.json()["error"]["fields"]) == {"cursor"}


def test_another_lists_cursor_is_refused(auditor_api):
    for n in range(3):
        product(f"SKU-{n}")
    settle()
    next_page = auditor_api.get(f"{API}products/?limit=1").json()["next"]

    response = auditor_api.get(next_page.replace("/products/", "/customers/"))

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


# --- Access and unknown ids -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["customers/", "products/", "orders/"])
def test_operators_and_auditors_read_an_outsider_may_not(api, auditor_api, outsider_api, path):
    assert api.get(f"{API}{path}").status_code == 200
    assert auditor_api.get(f"{API}{path}").status_code == 200
    response = outsider_api.get(f"{API}{path}")
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_permitted"


def test_an_outsider_is_refused_before_the_id_is_looked_up(outsider_api):
    pid = product()
    settle()
    assert outsider_api.get(f"{API}products/{pid}/").status_code == 403
    assert outsider_api.get(f"{API}products/{uuid4()}/").status_code == 403


@pytest.mark.parametrize("path", ["customers", "products", "orders"])
def test_an_unknown_id_is_404_in_the_error_shape(auditor_api, path):
    response = auditor_api.get(f"{API}{path}/{uuid4()}/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_anonymous_requests_are_401():
    from rest_framework.test import APIClient

    assert APIClient().get(f"{API}orders/").status_code == 401


def test_posting_to_a_collection_still_creates(api):
    response = api.post(f"{API}products/", {"sku": "NEW-1", "name": "New", "price": "1.00", "currency": "EUR"})
    assert response.status_code == 201 and response.json()["version"] == 1


# --- ETag and If-None-Match -------------------------------------------------------------------


def test_if_none_match_with_the_current_version_is_304_and_an_older_one_200(auditor_api):
    pid, oid = product(stock=1), order_at("draft")
    settle()

    same = auditor_api.get(f"{API}products/{pid}/", HTTP_IF_NONE_MATCH='"2"')
    older = auditor_api.get(f"{API}products/{pid}/", HTTP_IF_NONE_MATCH='"1", W/"0"')
    weak = auditor_api.get(f"{API}products/{pid}/", HTTP_IF_NONE_MATCH='"1", W/"2"')
    star = auditor_api.get(f"{API}orders/{oid}/", HTTP_IF_NONE_MATCH="*")

    assert same.status_code == 304 and same.content == b"" and same["ETag"] == '"2"'
    assert older.status_code == 200 and older.json()["version"] == 2
    assert weak.status_code == 304
    assert star.status_code == 304


def test_a_malformed_if_none_match_is_400(auditor_api):
    pid = product()
    settle()
    response = auditor_api.get(f"{API}products/{pid}/", HTTP_IF_NONE_MATCH="2")
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_header"


def test_a_customer_is_answered_in_full_since_order_figures_move_without_its_version(auditor_api):
    cid = customer()
    settle()
    etag = auditor_api.get(f"{API}customers/{cid}/")["ETag"]
    oid = order(cid, [(product(stock=3), 1)])
    run(c.PlaceOrder(oid))
    settle()

    response = auditor_api.get(f"{API}customers/{cid}/", HTTP_IF_NONE_MATCH=etag)

    assert response["ETag"] == etag
    assert response.status_code == 200 and response.json()["order_count"] == 1


# --- Freshness: X-Chronicle-Position and ?min_position= --------------------------------------


def test_the_position_header_is_what_the_projection_has_handled(auditor_api):
    pid = product(stock=1)
    settle()
    handled = run(c.ReceiveStock(pid, 1)).position - 1
    position = run(c.ReceiveStock(pid, 1)).position
    assert position > handled

    before = auditor_api.get(f"{API}products/{pid}/")
    settle()
    after = auditor_api.get(f"{API}products/")

    assert int(before[POSITION]) < position - 1
    assert before.json()["on_hand"] == 1
    assert int(after[POSITION]) == position


def test_min_position_waits_until_the_projection_has_caught_up(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 30
    pid = product(stock=1)
    settle()
    position = run(c.ReceiveStock(pid, 4)).position
    asked = threading.Event()

    def projection_catches_up_later(i: int) -> None:
        assert asked.wait(30)
        threading.Event().wait(0.3)  # the request is waiting by now
        settle()

    def query(i: int):
        if i == 0:
            return projection_catches_up_later(i)
        asked.set()
        return auditor_api.get(f"{API}products/{pid}/?min_position={position}")

    _, response = run_threads(query, 2)

    assert response.status_code == 200
    assert response.json()["on_hand"] == 5
    assert int(response[POSITION]) >= position


def test_min_position_gives_up_after_the_wait_and_answers_the_lower_position(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 0.05
    pid = product(stock=1)
    settle()
    reflected = int(auditor_api.get(f"{API}products/{pid}/")[POSITION])
    position = run(c.ReceiveStock(pid, 4)).position

    for path in (f"products/{pid}/", "products/"):
        response = auditor_api.get(f"{API}{path}?min_position={position}")
        assert response.status_code == 200
        assert int(response[POSITION]) == reflected < position
    assert auditor_api.get(f"{API}products/{pid}/").json()["on_hand"] == 1


def test_a_position_past_every_committed_event_is_not_waited_for(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 30
    pid = product()
    settle()
    started = time.monotonic()

    response = auditor_api.get(f"{API}products/{pid}/?min_position={10**15}")

    assert time.monotonic() - started < 5
    assert response.status_code == 200 and 0 < int(response[POSITION]) < 10**15


def test_each_query_waits_for_its_own_projections(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 0.05
    cid = customer()
    settle()
    position = run(c.ChangeCustomerEmail(cid, "new@example.com")).position
    catch_up(["customers"], patience=10)  # not yet "sales", which the customer's figures come from

    assert int(auditor_api.get(f"{API}customers/?min_position={position}")[POSITION]) < position
    catch_up(["sales"], patience=10)
    response = auditor_api.get(f"{API}customers/{cid}/?min_position={position}")
    assert int(response[POSITION]) >= position and response.json()["email"] == "new@example.com"
    assert int(auditor_api.get(f"{API}orders/?min_position={position}")[POSITION]) < position


@pytest.mark.postgres(reason="positions come out of commit order only with concurrent PostgreSQL writers")
def test_the_position_never_claims_an_earlier_positioned_event_the_projection_has_yet_to_take(auditor_api, settings):
    """Writer A takes its transaction id first but appends after writer B, which commits
    first: the feed hands out A's event (the higher position) before B's. Once the
    projection has handled A's only, the answer reflects neither position of B's or above."""
    settings.API_MIN_POSITION_WAIT_SECONDS = 0.05
    early, late = product(stock=1), product(stock=1)
    settle()
    a_has_xid, b_done = threading.Event(), threading.Event()
    positions = {}

    def writer_a(_):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")  # A's transaction id, older than B's
            a_has_xid.set()
            assert b_done.wait(30)
            work = UnitOfWork(SYSTEM, uuid4(), None)  # what the bus does, in A's transaction
            stock = work.load(Product, early)
            stock.receive_stock(1)
            [event] = work.save(stock)
            positions["a"] = event.position

    thread = threading.Thread(target=run_threads, args=(writer_a, 1))
    thread.start()
    assert a_has_xid.wait(30)
    positions["b"] = run(c.ReceiveStock(late, 1)).position
    b_done.set()
    thread.join(30)
    assert positions["b"] < positions["a"]

    feed_passed_everything()  # no other transaction on the server holds either back
    _batch(StockProjection, 1)  # A's event: first in the feed
    assert Checkpoint.objects.get(pk="stock").last_position == positions["a"]
    assert freshness.reached(["stock"], positions["a"]) and not freshness.reached(["stock"], positions["b"])

    response = auditor_api.get(f"{API}products/{early}/?min_position={positions['a']}")
    assert response.json()["on_hand"] == 2
    assert int(response[POSITION]) < positions["b"]

    settle()
    assert int(auditor_api.get(f"{API}products/?min_position={positions['a']}")[POSITION]) >= positions["a"]


def test_amounts_are_decimal_strings_in_the_products_currency(auditor_api):
    pid = product(price="19.90", currency="USD")
    run(c.ChangeProductPrice(pid, Money(Decimal("21.00"), "USD")))
    settle()
    body = auditor_api.get(f"{API}products/{pid}/").json()
    assert (body["price"], body["currency"], body["version"]) == ("21.00", "USD", 2)
