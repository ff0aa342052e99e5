"""The runner: exactly-once batches under crashes and concurrent workers, failures that
stop only their subscriber, retry, and lag."""

import threading
from decimal import Decimal

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from eventstore.models import Event
from orders.history_builder import Shop
from projections import runner
from projections.models import Checkpoint, OrderSummary, ProductStock
from projections.orders import OrdersProjection
from projections.runner import Outcome, catch_up, retry, run, status
from projections.stock import StockProjection
from tests.projections.support import (
    a_bit_of_everything,
    catch_up_all,
    feed_passed_everything,
    rebuilt_snapshot,
    settle,
    snapshot,
    two_runs_at_once,
    wait_until,
)
from tests.support import horizon_passed, run_threads

pytestmark = pytest.mark.django_db(transaction=True)


class Crash(BaseException):
    """The process dies here: nothing after this point runs."""


def matching_events(cls) -> int:
    return Event.objects.filter(event_type__in=cls.event_types).count()


def processed(name: str) -> int:
    return Checkpoint.objects.get(name=name).events_processed


def test_a_poison_event_stops_only_its_projection_with_the_error_and_where(poisoned_stock):
    story = a_bit_of_everything()
    assert settle() == {"orders": "caught up", "stock": "failed", "customers": "caught up", "sales": "caught up"}

    poison = Event.objects.get(event_type="StockAdjusted")
    stock = Checkpoint.objects.get(name="stock")
    assert (stock.state, stock.failed_position, stock.failed_event_id) == ("failed", poison.position, poison.event_id)
    assert stock.failed_event_type == "StockAdjusted" and stock.failed_at is not None
    assert stock.last_error.startswith("ValueError: cannot count below zero\n")
    assert "Traceback" in stock.last_error
    waiting = Event.objects.filter(event_type__in=StockProjection.event_types, position__gte=poison.position).count()
    assert {s.name: s.events_behind for s in status()} == {"orders": 0, "stock": waiting, "customers": 0, "sales": 0}
    assert processed("stock") == matching_events(StockProjection) - waiting  # it stopped right at the poison
    assert ProductStock.objects.get(id=story.mug).price == Decimal("14.00")  # changed just before it

    story.shop.receive_stock(story.poster, 1)
    assert settle()["stock"] == "failed"
    assert ProductStock.objects.get(id=story.poster).on_hand == 3  # nothing after the poison either
    assert processed("orders") == matching_events(OrdersProjection)


def test_retry_fails_again_until_the_bug_is_fixed_then_resumes_at_the_poison_event(poisoned_stock):
    story = a_bit_of_everything()
    settle()
    assert retry("stock").outcome == "failed"

    poisoned_stock.undo()
    assert retry("stock").outcome == "caught up"
    assert ProductStock.objects.get(id=story.mug).on_hand == 7
    stock = Checkpoint.objects.get(name="stock")
    assert (stock.state, stock.last_error, stock.failed_position) == ("running", "", None)
    assert stock.events_processed == matching_events(StockProjection)
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_a_crash_mid_batch_applies_nothing_and_the_next_run_applies_everything_once():
    catch_up_all()
    story = a_bit_of_everything()
    horizon_passed()  # so the batch below holds the story's events
    before, checkpoints = snapshot(), list(Checkpoint.objects.values())

    def crash_after_the_writes(name, events):
        assert ProductStock.objects.count() == 3  # the batch's rows are written...
        raise Crash  # ...and the process dies before the checkpoint is

    with runner.batch_written.runs(crash_after_the_writes), pytest.raises(Crash):
        run(StockProjection)
    assert snapshot() == before and list(Checkpoint.objects.values()) == checkpoints

    catch_up_all()
    assert processed("stock") == matching_events(StockProjection)
    assert ProductStock.objects.get(id=story.mug).on_hand == 7
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_workers_running_at_once_apply_every_batch_exactly_once():
    """Four workers, each on its own connection, catch up in small batches while orders
    keep coming in."""
    shop = Shop()
    mug = shop.create_product(stock=1000)
    customer = shop.register_customer()
    writing = threading.Event()
    writing.set()

    def work(i: int) -> None:
        if i == 0:
            for _ in range(20):
                shop.order(customer, {mug: 1})
            writing.clear()
            return
        while writing.is_set():
            catch_up(batch_size=3)
        catch_up(batch_size=3)

    run_threads(work, 5)
    catch_up_all()
    for cls in (OrdersProjection, StockProjection):
        assert processed(cls.name) == matching_events(cls)
    assert ProductStock.objects.values_list("on_hand", "reserved").get() == (980, 0)
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


@pytest.mark.postgres
def test_one_worker_at_a_time_owns_a_projection(monkeypatch):
    Shop().create_product(stock=1)
    owner, other = two_runs_at_once(monkeypatch, StockProjection, "product_created", lambda: run(StockProjection))
    assert (owner.outcome, owner.events) == ("caught up", 2)
    assert (other.outcome, other.events) == ("busy", 0)
    assert processed("stock") == 2


def test_database_trouble_interrupts_a_run_without_failing_the_subscriber(monkeypatch):
    Shop().create_product(stock=3)

    def lost(self, events):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(StockProjection, "prefetch", lost)
    results = {result.name: result.outcome for result in catch_up()}
    assert results["stock"] == Outcome.INTERRUPTED
    assert Checkpoint.objects.get(name="stock").state == "running"

    monkeypatch.undo()
    catch_up_all()
    assert ProductStock.objects.get().on_hand == 3


def test_subscribers_run_outside_transactions_only():
    with transaction.atomic(), pytest.raises(RuntimeError, match="outside any transaction"):
        run(StockProjection)


def test_lag_counts_the_events_waiting_and_the_age_of_the_oldest():
    shop = Shop()
    mug = shop.create_product(stock=5)
    shop.change_price(mug, "9.99")
    lag = {s.name: (s.events_behind, s.position) for s in status()}
    assert lag == {"orders": (0, 0), "stock": (3, 0), "customers": (0, 0), "sales": (0, 0)}
    oldest = Event.objects.filter(event_type="ProductCreated").get().recorded_at
    stock = next(s for s in status() if s.name == "stock")
    assert 0 <= stock.seconds_behind <= (timezone.now() - oldest).total_seconds()

    catch_up_all()
    stock = next(s for s in status() if s.name == "stock")
    assert (stock.events_behind, stock.seconds_behind, stock.events_processed) == (0, 0.0, 3)
    assert stock.position == Event.objects.latest("position").position
    assert ProductStock.objects.get().price == Decimal("9.99")


def test_lag_is_counted_up_to_a_limit(monkeypatch):
    monkeypatch.setattr(runner, "LAG_LIMIT", 2)
    Shop().create_product(stock=5)
    Shop().create_product(stock=5)
    assert next(s for s in status() if s.name == "stock").events_behind == 2


@pytest.mark.postgres  # on SQLite no one commits while a batch holds the write lock
def test_a_catch_up_that_finds_the_subscriber_busy_is_followed_up_by_the_owner():
    """An event committed while the owner still holds the projection is not left for the
    sweep: the owner looks again after letting go. (Another session's open transaction
    may hold the new event back a moment; then the run cannot see it, and it tries again.)"""
    shop = Shop()
    meanwhile: list[bool] = []

    def commit_meanwhile(name, events):
        if name == "stock" and events and not meanwhile:
            meanwhile.append(True)
            run_threads(lambda i: shop.create_product(stock=2), 1)

    def one_run_takes_both() -> bool:
        meanwhile.clear()
        shop.create_product(stock=1)
        feed_passed_everything()
        run(StockProjection)
        return meanwhile and ProductStock.objects.count() == len(shop.products)

    with runner.batch_written.runs(commit_meanwhile):
        wait_until(one_run_takes_both, what="one run to take the product committed during it")


@pytest.mark.postgres
def test_a_patient_catch_up_waits_for_events_an_older_open_transaction_holds_back():
    """Product B commits while product A's transaction, which started writing first, is
    still open: the feed holds B back until A commits. A patient catch-up waits for it."""
    shop = Shop()
    catch_up_all()
    a_began, a_may_commit, held_back_seen = threading.Event(), threading.Event(), threading.Event()

    def work(i: int):
        if i == 0:
            with transaction.atomic():
                shop.create_product("A-1")
                a_began.set()
                assert a_may_commit.wait(30)
        elif i == 1:
            assert a_began.wait(30)
            shop.create_product("B-1")
            assert {r.name: r.events for r in catch_up(["stock"])} == {"stock": 0}  # held back
            return catch_up(["stock"], patience=30)
        else:
            assert held_back_seen.wait(30)
            a_may_commit.set()

    with runner.waiting_for_held_back.runs(held_back_seen.set):
        (result,) = run_threads(work, 3)[1]
    assert (result.outcome, result.events) == ("caught up", 2)
    assert sorted(ProductStock.objects.values_list("sku", flat=True)) == ["A-1", "B-1"]


@pytest.mark.postgres  # on SQLite no one commits while a batch holds the write lock
def test_a_patient_catch_up_takes_events_committed_during_its_round_at_once():
    """An order drafted while the round's last projection writes is new, not held back: the
    next round takes it at once rather than after the held-back poll."""
    shop = Shop()
    mug, customer = shop.create_product(stock=10), shop.register_customer()
    catch_up_all()
    shop.receive_stock(mug, 1)
    drafted: list = []
    waited: list[bool] = []

    def draft_meanwhile(name, events):
        if name == "stock" and events and not drafted:
            drafted.extend(run_threads(lambda i: shop.draft(customer, {mug: 1}), 1))

    with runner.batch_written.runs(draft_meanwhile), runner.waiting_for_held_back.runs(lambda: waited.append(True)):
        results = catch_up(["orders", "stock"], patience=30)
    assert drafted and not waited
    assert {r.name: r.events for r in results}["orders"] > 0
    assert OrderSummary.objects.filter(id=drafted[0]).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="asynchronous commit is PostgreSQL's")
def test_projection_batches_commit_without_waiting_for_the_disk_and_only_they_do(monkeypatch):
    """A batch writes only what the log can give again (read models and their checkpoint,
    together); the setting ends with the batch's transaction, so the appends the same
    session makes next wait for the disk as before."""
    seen = []
    counted = StockProjection.stock_counted

    def noting(self, event):
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            seen.append(cursor.fetchone()[0])
        return counted(self, event)

    monkeypatch.setattr(StockProjection, "stock_counted", noting)
    a_bit_of_everything()
    settle()
    assert seen and set(seen) == {"off"}
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
