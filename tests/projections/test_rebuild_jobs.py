"""Rebuilds as jobs: one at a time per projection, whoever asks; progress written while the
replay runs, visible to other connections; a cancel stops the replay and leaves the read
models as they were; a job whose process died does not block its projection for good."""

import datetime as dt
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from projections import locks, rebuild_jobs
from projections.models import Checkpoint, RebuildJob
from projections.rebuild import lock_name
from projections.rebuild_jobs import AlreadyRebuilding
from projections.stock import StockProjection
from tests.projections.support import a_bit_of_everything, catch_up_all, snapshot
from tests.support import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def story():
    story = a_bit_of_everything()
    catch_up_all()
    return story


def shadow_tables() -> list[str]:
    return [name for name in connection.introspection.table_names() if name.endswith("__rebuild")]


def test_a_job_runs_the_rebuild_and_records_its_progress_and_outcome(story):
    seen = []

    def echo(done, total):  # what another connection sees of the job meanwhile
        seen.append(run_threads(lambda i: list(RebuildJob.objects.values_list("state", "events_total")), 1)[0])

    (job,) = rebuild_jobs.request(["stock"], requested_by="root")
    assert (job.state, job.requested_by, job.events_total) == (RebuildJob.QUEUED, "root", None)

    (job,) = rebuild_jobs.run([job.pk], echo=echo)

    stock_events = Checkpoint.objects.get(name="stock").events_processed
    assert seen[0] == [(RebuildJob.RUNNING, None)]  # claimed before the replay, counted at its first report
    assert seen[-1] == [(RebuildJob.RUNNING, stock_events)]
    assert (job.state, job.events_done, job.events_total, job.error) == ("done", stock_events, stock_events, "")
    assert job.started_at <= job.finished_at and job.rate > 0
    assert Checkpoint.objects.get(name="stock").rebuilt_at >= job.started_at


def test_a_second_rebuild_of_a_projection_is_refused_while_one_waits_or_runs(story):
    (first,) = rebuild_jobs.request(["stock"], requested_by="root")

    with pytest.raises(AlreadyRebuilding, match=r"a rebuild of stock is already queued \(asked for by root at "):
        rebuild_jobs.request(["orders", "stock"], requested_by="olivia")
    with pytest.raises(
        CommandError, match=r"a rebuild of stock is already queued .* cancel it on the projections page"
    ):
        call_command("rebuild_projections", "stock")
    refused_while_running = []

    def echo(done, total):
        if not refused_while_running:
            refused_while_running.append(run_threads(lambda i: _request_stock(), 1)[0])

    rebuild_jobs.run([first.pk], echo=echo)

    assert refused_while_running[0].startswith("a rebuild of stock is already running (asked for by root at ")
    assert list(RebuildJob.objects.values_list("projection", "state")) == [("stock", "done")]  # none for orders
    rebuild_jobs.request(["stock"], requested_by="root")  # once it is done, a new one may start


def _request_stock() -> str:
    try:
        rebuild_jobs.request(["stock"], requested_by="olivia")
    except AlreadyRebuilding as error:
        return str(error)
    return "not refused"


def test_a_cancelled_rebuild_stops_and_leaves_the_read_models_as_they_were(story):
    before = snapshot()
    (job,) = rebuild_jobs.request(["orders"], requested_by="root")
    reports = []

    def cancel_from_elsewhere(done, total):
        reports.append(done)
        run_threads(lambda i: rebuild_jobs.cancel("orders"), 1)

    (job,) = rebuild_jobs.run([job.pk], echo=cancel_from_elsewhere)

    assert reports == [0]  # stopped at its first progress report
    assert (job.state, job.error, job.cancel_requested) == ("cancelled", "cancelled", True)
    assert snapshot() == before
    assert Checkpoint.objects.get(name="orders").rebuilt_at is None
    assert shadow_tables() == []


def test_a_job_cancelled_before_a_worker_takes_it_never_runs(story):
    (job,) = rebuild_jobs.request(["orders"], requested_by="root")
    assert rebuild_jobs.cancel("orders").state == RebuildJob.CANCELLED

    (job,) = rebuild_jobs.run([job.pk])  # its task arrives after all

    assert (job.state, job.error, job.started_at) == ("cancelled", "cancelled before it started", None)
    assert Checkpoint.objects.get(name="orders").rebuilt_at is None
    assert rebuild_jobs.cancel("orders") is None


def test_a_duplicate_delivery_of_a_finished_job_does_nothing(story):
    (job,) = rebuild_jobs.request(["stock"], requested_by="root")
    rebuild_jobs.run([job.pk])
    rebuilt_at = Checkpoint.objects.get(name="stock").rebuilt_at

    (again,) = rebuild_jobs.run([job.pk])

    assert again.state == RebuildJob.DONE and again.finished_at == RebuildJob.objects.get(pk=job.pk).finished_at
    assert Checkpoint.objects.get(name="stock").rebuilt_at == rebuilt_at


def test_a_failing_handler_fails_the_job_with_its_error(story, monkeypatch):
    def broken(self, event):
        raise ValueError("this version has a bug")

    monkeypatch.setattr(StockProjection, "stock_reserved", broken)
    before = snapshot()
    (job,) = rebuild_jobs.request(["stock"], requested_by="root")

    (job,) = rebuild_jobs.run([job.pk])

    assert (job.state, job.error) == ("failed", "ValueError: this version has a bug")
    assert snapshot() == before and shadow_tables() == []


def test_a_running_job_whose_process_died_is_taken_for_abandoned(story):
    """On PostgreSQL nobody holds its lock; on SQLite it has not reported for five minutes."""
    silent_since = timezone.now() - dt.timedelta(seconds=rebuild_jobs.ABANDONED_AFTER_SECONDS + 1)
    dead = RebuildJob.objects.create(
        projection="orders", state=RebuildJob.RUNNING, requested_by="root", started_at=silent_since
    )
    RebuildJob.objects.filter(pk=dead.pk).update(updated_at=silent_since)

    (job,) = rebuild_jobs.request(["orders"], requested_by="olivia")

    dead.refresh_from_db()
    assert (dead.state, dead.error) == (
        "failed",
        "abandoned: the process that ran it stopped; the read models are unchanged",
    )
    assert rebuild_jobs.run([job.pk])[0].state == RebuildJob.DONE


@pytest.mark.postgres(reason="a live rebuild's session lock tells it from a dead one")
def test_a_running_job_whose_process_holds_its_lock_is_not_abandoned_however_quiet(story):
    silent_since = timezone.now() - dt.timedelta(hours=1)
    RebuildJob.objects.create(projection="orders", state=RebuildJob.RUNNING, started_at=silent_since)
    RebuildJob.objects.update(updated_at=silent_since)
    holding, release = threading.Event(), threading.Event()

    def hold_the_lock(i: int) -> None:
        with locks.session_lock(lock_name("orders")) as owned:
            assert owned
            holding.set()
            assert release.wait(30)

    holder = threading.Thread(target=run_threads, args=(hold_the_lock, 1))
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(AlreadyRebuilding):
            rebuild_jobs.request(["orders"], requested_by="olivia")
        job = rebuild_jobs.cancel("orders")
        assert (job.state, job.cancel_requested) == (RebuildJob.RUNNING, True)  # asked to stop, still running
    finally:
        release.set()
        holder.join(30)
    assert rebuild_jobs.cancel("orders").state == RebuildJob.FAILED  # its lock is free now: abandoned


def test_a_task_naming_no_job_that_exists_rebuilds_nothing(story):
    assert rebuild_jobs.run([]) == [] and rebuild_jobs.run([12345]) == []
    assert not Checkpoint.objects.exclude(rebuilt_at=None).exists()
