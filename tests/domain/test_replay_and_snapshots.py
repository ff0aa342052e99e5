"""Live commands, a replay of what they recorded, and snapshots all agree on the state."""

import json
from collections.abc import Callable
from uuid import uuid4

import pytest

from orders.domain import STREAM_TYPES, Aggregate, Customer, Order, Product, Snapshot
from tests.domain.scenario import (
    CAP_ID,
    CUSTOMER_ID,
    HOME,
    MUG_CREATED,
    MUG_ID,
    OFFICE,
    ORDER_ID,
    OTHER_ORDER_ID,
    eur,
)


def a_customers_life() -> Customer:
    customer = Customer(uuid4())
    customer.register("Ada Lovelace", "ada@example.com", HOME)
    customer.change_email("ada@example.org")
    customer.change_address(OFFICE)
    return customer


def a_products_life() -> Product:
    product = Product(uuid4())
    product.create("MUG-1", "Mug", eur("12.50"))
    product.receive_stock(10)
    product.reserve(ORDER_ID, 4)
    product.reserve(OTHER_ORDER_ID, 3)
    product.adjust_stock(-2, "Broken.")
    product.commit(ORDER_ID)
    product.change_price(eur("13.95"))
    product.discontinue()
    return product


def an_orders_life() -> Order:
    order = Order(uuid4())
    order.create("CH-0001", CUSTOMER_ID, "EUR")
    order.add_line(MUG_ID, "MUG-1", 1, eur("12.50"))
    order.add_line(CAP_ID, "CAP-1", 1, eur("5.00"))
    order.remove_line(MUG_ID)
    order.add_line(MUG_ID, "MUG-1", 2, eur("12.50"))
    order.change_quantity(CAP_ID, 3)
    order.set_shipping_address(HOME)
    order.place()
    order.confirm()
    order.record_payment(eur("10.00"), "card")
    order.record_payment(eur("30.00"), "card", "psp-2")
    order.ship("PostNL", "3SABC123")
    order.refund(eur("5.00"), "Late delivery.")
    return order


LIVES: list[Callable[[], Aggregate]] = [a_customers_life, a_products_life, an_orders_life]
each_life = pytest.mark.parametrize("life", LIVES, ids=lambda life: life.__name__)


def is_json(value: object) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(is_json(item) for item in value)
    return value is None or isinstance(value, str | int | bool)


@each_life
def test_replaying_the_recorded_events_gives_the_state_the_commands_left(life):
    live = life()
    replayed = type(live).replay(live.id, live.pending)
    assert replayed.state_dict() == live.state_dict()
    assert replayed.version == live.version == len(live.pending)
    assert (replayed.pending, replayed.stored_version, live.stored_version) == ([], live.version, 0)


@each_life
def test_a_snapshot_is_plain_json_and_restores_the_same_state(life):
    live = life()
    snapshot = live.to_snapshot()
    assert is_json(snapshot) and is_json(live.state_dict())
    restored = type(live).from_snapshot(live.id, live.version, json.loads(json.dumps(snapshot)))
    assert (restored.state_dict(), restored.version) == (live.state_dict(), live.version)


@each_life
def test_a_snapshot_at_any_version_plus_the_later_events_equals_a_full_replay(life):
    live = life()
    events = live.pending
    for version in range(1, len(events) + 1):
        earlier = type(live).replay(live.id, events[:version])
        snapshot = Snapshot(version, json.loads(json.dumps(earlier.to_snapshot())))
        resumed = type(live).replay(live.id, events[version:], snapshot=snapshot)
        assert (resumed.state_dict(), resumed.version) == (live.state_dict(), live.version)


def test_a_stream_of_one_type_cannot_hold_another_types_events():
    with pytest.raises(TypeError):
        Order.replay(uuid4(), [MUG_CREATED])


def test_each_aggregate_names_its_stream_type_and_snapshot_schema():
    assert {name: cls.SNAPSHOT_SCHEMA for name, cls in STREAM_TYPES.items()} == {
        "customer": 1,
        "product": 1,
        "order": 1,
    }
