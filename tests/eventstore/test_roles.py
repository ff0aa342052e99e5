"""Two roles: the owner owns the log and runs migrations; the app role, which the whole suite
connects as when ``DATABASE_OWNER_URL`` names another role (CI does), may only read and
insert the log. What the app role cannot do is tried here with its own connection."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from eventstore.privileges import LOG_TABLES, check_log_privileges, health, log_privilege_problems
from eventstore.store import current_epoch
from projections.management.commands.setup_database_roles import read_model_tables
from tests.support import append_stream, log_row_counts, owner_conninfo, owner_session, seal_everything, separate_owner

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.postgres(reason="roles and privileges are PostgreSQL's"),
    pytest.mark.django_db(transaction=True, databases=["default", "owner"]),
]
COLUMN = {"chronicle_event": "event_type", "chronicle_seal": "root_hash", "chronicle_leaf": "hash"}


@pytest.fixture
def app_role() -> str:
    """The role the suite connects as, when it is not the owner."""
    if not separate_owner():
        pytest.skip("the suite connects as the owner here: set DATABASE_OWNER_URL to another role")
    return connection.settings_dict["USER"]


@pytest.fixture
def full_log():
    """A row in every log table, and their counts to compare with afterwards."""
    append_stream(count=2)
    current_epoch()
    seal_everything()
    counts = log_row_counts()
    assert all(counts.values())
    return counts


def test_the_suite_runs_as_an_app_role_that_may_only_read_and_insert_the_log(app_role):
    assert log_privilege_problems() == []
    assert check_log_privileges(None, databases=["default"]) == []
    assert health() == {"log_privileges": "insert-only"}


@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
        "TRUNCATE {table} CASCADE",
        "ALTER TABLE {table} DISABLE TRIGGER USER",
        "ALTER TABLE {table} DISABLE TRIGGER {table}_refuse_update",
        "DROP TRIGGER {table}_refuse_delete ON {table}",
        "DROP TABLE {table} CASCADE",
        "ALTER TABLE {table} OWNER TO CURRENT_USER",
    ],
)
def test_the_app_role_can_neither_change_the_log_nor_lift_its_guards(app_role, full_log, table, statement):
    sql = statement.format(table=table, column=COLUMN.get(table, "epoch"))
    refused = pytest.raises(DatabaseError, match=r"permission denied|must be owner")
    with refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL chronicle.allow_purge = on")
        cursor.execute(sql)
    assert log_row_counts() == full_log
    assert log_privilege_problems() == []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled = 'O'",
            [table],
        )
        assert cursor.fetchone()[0] == 3


def test_the_app_role_owns_the_read_models_and_rebuilds_them_with_shadow_tables(app_role):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND pg_get_userbyid(relowner) = current_user",
            [read_model_tables()],
        )
        owned = sorted(row[0] for row in cursor.fetchall())
    assert owned == read_model_tables()
    append_stream("product", count=1)
    call_command("rebuild_projections", "--all", stdout=io.StringIO())


@pytest.fixture
def as_owner() -> Iterator[str]:
    """An alias with the app's settings and the owner's credentials: a misconfigured app."""
    info = owner_conninfo()
    options = {k: v for k, v in connection.settings_dict["OPTIONS"].items() if k != "pool"}
    connections.settings["as_owner"] = {
        **connection.settings_dict,
        "USER": info["user"],
        "PASSWORD": info["password"] or "",
        "OPTIONS": options,
    }
    try:
        yield "as_owner"
    finally:
        connections["as_owner"].close()
        del connections["as_owner"]
        del connections.settings["as_owner"]


def test_the_system_check_fires_when_the_app_connects_as_the_owner(app_role, as_owner, django_db_blocker):
    with django_db_blocker.unblock():
        problems = log_privilege_problems(as_owner)
        (warning,) = check_log_privileges(None, databases=[as_owner])
    assert problems == [f"{owner_conninfo()['user']} owns {table}" for table in sorted(LOG_TABLES)]
    assert warning.id == "eventstore.W001" and "owns chronicle_event" in warning.msg


def test_setup_database_roles_is_idempotent_and_takes_back_what_was_granted_since(app_role):
    out = io.StringIO()
    call_command("setup_database_roles", stdout=out)
    assert out.getvalue().endswith("nothing to change\n")
    with owner_session() as owner:
        owner.execute(f"GRANT UPDATE, TRUNCATE ON chronicle_seal TO {app_role}")
    assert health() == {"log_privileges": "unsafe"}
    out = io.StringIO()
    call_command("setup_database_roles", stdout=out)
    assert out.getvalue().splitlines() == [
        f"{app_role} may no longer UPDATE chronicle_seal",
        f"{app_role} may no longer TRUNCATE chronicle_seal",
        f"{app_role}: 2 change(s)",
    ]
    assert health() == {"log_privileges": "insert-only"}


def test_setup_database_roles_refuses_one_role_for_both_in_one_line():
    info = owner_conninfo()
    url = f"postgres://{info['user']}@{info['host'] or '127.0.0.1'}:{info['port'] or 5432}/{info['dbname']}"
    env = {**os.environ, "DATABASE_URL": url, "DATABASE_OWNER_URL": url}
    result = subprocess.run(
        [sys.executable, "manage.py", "setup_database_roles"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert "the owner and the app connect as the same role" in line
