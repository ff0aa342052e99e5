"""The fulfilment process's reactions, called directly on the events that cause them."""

from decimal import Decimal

import pytest

from eventstore import store
from eventstore.models import Event
from orders import fulfilment, repository
from orders.domain import Money, Order, Product
from orders.domain import commands as c
from tests.factories import order, product, run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fulfilment]


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def last(stream, event_type):
    return [e for e in store.read_stream(stream) if e.event_type == event_type][-1]


def react(stream, event_type):
    """Run the reaction to the stream's latest event of this type (as the process would)."""
    event = last(stream, event_type)
    fulfilment.FulfilmentProcess().handle(event)
    return event


def status(order_id):
    return repository.load(Order, order_id).status.value


def stock(product_id):
    p = repository.load(Product, product_id)
    return p.on_hand, p.reserved


def placed(lines):
    oid = order(lines=lines)
    run(c.PlaceOrder(oid))
    react(oid, "OrderPlaced")
    return oid


def test_an_order_whose_stock_can_be_reserved_is_confirmed():
    a, b = product(stock=5), product(stock=5)
    oid = placed([(a, 2), (b, 5)])
    assert status(oid) == "confirmed"
    assert (stock(a), stock(b)) == ((5, 2), (5, 5))
    cause = last(oid, "OrderPlaced")
    reaction = last(a, "StockReserved")
    assert reaction.metadata["causation_id"] == str(cause.event_id)
    assert reaction.metadata["correlation_id"] == cause.metadata["correlation_id"]
    assert (reaction.metadata["actor"], reaction.metadata["source"]) == ("system", "worker")


def test_an_order_that_cannot_be_served_is_rejected_and_its_reservations_released():
    a, b = product(stock=5), product(stock=1)
    oid = placed([(a, 2), (b, 3)])
    assert status(oid) == "rejected"
    assert "Not enough stock" in last(oid, "OrderRejected").data["reason"]
    assert (stock(a), stock(b)) == ((5, 0), (1, 0))


def test_a_discontinued_product_rejects_the_order():
    a = product(stock=5)
    oid = order(lines=[(a, 1)])
    run(c.DiscontinueProduct(a))
    run(c.PlaceOrder(oid))
    react(oid, "OrderPlaced")
    assert status(oid) == "rejected"


def test_running_the_process_again_appends_nothing():
    a = product(stock=5)
    oid = placed([(a, 2)])
    count = Event.objects.count()
    react(oid, "OrderPlaced")
    assert Event.objects.count() == count


def test_a_cancel_that_arrives_while_reserving_releases_the_reservations():
    a = product(stock=5)
    oid = order(lines=[(a, 2)])
    run(c.PlaceOrder(oid))
    run(c.CancelOrder(oid, "changed my mind"))  # before the process saw OrderPlaced
    react(oid, "OrderPlaced")
    react(oid, "OrderCancelled")
    assert status(oid) == "cancelled" and stock(a) == (5, 0)


def test_cancelling_a_confirmed_order_releases_its_stock():
    a = product(stock=5)
    oid = placed([(a, 2)])
    run(c.CancelOrder(oid, "no longer needed"))
    react(oid, "OrderCancelled")
    assert stock(a) == (5, 0)


def test_cancelling_a_paid_order_refunds_the_rest_of_what_was_paid_once():
    a = product(price="10.00", stock=5)
    oid = placed([(a, 3)])
    run(c.RecordPayment(oid, eur("30.00"), "card"))
    run(c.RefundOrder(oid, eur("5.00"), "goodwill"))  # a manual refund first
    run(c.CancelOrder(oid, "customer request"))
    react(oid, "OrderCancelled")
    react(oid, "OrderCancelled")
    order_now = repository.load(Order, oid)
    assert order_now.amount_refunded == eur("30.00") and stock(a) == (5, 0)
    assert [e.data["amount"] for e in store.read_stream(oid) if e.event_type == "RefundIssued"] == ["5.00", "25.00"]


def test_a_partly_paid_cancelled_order_is_refunded_what_was_paid():
    a = product(price="10.00", stock=5)
    oid = placed([(a, 3)])
    run(c.RecordPayment(oid, eur("12.00"), "card"))
    run(c.CancelOrder(oid, "customer request"))
    react(oid, "OrderCancelled")
    assert repository.load(Order, oid).amount_refunded == eur("12.00")


def test_shipping_commits_the_reservations():
    a = product(price="10.00", stock=5)
    oid = placed([(a, 2)])
    run(c.RecordPayment(oid, eur("20.00"), "card"))
    run(c.ShipOrder(oid, "DHL", "JD0001"))
    react(oid, "OrderShipped")
    assert stock(a) == (3, 0)
