"""The database refuses to change the log for every session, whatever it has set.

PostgreSQL: the trigger function no longer honours ``chronicle.allow_purge`` (any session
could set it). Each log table gets three triggers, refusing UPDATE, DELETE and TRUNCATE;
emptying a table is an owner's act: in a transaction, the owner disables the DELETE and
TRUNCATE triggers (``ALTER TABLE … DISABLE TRIGGER``, which only the owner may do), and
UPDATE stays refused even then.

The log's epochs become insert-only too: each restore records a new row, the newest is
the current epoch, and ``chronicle_log_identity`` is guarded like the other log tables.

SQLite keeps its triggers (a file database has no privileges to separate) and gains the
same ones on ``chronicle_log_identity``.
"""

from importlib import import_module

from django.db import migrations, models

OLD = import_module("eventstore.migrations.0002_append_only_triggers")
TABLES = ["chronicle_event", "chronicle_seal", "chronicle_seal_head", "chronicle_log_identity"]
OPERATIONS = {"update": "UPDATE", "delete": "DELETE"}

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION chronicle_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'chronicle: % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'Correct the record with a new (compensating) event.';
END
$$
"""


def postgres_sql(table: str) -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {table}_refuse_change ON {table}"]
    for name, operation in OPERATIONS.items():
        statements.append(
            f"CREATE OR REPLACE TRIGGER {table}_refuse_{name} BEFORE {operation} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION chronicle_refuse_change()"
        )
    statements.append(
        f"CREATE OR REPLACE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION chronicle_refuse_change()"
    )
    return statements


# The epoch row of migration 0002 took id 1 by hand: the new identity starts after it.
POSTGRES_EPOCH_IDS = (
    "SELECT setval(pg_get_serial_sequence('chronicle_log_identity', 'id'), "
    "COALESCE((SELECT MAX(id) FROM chronicle_log_identity), 0) + 1, false)"
)


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [POSTGRES_EPOCH_IDS, POSTGRES_FUNCTION]
        statements += [sql for table in TABLES for sql in postgres_sql(table)]
    else:
        statements = OLD.sqlite_sql("chronicle_log_identity")
    for sql in statements:
        schema_editor.execute(sql, params=None)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        for table in TABLES:
            for name in (*OPERATIONS, "truncate"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_{name} ON {table}")
        schema_editor.execute(OLD.POSTGRES_FUNCTION)
        for table in OLD.TABLES:
            for sql in OLD.postgres_sql(table):
                schema_editor.execute(sql)
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS chronicle_log_identity_refuse_update")
        schema_editor.execute("DROP TRIGGER IF EXISTS chronicle_log_identity_refuse_delete")


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0002_append_only_triggers")]

    operations = [
        migrations.AlterField(
            model_name="logidentity",
            name="id",
            field=models.BigAutoField(primary_key=True, serialize=False),
        ),
        migrations.RunPython(install, uninstall, elidable=False),
    ]
