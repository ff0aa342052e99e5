"""The fulfilment process on the subscription runner: stock never oversold, whatever the
concurrency; with no broker, orders are confirmed by the time placing them returns."""

import os
import threading

import pytest
from django.conf import settings as django_settings

from eventstore import store
from orders import repository
from orders.domain import Order, Product
from orders.domain import commands as c
from projections.models import Checkpoint, OrderSummary
from projections.runner import catch_up, status
from projections.worker_process import wait_until
from tests.factories import customer, order, product, run
from tests.projections.support import feed_passed_everything
from tests.support import run_threads

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fulfilment]


def fulfil() -> None:
    """Run the fulfilment process until it has nothing left to react to."""

    def done() -> bool:
        catch_up(["fulfilment"])
        (state,) = [s for s in status() if s.name == "fulfilment"]
        assert not state.failed, state.last_error
        return state.events_behind == 0

    wait_until(done, what="the fulfilment process to catch up")


def test_thirty_orders_for_ten_units_confirm_ten_and_reject_twenty():
    mug = product(stock=10)
    buyer = customer()
    drafts = [order(buyer, [(mug, 1)]) for _ in range(30)]
    start = threading.Barrier(30)

    def place(i):
        start.wait(30)
        run(c.PlaceOrder(drafts[i]))

    run_threads(place, 30)  # thirty connections at once
    fulfil()

    statuses = [repository.load(Order, oid).status.value for oid in drafts]
    assert (statuses.count("confirmed"), statuses.count("rejected")) == (10, 20)
    assert repository.load(Product, mug).available == 0
    available = 0
    for event in store.read_stream(mug):  # never negative at any point of the log
        if event.event_type == "StockReceived":
            available += event.data["quantity"]
        elif event.event_type == "StockReserved":
            available -= event.data["quantity"]
        elif event.event_type == "StockReservationReleased":
            available += event.data["quantity"]
        assert available >= 0, event


def test_it_reacts_only_to_what_happens_after_it_was_deployed():
    first = order(lines=[(product(stock=1), 1)])
    run(c.PlaceOrder(first))
    feed_passed_everything()  # the head is past every committed event (see store: the horizon)
    Checkpoint.objects.filter(name="fulfilment").update(cursor=store.head_cursor())  # deployed now
    second = order(lines=[(product(stock=1), 1)])
    run(c.PlaceOrder(second))
    fulfil()
    assert repository.load(Order, first).status.value == "placed"
    assert repository.load(Order, second).status.value == "confirmed"


@pytest.mark.skipif(
    "DATABASE_URL" in os.environ or not django_settings.CELERY_TASK_ALWAYS_EAGER,
    reason="about the embedded default only: SQLite and no broker (tasks run in-process after commit)",
)
def test_with_no_broker_an_order_is_confirmed_when_placing_it_returns(settings):
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    oid = order(lines=[(product(stock=2), 2)])
    run(c.PlaceOrder(oid))
    assert repository.load(Order, oid).status.value == "confirmed"
    assert OrderSummary.objects.get(id=oid).status == "confirmed"
