"""Health endpoints for load balancers and orchestrators.

``/healthz`` answers 200 whenever the process can answer at all. ``/readyz`` answers 200
when the database is reachable and every migration is applied, else 503. It also reports
the broker and each subscriber as ``ok`` or ``degraded`` without failing readiness for
them: commands keep working while workers or Redis are away (the sweep catches up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

log = logging.getLogger("chronicle.health")
_migrated = False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return False, f"unreachable: {type(exc).__name__}"
    return True, "ok"


def migrations_ok() -> tuple[bool, str]:
    """Cached once true: migrations are applied by deploys, not while a process runs."""
    global _migrated
    if not _migrated:
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:
            return False, f"cannot check: {type(exc).__name__}"
        if pending:
            return False, f"{len(pending)} migrations not applied"
        _migrated = True
    return True, "ok"


def broker_status() -> str:
    """``ok``, ``embedded`` (no broker: tasks run in-process) or ``degraded``."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "embedded"
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
    except Exception as exc:
        log.warning("broker unreachable: %s", exc)
        return "degraded"
    return "ok"


def _components() -> dict[str, Any]:
    """Extra readiness reports from other apps (``HEALTH_COMPONENTS``: dotted paths to
    functions returning a JSON-able dict of name -> "ok"/"degraded"/details)."""
    reports: dict[str, Any] = {}
    for dotted in settings.HEALTH_COMPONENTS:
        report: Callable[[], dict[str, Any]] = import_string(dotted)
        try:
            reports.update(report())
        except Exception as exc:
            log.warning("health component %s failed: %s", dotted, exc)
            reports[dotted] = "degraded"
    return reports


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    database, database_detail = database_ok()
    migrated, migrations_detail = migrations_ok() if database else (False, "database unreachable")
    ready = database and migrated
    body: dict[str, Any] = {
        "status": "ok" if ready else "unavailable",
        "database": database_detail,
        "migrations": migrations_detail,
        "broker": broker_status(),
    }
    if database:
        body.update(_components())
    return JsonResponse(body, status=200 if ready else 503)
