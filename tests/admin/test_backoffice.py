"""The staff back office: every command view (happy path, domain refusal, stale version,
permissions), double submits, read-your-writes, entity pages and the lists' filters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from eventstore import store
from eventstore.models import Event
from orders.domain import commands as c
from orders.models import Customer, Order, Product
from orders.permissions import AUDITORS, OPERATORS
from tests.admin.conftest import member
from tests.factories import address, customer, order, order_at, product, run
from tests.projections.support import settle

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = {"line1": "Oudegracht 10", "line2": "", "postal_code": "3511 AB", "city": "Utrecht", "country": "NL"}
MODELS = {"customer": Customer, "product": Product, "order": Order}


@pytest.fixture
def staff() -> dict[str, Client]:
    """A client of its own for each role (the conftest's clients share one)."""
    clients = {}
    for role, group in (("operator", OPERATORS), ("auditor", AUDITORS), ("outsider", None)):
        clients[role] = Client()
        clients[role].force_login(member(group, f"{role}-staff"))
    return clients


def command_url(kind: str, slug: str, id: UUID | None = None) -> str:
    return reverse(f"admin:orders_{kind}_{slug.replace('-', '_')}", args=[id] if id else [])


def entity_url(kind: str, id: UUID) -> str:
    return reverse(f"admin:orders_{kind}_change", args=[id])


def shown_messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@dataclass
class Case:
    """One command view: ``setup`` returns the ids it made (``id`` is the target, absent
    for creating commands); ``data`` the form's inputs; ``then`` checks the read model."""

    kind: str
    slug: str
    setup: Callable[[], dict[str, Any]]
    data: Callable[[dict[str, Any]], dict[str, Any]]
    appends: list[str]
    then: Callable[[Any], bool]
    refused: tuple[Callable[[], dict[str, Any]], Callable[[dict[str, Any]], dict[str, Any]], str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind}-{self.slug}"


def with_line() -> dict[str, Any]:
    pid = product(stock=10)
    return {"id": order(lines=[(pid, 2)]), "product": pid}


def placed_with_line() -> dict[str, Any]:
    ids = with_line()
    run(c.SetShippingAddress(ids["id"], address()))
    run(c.PlaceOrder(ids["id"]))
    return ids


def taken_email() -> dict[str, Any]:
    customer(email="taken@example.com")
    return {"id": customer()}


def discontinued() -> dict[str, Any]:
    pid = product()
    run(c.DiscontinueProduct(pid))
    return {"id": pid}


CASES = [
    Case(
        "customer",
        "register",
        dict,
        lambda ids: {"name": "Grace Hopper", "email": "grace@example.com", **ADDRESS},
        ["CustomerRegistered"],
        lambda row: row.email == "grace@example.com" and row.shipping_address["city"] == "Utrecht",
        refused=(
            lambda: {"other": customer(email="taken@example.com")},
            lambda ids: {"name": "Grace", "email": "TAKEN@example.com"},
            "already used by another customer",
        ),
    ),
    Case(
        "customer",
        "change-email",
        lambda: {"id": customer()},
        lambda ids: {"email": "new@example.com"},
        ["CustomerEmailChanged"],
        lambda row: row.email == "new@example.com",
        refused=(taken_email, lambda ids: {"email": "taken@example.com"}, "already used by another customer"),
    ),
    Case(
        "customer",
        "change-address",
        lambda: {"id": customer()},
        lambda ids: ADDRESS,
        ["CustomerAddressChanged"],
        lambda row: row.shipping_address["city"] == "Utrecht",
        refused=(
            lambda: {"id": customer()},
            lambda ids: {**ADDRESS, "country": "Holland"},
            "The address is incomplete",
        ),
    ),
    Case(
        "product",
        "create",
        dict,
        lambda ids: {"sku": "TEAPOT-9", "name": "Teapot", "price": "12.50", "currency": "EUR"},
        ["ProductCreated"],
        lambda row: row.sku == "TEAPOT-9" and row.price == Decimal("12.50"),
        refused=(
            lambda: {"pid": product(sku="TAKEN-1")},
            lambda ids: {"sku": "taken-1", "name": "X", "price": "1", "currency": "EUR"},
            "already used by another product",
        ),
    ),
    Case(
        "product",
        "change-price",
        lambda: {"id": product()},
        lambda ids: {"price": "11.00"},
        ["ProductPriceChanged"],
        lambda row: row.price == Decimal("11.00"),
        refused=(discontinued, lambda ids: {"price": "11.00"}, "is discontinued"),
    ),
    Case(
        "product",
        "receive-stock",
        lambda: {"id": product()},
        lambda ids: {"quantity": 5},
        ["StockReceived"],
        lambda row: row.on_hand == 5,
        refused=(lambda: {"id": product()}, lambda ids: {"quantity": 0}, "must be at least 1"),
    ),
    Case(
        "product",
        "adjust-stock",
        lambda: {"id": product(stock=5)},
        lambda ids: {"quantity": -2, "reason": "Broken"},
        ["StockAdjusted"],
        lambda row: row.on_hand == 3,
        refused=(lambda: {"id": product()}, lambda ids: {"quantity": -1, "reason": "Recount"}, "would drop to -1"),
    ),
    Case(
        "product",
        "discontinue",
        lambda: {"id": product()},
        lambda ids: {},
        ["ProductDiscontinued"],
        lambda row: row.discontinued,
    ),
    Case(
        "order",
        "create",
        lambda: {"customer": customer()},
        lambda ids: {"customer": ids["customer"], "currency": "EUR"},
        ["OrderCreated"],
        lambda row: row.status == "draft",
        refused=(
            lambda: {"customer": customer()},
            lambda ids: {"customer": ids["customer"], "currency": "EU1"},
            "three-letter currency code",
        ),
    ),
    Case(
        "order",
        "add-line",
        lambda: {"id": order(), "product": product(stock=5)},
        lambda ids: {"product": ids["product"], "quantity": 2},
        ["OrderLineAdded"],
        lambda row: row.item_count == 2,
        refused=(with_line, lambda ids: {"product": ids["product"], "quantity": 1}, "already has a line"),
    ),
    Case(
        "order",
        "change-quantity",
        with_line,
        lambda ids: {"product": ids["product"], "quantity": 3},
        ["OrderLineQuantityChanged"],
        lambda row: row.item_count == 3,
        refused=(placed_with_line, lambda ids: {"product": ids["product"], "quantity": 3}, "only a draft order"),
    ),
    Case(
        "order",
        "remove-line",
        with_line,
        lambda ids: {"product": ids["product"]},
        ["OrderLineRemoved"],
        lambda row: row.item_count == 0,
        refused=(placed_with_line, lambda ids: {"product": ids["product"]}, "only a draft order"),
    ),
    Case(
        "order",
        "set-shipping-address",
        lambda: {"id": order()},
        lambda ids: ADDRESS,
        ["OrderShippingAddressSet"],
        lambda row: row.shipping_address["city"] == "Utrecht",
        refused=(lambda: {"id": order_at("shipped")}, lambda ids: ADDRESS, "is already shipped"),
    ),
    Case(
        "order",
        "place",
        lambda: {"id": order_at("draft")},
        lambda ids: {},
        ["OrderPlaced"],
        lambda row: row.status == "placed",
        refused=(lambda: {"id": order()}, lambda ids: {}, "has no lines"),
    ),
    Case(
        "order",
        "pay",
        lambda: {"id": order_at("confirmed")},
        lambda ids: {"amount": "20.00", "method": "card"},
        ["PaymentRecorded", "OrderPaid"],
        lambda row: row.status == "paid" and row.amount_paid == Decimal("20.00"),
        refused=(
            lambda: {"id": order_at("draft")},
            lambda ids: {"amount": "20.00", "method": "card"},
            "only for confirmed orders",
        ),
    ),
    Case(
        "order",
        "ship",
        lambda: {"id": order_at("paid")},
        lambda ids: {"carrier": "PostNL", "tracking_number": "3S1"},
        ["OrderShipped"],
        lambda row: row.status == "shipped" and row.tracking_number == "3S1",
        refused=(
            lambda: {"id": order_at("confirmed")},
            lambda ids: {"carrier": "PostNL", "tracking_number": "3S1"},
            "not paid",
        ),
    ),
    Case(
        "order",
        "deliver",
        lambda: {"id": order_at("shipped")},
        lambda ids: {},
        ["OrderDelivered"],
        lambda row: row.status == "delivered",
        refused=(lambda: {"id": order_at("paid")}, lambda ids: {}, "not shipped"),
    ),
    Case(
        "order",
        "cancel",
        lambda: {"id": order_at("draft")},
        lambda ids: {"reason": "Changed their mind"},
        ["OrderCancelled"],
        lambda row: row.status == "cancelled" and row.status_reason == "Changed their mind",
        refused=(lambda: {"id": order_at("shipped")}, lambda ids: {"reason": "Too late"}, "is already shipped"),
    ),
    Case(
        "order",
        "refund",
        lambda: {"id": order_at("paid")},
        lambda ids: {"amount": "5.00", "reason": "Dented"},
        ["RefundIssued"],
        lambda row: row.amount_refunded == Decimal("5.00"),
        refused=(
            lambda: {"id": order_at("draft")},
            lambda ids: {"amount": "5.00", "reason": "Dented"},
            "nothing left to refund",
        ),
    ),
]
ON_ENTITIES = [case for case in CASES if case.slug not in ("register", "create")]


def open_form(client, case: Case, ids: dict[str, Any]) -> dict[str, Any]:
    """GET the command's form as the staff member sees it: its hidden fields."""
    response = client.get(command_url(case.kind, case.slug, ids.get("id")), {"customer": ids.get("customer", "")})
    assert response.status_code == 200
    form = response.context["form"]
    return {name: form.initial[name] for name in ("version", "idempotency_key") if name in form.fields}


def event_count() -> int:
    return Event.objects.count()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_command_appends_its_events_and_the_entity_page_shows_them(operator_client, case):
    ids = case.setup()
    settle()
    hidden = open_form(operator_client, case, ids)
    before = event_count()

    response = operator_client.post(command_url(case.kind, case.slug, ids.get("id")), {**hidden, **case.data(ids)})

    assert response.status_code == 302, response.context and response.context["form"].errors
    location = response["Location"]
    target = ids.get("id") or UUID(location.split("/")[-3])
    assert location.startswith(entity_url(case.kind, target) + "?after=")
    appended = store.read_stream(target)[-len(case.appends) :]
    assert [e.event_type for e in appended] == case.appends
    assert event_count() == before + len(case.appends)
    assert {e.metadata["source"] for e in appended} == {"admin"}
    settle()
    page = operator_client.get(location)
    assert page.status_code == 200
    assert not page.context["updating"]
    assert case.then(page.context["object"])
    assert any("done" in m for m in shown_messages(page))


@pytest.mark.parametrize("case", [case for case in CASES if case.refused], ids=str)
def test_a_domain_refusal_shows_its_message_and_appends_nothing(operator_client, case):
    setup, data, words = case.refused
    ids = setup()
    settle()
    hidden = open_form(operator_client, case, ids)
    before = event_count()

    response = operator_client.post(command_url(case.kind, case.slug, ids.get("id")), {**hidden, **data(ids)})

    assert response.status_code == 200
    assert any(words in m for m in shown_messages(response)), shown_messages(response)
    assert event_count() == before
    form = response.context["form"]
    assert form.data["idempotency_key"] != hidden["idempotency_key"]  # a fresh key for the next try


def test_a_refusal_names_the_field_at_fault(operator_client):
    cid = customer()
    settle()
    hidden = open_form(operator_client, CASES[2], {"id": cid})
    response = operator_client.post(
        command_url("customer", "change-address", cid), {**hidden, **ADDRESS, "country": "Holland"}
    )
    assert "two-letter country code" in str(response.context["form"].errors["country"])


def test_a_spent_idempotency_key_for_another_request_is_refused(operator_client):
    """Discontinue has no refusal of its own (again changes nothing); a key reused for
    another request is the refusal its form can meet."""
    pid = product()
    settle()
    hidden = open_form(operator_client, CASES[7], {"id": pid})
    url = command_url("product", "discontinue", pid)
    assert operator_client.post(url, hidden).status_code == 302
    before = event_count()
    response = operator_client.post(url, {**hidden, "version": hidden["version"] + 1})
    assert response.status_code == 200
    assert any("already used for a different request" in m for m in shown_messages(response))
    assert event_count() == before


@pytest.mark.parametrize("case", ON_ENTITIES, ids=str)
def test_a_stale_version_is_refused_and_nothing_is_overwritten(operator_client, case):
    ids = case.setup()
    settle()
    hidden = open_form(operator_client, case, ids)
    before = event_count()
    current = hidden["version"]

    stale = {**hidden, "version": current - 1}
    response = operator_client.post(command_url(case.kind, case.slug, ids["id"]), {**stale, **case.data(ids)})

    assert response.status_code == 200
    expected = f"Someone else changed this {case.kind} meanwhile (now version {current}); review and try again"
    assert any(expected in m for m in shown_messages(response)), shown_messages(response)
    assert event_count() == before
    assert response.context["form"].data["version"] == str(current)  # the version now shown


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("who", ["auditor_client", "outsider_client"])
def test_only_those_who_may_issue_the_command_reach_its_view(request, case, who):
    ids = case.setup()
    settle()
    client = request.getfixturevalue(who)
    url = command_url(case.kind, case.slug, ids.get("id"))
    before = event_count()
    assert client.get(url).status_code == 403
    assert client.post(url, {"idempotency_key": "k1", "version": 1, **case.data(ids)}).status_code == 403
    assert event_count() == before


@pytest.mark.parametrize("case", [CASES[5], CASES[3], CASES[8]], ids=str)
def test_a_double_submit_appends_once(operator_client, case):
    ids = case.setup()
    settle()
    data = {**open_form(operator_client, case, ids), **case.data(ids)}
    url = command_url(case.kind, case.slug, ids.get("id"))
    before = event_count()

    first, second = operator_client.post(url, data), operator_client.post(url, data)

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert event_count() == before + len(case.appends)


def test_invalid_input_is_shown_beside_its_field_and_nothing_is_sent(operator_client):
    pid = product()
    settle()
    hidden = open_form(operator_client, CASES[5], {"id": pid})
    before = event_count()
    response = operator_client.post(command_url("product", "receive-stock", pid), {**hidden, "quantity": "many"})
    assert response.status_code == 200
    assert "quantity" in response.context["form"].errors
    assert event_count() == before


def test_the_entity_page_says_when_it_is_still_updating(operator_client, settings):
    settings.ADMIN_FRESHNESS_WAIT_SECONDS = 0
    pid = product()
    settle()
    hidden = open_form(operator_client, CASES[5], {"id": pid})
    response = operator_client.post(command_url("product", "receive-stock", pid), {**hidden, "quantity": 4})

    page = operator_client.get(response["Location"])  # the projection has not run
    assert page.status_code == 200
    assert page.context["updating"]
    assert "Still updating" in page.content.decode()
    assert page.context["object"].on_hand == 0

    created = operator_client.post(
        command_url("customer", "register"), {"idempotency_key": "new-1", "name": "Ann", "email": "ann@example.com"}
    )
    page = operator_client.get(created["Location"])  # not in the read model at all yet
    assert page.status_code == 200
    assert "Still updating" in page.content.decode()

    settle()
    assert "Still updating" not in operator_client.get(response["Location"]).content.decode()


def test_the_entity_page_offers_the_commands_the_status_allows(staff):
    operator_client, auditor_client = staff["operator"], staff["auditor"]
    oid = order_at("paid")
    settle()
    labels = [label for label, _ in operator_client.get(entity_url("order", oid)).context["commands"]]
    assert labels == ["Set shipping address", "Ship", "Cancel", "Refund"]

    page = auditor_client.get(entity_url("order", oid))
    assert page.status_code == 200
    assert page.context["commands"] == []
    body = page.content.decode()
    assert page.context["history_url"] == reverse("admin:orders_order_history", args=[oid])  # the admin's own history
    for url in (page.context["history_url"], page.context["state_url"]):
        assert url in body
        assert auditor_client.get(url).status_code == 200


def test_the_order_page_shows_lines_and_money_with_its_currency(auditor_client):
    pid = product(sku="MUG-1", price="12.50", stock=5)
    oid = order(lines=[(pid, 2)])
    settle()
    body = auditor_client.get(entity_url("order", oid)).content.decode()
    assert "MUG-1" in body
    assert "25.00 EUR" in body


@pytest.mark.parametrize("kind", ["order", "product", "customer"])
def test_lists_and_entity_pages_are_read_only(staff, kind):
    operator_client, auditor_client, outsider_client = staff["operator"], staff["auditor"], staff["outsider"]
    ids = {"order": order, "product": product, "customer": customer}[kind]()
    settle()
    changelist = reverse(f"admin:orders_{kind}_changelist")
    assert auditor_client.get(changelist).status_code == 200
    assert auditor_client.get(entity_url(kind, ids)).status_code == 200
    assert outsider_client.get(changelist).status_code == 403
    assert outsider_client.get(entity_url(kind, ids)).status_code == 403
    before = event_count()
    assert operator_client.get(reverse(f"admin:orders_{kind}_add")).status_code == 403
    assert operator_client.post(entity_url(kind, ids), {"name": "x"}).status_code in (403, 405)
    assert operator_client.post(reverse(f"admin:orders_{kind}_delete", args=[ids])).status_code == 403
    assert event_count() == before


def listed(client, kind: str, **params: str) -> set[UUID]:
    response = client.get(reverse(f"admin:orders_{kind}_changelist"), params)
    assert response.status_code == 200, response
    return {row.pk for row in response.context["cl"].result_list}


def test_the_order_list_filters_and_searches(auditor_client):
    ada = customer("Ada Lovelace", "ada@example.com")
    grace = customer("Grace Hopper", "grace@example.com")
    draft = order(ada)
    paid = order_at("paid")  # 20.00 EUR, a customer of its own
    big = order(grace, lines=[(product(price="150.00", stock=5), 1)])
    settle()
    number = Order.objects.get(pk=big).number

    assert listed(auditor_client, "order", status="draft") == {draft, big}
    assert listed(auditor_client, "order", status="paid") == {paid}
    assert listed(auditor_client, "order", customer="ada@example.com") == {draft}
    assert listed(auditor_client, "order", customer=str(grace)) == {big}
    assert listed(auditor_client, "order", total_min="10", total_max="100") == {paid}
    assert listed(auditor_client, "order", total_min="100") == {big}
    assert listed(auditor_client, "order", created_from="2000-01-01", created_to="2000-12-31") == set()
    assert listed(auditor_client, "order", created_from="2000-01-01") == {draft, paid, big}
    assert listed(auditor_client, "order", q=number) == {big}
    assert listed(auditor_client, "order", q="grace@example") == {big}
    assert listed(auditor_client, "order", q="Hopper") == {big}
    assert listed(auditor_client, "order", q="Lovelace") == {draft, paid}  # order_at's customer is an Ada too


def test_the_product_list_filters_low_stock_and_searches(auditor_client, settings):
    settings.LOW_STOCK_BELOW = 5
    low = product(sku="CAP-1", stock=4)
    plenty = product(sku="MUG-1", stock=5)
    settle()
    assert listed(auditor_client, "product", stock="low") == {low}
    assert listed(auditor_client, "product", q="mug-1") == {plenty}
    assert listed(auditor_client, "product", q="A product") == {low, plenty}


def test_the_customer_list_searches_name_and_email(auditor_client):
    ada = customer("Ada Lovelace", "ada@example.com")
    grace = customer("Grace Hopper", "grace@navy.example")
    settle()
    assert listed(auditor_client, "customer", q="hopper") == {grace}
    assert listed(auditor_client, "customer", q="ada@example") == {ada}
