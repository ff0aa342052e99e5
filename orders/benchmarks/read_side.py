"""Read-side workloads for ``manage.py benchmark``: rebuilding every projection from a shop's
history of 100,000+ events, and the lag from commit to read model with a real worker."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import Any
from uuid import UUID

from celery import current_app
from django.test.utils import override_settings

from eventstore import store
from eventstore.benchmark import Skipped, analyze, log, workload
from eventstore.records import utcnow
from orders.domain import OrderStatus
from orders.history_builder import Shop
from projections.models import OrderSummary, ProductStock
from projections.rebuild import rebuild
from projections.runner import catch_up, restart_process_managers
from projections.subscribers import Kind, Projection, select
from projections.worker_process import WorkerProcess, forget_queue, wait_until

HISTORY_EVENTS = 100_000
LAG_SAMPLES = 100

# How often orders end in each status (drafts are abandoned carts).
_ENDINGS = {
    OrderStatus.DELIVERED: 70,
    OrderStatus.SHIPPED: 8,
    OrderStatus.PAID: 5,
    OrderStatus.CONFIRMED: 4,
    OrderStatus.CANCELLED: 5,
    OrderStatus.PLACED: 3,
    OrderStatus.DRAFT: 5,
}


def _projections() -> list[type[Projection]]:
    return select(kind=Kind.PROJECTION)


@workload("rebuild_eps")
def rebuild_all(state: dict[str, Any]) -> float:
    """Rebuild every projection from the whole log: events replayed per second. The first
    run writes a shop's history of at least 100,000 events."""
    if "history" not in state:
        with override_settings(PROJECTIONS_WAKE_ON_COMMIT=False):  # only the rebuild is measured
            state["history"] = write_history(HISTORY_EVENTS)
        analyze("chronicle_event")  # else the filtered feed may sort every remaining event for each page
    event_types = sorted({t for cls in _projections() for t in cls.event_types})
    events = store.feed_backlog(None, event_types=event_types, limit=2**62).count
    started = perf_counter()
    rebuild(_projections())
    return events / (perf_counter() - started)


def write_history(at_least: int, *, customers: int = 1500, products: int = 300, stock: int = 50) -> int:
    """Customers, a catalogue and orders in every status over 90 days, through the domain
    (``orders.history_builder``), until the log holds ``at_least`` events; returns how
    many it wrote."""
    rng = random.Random(4)
    moment = [utcnow() - dt.timedelta(days=90)]
    shop = Shop(clock=lambda: moment[0], autoflush=False)
    people = [shop.register_customer(f"Customer {i}", f"customer{i}@example.com") for i in range(customers)]
    catalogue = [
        shop.create_product(f"SKU-{i:05d}", f"Product {i}", f"{rng.randint(300, 9000) / 100:.2f}", stock=stock)
        for i in range(products)
    ]
    written = shop.flush()
    while written < at_least:
        for _ in range(100):
            moment[0] += dt.timedelta(minutes=17)
            _one_order(shop, rng, rng.choice(people), catalogue)
        if rng.random() < 0.3:
            shop.change_email(rng.choice(people), f"moved{written}@example.com")
            shop.change_price(rng.choice(catalogue), f"{rng.randint(300, 9000) / 100:.2f}")
        written += shop.flush()
    log(f"rebuild_eps: {written:,} events written")
    return written


def _one_order(shop: Shop, rng: random.Random, customer: UUID, products: list[UUID]) -> None:
    lines = {product: rng.randint(1, 3) for product in rng.sample(products, rng.randint(1, 3))}
    for product in lines:
        if shop.products[product].available < 5 and rng.random() < 0.7:  # else some orders are rejected
            shop.receive_stock(product, 50)
    until = rng.choices(list(_ENDINGS), weights=list(_ENDINGS.values()))[0]
    order = shop.order(customer, lines, until=until)
    if shop.orders[order].status == OrderStatus.DELIVERED and rng.random() < 0.05:
        shop.refund(order, str((shop.orders[order].amount_paid.amount / 4).quantize(Decimal("0.01"))))


@workload("projection_lag_p50_ms")
def lag_p50(state: dict[str, Any]) -> float:
    """Commit to read model visible, with a real worker: median of 100 orders, one at a time."""
    return statistics.median(_lag_samples()) * 1000


@workload("projection_lag_p95_ms")
def lag_p95(state: dict[str, Any]) -> float:
    """The same, 95th percentile."""
    return statistics.quantiles(_lag_samples(), n=100)[94] * 1000


def _lag_samples() -> list[float]:
    """Seconds from just before each append until its order shows in the order list."""
    if current_app.conf.task_always_eager:
        raise Skipped("no broker configured (set REDIS_URL): there is no worker to wait for")
    # Start from a caught-up shop, so the samples measure lag, not a backlog: the history
    # that rebuild_eps wrote was acted on as it was written, and the process managers
    # would otherwise wade through all of it first.
    restart_process_managers()
    catch_up()
    queue = f"chronicle-bench-{time.time_ns()}"
    settings = override_settings(CELERY_TASK_DEFAULT_QUEUE=queue, PROJECTIONS_WAKE_ON_COMMIT=True)
    with settings, tempfile.TemporaryDirectory() as folder:
        worker = WorkerProcess(broker_url=current_app.conf.broker_url, queue=queue, log=Path(folder) / "lag.log")
        try:
            worker.wait_ready()
            return _measure_lag(Shop())
        finally:
            worker.stop()
            forget_queue(current_app.conf.broker_url, queue)


def _measure_lag(shop: Shop) -> list[float]:
    customer, product = shop.register_customer(), shop.create_product(stock=10**6)
    wait_until(lambda: ProductStock.objects.filter(id=product).exists(), timeout=60, what="the worker")
    samples = []
    for _ in range(LAG_SAMPLES + 5):  # the first few warm the worker up
        started = perf_counter()
        order = shop.draft(customer, {product: 1})
        wait_until(OrderSummary.objects.filter(id=order).exists, what="the order")
        samples.append(perf_counter() - started)
        time.sleep(0.02)  # light load: one order at a time
    return samples[5:]
