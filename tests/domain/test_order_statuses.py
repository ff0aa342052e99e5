"""Which command each status allows: the order's state machine as one table.

Every command is tried in every status. Where the table names a code, the command is
refused with it and nothing changes; elsewhere it records at least one event.
"""

from collections.abc import Callable

import pytest

from orders.domain import Order, OrderStatus
from tests.domain.scenario import CAP_ID, HISTORIES, MUG_ID, OFFICE, eur, given, refused

DRAFT, PLACED, CONFIRMED, REJECTED, PAID, SHIPPED, DELIVERED, CANCELLED = OrderStatus

COMMANDS: dict[str, Callable[[Order], None]] = {
    "add_line": lambda order: order.add_line(CAP_ID, "CAP-1", 1, eur("5.00")),
    "change_quantity": lambda order: order.change_quantity(MUG_ID, 3),
    "remove_line": lambda order: order.remove_line(MUG_ID),
    "set_shipping_address": lambda order: order.set_shipping_address(OFFICE),
    "place": lambda order: order.place(),
    "confirm": lambda order: order.confirm(),
    "reject": lambda order: order.reject("Out of stock."),
    "record_payment": lambda order: order.record_payment(eur("25.00"), "card"),
    "ship": lambda order: order.ship("PostNL", "3SABC123"),
    "deliver": lambda order: order.deliver(),
    "cancel": lambda order: order.cancel("Customer changed their mind."),
    "refund": lambda order: order.refund(eur("5.00"), "Late delivery."),
}


def only_in(status: OrderStatus, code: str) -> dict[OrderStatus, str]:
    return {other: code for other in OrderStatus if other != status}


ALREADY_SHIPPED = {SHIPPED: "order_already_shipped", DELIVERED: "order_already_shipped"}
UNPAID = (DRAFT, PLACED, CONFIRMED, REJECTED, CANCELLED)  # CANCELLED's history paid nothing

REFUSALS: dict[str, dict[OrderStatus, str]] = {
    "add_line": only_in(DRAFT, "order_not_draft"),
    "change_quantity": only_in(DRAFT, "order_not_draft"),
    "remove_line": only_in(DRAFT, "order_not_draft"),
    "place": only_in(DRAFT, "order_not_draft"),
    "confirm": only_in(PLACED, "order_not_placed"),
    "reject": only_in(PLACED, "order_not_placed"),
    "record_payment": only_in(CONFIRMED, "order_not_confirmed"),
    "ship": only_in(PAID, "order_not_paid"),
    "deliver": only_in(SHIPPED, "order_not_shipped"),
    "set_shipping_address": {**ALREADY_SHIPPED, REJECTED: "order_closed", CANCELLED: "order_closed"},
    "cancel": {**ALREADY_SHIPPED, REJECTED: "order_not_cancellable", CANCELLED: "order_not_cancellable"},
    "refund": dict.fromkeys(UNPAID, "nothing_to_refund"),
}

CASES = [(command, status) for command in COMMANDS for status in OrderStatus]


@pytest.mark.parametrize("command, status", CASES, ids=[f"{c}-when-{s}" for c, s in CASES])
def test_each_command_is_allowed_or_refused_by_the_orders_status(command, status):
    order = given(Order, *HISTORIES[status])
    code = REFUSALS[command].get(status)
    if code is None:
        COMMANDS[command](order)
        assert order.pending
    else:
        with refused(order, code):
            COMMANDS[command](order)


def test_a_status_refusal_names_the_order_and_its_status():
    order = given(Order, *HISTORIES[SHIPPED])
    with refused(order, "order_not_paid") as caught:
        order.ship("PostNL", "3SABC123")
    assert caught.value.message == "Order CH-0001 is shipped, not paid."
