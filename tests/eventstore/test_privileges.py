"""The role the app connects as is checked for what could change the log: a superuser, an
owner of a log table, or a grant of UPDATE, DELETE or TRUNCATE on one. Real roles on the
real server, each connected as itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django.db import connection, connections

from eventstore.privileges import LOG_TABLES, check_log_privileges, log_privilege_problems
from tests.support import owner_session

pytestmark = [
    pytest.mark.postgres(reason="roles and privileges are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def insert_only_role(django_db_blocker) -> Iterator[tuple[str, str]]:
    """A role with SELECT and INSERT on the log tables and nothing more, and an alias that
    connects as it; both gone afterwards."""
    role, alias = f"chronicle_probe_{uuid.uuid4().hex[:8]}", "as_probe"
    tables = ", ".join(LOG_TABLES)
    with owner_session() as owner:
        owner.execute(f"CREATE ROLE {role} LOGIN")
        owner.execute(f"GRANT SELECT, INSERT ON {tables} TO {role}")
    options = {k: v for k, v in connection.settings_dict.get("OPTIONS", {}).items() if k != "pool"}
    connections.settings[alias] = {**connection.settings_dict, "USER": role, "PASSWORD": "", "OPTIONS": options}
    try:
        with django_db_blocker.unblock():
            yield role, alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
        with owner_session() as owner:
            owner.execute(f"REVOKE ALL ON {tables} FROM {role}")
            owner.execute(f"DROP ROLE {role}")


def test_a_role_that_may_only_read_and_insert_is_insert_only(insert_only_role):
    _, alias = insert_only_role
    assert log_privilege_problems(alias) == []
    assert check_log_privileges(None, databases=[alias]) == []


def test_a_grant_of_a_change_is_named(insert_only_role):
    role, alias = insert_only_role
    with owner_session() as owner:
        owner.execute(f"GRANT UPDATE, TRUNCATE ON chronicle_seal TO {role}")
    assert log_privilege_problems(alias) == [f"{role} may UPDATE, TRUNCATE chronicle_seal"]
    (warning,) = check_log_privileges(None, databases=[alias])
    assert warning.id == "eventstore.W001" and "chronicle_seal" in warning.msg


def test_a_member_of_the_owning_role_owns_the_log(insert_only_role):
    role, alias = insert_only_role
    with owner_session() as owner:
        owner_role = owner.info.user
        owner.execute(f"GRANT {owner_role} TO {role}")
        try:
            assert log_privilege_problems(alias) == [f"{role} owns {table}" for table in sorted(LOG_TABLES)]
        finally:
            owner.execute(f"REVOKE {owner_role} FROM {role}")


def test_a_superuser_is_unsafe_whatever_it_was_granted(client):
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
    if not superuser:
        pytest.skip("the suite connects as a role that is no superuser")
    assert log_privilege_problems() == [f"{user} is a superuser"]
    (warning,) = check_log_privileges(None, databases=["default"])
    assert warning.id == "eventstore.W001"
    assert client.get("/readyz").json()["log_privileges"] == "unsafe"
