"""Small helpers shared by tests: metadata, events, threads with their own connections."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

from django.db import connections

from eventstore.records import NewEvent

META = {"actor": "system", "source": "system", "correlation_id": "test-run"}


def new_event(event_type: str = "LineAdded", **data: Any) -> NewEvent:
    return NewEvent(event_type, data or {"sku": "SKU-1", "quantity": 1})


def new_stream() -> UUID:
    return uuid4()


def run_threads(target: Callable[[int], Any], count: int, timeout: float = 120) -> list[Any]:
    """Run ``target(i)`` in ``count`` threads, each on its own database connection, and
    return their results; re-raise the first exception any of them raised."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError("a test thread did not finish in time")
    if errors:
        raise errors[0]
    return results
