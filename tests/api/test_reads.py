"""History, state-at and the event feed: what they answer, how they page, who may read."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import pytest

from eventstore import cursor, store
from eventstore.models import Event
from orders.domain import commands as c
from tests.factories import customer, order_at, product, run
from tests.support import horizon_passed, past

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

EVENT_FIELDS = [
    "event_id",
    "position",
    "stream_type",
    "stream_id",
    "version",
    "event_type",
    "schema_version",
    "occurred_at",
    "recorded_at",
    "data",
    "metadata",
]


def follow(client, url: str) -> list[dict]:
    """Every page from ``url`` on, following ``next`` to the end."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = None if pages[-1].get("caught_up") else pages[-1]["next"]
    return pages


def test_history_pages_through_an_entitys_events_in_version_order(auditor_api):
    pid = product(stock=5)
    for quantity in (1, 2, 3):
        run(c.ReceiveStock(pid, quantity))

    pages = follow(auditor_api, f"{API}products/{pid}/history/?limit=2")

    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    events = [event for page in pages for event in page["results"]]
    stored = store.read_stream(pid)
    assert [(e["version"], e["event_type"], e["position"]) for e in events] == [
        (s.version, s.event_type, s.position) for s in stored
    ]
    first = events[0]
    assert list(first) == EVENT_FIELDS
    assert first["data"] == stored[0].data and first["metadata"] == stored[0].metadata
    assert (first["event_id"], first["stream_id"], first["stream_type"]) == (
        str(stored[0].event_id),
        str(pid),
        "product",
    )
    assert first["recorded_at"].endswith("Z")
    assert pages[-1]["next"] is None
    assert auditor_api.get(f"{API}products/{pid}/history/?limit=5").json()["next"] is None
    assert parse_qs(urlparse(pages[0]["next"]).query) == {"limit": ["2"], "after_version": ["2"]}


def test_history_of_an_unknown_entity_or_another_kind_is_404(auditor_api):
    assert auditor_api.get(f"{API}customers/{uuid4()}/history/").status_code == 404
    assert auditor_api.get(f"{API}customers/{product()}/history/").status_code == 404


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=1001", "after_version=-1", "limit=ten", "after_version=99999999999"]
)
def test_history_parameters_out_of_bounds_are_400(auditor_api, query):
    response = auditor_api.get(f"{API}products/{product()}/history/?{query}")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [query.partition("=")[0]]


def test_state_by_version_by_moment_and_now(auditor_api):
    pid = product(price="10.00")
    run(c.ReceiveStock(pid, 5))
    recorded = store.read_stream(pid)[-1].recorded_at
    moment = recorded.isoformat()
    past(recorded)
    run(c.ReceiveStock(pid, 7))
    path = f"{API}products/{pid}/state/"

    first = auditor_api.get(path, {"version": 1}).json()
    then = auditor_api.get(path, {"at": moment}).json()
    now = auditor_api.get(path).json()
    before = auditor_api.get(path, {"version": 0}).json()

    assert list(first) == ["id", "version", "as_of", "state"] and first["id"] == str(pid)
    assert (first["version"], first["state"]["on_hand"], first["state"]["price"]) == (1, 0, "10.00")
    assert (then["version"], then["state"]["on_hand"]) == (2, 5)
    assert (now["version"], now["state"]["on_hand"], now["state"]["available"]) == (3, 12, 12)
    assert before == {"id": str(pid), "version": 0, "as_of": None, "state": None}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"version": 9}, "version_out_of_range"),
        ({"version": 1, "at": "2026-01-01T00:00:00Z"}, "invalid"),
        ({"at": "yesterday"}, "invalid"),
        ({"at": "0001-01-01T00:00:00+14:00"}, "invalid"),
        ({"version": "1\x00"}, "invalid"),
    ],
)
def test_state_parameters_that_make_no_sense_are_400(auditor_api, query, code):
    response = auditor_api.get(f"{API}customers/{customer()}/state/", query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_state_of_an_unknown_entity_is_404(auditor_api):
    assert auditor_api.get(f"{API}orders/{uuid4()}/state/").status_code == 404


def test_the_feed_gives_every_event_once_in_feed_order(auditor_api):
    order_at("paid")
    horizon_passed()  # another session's open transaction may hold the feed back a moment
    pages = follow(auditor_api, f"{API}events/?limit=3")

    events = [event for page in pages for event in page["results"]]
    assert [e["event_id"] for e in events] == [str(e.event_id) for e, _ in store.iter_feed()]
    assert len(events) == Event.objects.count() and list(events[0]) == EVENT_FIELDS
    assert all(len(page["results"]) == 3 for page in pages[:-1]) and pages[-1]["caught_up"]
    assert all(not page["caught_up"] for page in pages[:-1])


def test_the_feed_starts_at_the_first_event_and_its_next_is_never_null(auditor_api):
    empty = auditor_api.get(f"{API}events/").json()
    assert empty["results"] == [] and empty["caught_up"] and empty["next"]
    pid = product()
    horizon_passed()
    later = auditor_api.get(empty["next"]).json()
    assert [e["stream_id"] for e in later["results"]] == [str(pid)]


def test_the_feed_filters_by_stream_and_event_type(auditor_api):
    order_at("placed")
    horizon_passed()
    pages = follow(auditor_api, f"{API}events/?stream_type=product&limit=2")
    only_products = [event for page in pages for event in page["results"]]
    assert {e["stream_type"] for e in only_products} == {"product"} and len(only_products) == 2
    both = auditor_api.get(f"{API}events/", {"event_type": ["OrderCreated", "OrderPlaced"]}).json()["results"]
    assert [e["event_type"] for e in both] == ["OrderCreated", "OrderPlaced"]


@pytest.mark.parametrize("after", ["garbage!", "bm90LWEtY3Vyc29y", "x" * 201])
def test_a_malformed_cursor_is_400(auditor_api, after):
    error = auditor_api.get(f"{API}events/", {"after": after}).json()["error"]
    assert error["code"] in {"invalid_cursor", "invalid"} and list(error["fields"]) == ["after"]


def test_a_cursor_from_before_a_restore_is_400_cursor_expired(auditor_api):
    stale = cursor.encode("0" * 32, cursor.START)
    response = auditor_api.get(f"{API}events/", {"after": stale})
    assert response.status_code == 400 and response.json()["error"]["code"] == "cursor_expired"


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "stream_type=a%00b"])
def test_feed_parameters_out_of_bounds_are_400(auditor_api, query):
    assert auditor_api.get(f"{API}events/?{query}").status_code == 400


@pytest.mark.parametrize(
    "path", ["events/", "products/{id}/history/", "products/{id}/state/"], ids=["feed", "history", "state"]
)
def test_reading_needs_the_right_to_read_checked_before_existence(api, auditor_api, outsider_api, client, path):
    url = API + path.format(id=uuid4())
    assert outsider_api.get(url).status_code == 403
    assert outsider_api.get(url).json()["error"]["code"] == "not_permitted"
    assert client.get(url).status_code == 401
    assert api.get(url).status_code == auditor_api.get(url).status_code == (200 if path == "events/" else 404)
