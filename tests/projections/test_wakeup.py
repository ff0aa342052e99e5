"""Commits wake the workers: once per transaction, never for a rollback, deduplicated
across bursts, in-process with no broker, and never failing a command."""

import logging
import os
import time

import pytest
import redis
from django.conf import settings as django_settings
from django.db import transaction

from orders.history_builder import Shop
from projections import gate, wakeup
from projections.models import OrderSummary, ProductStock
from tests.projections.processes import free_port, needs_redis, use_broker
from tests.projections.support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wakes(settings, monkeypatch) -> list[str]:
    """Wake on commit, with the publishing replaced by a note of it."""
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    published: list[str] = []
    monkeypatch.setattr(wakeup, "request_wake", lambda: published.append("wake"))
    return published


def test_a_transaction_asks_for_one_wake_up_when_it_commits(wakes):
    shop = Shop()
    with transaction.atomic():
        shop.create_product()
        shop.register_customer()
        shop.create_product()
        assert wakes == []
    assert wakes == ["wake"]

    shop.create_product()  # outside a transaction, an append commits at once
    assert wakes == ["wake", "wake"]


def test_a_transaction_that_rolls_back_wakes_no_one(wakes):
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        Shop().create_product()
        raise ZeroDivisionError
    assert wakes == []


def test_a_rolled_back_savepoint_does_not_take_the_transactions_wake_up_with_it(wakes):
    shop = Shop()
    with transaction.atomic():
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            shop.create_product()
            raise ZeroDivisionError
        shop.register_customer()
    assert wakes == ["wake"]


@pytest.mark.skipif(
    "DATABASE_URL" in os.environ or not django_settings.CELERY_TASK_ALWAYS_EAGER,
    reason="about the embedded default only: SQLite and no broker (tasks run in-process after commit)",
)
def test_with_no_broker_the_read_models_are_current_when_the_command_returns(settings):
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    shop = Shop()
    mug = shop.create_product(stock=4)
    order = shop.order(shop.register_customer(), {mug: 3})
    assert OrderSummary.objects.get(id=order).status == "delivered"
    assert ProductStock.objects.get(id=mug).on_hand == 1


def test_a_broker_that_is_down_never_fails_a_command(settings, monkeypatch, caplog):
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    monkeypatch.setattr(wakeup, "_broker_down_until", 0.0)
    with use_broker(f"redis://127.0.0.1:{free_port()}/0"), caplog.at_level(logging.WARNING, "projections.wakeup"):
        for _ in range(5):
            Shop().create_product()
        wait_until(lambda: caplog.records, what="the publisher to give up")
        started = time.monotonic()
        wakeup.publish_wake()  # backing off: it does not even try
        assert time.monotonic() - started < 0.1
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1 and "could not wake the projection workers" in warnings[0]
    assert "the sweep will catch up" in warnings[0]


@needs_redis
def test_a_burst_of_commits_leaves_one_wake_up_waiting_in_the_queue(settings, queue):
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    for _ in range(5):
        Shop().create_product()
    wait_until(lambda: broker.llen(queue) == 1, what="a wake-up in the queue")
    gate.clear_gate()  # the wake-up task has started: new commits need a new one
    for _ in range(5):
        Shop().create_product()
    wait_until(lambda: broker.llen(queue) == 2, what="a second wake-up")
    wakeup.publish_wake()  # as the publisher does for each commit: the gate is closed
    assert broker.llen(queue) == 2


def test_a_lone_commit_is_published_at_once_and_a_burst_after_it_once_more(monkeypatch):
    """The publisher's window gathers the commits that follow a publication; it never makes
    the first one wait."""
    import threading

    published = threading.Semaphore(0)
    monkeypatch.setattr(wakeup, "publish_wake", published.release)
    monkeypatch.setattr(wakeup, "PUBLISH_DEBOUNCE_SECONDS", 1.0)
    publisher = wakeup._Publisher()

    publisher.request()
    assert published.acquire(timeout=0.5), "the first commit waited for the window"
    for _ in range(50):
        publisher.request()
    assert not published.acquire(timeout=0.3), "a commit inside the window was published alone"
    assert published.acquire(timeout=2.0), "the burst was never published"
    assert not published.acquire(timeout=1.5), "the burst was published more than once"
