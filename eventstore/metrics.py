"""The event store's counter for ``/metrics``, defined in the layer that records it.

prometheus_client registers a metric when it is defined, so this module (imported once per
process, by ``EventstoreConfig.ready()``) is its only definition; ``config.metrics`` serves
what the default registry holds.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from prometheus_client import Counter

EVENTS_APPENDED = Counter("chronicle_events_appended", "Events appended (and committed)", ["stream_type", "event_type"])


def count_appended(sender: Any, events: list[Any], using: str, **kwargs: Any) -> None:
    """``events_appended`` receiver: count the events once their transaction commits."""
    transaction.on_commit(functools.partial(_count, events), using=using)


@functools.cache
def _counter(stream_type: str, event_type: str) -> Any:
    """The labelled child (prometheus_client's ``labels()`` costs more than the append's
    hash); a shop has tens of event types, so the cache stays small."""
    return EVENTS_APPENDED.labels(stream_type, event_type)


def _count(events: list[Any]) -> None:
    for event in events:
        _counter(event.stream_type, event.event_type).inc()
