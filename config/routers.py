"""Queries from a read replica: set ``REPLICA_DATABASE_URL`` and the read models that GET
requests read come from the replica, while every write, every read of the event log and
the write side, and everything workers do (the projections' own checkpoints above all) stays
on the primary. Read-your-writes still holds: the read-your-writes wait checks the replica's
own copy of the projection checkpoints, so a page or ``?min_position=`` waits until the
replica has caught up with the write, not just the primary. And a staff member's session reads
the primary after a command until the replica shows it (``freshness.remember_write``), so a
lagging replica never makes their own change seem undone."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.models import Model
from django.http import HttpRequest, HttpResponse

from projections import freshness

# The read side's tables: only models stored in them (the back office's proxies included,
# whatever app declares them) are read from the replica; the write side's never are.
REPLICATED_APP = "projections"
_replica_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar("replica_allowed", default=False)


class ReplicaReadsMiddleware:
    """Only GET and HEAD requests, which change nothing, may read from the replica, and
    only once it shows the last command of the request's session. Runs after the
    session middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _replica_allowed.set(request.method in ("GET", "HEAD"))
        try:
            if _replica_allowed.get() and not _replica_shows_session_writes(request):
                _replica_allowed.set(False)
            return self.get_response(request)
        finally:
            _replica_allowed.reset(token)


def _replica_shows_session_writes(request: HttpRequest) -> bool:
    """Asked of the replica itself: the caller has just allowed this request to read it."""
    session = getattr(request, "session", None)
    if session is None or "replica" not in settings.DATABASES:
        return True
    return freshness.shows_last_write(session)


def is_read_model(model: type[Model]) -> bool:
    """Whether the model's rows live in a read-side table: decided by the concrete model, so
    a proxy follows the table it reads and an app label never decides."""
    concrete = model._meta.concrete_model
    assert concrete is not None, "set on every model class"
    return concrete._meta.app_label == REPLICATED_APP


class ReadReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        if _replica_allowed.get() and "replica" in settings.DATABASES and is_read_model(model):
            return "replica"
        return None

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        """The primary, or the database an instance came from (the owner's alias during a
        release's migrations); never the replica, even for an instance read from it."""
        instance = hints.get("instance")
        came_from = instance._state.db if instance is not None else None
        return came_from if came_from and came_from != "replica" else "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        """The replica gets its schema by replication, never by ``migrate``."""
        return False if db == "replica" else None
