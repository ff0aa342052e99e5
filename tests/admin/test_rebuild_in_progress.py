"""A rebuild started from the projections page runs on a real Celery worker (PostgreSQL and
Redis): the page shows its progress while it runs and refreshes itself, a second rebuild is
refused, a cancel stops it with the read models untouched, and a rebuild left alone
completes. The worker pauses after each page of the replay (PROJECTIONS_REBUILD_PAUSE_MS),
so the rebuild lasts long enough to watch."""

import html
import re

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from orders.domain import commands as c
from projections.models import Checkpoint, ProductStock, RebuildJob
from tests.factories import product, run
from tests.projections.processes import needs_redis
from tests.projections.support import a_long_history, settle, snapshot
from tests.support import wait_until

pytestmark = [pytest.mark.postgres, needs_redis, pytest.mark.django_db(transaction=True)]

PAGE = reverse("admin:projections_checkpoint_changelist")
REBUILD = reverse("admin:chronicle_projection_rebuild", args=["orders"])
CANCEL = reverse("admin:chronicle_projection_cancel", args=["orders"])
# After each page of 1,000 events: the history's six pages take four seconds at least.
PAUSE_MS = "700"


def rebuild_row(page: str) -> str | None:
    """The orders row of the page's running rebuilds, or None when none runs."""
    match = re.search(r'<tr data-rebuild="orders" data-state="(queued|running)".*?</tr>', page, re.S)
    return match[0] if match else None


def cell(row: str, name: str) -> str:
    """The text of the row's element of class ``name``."""
    return html.unescape(re.search(rf'class="[^"]*\b{name}\b[^"]*">(.*?)</(td|span)>', row, re.S)[1]).strip()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_rebuild_runs_on_a_worker_and_the_page_follows_it_until_it_is_cancelled_or_done(
    start_worker, superuser_client
):
    events = a_long_history()
    before = snapshot()
    start_worker(PROJECTIONS_REBUILD_PAUSE_MS=PAUSE_MS)

    response = superuser_client.post(REBUILD)

    assert messages_of(response) == [
        "Rebuild of orders started on a worker: this page shows its progress and can cancel it."
    ]

    def in_progress() -> str | None:
        """The page, once it shows the running rebuild past its first page of events."""
        page = superuser_client.get(PAGE).content.decode()
        row = rebuild_row(page)
        return page if row and re.search(r'data-state="running" data-done="[1-9]', row) else None

    page = wait_until(in_progress, what="the page to show the rebuild's progress")
    row = rebuild_row(page)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert "Rebuilds and retries run on the Celery workers" in page
    done, total = (int(n) for n in re.search(r'data-done="(\d+)" data-total="(\d+)"', row).groups())
    assert 0 < done < total == events
    assert re.fullmatch(rf"{done:,} of {total:,} events \({100 * done // total}%\)", cell(row, "text"))
    assert re.fullmatch(r"[\d,]+ events/s", cell(row, "rate"))
    assert re.fullmatch(r"\d+ s|\d+ min \d+ s", cell(row, "eta"))
    assert "rebuilding: " in page and f'href="{REBUILD}">Rebuild</a>' not in page

    refused = superuser_client.post(REBUILD)
    assert re.fullmatch(
        r"Rebuild of orders refused: a rebuild of orders is already running \(asked for by root at [\d:]{8}\): "
        r"wait for it to end, or cancel it on the projections page\.",
        messages_of(refused)[0],
    )
    with pytest.raises(CommandError, match=r"^a rebuild of orders is already running \(asked for by root"):
        call_command("rebuild_projections", "orders")

    assert superuser_client.get(CANCEL).status_code == 200  # a confirmation; nothing changes yet
    assert not RebuildJob.objects.get(state="running").cancel_requested
    cancelled = superuser_client.post(CANCEL)
    assert messages_of(cancelled) == ["Cancel of the rebuild of orders requested: it stops shortly."]
    job = wait_until(lambda: RebuildJob.objects.filter(state="cancelled").first(), what="the cancel")
    assert job.events_done < events and job.error == "cancelled"
    assert snapshot() == before
    assert Checkpoint.objects.get(name="orders").rebuilt_at is None
    wait_until(lambda: not _shadow_tables(), what="the rebuild to drop its shadow tables")
    assert rebuild_row(superuser_client.get(PAGE).content.decode()) is None

    superuser_client.post(REBUILD)
    job = wait_until(lambda: RebuildJob.objects.filter(state="done").first(), timeout=120, what="the rebuild")
    assert job.events_done == events
    assert Checkpoint.objects.get(name="orders").rebuilt_at >= job.started_at
    assert snapshot() == before
    page = superuser_client.get(PAGE).content.decode()
    assert "No rebuild is running." in page and '<meta http-equiv="refresh"' not in page
    assert list(RebuildJob.objects.values_list("state", flat=True)) == ["done", "cancelled"]


def _shadow_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if name.endswith("__rebuild")]


def test_a_retry_runs_on_a_worker(start_worker, superuser_client, poisoned_stock):
    """The worker runs the fixed code (the poison is this process's alone)."""
    mug = product(sku="MUG-1", stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    assert settle()["stock"] == "failed"
    failed_at = Checkpoint.objects.get(name="stock").failed_position
    start_worker()

    response = superuser_client.post(reverse("admin:chronicle_projection_retry", args=["stock"]))

    assert messages_of(response) == [
        f"Retry of stock started on a worker, from position {failed_at}: "
        "this page shows it catching up, or failing again."
    ]
    wait_until(lambda: ProductStock.objects.filter(id=mug, on_hand=2).exists(), what="the worker's retry")
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.RUNNING
