"""On PostgreSQL the recorded-time index becomes a BRIN index.

Events are recorded in position order, so ``recorded_at`` follows the table's physical
order and a block-range index answers the event browser's "recorded between" filter and
the time-travel lookups as well as a B-tree, at a fraction of its size and of its cost on
every append (a B-tree entry per event written and WAL-logged; a BRIN range is summarised
once per 128 pages). The model keeps declaring the index under its old name, as a B-tree:
SQLite (which has no BRIN) keeps that one, and Django's state has nothing to migrate.
"""

from django.db import migrations

BRIN = "CREATE INDEX chronicle_event_recorded_idx ON chronicle_event USING brin (recorded_at)"
BTREE = "CREATE INDEX chronicle_event_recorded_idx ON chronicle_event (recorded_at)"


def to_brin(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX chronicle_event_recorded_idx")
        schema_editor.execute(BRIN)


def to_btree(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX chronicle_event_recorded_idx")
        schema_editor.execute(BTREE)


class Migration(migrations.Migration):
    dependencies = [("eventstore", "0004_merkle_seals")]

    operations = [migrations.RunPython(to_brin, to_btree, elidable=False)]
