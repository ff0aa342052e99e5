"""The concurrent-append benchmark's writer process.

A spawned process unpickles its target by importing the target's module before it can run
a line of it; this module imports nothing of Django at the top, so the writer can call
``django.setup()`` before the store (and its models) are imported.
"""

from __future__ import annotations

import os
import uuid
from typing import Any


def concurrent_writer(
    database: dict[str, Any],
    warm_up: list[Any],
    batch: list[Any],
    metadata: dict[str, str],
    start: Any,
    done: Any,
    timeout: float,
) -> None:
    """One writer process: its own interpreter, Django and connection (never a forked pool),
    to the benchmark's database as the benchmark's own role (``database``: NAME, USER, PASSWORD).
    It appends ``warm_up`` untimed, then ``batch`` between the two barriers, an event a stream."""
    try:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from django.db import connections

        from . import store
        from .records import NO_STREAM

        connections["default"].settings_dict.update(database)
        try:
            for event in warm_up:
                store.append("order", uuid.uuid4(), [event], expected_version=NO_STREAM, metadata=metadata)
            start.wait(timeout)
            for event in batch:
                store.append("order", uuid.uuid4(), [event], expected_version=NO_STREAM, metadata=metadata)
            done.wait(timeout)
        finally:
            connections.close_all()
    except BaseException:
        start.abort()
        done.abort()
        raise
