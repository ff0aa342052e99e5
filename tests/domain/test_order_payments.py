"""Taking payments on a confirmed order and refunding what was paid."""

from decimal import Decimal

import pytest

from orders.domain import Order, OrderCancelled, OrderPaid, OrderStatus, PaymentRecorded, RefundIssued
from tests.domain.scenario import CONFIRMED, DELIVERED, PAID, eur, given, refused, usd

PARTLY_PAID = (*CONFIRMED, PaymentRecorded(amount=Decimal("10.00"), method="card", reference=""))
REFUNDED_5 = RefundIssued(amount=Decimal("5.00"), reason="Late delivery.")


def test_a_payment_of_the_total_records_the_payment_and_that_the_order_is_paid():
    order = given(Order, *CONFIRMED)
    order.record_payment(eur("25.00"), " card ", " psp-1 ")
    assert order.pending == list(PAID[-2:])
    assert (order.status, order.amount_paid, order.amount_due) == (OrderStatus.PAID, eur("25.00"), eur("0"))


def test_partial_payments_add_up_and_the_last_one_pays_the_order():
    order = given(Order, *CONFIRMED)
    order.record_payment(eur("10.00"), "card")
    assert order.pending == [PARTLY_PAID[-1]]
    assert (order.status, order.amount_due) == (OrderStatus.CONFIRMED, eur("15.00"))

    order.record_payment(eur("15.00"), "bank transfer", "NL12-0042")
    assert order.pending[1:] == [
        PaymentRecorded(amount=Decimal("15.00"), method="bank transfer", reference="NL12-0042"),
        OrderPaid(amount_paid=Decimal("25.00")),
    ]


def test_a_payment_above_what_is_still_due_is_refused():
    order = given(Order, *PARTLY_PAID)
    with refused(order, "payment_exceeds_balance") as caught:
        order.record_payment(eur("15.01"), "card")
    assert caught.value.message == "A payment of 15.01 EUR is more than the 15.00 EUR still due."


@pytest.mark.parametrize("amount, code", [(usd("25.00"), "currency_mismatch"), (eur("0.00"), "amount_invalid")])
def test_a_payment_is_positive_and_in_the_orders_currency(amount, code):
    order = given(Order, *CONFIRMED)
    with refused(order, code):
        order.record_payment(amount, "card")


def test_a_payment_names_its_method():
    order = given(Order, *CONFIRMED)
    with refused(order, "payment_details_invalid") as caught:
        order.record_payment(eur("25.00"), " ", "psp-1")
    assert caught.value.fields == {"method": "This field is required."}


# --- Refunds --------------------------------------------------------------------------------


def test_a_refund_records_the_amount_and_reason_and_keeps_the_status():
    order = given(Order, *DELIVERED)
    order.refund(eur("5.00"), " Late delivery. ")
    assert order.pending == [REFUNDED_5]
    assert order.status == OrderStatus.DELIVERED
    assert (order.amount_refunded, order.refundable) == (eur("5"), eur("20"))


def test_refunds_add_up_to_at_most_what_was_paid():
    order = given(Order, *PAID, REFUNDED_5)
    order.refund(eur("20.00"), "Returned.")
    assert order.amount_refunded == order.amount_paid


def test_refunding_more_than_was_paid_and_not_yet_refunded_is_refused():
    order = given(Order, *PAID, REFUNDED_5)
    with refused(order, "refund_exceeds_paid") as caught:
        order.refund(eur("20.01"), "Returned.")
    assert caught.value.message == ("A refund of 20.01 EUR is more than the 20.00 EUR paid and not yet refunded.")


def test_a_fully_refunded_order_has_nothing_left_to_refund():
    order = given(Order, *PAID, RefundIssued(amount=Decimal("25.00"), reason="Returned."))
    with refused(order, "nothing_to_refund"):
        order.refund(eur("1.00"), "Goodwill.")


def test_a_paid_order_that_was_cancelled_can_be_refunded():
    cancelled = OrderCancelled(reason="Out of stock after all.", previous_status=OrderStatus.PAID)
    order = given(Order, *PAID, cancelled)
    order.refund(eur("25.00"), "Cancelled.")
    assert order.pending == [RefundIssued(amount=Decimal("25.00"), reason="Cancelled.")]


def test_a_partial_payment_is_not_refunded_before_the_order_is_paid_or_cancelled():
    order = given(Order, *PARTLY_PAID)
    with refused(order, "order_not_paid"):
        order.refund(eur("10.00"), "Changed mind.")


@pytest.mark.parametrize(
    "amount, reason, code",
    [
        (usd("5.00"), "Late.", "currency_mismatch"),
        (eur("-5.00"), "Late.", "amount_invalid"),
        (eur("5.00"), "", "reason_required"),
    ],
)
def test_a_refund_is_a_positive_amount_in_the_orders_currency_with_a_reason(amount, reason, code):
    order = given(Order, *PAID)
    with refused(order, code):
        order.refund(amount, reason)
