"""Uniqueness, idempotency and retries under real concurrency: threads, own connections."""

import threading
from contextlib import contextmanager
from decimal import Decimal
from uuid import uuid4

import pytest
from django.db import connection

from eventstore import store
from eventstore.models import Event
from orders import bus
from orders.domain import DomainError, Money
from orders.domain import commands as c
from orders.errors import Busy, CommandRefused, VersionConflict
from orders.models import UniqueClaim
from projections.worker_process import wait_until
from tests.factories import address, product, run
from tests.support import held_open_append, new_event, run_threads

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


@contextmanager
def turn_held(stream_id):
    """Hold ``stream_id``'s writers' turn on a connection of its own while the block runs."""
    taken, release = threading.Event(), threading.Event()

    def hold(_):
        with store.writers_turn(stream_id):
            taken.set()
            assert release.wait(30)

    holder = threading.Thread(target=run_threads, args=(hold, 1))
    holder.start()
    try:
        assert taken.wait(30)
        yield
    finally:
        release.set()
        holder.join(30)


def losing_the_first_race(pid, command):
    """Start ``command`` on product ``pid`` in a thread so that it reads version 1 while a
    rival's append of version 2 is open, and loses to it when the rival commits. Returns
    the thread and a dict that receives the command's result or refusal."""
    rival = new_event("StockReceived", quantity=2)
    outcome = {}

    def attempt(_):
        try:
            outcome["result"] = run(command)
        except CommandRefused as refusal:
            outcome["result"] = refusal

    with held_open_append(pid, stream_type="product", event=rival, expected_version=1):
        thread = threading.Thread(target=run_threads, args=(attempt, 1))
        thread.start()
        wait_until(lambda: _blocked_backends() > 0, timeout=10)
    return thread, outcome


def _blocked_backends():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres(reason="SQLite writers take turns on the database lock: there is no race to lose")
def test_a_command_that_lost_a_race_retries_in_its_turn():
    pid = product()
    with turn_held(pid):
        command, outcome = losing_the_first_race(pid, c.ReceiveStock(pid, 1))
        command.join(1)
        assert command.is_alive(), "the command retried without waiting for its turn"
        assert store.stream_version(pid) == 2
    command.join(30)
    assert outcome["result"].version == 3
    assert [e.data["quantity"] for e in store.read_stream(pid)[1:]] == [2, 1]


@pytest.mark.postgres(reason="SQLite writers take turns on the database lock: there is no race to lose")
def test_a_command_whose_turn_does_not_come_is_refused_as_busy_and_writes_nothing(monkeypatch):
    monkeypatch.setattr(bus, "QUEUE_WAIT_MS", 200)
    pid = product()
    with turn_held(pid):
        command, outcome = losing_the_first_race(pid, c.ReceiveStock(pid, 1))
        command.join(30)
    assert isinstance(outcome["result"], Busy)
    assert store.stream_version(pid) == 2
