"""The benchmark command runs on a throwaway database and ends with one JSON line."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "benchmark", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_prints_the_medians_as_json_on_its_last_line():
    result = run("--json", "--runs", "1", "--only", "load_aggregate_1000_ms", "load_aggregate_1000_snapshot_ms")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["load_aggregate_1000_ms"] > figures["load_aggregate_1000_snapshot_ms"] > 0
    assert figures["runs"] == 1 and "engine" in figures
    eager = settings.CELERY_TASK_ALWAYS_EAGER
    assert figures["tasks"] == ("eager (no broker)" if eager else "broker redis")


def test_an_unknown_workload_is_refused_with_the_valid_names():
    result = run("--only", "warp_speed")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()  # no traceback
    assert "warp_speed" in line and "append_one_eps" in line


@pytest.mark.postgres(reason="SQLite serialises the writers on one file; the workload is PostgreSQL's")
def test_the_concurrent_writers_run_in_processes_of_their_own():
    """Each writer is a spawned interpreter that must set Django up before the store loads."""
    result = run("--json", "--runs", "1", "--only", "append_concurrent_eps")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["append_concurrent_eps"] > 0
