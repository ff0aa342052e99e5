"""The queries answer straight from rows shaped as their answers (``json_answer``), without
the serializers, which only describe them in the OpenAPI schema: for the same rows the
bytes must be those the serializers and DRF's renderer would give. And a page or an entity,
lines and figures per currency included, is one query."""

from __future__ import annotations

from decimal import Decimal
from uuid import uuid4

import pytest
from rest_framework.renderers import JSONRenderer

from orders.api import serializers as s
from orders.api.http import json_answer
from orders.domain import Money
from orders.domain import commands as c
from projections import selectors
from tests.factories import customer, order, order_at, product, run
from tests.projections.support import settle

pytestmark = pytest.mark.django_db(transaction=True)

NEXT = "http://testserver/api/v1/orders/?cursor=abc&limit=2"


def serialized(serializer: type, data: object) -> bytes:
    return JSONRenderer().render(serializer(data).data)


@pytest.fixture
def shop() -> dict[str, object]:
    """Customers with and without an address and orders in two currencies; orders drafted,
    shipped, with and without lines; prices with and without cents; names beyond ASCII."""
    grace = customer('Grace "Amazing" Hoppér \\ 漢字 🚀')
    nobody = uuid4()
    run(c.RegisterCustomer(nobody, "Nobody Ñ", "nobody@example.com", None))
    for currency, price in (("EUR", "10.00"), ("EUR", "0.10"), ("USD", "1234567.50")):
        placed = order(grace, [(product(price=price, stock=5, currency=currency), 3)], currency=currency)
        run(c.PlaceOrder(placed))
    shipped = order_at("shipped")
    empty = order(nobody)
    big = order(grace, [(product(f"P-{n}", price=f"{n}.0{n}", stock=9), n) for n in range(1, 4)])
    run(c.ChangeProductPrice(product("ZZ-9", price="7.00"), Money(Decimal("7.5"), "EUR")))
    settle()
    return {"customers": [grace, nobody], "orders": [shipped, empty, big]}


PAGES = [
    (selectors.product_list, s.ProductPageSerializer),
    (selectors.customer_list, s.CustomerPageSerializer),
    (selectors.order_list, s.OrderPageSerializer),
]


@pytest.mark.parametrize(("select", "serializer"), PAGES)
def test_a_page_is_answered_in_the_bytes_its_serializer_gives(shop, select, serializer):
    page = select(limit=500)
    assert len(page.items) >= 2
    for data in ({"results": page.items, "next": NEXT}, {"results": page.items[:1], "next": None}):
        assert json_answer(data, headers={}).content == serialized(serializer, data)


def test_each_entity_is_answered_in_the_bytes_its_serializer_gives(shop):
    for product_row in selectors.product_list(limit=500).items:
        item = selectors.product_get(product_id=product_row["id"])
        assert json_answer(item, headers={}).content == serialized(s.ProductSerializer, item)
    for customer_id in shop["customers"]:
        item = selectors.customer_get(customer_id=customer_id)
        assert json_answer(item, headers={}).content == serialized(s.CustomerSerializer, item)
    for order_id in shop["orders"]:
        item = selectors.order_get(order_id=order_id)
        assert json_answer(item, headers={}).content == serialized(s.OrderSerializer, item)


def test_the_rows_hold_what_the_answer_shows(shop):
    grace, nobody = (selectors.customer_get(customer_id=id) for id in shop["customers"])
    assert (grace["order_count"], grace["lifetime_value"]) == (
        3,
        {"EUR": Decimal("30.30"), "USD": Decimal("3703702.50")},
    )
    assert (nobody["order_count"], nobody["lifetime_value"], nobody["shipping_address"]) == (0, {}, None)
    shipped, empty, big = (selectors.order_get(order_id=id) for id in shop["orders"])
    assert [line["sku"] for line in big["lines"]] == ["P-1", "P-2", "P-3"] and empty["lines"] == []
    assert shipped["shipped_at"] is not None and len(shipped["lines"]) == 1


def test_line_separators_are_escaped_as_drf_escapes_them():
    data = {"results": [{"name": 'a\u2028b\u2029c\x00\n"\\'}], "next": None}
    assert json_answer(data, headers={}).content == JSONRenderer().render(data)
    assert b"\\u2028" in json_answer(data, headers={}).content


@pytest.mark.parametrize(("select", "serializer"), PAGES)
def test_a_page_with_its_lines_and_figures_is_one_query(shop, select, serializer, django_assert_num_queries):
    with django_assert_num_queries(1):
        first = select(limit=2)
    with django_assert_num_queries(1):
        select(after=first.after, limit=2)


def test_an_entity_with_its_lines_and_figures_is_one_query(shop, django_assert_num_queries):
    with django_assert_num_queries(1):
        selectors.order_get(order_id=shop["orders"][2])
    with django_assert_num_queries(1):
        selectors.customer_get(customer_id=shop["customers"][0])
