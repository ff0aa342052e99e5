"""Prometheus metrics at ``/metrics``.

Counters and histograms are kept by each process, defined beside the code that records them
(``eventstore.metrics``, ``orders.metrics``) in prometheus_client's default registry; under
gunicorn (several worker processes) they live in ``PROMETHEUS_MULTIPROC_DIR`` and are summed
at scrape time (gunicorn.conf.py sets the directory up). Figures that describe the database
rather than a process (feed head, subscriber lag and failures) are read from the database at
scrape time by a collector, so every process reports the same truth.

The endpoint answers only a request bearing ``Authorization: Bearer $METRICS_TOKEN``, or,
without a token configured (development only: production refuses to start without one),
one from an address in ``METRICS_ALLOWED_IPS``.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric


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
