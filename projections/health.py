"""The read side's part in /readyz and /metrics (see config.health and config.metrics)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily, Metric

from .runner import Status, status

OK, LAGGING, FAILED = "ok", "lagging", "failed"


def condition(state: Status) -> str:
    """``failed`` while stopped by a failure; ``lagging`` when the oldest event it has still
    to handle is more than ``PROJECTIONS_DEGRADED_LAG_SECONDS`` old (or its cursor is no
    longer valid); else ``ok``. Events in transit for a few seconds are normal."""
    if state.failed:
        return FAILED
    if state.events_behind is None or state.seconds_behind > settings.PROJECTIONS_DEGRADED_LAG_SECONDS:
        return LAGGING
    return OK


def subscribers() -> dict[str, Any]:
    """Each subscriber ``ok``, or ``degraded`` when it failed or lags (see ``condition``)."""
    return {"subscribers": {state.name: "ok" if condition(state) == OK else "degraded" for state in status()}}


def metrics() -> Iterator[Metric]:
    events = GaugeMetricFamily(
        "chronicle_subscriber_lag_events", "Events a subscriber has still to handle", labels=["subscriber"]
    )
    seconds = GaugeMetricFamily(
        "chronicle_subscriber_lag_seconds",
        "Age of the oldest event a subscriber has still to handle",
        labels=["subscriber"],
    )
    failed = GaugeMetricFamily(
        "chronicle_subscriber_failed", "1 while a subscriber is stopped by a failure", labels=["subscriber"]
    )
    for state in status():
        events.add_metric([state.name], state.events_behind if state.events_behind is not None else float("nan"))
        seconds.add_metric([state.name], state.seconds_behind)
        failed.add_metric([state.name], 1 if state.failed else 0)
    yield from (events, seconds, failed)
