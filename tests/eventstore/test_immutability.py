"""Append-only at every layer: model, queryset, and the database's own triggers."""

import sqlite3

import psycopg
import pytest
from django.db import DatabaseError, connection

from eventstore.exceptions import AppendOnlyError
from eventstore.models import Event, Leaf, Seal
from eventstore.privileges import LOG_TABLES
from eventstore.store import current_epoch
from tests.support import append_stream, log_row_counts, owner_session, purge_allowed, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)

# The app role is refused by privilege (CI runs the suite as one); an owner, or a single role
# doing both, by the triggers.
REFUSED = "append-only|permission denied|chronicle_purge_allowed"
STATEMENTS = {
    "UPDATE": "UPDATE chronicle_event SET event_type = 'Forged'",
    "DELETE": "DELETE FROM chronicle_event",
}


def test_the_model_and_its_queryset_refuse_to_change_events():
    append_stream(count=2)
    event = Event.objects.first()
    refusals = [
        lambda: event.save(),
        lambda: event.delete(),
        lambda: Event.objects.update(event_type="Forged"),
        lambda: Event.objects.all().delete(),
        lambda: Event.objects.bulk_update([event], ["event_type"]),
        lambda: Event.objects.create(event_type="Forged"),
        lambda: Event.objects.bulk_create([Event(event_type="Forged")]),
        lambda: Event.objects.update_or_create(position=event.position, defaults={"event_type": "X"}),
    ]
    for refuse in refusals:
        with pytest.raises(AppendOnlyError):
            refuse()
    assert Event.objects.count() == 2


def test_seals_and_leaves_can_be_added_but_never_changed():
    append_stream(count=1)
    seal = seal_everything()
    seal.signature = "forged"
    with pytest.raises(AppendOnlyError):
        seal.save()
    with pytest.raises(AppendOnlyError):
        Seal.objects.all().delete()
    leaf = Leaf.objects.get()
    leaf.hash = "0" * 64
    with pytest.raises(AppendOnlyError):
        leaf.save()
    with pytest.raises(AppendOnlyError):
        Leaf.objects.update(hash="0" * 64)


def raw_session():
    """A database session opened outside Django: what a person with a SQL shell has."""
    if connection.vendor == "postgresql":
        params = connection.get_connection_params()
        return psycopg.connect(
            **{k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}},
            autocommit=True,
        )
    return sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)


@pytest.mark.parametrize("operation", ["UPDATE", "DELETE", "TRUNCATE"])
def test_an_ordinary_session_cannot_change_or_remove_events(operation):
    if operation == "TRUNCATE" and connection.vendor != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE is covered)")
    append_stream(count=2)
    sql = STATEMENTS.get(operation, "TRUNCATE chronicle_event")
    session = raw_session()
    try:
        with pytest.raises((psycopg.Error, sqlite3.Error)) as refused:
            session.execute(sql)
    finally:
        session.close()
    assert refused.match(REFUSED)
    assert Event.objects.count() == 2


@pytest.mark.parametrize("operation", ["UPDATE", "DELETE"])
def test_the_application_connection_is_refused_too(operation):
    append_stream(count=2)
    with pytest.raises(DatabaseError, match=REFUSED), connection.cursor() as cursor:
        cursor.execute(STATEMENTS[operation])
    assert Event.objects.count() == 2


@pytest.mark.postgres(reason="only PostgreSQL has roles: on SQLite the app's connection is the owner's")
@pytest.mark.parametrize("operation", ["UPDATE", "DELETE", "TRUNCATE"])
def test_the_triggers_refuse_the_owner_too(operation):
    append_stream(count=2)
    with owner_session() as owner, pytest.raises(psycopg.Error, match="append-only"):
        owner.execute(STATEMENTS.get(operation, "TRUNCATE chronicle_event"))
    assert Event.objects.count() == 2


def test_the_test_suites_purge_bypass_empties_but_never_edits():
    append_stream(count=2)
    with pytest.raises((DatabaseError, psycopg.Error), match="append-only"), purge_allowed() as db:
        db.execute(STATEMENTS["UPDATE"])
    with purge_allowed() as db:
        db.execute("DELETE FROM chronicle_event")
    assert Event.objects.count() == 0
    # ...and the bypass ends with the block, for the app and the owner alike.
    append_stream(count=1)
    with pytest.raises(DatabaseError, match=REFUSED), connection.cursor() as cursor:
        cursor.execute(STATEMENTS["DELETE"])
    if connection.vendor == "postgresql":
        with owner_session() as owner, pytest.raises(psycopg.Error, match="append-only"):
            owner.execute(STATEMENTS["DELETE"])
    assert Event.objects.count() == 1


def test_postgres_triggers_exist_after_migrating():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only catalogue check (SQLite has its own test)")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 'chronicle_%%'")
        names = {row[0] for row in cursor.fetchall()}
    assert names == {f"{table}_refuse_{op}" for table in LOG_TABLES for op in ("update", "delete", "truncate")}


@pytest.mark.postgres(reason="session settings and TRUNCATE are PostgreSQL's")
@pytest.mark.parametrize("table", LOG_TABLES)
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET {column} = {column}", "DELETE FROM {table}", "TRUNCATE {table} CASCADE"],
)
@pytest.mark.parametrize("role", ["app", "owner"])
def test_no_session_setting_lets_a_change_through(table, statement, role):
    append_stream(count=2)
    current_epoch()
    seal_everything()
    before = log_row_counts()
    assert all(before.values())  # a row in every table, for the row triggers to guard
    session = raw_session() if role == "app" else owner_session()
    try:
        with pytest.raises(psycopg.Error, match=REFUSED), session.transaction():
            session.execute("SET LOCAL chronicle.allow_purge = on")
            session.execute(statement.format(table=table, column=A_COLUMN[table]))
    finally:
        session.close()
    assert log_row_counts() == before


A_COLUMN = {
    "chronicle_event": "event_type",
    "chronicle_seal": "root_hash",
    "chronicle_leaf": "hash",
    "chronicle_log_identity": "epoch",
}
