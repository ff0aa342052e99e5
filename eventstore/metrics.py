"""The event store's counter for ``/metrics``, defined in the layer that records it.

prometheus_client registers a metric when it is defined, so this module (imported once per
process, by ``EventstoreConfig.ready()``) is its only definition; ``config.metrics`` serves
what the default registry holds.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from prometheus_client import Counter

EVENTS_APPENDED = Counter("chronicle_events_appended", "Events appended (and committed)", ["stream_type", "event_type"])


def count_appended(sender: Any, events: list[Any], using: str, **kwargs: Any) -> None:
    """``events_appended`` receiver: count the events once their transaction commits."""

    def count() -> None:
        for event in events:
            EVENTS_APPENDED.labels(event.stream_type, event.event_type).inc()

    transaction.on_commit(count, using=using)
