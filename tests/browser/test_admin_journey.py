"""An Operator's journey through the admin in a real browser: the dashboard and its chart,
the event browser, an order's history, time travel to its first version, and the
projections page. The data is written through the command bus first and the projections
caught up, on this (the test's) thread; the browser runs on its own (see pages.py)."""

from uuid import uuid4

import pytest
from django.contrib.auth.models import Group, User

from orders.domain import commands as c
from orders.permissions import OPERATORS
from tests.browser.pages import AdminPages
from tests.factories import customer, product, run
from projections.models import Checkpoint
from projections.runner import catch_up
from tests.projections.support import catch_up_all

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
    assert admin_pages.open_history(order_id) == ["OrderCreated", "OrderLineAdded", "OrderPlaced"]
    assert admin_pages.travel_to_version(1).startswith("As of version 1")
    assert admin_pages.open_projections() == {
        "orders": "caught up", "stock": "caught up", "customers": "caught up", "sales": "caught up",
    }  # fmt: skip


def test_a_superuser_sees_a_failed_projection_and_retries_it_once_fixed(admin_pages: AdminPages, poisoned_stock):
    mug = product(sku="MUG-1", stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    assert {r.name: r.outcome for r in catch_up(patience=5)}["stock"] == "failed"
    User.objects.create_superuser("root", password=PASSWORD)

    admin_pages.log_in("root", PASSWORD)
    assert admin_pages.open_projections()["stock"] == "failed"
    poisoned_stock.undo()  # the bug is fixed; the live server runs in this process
    assert admin_pages.retry_projection("stock") == "Retried stock: caught up, 1 events handled."
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.RUNNING
