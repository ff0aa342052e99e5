"""The API's benchmark workload runs gunicorn against the benchmark database and reports."""

from __future__ import annotations

import json

from tests.eventstore.test_benchmark_command import run


def test_api_command_rps_is_measured_through_gunicorn():
    result = run("--json", "--runs", "1", "--only", "api_command_rps")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["api_command_rps"] > 0
    assert "api_command_rps: 1200 commands in" in result.stderr


def test_api_query_rps_is_measured_through_gunicorn():
    result = run("--json", "--runs", "1", "--only", "api_query_rps")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["api_query_rps"] > 0
    assert "api_query_rps: 1200 queries in" in result.stderr


def test_proof_p95_ms_is_measured_through_gunicorn_on_a_log_of_100000_sealed_events():
    result = run("--json", "--runs", "1", "--only", "proof_p95_ms")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["proof_p95_ms"] > 0
    assert "proof_p95_ms: 1200 proofs in a tree of 100000 leaves" in result.stderr
