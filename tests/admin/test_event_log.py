"""The event browser, its exports, and every entity's history and time-travel pages."""

import csv
import io
import json
from uuid import uuid4

import pytest
from django.urls import reverse

from eventstore import store
from orders import repository
from orders.context import CommandContext
from orders.domain import Product
from orders.domain import commands as c
from orders.repository import UnitOfWork
from tests.factories import customer, order, product, run
from tests.support import past

pytestmark = pytest.mark.django_db(transaction=True)
EVENTS = reverse("admin:eventstore_event_changelist")


def body(response) -> str:
    return response.content.decode() if not response.streaming else b"".join(response.streaming_content).decode()


def test_the_log_is_filtered_by_type_source_actor_correlation_cause_and_time(auditor_client):
    pid = product()
    request = CommandContext(actor="77", source="api", correlation_id="req-abc")
    from orders import bus

    result = bus.dispatch(c.ReceiveStock(pid, 5), request)
    stocked = store.read_stream(pid)[-1]

    def shown(**params):
        response = auditor_client.get(EVENTS, params)
        assert response.status_code == 200
        types = {e.event_type for e in response.context["cl"].result_list}
        return "StockReceived" in types, "ProductCreated" in types

    assert shown(event_type="StockReceived") == (True, False)
    assert shown(source="api") == (True, False)
    assert shown(actor="77") == (True, False)
    assert shown(correlation_id="req-abc") == (True, False)
    assert shown(cause=stocked.metadata["command_id"]) == (True, False)
    assert shown(cause=str(stocked.event_id)) == (True, False)
    assert shown(stream_type="product") == (True, True)
    assert shown(q=str(pid)) == (True, True)
    assert shown(q="not-a-uuid") == (False, False)
    assert shown(recorded_from="2000-01-01T00:00:00", recorded_to="2000-01-02T00:00:00") == (False, False)
    assert shown(recorded_to="2999-01-01T00:00") == (True, True)
    assert auditor_client.get(EVENTS, {"recorded_from": "yesterday"}).status_code in (200, 302)
    assert result.position == stocked.position


def test_nothing_in_the_log_can_be_added_changed_or_deleted(operator_client):
    pid = product()
    event = store.read_stream(pid)[0]
    change_url = reverse("admin:eventstore_event_change", args=[event.position])
    assert operator_client.get(reverse("admin:eventstore_event_add")).status_code == 403
    assert operator_client.post(change_url, {"event_type": "Forged"}).status_code == 403
    assert operator_client.post(reverse("admin:eventstore_event_delete", args=[event.position])).status_code == 403
    assert store.read_stream(pid)[0] == event


def test_exports_carry_the_filtered_selection_and_neutralise_formulas(auditor_client):
    from orders import bus

    pid = product()
    bus.dispatch(c.ReceiveStock(pid, 5), CommandContext(actor='=HYPERLINK("http://evil")', source="api"))
    customer()

    response = auditor_client.get(reverse("admin:chronicle_export_csv"), {"stream_type": "product"})
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert response["Content-Type"].startswith("text/csv")
    assert [r["event_type"] for r in rows] == ["ProductCreated", "StockReceived"]
    assert rows[1]["actor"] == '\'=HYPERLINK("http://evil")'
    assert json.loads(rows[1]["data"]) == {"quantity": 5}

    lines = body(
        auditor_client.get(reverse("admin:chronicle_export_jsonl"), {"event_type": "StockReceived"})
    ).splitlines()
    assert [json.loads(line)["event_type"] for line in lines] == ["StockReceived"]


def test_history_shows_each_event_with_its_metadata_changes_and_links(auditor_client):
    pid = product(price="10.00", stock=10)
    oid = order(customer(), [(pid, 2)])
    run(c.PlaceOrder(oid))
    page = body(auditor_client.get(reverse("admin:orders_order_history", args=[oid])))
    for text in ("OrderCreated", "OrderLineAdded", "OrderPlaced", "View state here", "correlation_id=tests", "status"):
        assert text in page
    assert "?version=3" in page


def test_history_pages_are_keyset_paginated_and_read_only_what_they_show(auditor_client, monkeypatch, settings):
    settings.SNAPSHOT_EVERY = 100
    pid = product()
    for _ in range(20):  # 2,000 events, in units of 100 (each snapshotted), through the unit of work
        uow = UnitOfWork(CommandContext.system(), uuid4(), None)
        aggregate = repository.load(Product, pid)
        for _ in range(100):
            aggregate.receive_stock(1)
        uow.save(aggregate)
    events_read = []
    for name in ("read_stream", "read_payloads"):
        real = getattr(store, name)
        monkeypatch.setattr(
            store, name, lambda *a, _real=real, **k: events_read.extend(_real(*a, **k)) or _real(*a, **k)
        )

    url = reverse("admin:orders_product_history", args=[pid])
    last_page = body(auditor_client.get(url, {"after_version": 1950, "limit": 50}))

    assert "Version 2001 now" in last_page
    assert 'id="v1951"' in last_page and 'id="v2000"' in last_page and 'id="v1950"' not in last_page
    assert "after_version=2000&amp;limit=50" in last_page  # the way on to version 2001
    assert len(events_read) < 2 * (50 + 100 + 2)  # one page and one snapshot's worth, not 2,000


def test_time_travel_by_version_and_by_moment(auditor_client):
    pid = product(price="10.00")
    run(c.ReceiveStock(pid, 5))
    moment = store.read_stream(pid)[-1].recorded_at
    past(moment)
    run(c.ReceiveStock(pid, 7))
    url = reverse("admin:orders_product_state", args=[pid])

    first = auditor_client.get(url, {"version": 1})
    assert "As of version 1" in body(first) and "&quot;on_hand&quot;: 0" in body(first)
    assert [(ch.label, ch.before, ch.after) for ch in first.context["changes_since"]] == [
        ("On hand", "0", "12"),
        ("Available", "0", "12"),
    ]

    then = auditor_client.get(url, {"at": moment.isoformat()})
    assert "As of version 2" in body(then) and then.context["then"].state["on_hand"] == 5

    assert "Before it existed" in body(auditor_client.get(url, {"version": 0}))
    assert auditor_client.get(url, {"version": 99}).status_code == 400
    assert auditor_client.get(reverse("admin:orders_order_state", args=[pid])).status_code == 404


def test_people_outside_the_groups_cannot_read_the_log(outsider_client):
    pid = product()
    assert outsider_client.get(EVENTS).status_code == 403
    assert outsider_client.get(reverse("admin:orders_product_history", args=[pid])).status_code == 403
    assert outsider_client.get(reverse("admin:chronicle_export_csv")).status_code == 403
