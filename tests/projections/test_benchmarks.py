"""The read side's benchmark workloads: the history they write, and their note when they
cannot run."""

import json
import os
import subprocess
import sys

import pytest

from orders.benchmarks.read_side import write_history
from projections.models import StatusCount
from projections.worker_process import ROOT
from tests.projections.support import catch_up_all, rebuilt_snapshot, snapshot


@pytest.mark.django_db(transaction=True)
def test_the_benchmark_history_folds_in_small_batches_as_a_rebuild_folds_it():
    """A shop with orders in every status, price and e-mail changes, refunds, rejections."""
    assert write_history(3_000, customers=40, products=12, stock=10) >= 3_000
    catch_up_all(batch_size=97)
    assert {s.status for s in StatusCount.objects.filter(current__gt=0)} == {
        "draft",
        "placed",
        "confirmed",
        "rejected",
        "paid",
        "shipped",
        "delivered",
        "cancelled",
    }
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_the_lag_figures_are_skipped_with_a_note_when_there_is_no_broker():
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "benchmark", "--json", "--runs", "1", "--only", "projection_lag_p95_ms"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert "projection_lag_p95_ms" not in figures
    assert figures["skipped"] == {
        "projection_lag_p95_ms": "no broker configured (set REDIS_URL): there is no worker to wait for"
    }
