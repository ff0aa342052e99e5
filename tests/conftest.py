"""Test-suite wiring.

The event log's tables refuse DELETE and TRUNCATE at the database level. Transactional
tests empty every table when they end; on PostgreSQL that clean-up, and only that, is the
owner's act (``tests.support.purge_allowed``), never the app's.

With ``DATABASE_OWNER_URL`` naming another role than ``DATABASE_URL`` (as CI does), the
owner creates and migrates the test database, ``setup_database_roles`` sets up the app role
there, and every test then connects as the app role: the suite runs within its limits.

Commits do not wake the projections here: each test runs them when it means to, and the
tests of the wake-up turn it back on.

Tests that need real Celery workers (the read side's, and a browser journey that watches a
rebuild) start them with ``start_worker``, on a queue of their own (``queue``).
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis
from celery import current_app
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from django.db.backends.base.operations import BaseDatabaseOperations
from django.test import override_settings

from config import observability
from projections import gate, wakeup
from projections.stock import StockProjection
from projections.worker_process import WorkerProcess, forget_queue
from tests.support import purge_allowed

_execute_sql_flush = BaseDatabaseOperations.execute_sql_flush


def _execute_sql_flush_with_purge(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
    if self.connection.vendor == "postgresql":
        with purge_allowed() as owner:
            for sql in sql_list:
                owner.execute(sql)
        return
    with purge_allowed():
        _execute_sql_flush(self, sql_list)


BaseDatabaseOperations.execute_sql_flush = _execute_sql_flush_with_purge  # type: ignore[method-assign]


def _reconnect(user: str, password: str) -> None:
    """The default alias connects as ``user`` from now on, on fresh connections."""
    default = connections["default"]
    default.close()
    default.close_pool()
    default.settings_dict["USER"], default.settings_dict["PASSWORD"] = user, password


def _app_and_owner() -> tuple[tuple[str, str], tuple[str, str]] | None:
    """(user, password) of the app role and of the owner, when they differ (as in CI)."""
    default, owner = settings.DATABASES["default"], settings.DATABASES.get("owner")
    if owner is None or owner["USER"] == default["USER"]:
        return None
    return (default["USER"], default["PASSWORD"]), (owner["USER"], owner["PASSWORD"])


_ROLES = _app_and_owner()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix: None) -> None:
    """With a separate owner (``DATABASE_OWNER_URL`` names another role, as in CI), the owner
    creates and migrates the test database: until ``_app_role`` has run, the default alias
    connects as the owner."""
    if _ROLES:
        _reconnect(*_ROLES[1])


@pytest.fixture(scope="session", autouse=True)
def _app_role(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Once the owner has created and migrated the test database, set up the app role
    there (``setup_database_roles``, as a release would) and connect as it for the whole
    run, so the suite runs within the app's limits; the owner drops the database at the end."""
    if not _ROLES:
        yield
        return
    app, owner = _ROLES
    with django_db_blocker.unblock():
        _reconnect(*app)
        call_command("setup_database_roles", stdout=io.StringIO())
    yield
    _reconnect(*owner)


@pytest.fixture(scope="session", autouse=True)
def _seal_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The development seal key lives in a directory of the run's own, never the checkout's
    var/: for this process and for the processes tests start."""
    path = tmp_path_factory.mktemp("seal-key") / "seal-signing-key"
    witness = tmp_path_factory.mktemp("witness") / "processes.jsonl"
    with pytest.MonkeyPatch.context() as patch, override_settings(SEAL_KEY_FILE=path):
        patch.setenv("SEAL_KEY_FILE", str(path))
        patch.setenv("SEAL_WITNESS", str(witness))  # the witness of the processes tests start
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Tests create many users; real password hashing would dominate their run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_wake_on_commit(settings: Any) -> None:
    """Commits do not wake the subscribers unless a test asks for it, so each test decides
    when projections run (``settings.PROJECTIONS_WAKE_ON_COMMIT = True`` to opt in)."""
    settings.PROJECTIONS_WAKE_ON_COMMIT = False


@pytest.fixture(autouse=True)
def _sealing(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No sealing after each commit unless a test asks for it (``SEAL_AFTER_COMMIT``), and a
    witness file of the test's own, never the checkout's ``var/``."""
    settings.SEAL_AFTER_COMMIT = False
    settings.SEAL_WITNESS = str(tmp_path_factory.mktemp("witness") / "seals.jsonl")


@pytest.fixture
def queue(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A queue of this test's own: wake-ups published here reach only its workers. It is
    removed from Redis afterwards, with its wake-up gate."""
    name = f"chronicle-test-{uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    monkeypatch.setattr(wakeup, "_broker_down_until", 0.0)  # no back-off left by an earlier test
    yield name
    if os.environ.get("REDIS_URL"):
        forget_queue(os.environ["REDIS_URL"], name)
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(gate.gate_key())


@pytest.fixture
def start_worker(transactional_db: None, queue: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``celery worker`` processes on the test database and this test's queue; they
    are stopped before the database is emptied."""
    workers: list[WorkerProcess] = []

    def start(*, broker_url: str | None = None, ready: bool = True, **environment: str) -> WorkerProcess:
        url = broker_url or os.environ["REDIS_URL"]
        worker = WorkerProcess(broker_url=url, queue=queue, log=tmp_path / f"worker-{len(workers)}.log", **environment)
        workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def embedded() -> Iterator[None]:
    """No broker, as in the embedded default: the admin's rebuilds and retries run inside
    the request (``projections.tasks.in_background``), whatever REDIS_URL says."""
    saved = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    yield
    current_app.conf.task_always_eager = saved


@pytest.fixture
def poisoned_stock(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A bug in the stock projection: it cannot handle a negative stock adjustment. Fix it
    with ``poisoned_stock.undo()``."""
    counted = StockProjection.stock_counted

    def stock_counted(self: StockProjection, event: Any) -> None:
        if event.data["quantity"] < 0:
            raise ValueError("cannot count below zero")
        counted(self, event)

    monkeypatch.setattr(StockProjection, "stock_counted", stock_counted)
    return monkeypatch


FULFILMENT = "orders.fulfilment.FulfilmentProcess"


@pytest.fixture(autouse=True)
def _subscribers(request: pytest.FixtureRequest, settings: Any) -> None:
    """The fulfilment process appends events of its own (confirmations, reservations), so
    tests run without it unless they ask for it with ``@pytest.mark.fulfilment``."""
    if request.node.get_closest_marker("fulfilment") is None:
        settings.PROJECTIONS_SUBSCRIBERS = [p for p in settings.PROJECTIONS_SUBSCRIBERS if p != FULFILMENT]


@pytest.fixture
def json_log() -> Any:
    """The JSON lines the ``chronicle`` loggers write during the test, as dicts."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(observability.JsonFormatter())
    handler.addFilter(observability.ContextFilter())
    logger = logging.getLogger("chronicle")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(previous)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        return
    for item in items:
        marker = item.get_closest_marker("postgres")
        if marker is not None:
            why = marker.kwargs.get("reason", "it exercises PostgreSQL behaviour")
            item.add_marker(pytest.mark.skip(reason=f"needs PostgreSQL ({why}): set DATABASE_URL"))
