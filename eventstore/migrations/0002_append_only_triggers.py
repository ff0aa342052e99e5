"""The database itself refuses to change the event log.

PostgreSQL: UPDATE, DELETE and TRUNCATE raise, unless the session has set
``chronicle.allow_purge`` to ``on`` (and even then UPDATE raises). Only the test suite's
clean-up sets it.

SQLite: UPDATE raises; DELETE raises unless the connection's ``chronicle_purge_allowed()``
function says yes (see ``eventstore.apps``). A session without that function, such as the
sqlite3 shell, cannot delete at all. SQLite has no TRUNCATE.

Django rebuilds SQLite tables on some schema changes, which drops their triggers: a
migration that alters these tables must create the triggers again (the test suite checks
that they exist after every migration).

Also gives the log its first epoch (see ``eventstore.cursor``).
"""

from uuid import uuid4

from django.db import migrations

TABLES = ["chronicle_event", "chronicle_seal", "chronicle_seal_head"]

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION chronicle_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') AND current_setting('chronicle.allow_purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'chronicle: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'Correct the record with a new (compensating) event.';
END
$$
"""


def postgres_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_refuse_change BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION chronicle_refuse_change()",
        f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION chronicle_refuse_change()",
    ]


def sqlite_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'chronicle: {table} is append-only: UPDATE refused'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_refuse_delete BEFORE DELETE ON {table} "
        "WHEN NOT chronicle_purge_allowed() "
        f"BEGIN SELECT RAISE(ABORT, 'chronicle: {table} is append-only: DELETE refused'); END",
    ]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [POSTGRES_FUNCTION] + [sql for table in TABLES for sql in postgres_sql(table)]
    elif vendor == "sqlite":
        statements = [sql for table in TABLES for sql in sqlite_sql(table)]
    else:
        raise NotImplementedError(f"no append-only triggers for {vendor}")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_change ON {table}")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_truncate ON {table}")
        else:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_update")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_delete")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS chronicle_refuse_change()")


def first_epoch(apps, schema_editor):
    LogIdentity = apps.get_model("eventstore", "LogIdentity")
    LogIdentity.objects.using(schema_editor.connection.alias).get_or_create(id=1, defaults={"epoch": uuid4().hex})


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0001_initial")]

    operations = [
        migrations.RunPython(install, uninstall),
        migrations.RunPython(first_epoch, migrations.RunPython.noop),
    ]
