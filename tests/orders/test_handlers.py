"""Every command through the bus: the events it appends, or the refusal and nothing appended."""

from decimal import Decimal
from uuid import uuid4

import pytest

from eventstore import store
from orders.domain import DomainError, Money
from orders.domain import commands as c
from orders.errors import NotFound
from orders.handlers import HANDLERS
from tests.factories import address, customer, order, product, run

pytestmark = pytest.mark.django_db(transaction=True)


def types(stream):
    return [e.event_type for e in store.read_stream(stream)]


def refused(command, code):
    with pytest.raises(DomainError) as caught:
        run(command)
    assert caught.value.code == code
    return caught.value


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def test_the_bus_routes_every_command_to_a_handler_and_nothing_else():
    assert set(HANDLERS) == set(c.ALL_COMMANDS)


def test_customers_register_and_change_email_and_address():
    cid = customer(email="ada@example.com")
    run(c.ChangeCustomerEmail(cid, "ada@lovelace.example"))
    run(c.ChangeCustomerAddress(cid, address(city="Utrecht")))
    run(c.ChangeCustomerAddress(cid, address(city="Utrecht")))  # unchanged: no event
    assert types(cid) == ["CustomerRegistered", "CustomerEmailChanged", "CustomerAddressChanged"]


def test_an_email_is_unique_across_customers_ignoring_case_and_can_be_freed():
    first = customer(email="ada@example.com")
    refused(c.RegisterCustomer(uuid4(), "Other", "ADA@Example.com"), "email_taken")
    second = customer(email="bob@example.com")
    refused(c.ChangeCustomerEmail(second, "Ada@example.com"), "email_taken")
    run(c.ChangeCustomerEmail(first, "ada@elsewhere.example"))
    run(c.ChangeCustomerEmail(second, "ada@example.com"))  # freed by the first customer
    assert types(second) == ["CustomerRegistered", "CustomerEmailChanged"]


def test_products_through_their_life():
    pid = product(sku="mug-1", price="9.50")
    run(c.ChangeProductPrice(pid, eur("11.00")))
    run(c.ReceiveStock(pid, 10))
    run(c.AdjustStock(pid, -2, "broken in the warehouse"))
    oid = uuid4()
    run(c.ReserveStock(pid, oid, 3))
    run(c.ReserveStock(pid, oid, 3))  # twice for the same order: nothing new
    run(c.CommitStock(pid, oid))
    run(c.DiscontinueProduct(pid))
    assert types(pid) == [
        "ProductCreated",
        "ProductPriceChanged",
        "StockReceived",
        "StockAdjusted",
        "StockReserved",
        "StockReservationCommitted",
        "ProductDiscontinued",
    ]


def test_product_refusals():
    pid = product(sku="MUG-2", stock=2)
    refused(c.CreateProduct(uuid4(), "mug-2", "Same SKU", eur("1.00")), "sku_taken")
    refused(c.ReceiveStock(pid, 0), "quantity_not_positive")
    refused(c.ReserveStock(pid, uuid4(), 3), "insufficient_stock")
    refused(c.ChangeProductPrice(pid, Money(Decimal("1.00"), "USD")), "currency_mismatch")
    run(c.ReserveStock(pid, uuid4(), 2))
    refused(c.AdjustStock(pid, -1, "lost"), "stock_below_reserved")
    run(c.DiscontinueProduct(pid))
    refused(c.ReserveStock(pid, uuid4(), 1), "product_discontinued")
    assert types(pid) == ["ProductCreated", "StockReceived", "StockReserved", "ProductDiscontinued"]


def test_an_order_from_draft_to_delivered_with_a_partial_payment_and_a_refund():
    pid = product(price="10.00", stock=5)
    oid = order(lines=[(pid, 2)])
    other = product(price="1.50", stock=5)
    run(c.AddOrderLine(oid, other, 1))
    run(c.ChangeOrderLineQuantity(oid, other, 4))
    run(c.RemoveOrderLine(oid, other))
    run(c.SetShippingAddress(oid, address(city="Delft")))
    placed = run(c.PlaceOrder(oid))
    run(c.ConfirmOrder(oid))
    run(c.RecordPayment(oid, eur("5.00"), "card", "ref-1"))
    run(c.RecordPayment(oid, eur("15.00"), "card", "ref-2"))
    run(c.ShipOrder(oid, "PostNL", "3S123"))
    run(c.DeliverOrder(oid))
    run(c.RefundOrder(oid, eur("4.00"), "scratched"))
    assert placed.number.startswith("CH-")
    assert types(oid) == [
        "OrderCreated",
        "OrderLineAdded",
        "OrderLineAdded",
        "OrderLineQuantityChanged",
        "OrderLineRemoved",
        "OrderShippingAddressSet",
        "OrderPlaced",
        "OrderConfirmed",
        "PaymentRecorded",
        "PaymentRecorded",
        "OrderPaid",
        "OrderShipped",
        "OrderDelivered",
        "RefundIssued",
    ]
    added = store.read_stream(oid)[1]
    assert added.data["unit_price"] == "10.00" and added.data["sku"].startswith("SKU-")


def test_order_refusals():
    pid = product(price="10.00", stock=5)
    oid = order()
    refused(c.PlaceOrder(oid), "order_empty")
    refused(c.AddOrderLine(oid, pid, 0), "quantity_not_positive")
    refused(c.AddOrderLine(oid, product(currency="USD"), 1), "currency_mismatch")
    run(c.AddOrderLine(oid, pid, 1))
    refused(c.AddOrderLine(oid, pid, 1), "line_already_exists")
    refused(c.RecordPayment(oid, eur("1.00"), "card"), "order_not_confirmed")
    refused(c.ShipOrder(oid, "DHL", "1"), "order_not_paid")
    run(c.PlaceOrder(oid))
    refused(c.AddOrderLine(oid, product(), 1), "order_not_draft")
    run(c.ConfirmOrder(oid))
    refused(c.RecordPayment(oid, eur("11.00"), "card"), "payment_exceeds_balance")
    refused(c.RefundOrder(oid, eur("1.00"), "why"), "nothing_to_refund")
    run(c.RecordPayment(oid, eur("10.00"), "card"))
    refused(c.RefundOrder(oid, eur("10.01"), "too much"), "refund_exceeds_paid")
    run(c.ShipOrder(oid, "DHL", "1"))
    refused(c.CancelOrder(oid, "too late"), "order_already_shipped")


def test_a_discontinued_product_cannot_be_added_to_an_order():
    pid = product(stock=1)
    run(c.DiscontinueProduct(pid))
    refused(c.AddOrderLine(order(), pid, 1), "product_discontinued")


def test_cancel_and_reject():
    oid = order(lines=[(product(stock=1), 1)])
    run(c.PlaceOrder(oid))
    run(c.CancelOrder(oid, "changed my mind"))
    refused(c.CancelOrder(oid, "again"), "order_not_cancellable")
    other = order(lines=[(product(stock=1), 1)])
    run(c.PlaceOrder(other))
    run(c.RejectOrder(other, "out of stock"))
    assert types(other)[-1] == "OrderRejected"


@pytest.mark.parametrize(
    "command",
    [
        lambda: c.ChangeCustomerEmail(uuid4(), "x@example.com"),
        lambda: c.ReceiveStock(uuid4(), 1),
        lambda: c.PlaceOrder(uuid4()),
        lambda: c.CreateOrder(uuid4(), uuid4(), "EUR"),
        lambda: c.AddOrderLine(order(), uuid4(), 1),
        lambda: c.PlaceOrder(product()),
        lambda: c.ReceiveStock(customer(), 1),
        lambda: c.CreateOrder(uuid4(), product(), "EUR"),
    ],
)
def test_unknown_ids_are_not_found(command):
    with pytest.raises(NotFound):
        run(command())


def test_an_id_of_another_kind_is_not_found_also_from_a_snapshot(settings):
    settings.SNAPSHOT_EVERY = 2
    pid = product(stock=5)
    assert store.load_snapshot(pid, state_schema=1) is not None
    with pytest.raises(NotFound):
        run(c.PlaceOrder(pid))


def test_order_numbers_are_unique_and_increasing():
    numbers = [store.read_stream(order())[0].data["number"] for _ in range(3)]
    assert all(n.startswith("CH-") and len(n) == 9 for n in numbers)
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
