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
from tests.projections.support import catch_up_all

pytestmark = [
    pytest.mark.postgres(reason="a browser journey against the live server, run on the production engine"),
    pytest.mark.django_db(transaction=True),
]


def operator(username: str = "olivia", password: str = "a-long-test-password") -> tuple[str, str]:
    user = User.objects.create_user(username, password=password, is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATORS))
    return username, password


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
