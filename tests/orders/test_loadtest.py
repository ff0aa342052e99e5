"""``manage.py loadtest``'s figures and refusals; the run itself is ``make loadtest`` (minutes,
Locust), not part of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from orders.loadtest import cpu
from orders.loadtest.report import Lag, build, percentile
from orders.loadtest.stack import StackError, check_environment

PROJECTIONS = ["orders", "stock"]


def outcomes(**changes: object) -> dict[str, object]:
    """Ten seconds of load from t=100: a hundred order-list queries (1 to 100 ms), twenty
    hot-order changes, four lines added."""
    recorded = {
        "seconds": 10.0,
        "started_at": 100.0,
        "stopped_at": 110.0,
        "latencies_ms": {
            "GET orders/": [float(ms) for ms in range(100, 0, -1)],
            "POST orders/{id}/change-quantity/": [5.0] * 20,
            "POST orders/{id}/lines/": [7.0] * 4,
        },
        "answers": [
            ["GET orders/", 200, "", 97],
            ["GET orders/", 500, "server_error", 2],
            ["GET orders/", 0, "", 1],
            ["POST orders/{id}/change-quantity/", 200, "", 16],
            ["POST orders/{id}/change-quantity/", 409, "version_conflict", 4],
            ["POST orders/{id}/lines/", 201, "", 2],
            ["POST orders/{id}/lines/", 422, "product_discontinued", 1],
            ["POST orders/{id}/lines/", 409, "idempotency_in_progress", 1],
        ],
    }
    return recorded | changes


def report_of(recorded: dict[str, object], samples: list[tuple[float, dict[str, float]]] = ()) -> object:
    return build(
        recorded,
        setting="a stack",
        load_average=(1.0, 2.0),
        cpu=None,
        users=3,
        lag_samples=list(samples),
        projections=PROJECTIONS,
        caught_up_seconds=0.2,
        failed_subscribers=[],
    )


def test_percentiles_are_nearest_rank():
    values = [float(n) for n in range(100, 0, -1)]
    assert [percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 95) == 0.0


def test_409_and_422_are_answers_by_design_and_anything_else_not_2xx_is_an_error():
    report = report_of(outcomes())

    assert report.by_design == {
        "409 version_conflict": 4,
        "422 product_discontinued": 1,
        "409 idempotency_in_progress": 1,
    }
    assert report.errors == {"500 server_error": 2, "no answer": 1}
    assert report.error_count == 3
    assert report.version_conflicts == 4
    assert report.hot_writes == 20


def test_throughput_mix_and_latency_by_request_type():
    report = report_of(outcomes())

    assert (report.requests, report.queries, report.rps) == (124, 100, 12.4)
    first = report.types[0]
    assert (first.name, first.count, first.rps, first.p50_ms, first.p95_ms, first.p99_ms) == (
        "GET orders/",
        100,
        10.0,
        50.0,
        95.0,
        99.0,
    )
    assert [t.name for t in report.types][1:] == ["POST orders/{id}/change-quantity/", "POST orders/{id}/lines/"]


def test_a_run_without_errors_has_none_to_count():
    clean = outcomes(answers=[["GET orders/", 200, "", 100], ["POST orders/{id}/lines/", 409, "version_conflict", 4]])
    report = report_of(clean)

    assert report.error_count == 0
    assert "errors (any other answer not 2xx): none" in report.lines()


def test_projection_lag_counts_samples_taken_while_the_load_ran_and_each_projections_worst():
    samples = [
        (99.0, {"orders": 9.0, "stock": 9.0, "fulfilment": 9.0}),  # before the load: left out
        (101.0, {"orders": 0.1, "stock": 0.3, "fulfilment": 5.0}),
        (102.0, {"orders": 0.2, "stock": 0.0, "fulfilment": 0.0}),
        (103.0, {"orders": 0.0, "stock": 0.0, "fulfilment": 0.0}),
        (111.0, {"orders": 9.0, "stock": 9.0, "fulfilment": 9.0}),  # after it: left out
    ]
    report = report_of(outcomes(), samples)

    assert report.projection_lag == Lag(samples=3, p50=0.2, p95=0.3, max=0.3)
    assert report.subscriber_lag["fulfilment"] == Lag(samples=3, p50=0.0, p95=5.0, max=5.0)
    assert report.as_json()["projection_lag_p95_ms"] == 300


def test_cpu_is_read_per_part_of_the_stack_from_the_processes_started():
    if not Path("/proc/stat").exists():
        pytest.skip("CPU readings come from Linux's /proc")
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\nprint('burnt', flush=True)\ntime.sleep(60)"
    started = time.monotonic()
    before = cpu.read([])
    named_as_beat = [sys.executable, "-c", burn, "beat"]
    beat = subprocess.Popen(named_as_beat, stdout=subprocess.PIPE, text=True)
    try:
        assert beat.stdout.readline() == "burnt\n"
        time.sleep(1.0)  # a stretch of wall time to hold the machine's total against
        after = cpu.read([])
        elapsed = time.monotonic() - started
    finally:
        beat.kill()
        beat.wait()

    spent = cpu.spent(before, after)
    assert 0.3 <= spent["Celery beat"] < 1.0  # the burning, and the interpreter's start
    assert spent["web"] == spent["Celery workers"] == spent["PostgreSQL"] == 0.0
    cores = os.cpu_count() or 1
    assert 0.75 * cores * elapsed <= spent["total"] <= 1.25 * cores * elapsed  # every core's time, in seconds
    assert 0.3 <= spent["busy"] <= spent["total"]


@pytest.mark.parametrize(
    ("option", "refusal"),
    [
        ("--duration=0", "--duration must be between 1 and 3600 seconds"),
        ("--users=0", "--users must be between 1 and 1000"),
        ("--spawn-rate=0", "--spawn-rate must be above 0"),
    ],
)
def test_bounds_are_checked_before_anything_starts(option: str, refusal: str):
    with pytest.raises(CommandError, match=refusal):
        call_command("loadtest", option)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="on PostgreSQL: this is the embedded SQLite default's refusal",
)
def test_the_embedded_default_is_refused_with_what_to_set():
    with pytest.raises(StackError, match="the load test runs on PostgreSQL: set DATABASE_URL"):
        check_environment()
