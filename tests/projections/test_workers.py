"""Real PostgreSQL, real Redis, real Celery worker processes started by the tests."""

import time
from uuid import uuid4

import pytest

from eventstore.models import Event
from orders.domain import OrderStatus
from orders.history_builder import Shop
from projections.models import Checkpoint, OrderSummary, ProductStock
from projections.orders import OrdersProjection
from projections.runner import status
from projections.subscribers import all_subscribers
from projections.tasks import sweep, wake
from tests.projections.processes import RedisServer, needs_redis, use_broker
from tests.projections.support import (
    a_bit_of_everything,
    feed_passed_everything,
    rebuilt_snapshot,
    snapshot,
    wait_until,
)

pytestmark = [pytest.mark.postgres, needs_redis, pytest.mark.django_db(transaction=True)]


def all_caught_up() -> bool:
    return all(subscriber.events_behind == 0 and not subscriber.failed for subscriber in status())


def assert_exactly_once() -> None:
    """Every subscriber handled every event it subscribes to once, and the read models are
    what a fresh full rebuild makes of the log."""
    for name, cls in all_subscribers().items():
        expected = Event.objects.filter(event_type__in=cls.event_types).count()
        assert Checkpoint.objects.get(name=name).events_processed == expected, name
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_a_commit_wakes_a_worker_that_updates_the_read_models(start_worker, settings):
    start_worker()
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    shop = Shop()
    mug = shop.create_product(stock=3)
    order = shop.order(shop.register_customer(), {mug: 2})
    wait_until(lambda: OrderSummary.objects.filter(id=order, status=OrderStatus.DELIVERED).exists(), what="the order")
    wait_until(lambda: ProductStock.objects.filter(id=mug, on_hand=1).exists(), what="the stock")
    wait_until(all_caught_up, what="every subscriber")
    assert_exactly_once()


def test_a_worker_killed_in_the_middle_of_a_catch_up_resumes_where_its_last_batch_ended(start_worker, queue):
    shop = Shop(autoflush=False)
    mug, customers = shop.create_product(stock=10_000), [shop.register_customer() for _ in range(20)]
    for i in range(300):
        shop.order(customers[i % 20], {mug: 1 + i % 3})
    shop.flush()
    feed_passed_everything()
    positions = sorted(
        Event.objects.filter(event_type__in=OrdersProjection.event_types).values_list("position", flat=True)
    )
    kill_at = positions[len(positions) * 2 // 5]

    worker = start_worker(PROJECTIONS_BATCH_SIZE="20")
    wake.apply_async(queue=queue)
    wait_until(lambda: Checkpoint.objects.filter(name="orders", last_position__gte=kill_at).exists(), what="position")
    worker.kill()
    assert Checkpoint.objects.get(name="orders").events_processed < len(positions)  # killed mid-way

    start_worker(PROJECTIONS_BATCH_SIZE="20")
    wake.apply_async(queue=queue)
    wait_until(all_caught_up, timeout=120, what="every subscriber")
    assert_exactly_once()


def test_duplicate_deliveries_of_a_wake_up_change_nothing(start_worker, queue):
    """The same message delivered three times to two workers at once."""
    a_bit_of_everything()
    feed_passed_everything()
    workers = [start_worker(ready=False), start_worker(ready=False)]
    for worker in workers:
        worker.wait_ready()
    task_id = str(uuid4())
    for _ in range(3):
        wake.apply_async(queue=queue, task_id=task_id)
    done = f"Task projections.wake[{task_id}] succeeded"
    wait_until(lambda: sum(w.output().count(done) for w in workers) == 3, what="three deliveries")
    assert all_caught_up()
    assert_exactly_once()


def test_commands_succeed_while_redis_is_down_and_the_read_models_catch_up_when_it_is_back(
    start_worker, queue, settings, tmp_path
):
    redis = RedisServer(tmp_path / "redis.log")
    redis.start()
    try:
        with use_broker(redis.url):
            start_worker(broker_url=redis.url)
            settings.PROJECTIONS_WAKE_ON_COMMIT = True
            shop = Shop()
            mug, ada = shop.create_product(stock=5), shop.register_customer()
            wait_until(lambda: ProductStock.objects.filter(id=mug).exists(), what="the product")

            redis.stop()
            started = time.monotonic()
            orders = [shop.order(ada, {mug: 1}) for _ in range(3)]
            assert time.monotonic() - started < 5  # no command waited for the broker
            assert not OrderSummary.objects.filter(id__in=orders).exists()

            redis.start()
            sweep.apply_async(queue=queue)  # what Celery beat sends every few seconds
            wait_until(
                lambda: OrderSummary.objects.filter(id__in=orders, status="delivered").count() == 3, what="orders"
            )
            wait_until(all_caught_up, what="every subscriber")
    finally:
        redis.stop()
    assert_exactly_once()
