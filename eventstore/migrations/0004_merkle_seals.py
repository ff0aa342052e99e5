"""Seals become signed Merkle tree heads over one leaf per event (``eventstore.sealing``).

The HMAC head seals (``chronicle_seal``, ``chronicle_seal_head``) go: a log's first new seal
covers every event so far, and the new seals are what verification, the export and the
witness rest on. ``chronicle_leaf`` and the new ``chronicle_seal`` are log tables, guarded
like the others: UPDATE, DELETE and TRUNCATE refused for every session (PostgreSQL), UPDATE
and DELETE (SQLite).
"""

from importlib import import_module

from django.db import migrations, models

APPEND_ONLY = import_module("eventstore.migrations.0002_append_only_triggers")
REFUSE = import_module("eventstore.migrations.0003_refuse_for_everyone")
TABLES = ["chronicle_leaf", "chronicle_seal"]


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = [sql for table in TABLES for sql in REFUSE.postgres_sql(table)]
    else:
        statements = [sql for table in TABLES for sql in APPEND_ONLY.sqlite_sql(table)]
    for sql in statements:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0003_refuse_for_everyone")]

    operations = [
        migrations.DeleteModel(name="SealHead"),
        migrations.DeleteModel(name="Seal"),
        migrations.CreateModel(
            name="Leaf",
            fields=[
                ("index", models.BigIntegerField(db_column="leaf_index", primary_key=True, serialize=False)),
                ("position", models.BigIntegerField(unique=True)),
                ("hash", models.CharField(max_length=64)),
            ],
            options={"db_table": "chronicle_leaf", "ordering": ["index"]},
        ),
        migrations.CreateModel(
            name="Seal",
            fields=[
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
                ("tree_size", models.BigIntegerField(unique=True)),
                ("root_hash", models.CharField(max_length=64)),
                ("last_position", models.BigIntegerField()),
                ("epoch", models.CharField(max_length=32)),
                ("sealed_at", models.DateTimeField()),
                ("key_id", models.CharField(max_length=64)),
                ("signature", models.CharField(max_length=128)),
                ("feed_transaction_id", models.BigIntegerField()),
                ("frontier", models.JSONField()),
            ],
            options={"db_table": "chronicle_seal", "ordering": ["tree_size"]},
        ),
        migrations.RunPython(install, migrations.RunPython.noop, elidable=False),
    ]
