"""Every command endpoint: happy path, invalid input, unknown id, version conflict,
idempotent retry, Auditor refused. Each asserts the events appended and the response."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest

from eventstore import store
from eventstore.models import Event
from tests.factories import customer, order, order_at, product

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESS = {"line1": "Oudegracht 10", "line2": "", "postal_code": "3511 AB", "city": "Utrecht", "country": "NL"}
Given = dict[str, UUID]


@dataclass(frozen=True)
class Endpoint:
    """A command endpoint: the state it applies to (``id`` is its target), a body it
    accepts, the events it appends, and a request refused as invalid (body, headers, the
    field the error names)."""

    path: str
    given: Callable[[], Given]
    body: Callable[[Given], dict[str, Any]]
    events: tuple[str, ...]
    invalid: tuple[dict[str, Any], dict[str, str], str]
    number: bool = False
    # The body is checked on entities that exist; an unknown one in it is a 404 too.
    references: dict[str, str] = field(default_factory=dict)

    @property
    def creates(self) -> bool:
        return "{id}" not in self.path

    def url(self, id: UUID | None = None) -> str:
        return API + self.path.format(id=id)


def _target(make: Callable[[], UUID]) -> Callable[[], Given]:
    return lambda: {"id": make()}


def _line() -> Given:
    pid = product(stock=10)
    return {"id": order(lines=[(pid, 2)]), "product": pid}


NO_BODY = ({}, {"If-Match": "seven"}, "If-Match")

ENDPOINTS = {
    "register-customer": Endpoint(
        "customers/",
        dict,
        lambda g: {"name": "Grace Hopper", "email": f"{uuid4().hex[:8]}@example.com", "shipping_address": ADDRESS},
        ("CustomerRegistered",),
        ({"name": "Grace", "email": "not-an-address"}, {}, "email"),
    ),
    "change-email": Endpoint(
        "customers/{id}/change-email/",
        _target(customer),
        lambda g: {"email": "grace@example.com"},
        ("CustomerEmailChanged",),
        ({"email": "grace@"}, {}, "email"),
    ),
    "change-address": Endpoint(
        "customers/{id}/change-address/",
        _target(customer),
        lambda g: {"shipping_address": ADDRESS},
        ("CustomerAddressChanged",),
        ({"shipping_address": {**ADDRESS, "country": "N1"}}, {}, "shipping_address.country"),
    ),
    "create-product": Endpoint(
        "products/",
        dict,
        lambda g: {"sku": f"SKU-{uuid4().hex[:8]}", "name": "Teapot", "price": "24.95", "currency": "EUR"},
        ("ProductCreated",),
        ({"sku": "no spaces", "name": "Teapot", "price": "24.95", "currency": "EUR"}, {}, "sku"),
    ),
    "change-price": Endpoint(
        "products/{id}/change-price/",
        _target(product),
        lambda g: {"price": "12.50"},
        ("ProductPriceChanged",),
        ({"price": "12.505"}, {}, "price"),
    ),
    "receive-stock": Endpoint(
        "products/{id}/receive-stock/",
        _target(product),
        lambda g: {"quantity": 5},
        ("StockReceived",),
        ({"quantity": 0}, {}, "quantity"),
    ),
    "adjust-stock": Endpoint(
        "products/{id}/adjust-stock/",
        _target(lambda: product(stock=10)),
        lambda g: {"quantity": -2, "reason": "Two broke in the warehouse."},
        ("StockAdjusted",),
        ({"quantity": 0, "reason": "Recount"}, {}, "quantity"),
    ),
    "discontinue": Endpoint("products/{id}/discontinue/", _target(product), dict, ("ProductDiscontinued",), NO_BODY),
    "create-order": Endpoint(
        "orders/",
        lambda: {"customer": customer()},
        lambda g: {"customer_id": str(g["customer"]), "currency": "EUR"},
        ("OrderCreated",),
        ({"customer_id": "someone", "currency": "EUR"}, {}, "customer_id"),
        number=True,
        references={"customer_id": "customer"},
    ),
    "add-line": Endpoint(
        "orders/{id}/lines/",
        lambda: {"id": order(), "product": product(stock=10)},
        lambda g: {"product_id": str(g["product"]), "quantity": 2},
        ("OrderLineAdded",),
        ({"product_id": str(uuid4()), "quantity": 10**12}, {}, "quantity"),
        number=True,
        references={"product_id": "product"},
    ),
    "change-quantity": Endpoint(
        "orders/{id}/change-quantity/",
        _line,
        lambda g: {"product_id": str(g["product"]), "quantity": 3},
        ("OrderLineQuantityChanged",),
        ({"product_id": str(uuid4()), "quantity": "three"}, {}, "quantity"),
        number=True,
    ),
    "remove-line": Endpoint(
        "orders/{id}/remove-line/",
        _line,
        lambda g: {"product_id": str(g["product"])},
        ("OrderLineRemoved",),
        ({}, {}, "product_id"),
        number=True,
    ),
    "set-shipping-address": Endpoint(
        "orders/{id}/set-shipping-address/",
        _target(order),
        lambda g: {"shipping_address": ADDRESS},
        ("OrderShippingAddressSet",),
        ({"shipping_address": {"line1": "Oudegracht 10"}}, {}, "shipping_address.city"),
        number=True,
    ),
    "place": Endpoint(
        "orders/{id}/place/", _target(lambda: order_at("draft")), dict, ("OrderPlaced",), NO_BODY, number=True
    ),
    "pay": Endpoint(
        "orders/{id}/pay/",
        _target(lambda: order_at("confirmed")),
        lambda g: {"amount": "20.00", "method": "card", "reference": "PSP-1"},
        ("PaymentRecorded", "OrderPaid"),
        ({"amount": "-20.00", "method": "card"}, {}, "amount"),
        number=True,
    ),
    "ship": Endpoint(
        "orders/{id}/ship/",
        _target(lambda: order_at("paid")),
        lambda g: {"carrier": "PostNL", "tracking_number": "3SXYZ"},
        ("OrderShipped",),
        ({"carrier": "Post\nNL", "tracking_number": "3SXYZ"}, {}, "carrier"),
        number=True,
    ),
    "deliver": Endpoint(
        "orders/{id}/deliver/", _target(lambda: order_at("shipped")), dict, ("OrderDelivered",), NO_BODY, number=True
    ),
    "cancel": Endpoint(
        "orders/{id}/cancel/",
        _target(order),
        lambda g: {"reason": "The customer changed their mind."},
        ("OrderCancelled",),
        ({"reason": "   "}, {}, "reason"),
        number=True,
    ),
    "refund": Endpoint(
        "orders/{id}/refund/",
        _target(lambda: order_at("paid")),
        lambda g: {"amount": "5.00", "reason": "One arrived chipped."},
        ("RefundIssued",),
        ({"amount": "5.00"}, {}, "reason"),
        number=True,
    ),
}

ALL = pytest.mark.parametrize("endpoint", ENDPOINTS.values(), ids=ENDPOINTS.keys())
ON_AN_ENTITY = pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS.values() if not e.creates], ids=[k for k, e in ENDPOINTS.items() if not e.creates]
)


def post(client, endpoint: Endpoint, given: Given, body: dict[str, Any] | None = None, **headers: str):
    body = endpoint.body(given) if body is None else body
    return client.post(endpoint.url(given.get("id")), body, format="json", headers=headers)


def events_after(stream: UUID, version: int) -> list[str]:
    return [e.event_type for e in store.read_stream(stream, from_version=version + 1)]


@ALL
def test_a_command_appends_its_events_and_answers_what_it_did(api, endpoint):
    given = endpoint.given()
    before = store.stream_version(given["id"]) if "id" in given else 0

    response = post(api, endpoint, given)

    assert response.status_code == (201 if endpoint.creates else 200), response.json()
    stream = UUID(response.json()["id"])
    assert stream == given.get("id", stream)
    assert events_after(stream, before) == list(endpoint.events)
    last = store.read_stream(stream)[-1]
    expected = {"id": str(stream), "version": last.version, "position": last.position}
    if endpoint.number:
        expected["number"] = store.read_stream(stream, to_version=1)[0].data["number"]
    assert response.json() == expected
    assert response["ETag"] == f'"{last.version}"'
    assert last.metadata["source"] == "api" and last.metadata["actor"] == str(response.wsgi_request.user.pk)
    if endpoint.creates:
        assert response["Location"] == f"http://testserver{endpoint.url()}{stream}/"


@ALL
def test_input_the_request_alone_shows_to_be_wrong_is_refused_with_400(api, endpoint):
    given = endpoint.given()
    body, headers, field = endpoint.invalid
    events = Event.objects.count()

    response = post(api, endpoint, given, body, **headers)

    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["code"] in {"invalid", "invalid_header"} and field in error["fields"], error
    assert Event.objects.count() == events


@ON_AN_ENTITY
def test_an_unknown_id_is_404(api, endpoint):
    given = {**endpoint.given(), "id": uuid4()}
    response = post(api, endpoint, given)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "endpoint", [e for e in ENDPOINTS.values() if e.references], ids=[k for k, e in ENDPOINTS.items() if e.references]
)
def test_an_unknown_entity_in_the_body_is_404_naming_the_field(api, endpoint):
    given = endpoint.given()
    ((field_name, key),) = endpoint.references.items()
    events = Event.objects.count()
    response = post(api, endpoint, {**given, key: uuid4()})
    assert response.status_code == 404
    assert list(response.json()["error"]["fields"]) == [field_name]
    assert Event.objects.count() == events


@ON_AN_ENTITY
def test_a_version_that_moved_on_is_a_conflict_and_changes_nothing(api, endpoint):
    given = endpoint.given()
    current = store.stream_version(given["id"])

    response = post(api, endpoint, given, **{"If-Match": f'"{current - 1}"'})

    assert response.status_code == 409
    error = response.json()["error"]
    assert (error["code"], error["current_version"], error["fields"]) == ("version_conflict", current, {})
    assert store.stream_version(given["id"]) == current
    assert post(api, endpoint, given, **{"If-Match": f'"{current}"'}).status_code == 200


@ALL
def test_a_retry_with_the_same_key_gets_the_first_answer_and_changes_nothing(api, endpoint):
    given = endpoint.given()
    body = endpoint.body(given)

    first = post(api, endpoint, given, body, **{"Idempotency-Key": "retry-1"})
    events = Event.objects.count()
    again = post(api, endpoint, given, body, **{"Idempotency-Key": "retry-1"})

    assert first.status_code in {200, 201}
    assert (again.status_code, again.json(), again.get("Location"), again["ETag"]) == (
        first.status_code,
        first.json(),
        first.get("Location"),
        first["ETag"],
    )
    assert Event.objects.count() == events


@ALL
def test_an_auditor_is_refused_and_nothing_is_appended(auditor_api, endpoint):
    given = endpoint.given()
    events = Event.objects.count()

    response = post(auditor_api, endpoint, given)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_permitted"
    assert Event.objects.count() == events


def test_an_auditor_is_refused_before_the_id_is_looked_up(auditor_api):
    response = auditor_api.post(f"{API}orders/{uuid4()}/pay/", {"amount": "1.00", "method": "card"}, format="json")
    assert response.status_code == 403
