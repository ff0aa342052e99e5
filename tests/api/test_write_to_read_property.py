"""Random sequences of the API's commands, valid and invalid, with values at and beyond the
limits: no request answers 5xx, and once the projections have caught up, every read model
equals the state folded from the log, a rebuild gives the same rows and no projection has
failed.

The examples share one database, so the shop keeps growing from one example to the next:
the checks cover every entity in the log, not only the example's own.

``HYPOTHESIS_PROFILE=long`` runs far more and longer sequences; the default ``ci`` profile
keeps within CI's budget (about a minute per engine).
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, multiple, rule, run_state_machine_as_test

from eventstore.models import Event
from orders import history
from orders.domain import MAX_ORDER_TOTAL, MAX_QUANTITY
from orders.permissions import OPERATORS
from projections.models import Checkpoint, CustomerSummary, OrderSummary, ProductStock
from tests.factories import member_of
from tests.projections.support import catch_up_all, rebuilt_snapshot, snapshot

from .conftest import API, client_for

pytestmark = pytest.mark.django_db(transaction=True)

settings.register_profile("ci", max_examples=25, stateful_step_count=20, deadline=None, database=None, print_blob=True)
settings.register_profile("long", max_examples=500, stateful_step_count=50, deadline=None)
PROFILE = settings(
    settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ADDRESS = {"line1": "Keizersgracht 1", "line2": "", "postal_code": "1015 CJ", "city": "Amsterdam", "country": "NL"}
DEAREST = Decimal("9999999999.99")
# Amounts and counts at, inside and beyond their limits.
PRICES = st.one_of(
    st.sampled_from(["0.01", str(DEAREST), str(DEAREST + Decimal("0.01")), "0", "-1", "1.001", "1e400", "NaN"]),
    st.decimals(min_value=Decimal("0.01"), max_value=DEAREST, places=2).map(str),
)
QUANTITIES = st.one_of(
    st.sampled_from([0, 1, MAX_QUANTITY, MAX_QUANTITY + 1, -1, 10**20]),
    st.integers(min_value=1, max_value=MAX_QUANTITY),
)
ADJUSTMENTS = st.one_of(
    st.sampled_from([0, MAX_QUANTITY, -MAX_QUANTITY, MAX_QUANTITY + 1, -(10**20)]),
    st.integers(min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY),
)


class ShopThroughTheApi(RuleBasedStateMachine):
    customers = Bundle("customers")
    products = Bundle("products")
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.api = client_for(member_of(OPERATORS))

    def send(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.api.post(API + path, body or {}, format="json")
        assert response.status_code < 500, (path, body, response.content)
        return response

    def created(self, response: Any) -> Any:
        return UUID(response.json()["id"]) if response.status_code == 201 else multiple()

    @rule(target=customers)
    def register_customer(self) -> Any:
        body = {"name": "Ada", "email": f"{uuid4().hex[:10]}@example.com", "shipping_address": ADDRESS}
        return self.created(self.send("customers/", body))

    @rule(target=products, price=PRICES)
    def create_product(self, price: str) -> Any:
        body = {"sku": f"SKU-{uuid4().hex[:8]}", "name": "Teapot", "price": price, "currency": "EUR"}
        return self.created(self.send("products/", body))

    @rule(product=products, price=PRICES)
    def change_price(self, product: UUID, price: str) -> None:
        self.send(f"products/{product}/change-price/", {"price": price})

    @rule(product=products, quantity=QUANTITIES)
    def receive_stock(self, product: UUID, quantity: int) -> None:
        self.send(f"products/{product}/receive-stock/", {"quantity": quantity})

    @rule(product=products, quantity=ADJUSTMENTS)
    def adjust_stock(self, product: UUID, quantity: int) -> None:
        self.send(f"products/{product}/adjust-stock/", {"quantity": quantity, "reason": "Recount."})

    @rule(target=orders, customer=customers)
    def create_order(self, customer: UUID) -> Any:
        return self.created(self.send("orders/", {"customer_id": str(customer), "currency": "EUR"}))

    @rule(order=orders, product=products, quantity=QUANTITIES)
    def add_line(self, order: UUID, product: UUID, quantity: int) -> None:
        self.send(f"orders/{order}/lines/", {"product_id": str(product), "quantity": quantity})

    @rule(order=orders, product=products, quantity=QUANTITIES)
    def change_quantity(self, order: UUID, product: UUID, quantity: int) -> None:
        self.send(f"orders/{order}/change-quantity/", {"product_id": str(product), "quantity": quantity})

    @rule(order=orders)
    def place(self, order: UUID) -> None:
        self.send(f"orders/{order}/place/")

    def teardown(self) -> None:
        catch_up_all()  # asserts that every subscriber caught up, none failed
        assert not Checkpoint.objects.filter(state=Checkpoint.FAILED).exists()
        for stream_type, stream_id in Event.objects.values_list("stream_type", "stream_id").distinct():
            assert read_model_of(stream_type, stream_id) == folded(stream_type, stream_id), (stream_type, stream_id)
        before = snapshot()
        assert rebuilt_snapshot() == before


def folded(stream_type: str, stream_id: UUID) -> dict[str, Any]:
    """What the read side should show of an entity: its state folded from the log."""
    entity = history.state_at(stream_type, stream_id)
    state = entity.state
    common = {"version": entity.version}
    if stream_type == "product":
        numbers = ("on_hand", "reserved", "available", "discontinued")
        return {**common, "price": Decimal(state["price"]), **{name: state[name] for name in numbers}}
    if stream_type == "order":
        amounts = ("total", "amount_paid", "amount_refunded")
        lines = {(line["product_id"], line["quantity"], Decimal(line["unit_price"])) for line in state["lines"]}
        assert Decimal(state["total"]) <= MAX_ORDER_TOTAL
        return {
            **common,
            "status": state["status"],
            "item_count": state["item_count"],
            **{name: Decimal(state[name]) for name in amounts},
            "lines": lines,
        }
    return {**common, "name": state["name"], "email": state["email"]}


def read_model_of(stream_type: str, stream_id: UUID) -> dict[str, Any]:
    if stream_type == "product":
        row = ProductStock.objects.get(id=stream_id)
        numbers = ("on_hand", "reserved", "available", "discontinued")
        return {"version": row.version, "price": row.price, **{name: getattr(row, name) for name in numbers}}
    if stream_type == "order":
        order = OrderSummary.objects.get(id=stream_id)
        lines = {(str(line.product_id), line.quantity, line.unit_price) for line in order.lines.all()}
        amounts = ("total", "amount_paid", "amount_refunded")
        return {
            "version": order.version,
            "status": order.status,
            "item_count": order.item_count,
            **{name: getattr(order, name) for name in amounts},
            "lines": lines,
        }
    customer = CustomerSummary.objects.get(id=stream_id)
    return {"version": customer.version, "name": customer.name, "email": customer.email}


def test_any_sequence_of_commands_leaves_read_models_equal_to_the_log():
    run_state_machine_as_test(ShopThroughTheApi, settings=PROFILE)
