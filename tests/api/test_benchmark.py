"""The API's benchmark workload runs gunicorn against the benchmark database and reports."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

from django.urls import URLPattern, URLResolver, get_resolver, resolve

from orders.benchmarks import floor_urls
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


def test_api_query_floor_rps_is_measured_through_gunicorn():
    result = run("--json", "--runs", "1", "--only", "api_query_floor_rps")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["api_query_floor_rps"] > 0
    assert "api_query_floor_rps: 1200 queries in" in result.stderr


def _views(patterns: list[URLPattern | URLResolver]) -> Iterator[Callable[..., Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _views(pattern.url_patterns)
        else:
            yield pattern.callback


def test_production_urls_never_reach_the_floors_bare_views():
    floor = {pattern.callback for pattern in floor_urls.urlpatterns}
    assert floor and floor.isdisjoint(_views(get_resolver("config.urls").url_patterns))
    for pattern in floor_urls.urlpatterns:
        route = str(pattern.pattern).replace("<uuid:id>", str(uuid4()))
        view = resolve(f"/{route}", urlconf="config.urls").func
        assert view.__module__.startswith("orders.api.views."), route
        assert resolve(f"/{route}", urlconf="orders.benchmarks.floor_urls").func in floor
