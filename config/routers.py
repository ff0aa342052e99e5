"""Queries from a read replica: set ``REPLICA_DATABASE_URL`` and the read models that GET
requests read come from the replica, while every write, every read of the event log and
the write side, and everything workers do (the projections' own checkpoints above all) stays
on the primary. Read-your-writes still holds: the read-your-writes wait checks the replica's
own copy of the projection checkpoints, so a page or ``?min_position=`` waits until the
replica has caught up with the write, not just the primary."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

# backoffice: proxies of the read models, for the admin.
REPLICATED_APPS = frozenset({"projections", "backoffice"})
_replica_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_allowed", default=False)


class ReplicaReadsMiddleware:
    """Only GET and HEAD requests, which change nothing, may read from the replica."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _replica_allowed.set(request.method in ("GET", "HEAD"))
        try:
            return self.get_response(request)
        finally:
            _replica_allowed.reset(token)


class ReadReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if _replica_allowed.get() and "replica" in settings.DATABASES and model._meta.app_label in REPLICATED_APPS:
            return "replica"
        return None

    def db_for_write(self, model: type, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        """The replica gets its schema by replication, never by ``migrate``."""
        return False if db == "replica" else None
