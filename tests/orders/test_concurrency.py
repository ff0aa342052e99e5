"""Uniqueness, idempotency and retries under real concurrency: threads, own connections."""

import threading
from decimal import Decimal
from uuid import uuid4

import pytest

from eventstore import store
from eventstore.models import Event
from orders.domain import DomainError, Money
from orders.domain import commands as c
from orders.errors import CommandRefused, VersionConflict
from orders.models import UniqueClaim
from tests.factories import address, product, run
from tests.support import run_threads

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = 8


def together(target):
    """Run ``target(i)`` in THREADS threads released at the same moment; collect outcomes."""
    start = threading.Barrier(THREADS)

    def attempt(i):
        start.wait(30)
        try:
            return target(i)
        except (DomainError, CommandRefused) as refusal:
            return refusal

    return run_threads(attempt, THREADS)


def test_one_email_one_customer_however_many_register_at_once():
    emails = ["Twin@Example.com", "twin@example.com"]
    outcomes = together(lambda i: run(c.RegisterCustomer(uuid4(), f"Twin {i}", emails[i % 2], address())))
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(winners) == 1
    assert {o.code for o in outcomes if isinstance(o, Exception)} == {"email_taken"}
    assert Event.objects.filter(event_type="CustomerRegistered").count() == 1
    assert list(UniqueClaim.objects.values_list("kind", "value", "owner_id")) == [
        ("email", "twin@example.com", winners[0].id)
    ]


def test_one_sku_one_product_however_many_create_at_once():
    outcomes = together(
        lambda i: run(c.CreateProduct(uuid4(), "SKU-RACE", f"Racer {i}", Money(Decimal("1.00"), "EUR")))
    )
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert {o.code for o in outcomes if isinstance(o, Exception)} == {"sku_taken"}
    assert Event.objects.filter(event_type="ProductCreated").count() == 1


def test_concurrent_duplicates_with_one_key_append_once_and_share_the_result():
    pid = product()
    outcomes = together(lambda i: run(c.ReceiveStock(pid, 3, idempotency_key="pallet-9")))
    assert len(set(outcomes)) == 1 and not isinstance(outcomes[0], Exception)
    assert store.stream_version(pid) == 2


def test_concurrent_creations_with_one_key_create_one_stream():
    customer_id = uuid4()
    outcomes = together(
        lambda i: run(c.RegisterCustomer(customer_id, "Dup", "dup@example.com", idempotency_key="form-1"))
    )
    assert set(outcomes) == {outcomes[0]} and outcomes[0].id == customer_id
    assert Event.objects.filter(event_type="CustomerRegistered").count() == 1


def test_one_key_with_different_commands_at_once_lets_one_through():
    outcomes = together(lambda i: run(c.RegisterCustomer(uuid4(), "Dup", "dup@example.com", idempotency_key="form-2")))
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    assert {o.code for o in outcomes if isinstance(o, Exception)} <= {"idempotency_key_reused", "email_taken"}
    assert Event.objects.filter(event_type="CustomerRegistered").count() == 1


def test_unpinned_commands_on_one_stream_all_land():
    pid = product()
    together(lambda i: [run(c.ReceiveStock(pid, 1)) for _ in range(5)])
    events = store.read_stream(pid)
    assert [e.version for e in events] == list(range(1, 2 + THREADS * 5))
    assert sum(e.data["quantity"] for e in events[1:]) == THREADS * 5


def test_pinned_commands_on_one_stream_never_overwrite():
    pid = product()
    outcomes = together(lambda i: run(c.ReceiveStock(pid, 1, expected_version=1)))
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    losers = [o for o in outcomes if isinstance(o, VersionConflict)]
    assert len(winners) == 1 and len(losers) == THREADS - 1
    assert all(loser.current_version == 2 for loser in losers)
    assert store.stream_version(pid) == 2
