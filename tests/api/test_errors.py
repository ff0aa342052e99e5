"""One error shape for every 4xx under /api/, and never a 500 for any input."""

from __future__ import annotations

import json
from uuid import uuid4

import pytest
from rest_framework.test import APIClient

from eventstore import store
from eventstore.models import Event
from eventstore.records import utcnow
from orders import bus
from orders.api.http import MAX_BODY_BYTES
from orders.domain import MAX_LINES, MAX_QUANTITY, MAX_STOCK, StockReceived
from orders.errors import Busy, IdempotencyInProgress, IdempotencyKeyReused, NotFound
from orders.history_builder import new_event
from projections import selectors
from tests.factories import order, order_at, product
from tests.support import META

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"] and {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


def without_request_id(body: dict) -> dict:
    return {"error": {name: value for name, value in body["error"].items() if name != "request_id"}}


def raw_post(client: APIClient, path: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type)


def test_a_domain_refusal_is_422_with_the_rules_code_and_fields(api):
    pid = product()
    taken = api.post(f"{API}products/", {"sku": "sku-1", "name": "A", "price": "1.00", "currency": "EUR"})
    again = api.post(f"{API}products/", {"sku": "SKU-1", "name": "B", "price": "1.00", "currency": "EUR"})
    assert taken.status_code == 201 and pid
    error = error_of(again, 422)
    assert (error["code"], list(error["fields"])) == ("sku_taken", ["sku"])
    assert (
        error_of(api.post(f"{API}orders/{order_at('confirmed')}/ship/", {"carrier": "X", "tracking_number": "Y"}), 422)[
            "code"
        ]
        == "order_not_paid"
    )


def test_a_replayed_refusal_is_the_same_answer(api):
    path = f"{API}orders/{order_at('draft')}/deliver/"
    first = api.post(path, headers={"Idempotency-Key": "k1"})
    again = api.post(path, headers={"Idempotency-Key": "k1"})
    assert error_of(first, 422)["code"] == "order_not_shipped"
    assert again.status_code == first.status_code
    assert without_request_id(again.json()) == without_request_id(first.json())  # each request has its own id


def test_the_same_key_with_another_body_is_refused(api):
    path = f"{API}products/{product()}/receive-stock/"
    assert api.post(path, {"quantity": 1}, headers={"Idempotency-Key": "delivery-9"}).status_code == 200
    events = Event.objects.count()
    error = error_of(api.post(path, {"quantity": 2}, headers={"Idempotency-Key": "delivery-9"}), 422)
    assert error["code"] == "idempotency_key_reused" and Event.objects.count() == events


@pytest.mark.parametrize(
    ("refusal", "status"),
    [(IdempotencyInProgress(), 409), (Busy(), 409), (IdempotencyKeyReused(), 422), (NotFound("order", "x"), 404)],
    ids=lambda value: getattr(value, "code", value),
)
def test_refusals_of_the_command_bus_keep_their_status_and_code(api, monkeypatch, refusal, status):
    def refuse(command, context):
        raise refusal

    monkeypatch.setattr(bus, "dispatch", refuse)
    error = error_of(api.post(f"{API}products/{uuid4()}/discontinue/"), status)
    assert (error["code"], error["message"]) == (refusal.code, refusal.message)


def test_an_id_of_another_kind_of_entity_is_unknown(api):
    pid = product()
    assert error_of(api.post(f"{API}orders/{pid}/place/"), 404)["code"] == "not_found"
    assert error_of(api.post(f"{API}orders/{pid}/pay/", {"amount": "1.00", "method": "card"}), 404)
    assert error_of(api.get(f"{API}orders/{pid}/history/"), 404)


def test_unknown_paths_are_404_whatever_the_method(api):
    for method in ("get", "post", "put", "delete"):
        assert error_of(getattr(api, method)(f"{API}warehouses/"), 404)["code"] == "not_found"
    assert error_of(api.post(f"{API}customers"), 404)  # without the slash
    assert error_of(api.get(f"{API}orders/not-a-uuid/history/"), 404)
    assert error_of(APIClient().get("/api/nothing/here/"), 404)


def test_an_unknown_host_is_400_in_the_apis_shape(api):
    error = error_of(api.get(f"{API}orders/", HTTP_HOST="chronicle.evil.example"), 400)
    assert error["code"] == "unknown_host"
    assert APIClient().get("/admin/", HTTP_HOST="chronicle.evil.example")["Content-Type"].startswith("text/html")


def test_a_bug_is_a_500_in_the_apis_shape_with_the_request_id_and_no_traceback(api, monkeypatch, caplog):
    def broken(**query):
        raise RuntimeError("the secret inner workings")

    monkeypatch.setattr(selectors, "order_list", broken)
    api.raise_request_exception = False
    response = api.get(f"{API}orders/", headers={"X-Request-ID": "bug-report-1"})
    error = error_of(response, 500)
    assert (error["code"], error["request_id"]) == ("server_error", "bug-report-1")
    assert b"secret" not in response.content and b"Traceback" not in response.content
    assert "the secret inner workings" in caplog.text  # logged, with its traceback


def test_every_error_names_the_request(api):
    response = api.get(f"{API}warehouses/", headers={"X-Request-ID": "req-42"})
    assert error_of(response, 404)["request_id"] == "req-42" == response["X-Request-ID"]


def test_too_many_query_parameters_are_400(auditor_api):
    query = "&".join(f"event_type=E{i}" for i in range(1500))
    assert error_of(auditor_api.get(f"{API}events/?{query}"), 400)["code"] == "bad_request"


def test_a_wrong_method_is_405(api):
    for path in ("products/{id}/receive-stock/", "products/{id}/history/", "events/"):
        error = error_of(api.delete(API + path.format(id=uuid4())), 405)
        assert error["code"] == "method_not_allowed"


def test_a_body_that_is_not_json_is_415_or_400(api):
    path = f"{API}products/{uuid4()}/receive-stock/"
    assert error_of(raw_post(api, path, "quantity=1", "application/x-www-form-urlencoded"), 415)["code"] == (
        "unsupported_media_type"
    )
    assert error_of(raw_post(api, path, "{quantity: 1"), 400)["code"] == "parse_error"
    assert error_of(raw_post(api, path, b'{"quantity": "\xff"}'), 400)["code"] == "parse_error"
    assert error_of(raw_post(api, path, '{"quantity": NaN}'), 400)["code"] == "parse_error"


def test_an_overlong_or_overdeep_body_is_refused(api):
    path = f"{API}products/{uuid4()}/receive-stock/"
    assert error_of(raw_post(api, path, "[" * 30_000 + "]" * 30_000), 400)["code"] == "parse_error"
    big = json.dumps({"quantity": 1, "padding": "x" * MAX_BODY_BYTES})
    assert error_of(raw_post(api, path, big), 413)["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"quantity": 1e400}', "quantity"),
        ('{"quantity": 123456789012345678901234567890}', "quantity"),
        ('{"quantity": true}', "quantity"),
        ('{"quantity": 2.5}', "quantity"),
        ('{"quantity": null}', "quantity"),
        ("[1, 2]", ""),
        ("null", ""),
        ('"quantity"', ""),
    ],
)
def test_values_of_the_wrong_kind_or_size_are_400(api, body, field):
    error = error_of(raw_post(api, f"{API}products/{product()}/receive-stock/", body), 400)
    assert error["code"] == "invalid"
    assert list(error["fields"]) == ([field] if field else [])


@pytest.mark.parametrize("text", ["Tea\u0000pot", "Tea\ud800pot", "Tea\x07pot"], ids=["nul", "lone-surrogate", "bell"])
def test_invalid_unicode_and_control_characters_are_400(api, text):
    body = json.dumps({"sku": "SKU-1", "name": text, "price": "1.00", "currency": "EUR"})
    error = error_of(raw_post(api, f"{API}products/", body), 400)
    assert list(error["fields"]) == ["name"]
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("If-Match", "7"),
        ("If-Match", 'W/"7"'),
        ("If-Match", '"1", "2"'),
        ("Idempotency-Key", "with space"),
        ("Idempotency-Key", "k" * 256),
    ],
)
def test_malformed_headers_are_400_naming_the_header(api, header, value):
    error = error_of(api.post(f"{API}products/{product()}/discontinue/", headers={header: value}), 400)
    assert (error["code"], list(error["fields"])) == ("invalid_header", [header])


def test_if_match_star_pins_nothing(api):
    assert api.post(f"{API}products/{product()}/discontinue/", headers={"If-Match": "*"}).status_code == 200


def test_anonymous_requests_are_401_and_unknown_tokens_too(api):
    anonymous = APIClient().post(f"{API}products/{uuid4()}/discontinue/")
    assert error_of(anonymous, 401)["code"] == "not_authenticated"
    assert anonymous["WWW-Authenticate"] == "Token"
    forged = APIClient(headers={"Authorization": "Token 0123456789abcdef"}).get(f"{API}events/")
    assert error_of(forged, 401)["code"] == "authentication_failed"


def test_a_session_works_for_reads_and_needs_the_csrf_token_for_commands(operator):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.get(f"{API}events/").status_code == 200
    assert error_of(client.post(f"{API}products/{product()}/discontinue/"), 403)["code"] == "not_permitted"


def test_a_request_id_becomes_the_correlation_id_and_a_strange_one_is_ignored(api):
    pid = product()
    api.post(f"{API}products/{pid}/receive-stock/", {"quantity": 1}, headers={"X-Request-ID": "req-42"})
    api.post(f"{API}products/{pid}/receive-stock/", {"quantity": 1}, headers={"X-Request-ID": "a b"})
    first, second = (e.metadata["correlation_id"] for e in Event.objects.filter(event_type="StockReceived"))
    assert first == "req-42" and second not in {"a b", "req-42"}


def test_limits_on_one_value_are_400_naming_it_and_limits_that_depend_on_state_are_422(api):
    dear = product(price="9999999999.99")
    oid = order(lines=[(dear, 100)])
    full = order(lines=[(product(), 1) for _ in range(MAX_LINES)])
    other = product()
    stocked = product()  # stocked to the maximum in one go, as no command can
    store.append(
        "product", stocked, [new_event(StockReceived(quantity=MAX_STOCK), utcnow())], expected_version=1, metadata=META
    )
    events = Event.objects.count()

    too_dear = api.post(
        f"{API}products/", {"sku": "GOLD", "name": "Gold", "price": "99999999999.99", "currency": "EUR"}
    )
    assert (error_of(too_dear, 400)["code"], list(error_of(too_dear, 400)["fields"])) == ("invalid", ["price"])
    more = api.post(f"{API}orders/{oid}/change-quantity/", {"product_id": str(dear), "quantity": 101})
    assert error_of(more, 422)["code"] == "order_total_too_large"
    one_more = api.post(f"{API}orders/{full}/lines/", {"product_id": str(other), "quantity": 1})
    assert error_of(one_more, 422)["code"] == "too_many_lines"
    receive = api.post(f"{API}products/{stocked}/receive-stock/", {"quantity": 1})
    assert (error_of(receive, 422)["code"], list(error_of(receive, 422)["fields"])) == ("stock_too_large", ["quantity"])
    too_many = api.post(f"{API}products/{stocked}/adjust-stock/", {"quantity": MAX_QUANTITY + 1, "reason": "Recount."})
    assert (error_of(too_many, 400)["code"], list(error_of(too_many, 400)["fields"])) == ("invalid", ["quantity"])
    assert Event.objects.count() == events
