"""A database of its own for migration tests: migrated step by step, apart from the suite's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections

from tests.support import owner_conninfo

ALIAS = "old_layout"


@pytest.fixture
def old_database(tmp_path: Path, django_db_blocker) -> Iterator[str]:
    """A database of its own, on the suite's engine, reached through its own alias."""
    settings = {**connection.settings_dict}
    settings["OPTIONS"] = {k: v for k, v in settings.get("OPTIONS", {}).items() if k != "pool"}
    drop = None
    if connection.vendor == "postgresql":
        # The owner creates databases and runs migrations.
        owner = owner_conninfo()
        settings["USER"], settings["PASSWORD"] = owner["user"], owner["password"] or ""
        name = f"chronicle_layout_{uuid.uuid4().hex[:8]}"
        server = psycopg.connect(**{**owner, "dbname": "postgres"}, autocommit=True)
        server.execute(f'CREATE DATABASE "{name}"')
        drop = lambda: server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # noqa: E731
    else:
        name = str(tmp_path / "old_layout.sqlite3")
    connections.settings[ALIAS] = {**settings, "NAME": name}
    try:
        with django_db_blocker.unblock():
            yield ALIAS
    finally:
        connections[ALIAS].close()
        del connections[ALIAS]
        del connections.settings[ALIAS]
        if drop is not None:
            drop()
            server.close()
