"""Journeys through the admin in a real browser: an Operator follows an order from the
dashboard through the event browser to its history and first versions (named by its number,
its changes and state labelled) and the projections page; an
Operator takes a new customer's order from nothing to confirmed through the back office's
command forms alone; a superuser retries a failed projection; a superuser watches a rebuild
run on a worker.

The browser runs on a thread of its own (see pages.py). This, the test's thread, keeps the
ORM: it writes data through the command bus where a journey starts from some, catches the
projections up between steps, and checks the database."""

import re
from uuid import uuid4

import pytest
from django.contrib.auth.models import Group, User

from orders.domain import commands as c
from orders.permissions import OPERATORS
from projections.models import Checkpoint, OrderSummary, ProductStock
from projections.runner import catch_up
from tests.browser.pages import AdminPages
from tests.factories import customer, product, run
from tests.projections.processes import needs_redis
from tests.projections.support import a_long_history, catch_up_all

pytestmark = [
    pytest.mark.postgres(reason="a browser journey against the live server, run on the production engine"),
    pytest.mark.django_db(transaction=True),
]


PASSWORD = "a-long-test-password"


def operator(username: str = "olivia") -> tuple[str, str]:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return username, PASSWORD


def test_an_operator_follows_an_order_from_the_dashboard_to_its_first_version(admin_pages: AdminPages):
    mug = product(sku="MUG-1", price="12.50", stock=3)
    order_id = uuid4()
    run(c.CreateOrder(order_id, customer(), "EUR"))
    run(c.AddOrderLine(order_id, mug, 2))
    run(c.PlaceOrder(order_id))
    catch_up_all()
    username, password = operator()

    admin_pages.log_in(username, password)
    assert admin_pages.open_dashboard() == 30
    assert admin_pages.today_orders("EUR") == "1"
    assert {"OrderPlaced", "OrderLineAdded", "OrderCreated", "StockReceived"} <= set(admin_pages.open_event_browser())
    number = OrderSummary.objects.get(pk=order_id).number
    assert admin_pages.open_history(order_id) == ["OrderCreated", "OrderLineAdded", "OrderPlaced"]
    assert (admin_pages.heading(), admin_pages.entity_id()) == (f"History of order {number}", f"Order id {order_id}")
    added = admin_pages.changes_at(2)
    assert added["Unit price of MUG-1"] == ("—", "12.50 EUR")
    assert added["Total"] == ("0.00 EUR", "25.00 EUR")
    assert admin_pages.travel_to_version(1).startswith("As of version 1")
    assert admin_pages.heading() == f"Time travel: order {number}"
    assert admin_pages.travel_to_version(2).startswith("As of version 2")
    then = admin_pages.past_state()
    assert (then["Status"], then["Quantity of MUG-1"], then["Unit price of MUG-1"]) == ("Draft", "2", "12.50 EUR")
    assert admin_pages.open_projections() == {
        "orders": "caught up",
        "stock": "caught up",
        "customers": "caught up",
        "sales": "caught up",
    }


@pytest.mark.fulfilment
def test_an_operator_takes_a_new_customers_order_to_confirmed_through_the_back_office(admin_pages: AdminPages):
    username, password = operator()
    admin_pages.log_in(username, password)

    ada = admin_pages.create(
        "Customers",
        "Register customer",
        name="Ada Lovelace",
        email="ada@example.com",
        line1="Rue de Rivoli 2",
        postal_code="75001",
        city="Paris",
        country="FR",
    )
    mug = admin_pages.create("Products", "New product", sku="MUG-1", name="Mug", price="12.50")
    catch_up_all()
    assert admin_pages.entity_state()["On hand"] == "0"
    assert admin_pages.heading() == "Product MUG-1"
    admin_pages.issue("Receive stock", quantity=3)
    catch_up_all()
    assert admin_pages.entity_state()["On hand"] == "3"

    assert admin_pages.open_entity("Customers", "Ada Lovelace")["E-mail"] == "ada@example.com"
    assert admin_pages.heading() == "Customer Ada Lovelace"
    order_id = admin_pages.issue("New order for Ada Lovelace")
    catch_up_all()
    assert admin_pages.entity_state()["Status"] == "Draft"
    admin_pages.issue("Add line", product=mug, quantity=2)
    catch_up_all()
    assert admin_pages.entity_state()["Total"] == "25.00 EUR (2 items)"
    admin_pages.issue("Place")
    catch_up_all()  # fulfilment reserves the stock and confirms the order

    assert admin_pages.entity_state()["Status"] == "Confirmed"
    assert OrderSummary.objects.get(pk=order_id).customer_id == ada
    assert ProductStock.objects.get(pk=mug).reserved == 2
    number = OrderSummary.objects.get(pk=order_id).number
    assert admin_pages.open_entity_history() == ["OrderCreated", "OrderLineAdded", "OrderPlaced", "OrderConfirmed"]
    assert admin_pages.heading() == f"History of order {number}"
    assert admin_pages.changes_at(4) == {"Status": ("Placed", "Confirmed")}
    assert admin_pages.travel_to_version(1).startswith("As of version 1")


def test_a_superuser_sees_a_failed_projection_and_retries_it_once_fixed(
    admin_pages: AdminPages, poisoned_stock, embedded
):
    mug = product(sku="MUG-1", stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    assert {r.name: r.outcome for r in catch_up(patience=5)}["stock"] == "failed"
    User.objects.create_superuser("root", password=PASSWORD)

    admin_pages.log_in("root", PASSWORD)
    assert admin_pages.open_projections()["stock"] == "failed"
    poisoned_stock.undo()  # the bug is fixed; the live server runs in this process
    assert admin_pages.retry_projection("stock") == "Retried stock: caught up, 1 events handled."
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.RUNNING


@needs_redis
def test_a_superuser_starts_a_rebuild_and_watches_it_run_on_a_worker(admin_pages: AdminPages, start_worker):
    """The worker pauses after each page of the replay, so the rebuild lasts long enough to watch."""
    events = a_long_history()
    start_worker(PROJECTIONS_REBUILD_PAUSE_MS="700")
    User.objects.create_superuser("root", password=PASSWORD)

    admin_pages.log_in("root", PASSWORD)
    admin_pages.open_projections()
    progress = admin_pages.start_rebuild("orders")

    assert re.fullmatch(rf"[1-9][\d,]* of {events:,} events \(\d+%\)", progress), progress
    assert admin_pages.rebuild_outcome("orders") == "done"
    assert Checkpoint.objects.get(name="orders").rebuilt_at is not None
