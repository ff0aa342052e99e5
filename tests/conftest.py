"""Test-suite wiring.

The event log's tables refuse DELETE and TRUNCATE at the database level. Transactional
tests empty every table when they end, so that clean-up, and only that, runs with the
purge bypass that ordinary sessions lack (see eventstore migration 0002).

Commits do not wake the projections here: each test runs them when it means to, and the
tests of the wake-up turn it back on.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.operations import BaseDatabaseOperations

from config import observability
from eventstore.privileges import LOG_TABLES
from projections.stock import StockProjection


@contextmanager
def purge_allowed(conn: BaseDatabaseWrapper) -> Iterator[None]:
    """Let this connection empty the log's tables for the block, never edit them.

    PostgreSQL: the owner's act, in a transaction of its own: the DELETE and TRUNCATE
    triggers are disabled, and enabled again by the commit (or the rollback) that ends it.
    """
    if conn.vendor == "postgresql":
        with transaction.atomic(using=conn.alias):
            _purge_triggers(conn, "DISABLE")
            yield
            _purge_triggers(conn, "ENABLE")
    else:
        conn.chronicle_purge_allowed = True
        try:
            yield
        finally:
            conn.chronicle_purge_allowed = False


def _purge_triggers(conn: BaseDatabaseWrapper, action: str) -> None:
    with conn.cursor() as cursor:
        for table in LOG_TABLES:
            for trigger in ("refuse_delete", "refuse_truncate"):
                cursor.execute(f"ALTER TABLE {table} {action} TRIGGER {table}_{trigger}")


_execute_sql_flush = BaseDatabaseOperations.execute_sql_flush


def _execute_sql_flush_with_purge(self: BaseDatabaseOperations, sql_list: list[str]) -> None:
    with purge_allowed(self.connection):
        _execute_sql_flush(self, sql_list)


BaseDatabaseOperations.execute_sql_flush = _execute_sql_flush_with_purge  # type: ignore[method-assign]


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Tests create many users; real password hashing would dominate their run time."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_wake_on_commit(settings: Any) -> None:
    """Commits do not wake the subscribers unless a test asks for it, so each test decides
    when projections run (``settings.PROJECTIONS_WAKE_ON_COMMIT = True`` to opt in)."""
    settings.PROJECTIONS_WAKE_ON_COMMIT = False


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
