"""History pages and time travel: folds of the events, by version or by moment."""

import datetime as dt
from decimal import Decimal
from uuid import uuid4

import pytest

from eventstore import store
from orders import history
from orders.domain import Money
from orders.domain import commands as c
from orders.errors import NotFound
from orders.history import VersionOutOfRange
from tests.factories import customer, order, product, run
from tests.support import past

pytestmark = pytest.mark.django_db(transaction=True)


def test_state_by_version_and_now():
    pid = product(price="10.00")
    run(c.ReceiveStock(pid, 5))
    run(c.ChangeProductPrice(pid, Money(Decimal("12.50"), "EUR")))

    first = history.state_at("product", pid, version=1)
    now = history.state_at("product", pid)

    assert (first.version, first.state["price"], first.state["on_hand"]) == (1, "10.00", 0)
    assert (now.version, now.state["price"], now.state["on_hand"]) == (3, "12.50", 5)
    assert first.as_of == store.read_stream(pid)[0].recorded_at
    assert history.state_at("product", pid, version=0).state is None


def test_state_at_a_moment_uses_recorded_time():
    pid = product()
    run(c.ReceiveStock(pid, 5))
    moment = store.read_stream(pid)[-1].recorded_at
    past(moment)
    run(c.ReceiveStock(pid, 7))
    assert history.state_at("product", pid, at=moment).state["on_hand"] == 5
    assert history.state_at("product", pid, at=moment - dt.timedelta(days=1)).version == 0


def test_unknown_entities_versions_and_kinds_are_refused():
    pid = product()
    with pytest.raises(NotFound):
        history.state_at("product", uuid4())
    with pytest.raises(NotFound):
        history.state_at("order", pid)  # a product is not an order
    with pytest.raises(VersionOutOfRange):
        history.state_at("product", pid, version=2)


def test_each_history_entry_says_what_changed():
    pid = product(price="2.00", stock=10)
    oid = order(customer(), [(pid, 3)])
    run(c.ChangeOrderLineQuantity(oid, pid, 4))
    run(c.PlaceOrder(oid))

    entries = history.history("order", oid)

    assert [e.event.event_type for e in entries] == [
        "OrderCreated",
        "OrderLineAdded",
        "OrderLineQuantityChanged",
        "OrderPlaced",
    ]
    sku = entries[1].event.data["sku"]
    assert {(ch.path, ch.before, ch.after) for ch in entries[2].changes} >= {
        (f"lines[{sku}].quantity", 3, 4),
        ("total", "6.00", "8.00"),
        ("item_count", 3, 4),
    }
    assert [(ch.path, ch.before, ch.after) for ch in entries[3].changes] == [("status", "draft", "placed")]


def test_history_pages_continue_where_the_last_one_stopped():
    pid = product()
    for _ in range(9):
        run(c.ReceiveStock(pid, 1))
    first = history.history("product", pid, limit=4)
    second = history.history("product", pid, after_version=first[-1].event.version, limit=4)
    assert [e.event.version for e in first + second] == list(range(1, 9))
    assert second[0].changes == [history.Change("available", 3, 4), history.Change("on_hand", 3, 4)]
