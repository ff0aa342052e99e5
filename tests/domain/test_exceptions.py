import re
from string import Formatter

import pytest

from orders.domain import DomainError, EmailTaken, InsufficientStock, OrderNotPaid, ShipmentDetailsInvalid

REQUIRED_CODES = {
    "quantity_not_positive",
    "currency_mismatch",
    "currency_invalid",
    "amount_invalid",
    "insufficient_stock",
    "stock_below_reserved",
    "product_discontinued",
    "order_not_draft",
    "order_not_placed",
    "order_not_confirmed",
    "order_not_paid",
    "order_not_shipped",
    "order_already_shipped",
    "order_not_cancellable",
    "order_empty",
    "shipping_address_missing",
    "line_already_exists",
    "line_not_found",
    "payment_exceeds_balance",
    "refund_exceeds_paid",
    "nothing_to_refund",
    "email_invalid",
    "address_invalid",
    "name_invalid",
    "sku_invalid",
    "reason_required",
    "already_registered",
    "already_created",
    "sku_taken",
    "email_taken",
}


def _subclasses(cls: type[DomainError]) -> list[type[DomainError]]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *_subclasses(direct))]


# The domain's own refusals, whichever other modules (the command bus's replayed refusal)
# happen to be imported before this one is collected.
ERRORS = [error for error in _subclasses(DomainError) if error.__module__ == DomainError.__module__]


def test_every_refusal_has_its_own_stable_snake_case_code():
    codes = [error.code for error in ERRORS]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", code) for code in codes)
    assert set(codes) >= REQUIRED_CODES


@pytest.mark.parametrize("error", ERRORS, ids=lambda error: error.code)
def test_every_default_message_is_a_sentence_for_staff(error):
    params = {name: "X" for _, name, _, _ in Formatter().parse(error.template) if name}
    message = error(**params).message
    assert message[0].isupper() and message.endswith(".")


def test_a_message_is_filled_in_from_the_details_of_the_refusal():
    message = InsufficientStock(available=3, requested=5).message
    assert message == "Not enough stock: 3 available, 5 requested."
    assert OrderNotPaid(number="CH-7", status="placed").message == "Order CH-7 is placed, not paid."


def test_an_explicit_message_replaces_the_template():
    assert str(OrderNotPaid("Pay first.")) == OrderNotPaid("Pay first.").message == "Pay first."


def test_a_refusal_about_one_input_reports_its_message_under_that_field():
    error = EmailTaken(email="ada@example.com")
    assert error.fields == {"email": error.message}
    assert error.message == "The e-mail address ada@example.com is already used by another customer."
    assert InsufficientStock(available=0, requested=1).fields == {}


def test_given_fields_replace_the_default_ones():
    error = ShipmentDetailsInvalid(fields={"carrier": "This field is required."})
    assert error.fields == {"carrier": "This field is required."}
