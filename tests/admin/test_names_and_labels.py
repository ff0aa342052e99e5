"""The back office names things: "Chronicle" on every page, entities by order number,
customer name or SKU (their id beside, small), and their states and changes under labels,
with amounts in their currency."""

from __future__ import annotations

import re
from uuid import UUID, uuid4

import pytest
from django.urls import reverse

from orders.domain import commands as c
from projections.models import OrderSummary
from tests.factories import customer, order, product, run
from tests.projections.support import settle

pytestmark = pytest.mark.django_db(transaction=True)


def page(client, kind: str, name: str, id: UUID, **params: str):
    response = client.get(reverse(f"admin:orders_{kind}_{name}", args=[id]), params)
    assert response.status_code == 200, response
    return response


def heading(response) -> str:
    return re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)[1].strip()


def shown(rows) -> list[tuple[str, ...]]:
    """Labelled changes or fields as (label, values...)."""
    return [(row.label, row.before, row.after) if hasattr(row, "after") else (row.label, row.value) for row in rows]


@pytest.fixture
def shop() -> dict[str, UUID]:
    """Ada's order of 2 x TIN-TEA at 7.25 EUR, then 3, then placed (versions 1 to 4)."""
    ada = customer("Ada Lovelace", "ada@example.com")
    tin = product(sku="TIN-TEA", price="7.25", stock=10)
    oid = order(ada, [(tin, 2)])
    run(c.ChangeOrderLineQuantity(oid, tin, 3))
    run(c.PlaceOrder(oid))
    settle()
    return {"customer": ada, "product": tin, "order": oid}


def test_every_page_says_chronicle_and_the_index_keeps_its_back_office_heading(auditor_client):
    index = auditor_client.get(reverse("admin:index")).content.decode()
    assert '<div id="site-name"><a href="/admin/">Chronicle</a></div>' in index
    assert "<title>Site administration | Chronicle</title>" in index
    assert "Back office" in index
    login = auditor_client.get(reverse("admin:login")).content.decode()
    for body in (index, login):
        assert "Django administration" not in body and "Django site admin" not in body


def test_entity_pages_are_titled_by_number_name_and_sku_with_the_id_small(auditor_client, shop):
    number = OrderSummary.objects.get(pk=shop["order"]).number
    for kind, title in (
        ("order", f"Order {number}"),
        ("customer", "Customer Ada Lovelace"),
        ("product", "Product TIN-TEA"),
    ):
        response = page(auditor_client, kind, "change", shop[kind])
        assert heading(response) == title
        assert f"<title>{title} | Chronicle</title>" in response.content.decode()
        assert re.search(rf'<p class="help">[^<]*id <code>{shop[kind]}</code></p>', response.content.decode())


@pytest.mark.parametrize("name, title", [("history", "History of {}"), ("state", "Time travel: {}")])
def test_history_and_time_travel_are_titled_by_number_name_and_sku_with_the_id_small(auditor_client, shop, name, title):
    number = OrderSummary.objects.get(pk=shop["order"]).number
    for kind, subject in (
        ("order", f"order {number}"),
        ("customer", "customer Ada Lovelace"),
        ("product", "product TIN-TEA"),
    ):
        response = page(auditor_client, kind, name, shop[kind])
        body = response.content.decode()
        assert heading(response) == title.format(subject)
        assert f"<title>{title.format(subject)} | Chronicle</title>" in body
        assert (
            f'<p class="chronicle-meta chronicle-entity-id">{kind.capitalize()} id <code>{shop[kind]}</code></p>'
            in body
        )
        crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', body, re.S)[1]
        assert f">{subject.split(' ', 1)[1]}</a>" in crumbs and f">{shop[kind]}<" not in crumbs


def test_a_page_of_no_such_entity_is_titled_by_the_id_it_was_asked_for(auditor_client):
    missing = uuid4()
    response = auditor_client.get(reverse("admin:orders_order_history", args=[missing]))
    assert response.status_code == 404
    assert heading(response) == f"History of order {missing}"


def test_the_history_labels_each_change_and_shows_amounts_in_their_currency(auditor_client, shop):
    response = page(auditor_client, "order", "history", shop["order"])
    created, added, changed, placed = (changes for _, changes in response.context["rows"])
    number = OrderSummary.objects.get(pk=shop["order"]).number
    assert ("Number", None, number) in shown(created) and ("Status", None, "Draft") in shown(created)
    assert ("Unit price of TIN-TEA", None, "7.25 EUR") in shown(added)
    assert ("Quantity of TIN-TEA", None, "2") in shown(added)
    assert ("Total", "0.00 EUR", "14.50 EUR") in shown(added)
    assert shown(changed) == [
        ("Quantity of TIN-TEA", "2", "3"),
        ("Total", "14.50 EUR", "21.75 EUR"),
        ("Amount due", "14.50 EUR", "21.75 EUR"),
        ("Items", "2", "3"),
    ]
    assert shown(placed) == [("Status", "Draft", "Placed")]
    body = response.content.decode()
    assert '<th scope="row" title="lines[TIN-TEA].unit_price">Unit price of TIN-TEA</th>' in body  # the path on hover
    assert ">lines[TIN-TEA].unit_price<" not in body and "<code>lines[" not in body


def test_time_travel_labels_the_state_and_what_changed_since(auditor_client, shop):
    response = page(auditor_client, "order", "state", shop["order"], version="2")
    fields = shown(response.context["state_fields"])
    assert ("Status", "Draft") in fields
    assert ("Unit price of TIN-TEA", "7.25 EUR") in fields and ("Quantity of TIN-TEA", "2") in fields
    assert ("Total", "14.50 EUR") in fields and ("Paid", "0.00 EUR") in fields
    assert shown(response.context["changes_since"]) == [
        ("Status", "Draft", "Placed"),
        ("Quantity of TIN-TEA", "2", "3"),
        ("Total", "14.50 EUR", "21.75 EUR"),
        ("Amount due", "14.50 EUR", "21.75 EUR"),
        ("Items", "2", "3"),
    ]
    body = response.content.decode()
    assert '<th scope="row" title="lines[TIN-TEA].unit_price">Unit price of TIN-TEA</th><td>7.25 EUR</td>' in body
    assert "&quot;unit_price&quot;: &quot;7.25&quot;" in body  # the raw state stays, as JSON


def test_a_products_reservations_are_labelled_by_order_number(auditor_client, shop):
    run(c.ReserveStock(shop["product"], shop["order"], 3))  # as the fulfilment process would
    released = order(lines=[(shop["product"], 1)])  # a draft: not in the read model, so named by id
    run(c.ReserveStock(shop["product"], released, 1))
    run(c.ReleaseStock(shop["product"], released))
    number = OrderSummary.objects.get(pk=shop["order"]).number

    now = page(auditor_client, "product", "state", shop["product"])
    assert ("Price", "7.25 EUR") in shown(now.context["state_fields"])
    assert ("Discontinued", "no") in shown(now.context["state_fields"])
    assert (f"Reserved for order {number}", "3") in shown(now.context["state_fields"])
    *_, reserved, _, release = page(auditor_client, "product", "history", shop["product"]).context["rows"]
    assert (f"Reserved for order {number}", None, "3") in shown(reserved[1])
    assert (f"Reserved for order {released}", "1", None) in shown(release[1])
