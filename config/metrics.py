"""Prometheus metrics at ``/metrics``.

Counters and histograms are kept by each process; under gunicorn (several worker processes)
they live in ``PROMETHEUS_MULTIPROC_DIR`` and are summed at scrape time (gunicorn.conf.py
sets the directory up). Figures that describe the database rather than a process (feed head,
subscriber lag and failures) are read from the database at scrape time by a collector,
so every process reports the same truth.

The endpoint answers only a request bearing ``Authorization: Bearer $METRICS_TOKEN``, or,
without a token configured, one from an address in ``METRICS_ALLOWED_IPS``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

EVENTS_APPENDED = Counter(
    "chronicle_events_appended", "Events appended (and committed)", ["stream_type", "event_type"]
)
COMMAND_SECONDS = Histogram(
    "chronicle_command_duration_seconds",
    "Time to handle a command, retries included",
    ["command", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
VERSION_CONFLICTS = Counter("chronicle_version_conflicts", "Concurrency conflicts met by commands", ["command"])
IDEMPOTENT_REPLAYS = Counter("chronicle_idempotent_replays", "Commands answered from an idempotency record", ["command"])


def count_appended(sender: Any, events: list[Any], using: str, **kwargs: Any) -> None:
    """``events_appended`` receiver: count the events once their transaction commits."""

    def count() -> None:
        for event in events:
            EVENTS_APPENDED.labels(event.stream_type, event.event_type).inc()

    transaction.on_commit(count, using=using)


class DatabaseCollector:
    """Gauges read from the database when scraped: the feed head, and whatever the
    ``METRICS_SOURCES`` functions report (subscriber lag and failures)."""

    def collect(self) -> Iterator[Metric]:
        from eventstore.models import Event

        head = GaugeMetricFamily("chronicle_feed_head_position", "Highest position in the event log")
        head.add_metric([], Event.objects.order_by("-position").values_list("position", flat=True).first() or 0)
        yield head
        for dotted in settings.METRICS_SOURCES:
            source: Callable[[], Iterator[Metric]] = import_string(dotted)
            yield from source()


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return registry


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    return request.META.get("REMOTE_ADDR") in settings.METRICS_ALLOWED_IPS


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    registry = _registry()
    output = generate_latest(registry)
    database = CollectorRegistry()
    database.register(DatabaseCollector())
    return HttpResponse(output + generate_latest(database), content_type=CONTENT_TYPE_LATEST)
