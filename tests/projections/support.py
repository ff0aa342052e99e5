"""Helpers for read-side tests: a shop with a bit of everything, snapshots of the read
models, and polling with a deadline."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.apps import apps

from eventstore import store
from orders.domain import Address, OrderStatus
from orders.history_builder import Shop
from projections.models import Checkpoint, RebuildJob
from projections.rebuild import rebuild
from projections.runner import Outcome, RunResult, catch_up, run, status
from projections.subscribers import Kind, Projection, Subscriber, select
from projections.worker_process import wait_until
from tests.support import run_threads

OFFICE = Address(line1="Rue de Rivoli 2", line2="3e étage", postal_code="75001", city="Paris", country="FR")
# 23:30 UTC on 29 March 2025 is already 30 March in Amsterdam (and the clocks go forward that night).
LATE_EVENING_UTC = dt.datetime(2025, 3, 29, 23, 30, tzinfo=dt.UTC)
NEXT_MORNING_UTC = dt.datetime(2025, 3, 30, 9, 0, tzinfo=dt.UTC)


def read_models() -> list[type[Any]]:
    return [model for model in apps.get_app_config("projections").get_models() if model not in (Checkpoint, RebuildJob)]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every read-model row, table by table, in primary-key order."""
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in read_models()}


def projections() -> list[type[Projection]]:
    return select(kind=Kind.PROJECTION)  # type: ignore[return-value]


def rebuilt_snapshot() -> dict[str, list[dict[str, Any]]]:
    """The read models as a full rebuild from the log makes them (and the catch-up after
    it, for whatever the rebuild could not see yet)."""
    rebuild(projections())
    catch_up_all()
    return snapshot()


@dataclass
class Story:
    """The ids of what ``a_bit_of_everything`` wrote."""

    shop: Shop
    ada: UUID
    grace: UUID
    mug: UUID
    cap: UUID
    poster: UUID
    delivered: UUID
    rejected: UUID
    cancelled_paid: UUID
    draft: UUID
    dollars: UUID


def a_bit_of_everything(shop: Shop | None = None, *, between: Callable[[], Any] = lambda: None) -> Story:
    """Customers, products and orders in every status, with refunds, rejections, changed
    drafts, two currencies and two shop days; ``between`` runs after each chapter (e.g. a
    catch-up, to fold the history in several goes)."""
    moment = [LATE_EVENING_UTC]
    shop = shop or Shop(clock=lambda: moment[0])
    ada = shop.register_customer("Ada Lovelace", "ada@example.com")
    grace = shop.register_customer("Grace Hopper", "grace@example.com", OFFICE)
    mug = shop.create_product("MUG-1", "Mug", "12.50", stock=10)
    cap = shop.create_product("CAP-1", "Cap", "5.00", stock=2)
    poster = shop.create_product("POSTER-1", "Poster", "20.00", "USD", stock=5)
    between()

    delivered = shop.order(ada, {mug: 2, cap: 1})
    rejected = shop.order(grace, {cap: 5})
    cancelled_paid = shop.order(grace, {mug: 1}, until=OrderStatus.PAID)
    shop.refund(delivered, "5.00")
    between()

    moment[0] = NEXT_MORNING_UTC
    shop.change_email(ada, "ada@lovelace.example")
    shop.change_address(grace, OFFICE)
    shop.cancel(cancelled_paid)
    shop.refund(cancelled_paid, "12.50")
    draft = shop.draft(ada, {mug: 1, cap: 1})
    shop.change_lines(draft, {mug: 3, cap: 0})
    shop.set_shipping_address(draft, OFFICE)
    dollars = shop.order(grace, {poster: 2}, until=OrderStatus.SHIPPED)
    shop.change_price(mug, "14.00")
    shop.adjust_stock(mug, -1, "Broken in the warehouse.")
    shop.discontinue(cap)
    between()
    return Story(shop, ada, grace, mug, cap, poster, delivered, rejected, cancelled_paid, draft, dollars)


def a_long_history(orders: int = 900) -> int:
    """Customers, products and ``orders`` orders in four statuses, written fast and caught up
    with: the orders projection's events (5,205 for 900 orders: six pages of a rebuild's
    replay); returns how many."""
    shop = Shop(autoflush=False)
    products = [shop.create_product(f"SKU-{i}", stock=10_000) for i in range(5)]
    customers = [shop.register_customer(f"Customer {i}") for i in range(30)]
    statuses = [OrderStatus.DELIVERED, OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.CONFIRMED]
    for i in range(orders):
        shop.order(customers[i % 30], {products[i % 5]: 1 + i % 3}, until=statuses[i % 4])
    shop.flush()
    feed_passed_everything()
    catch_up_all()
    return Checkpoint.objects.get(name="orders").events_processed


def two_runs_at_once(
    monkeypatch: Any, cls: type[Subscriber], handler: str, first: Callable[[], RunResult]
) -> tuple[RunResult, RunResult]:
    """``first`` runs ``cls`` and is held inside its ``handler`` until a second run of it,
    on a connection of its own, has returned: (first's result, second's)."""
    entered, release = threading.Event(), threading.Event()
    original = getattr(cls, handler)

    def held(self: Subscriber, event: Any) -> None:
        entered.set()
        assert release.wait(30)
        original(self, event)

    monkeypatch.setattr(cls, handler, held)

    def work(i: int) -> RunResult:
        if i == 0:
            return first()
        assert entered.wait(30)
        try:
            return run(cls)
        finally:
            release.set()

    owner, other = run_threads(work, 2)
    return owner, other


def feed_passed_everything() -> None:
    """Wait until the feed hands out every committed event (see ``settle``)."""
    wait_until(lambda: store.feed_backlog(store.head_cursor()).count == 0, what="the feed to hand out every event")


def settle(**options: Any) -> dict[str, Outcome]:
    """Run every subscriber until each has failed or has no event left to handle; the
    outcome of each one's last run.

    Once is not always enough on PostgreSQL: the feed holds events back while an older
    transaction anywhere on the server is open (another session's too), so this runs them
    again until those events are handed out."""
    outcomes: dict[str, Outcome] = {}

    def settled() -> bool:
        outcomes.update((result.name, result.outcome) for result in catch_up(**options))
        return all(subscriber.failed or subscriber.events_behind == 0 for subscriber in status())

    wait_until(settled, what="every subscriber to catch up or fail")
    return outcomes


def catch_up_all(**options: Any) -> None:
    """Run every subscriber until none has an event left to handle."""
    outcomes = settle(**options)
    assert set(outcomes.values()) == {Outcome.CAUGHT_UP}, outcomes
