import dataclasses
import datetime as dt
from uuid import uuid4

import pytest

from orders.domain import ALL_COMMANDS, PlaceOrder, RecordPayment
from tests.domain.scenario import eur

TARGETS = {"customer_id", "product_id", "order_id"}


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_every_command_names_its_target_and_takes_the_common_options(command):
    fields = {field.name: field for field in dataclasses.fields(command)}
    assert TARGETS & set(fields)
    for option in ("expected_version", "idempotency_key", "occurred_at"):
        assert fields[option].kw_only and fields[option].default is None


def test_common_options_are_given_by_keyword():
    at = dt.datetime(2025, 1, 2, 3, 4, tzinfo=dt.UTC)
    command = PlaceOrder(uuid4(), expected_version=3, idempotency_key="k-1", occurred_at=at)
    assert (command.expected_version, command.idempotency_key, command.occurred_at) == (3, "k-1", at)


def test_a_payment_reference_is_optional():
    assert RecordPayment(uuid4(), eur("10.00"), "card").reference == ""


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda cls: cls.__name__)
def test_every_command_explains_itself_in_a_docstring_of_its_own(command):
    """The admin's help and the API docs read it; a dataclass without one gets its signature."""
    summary = command.__doc__.strip().splitlines()[0]
    assert not summary.startswith(f"{command.__name__}(")
    assert summary.endswith(".")
