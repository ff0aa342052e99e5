"""The Redis gate that lets at most one wake-up wait in the queue (see ``projections.wakeup``).

Both ends use it: a commit's publisher opens it, the wake task closes it as it starts. It
is a module of its own so that neither end imports the other (the publisher sends the task).
"""

from __future__ import annotations

import functools

import redis
from celery import current_app
from django.conf import settings

GATE_TTL_MS = 10_000


def open_gate() -> bool:
    """Whether a wake-up may be published now; brokers other than Redis have no gate."""
    client = _gate_client(current_app.conf.broker_url)
    return client is None or bool(client.set(gate_key(), "1", nx=True, px=GATE_TTL_MS))


def clear_gate() -> None:
    """Called by the wake task as it starts: commits from now on may publish again."""
    client = _gate_client(current_app.conf.broker_url)
    if client is not None:
        client.delete(gate_key())


def gate_key() -> str:
    return f"chronicle:wake-pending:{settings.CELERY_TASK_DEFAULT_QUEUE}"


@functools.cache
def _gate_client(broker_url: str) -> redis.Redis | None:
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    return redis.Redis.from_url(broker_url, socket_timeout=1, socket_connect_timeout=1)
