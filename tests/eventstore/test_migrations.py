"""Django rebuilds SQLite tables on some schema changes, which drops their triggers:
every migration must leave the append-only triggers in place."""

from pathlib import Path

import pytest
from django.db import connection, connections
from django.db.migrations.executor import MigrationExecutor


def sqlite_triggers(conn) -> set[str]:
    with conn.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {row[0] for row in cursor.fetchall()}


def expected_sqlite_triggers(tables: tuple[str, ...]) -> set[str]:
    return {f"{table}_refuse_{op}" for table in tables for op in ("update", "delete")}


# The log tables guarded once each migration has run.
GUARDED = {
    ("eventstore", "0002_append_only_triggers"): ("chronicle_event", "chronicle_seal", "chronicle_seal_head"),
    ("eventstore", "0003_refuse_for_everyone"): (
        "chronicle_event",
        "chronicle_seal",
        "chronicle_seal_head",
        "chronicle_log_identity",
    ),
    ("eventstore", "0004_merkle_seals"): (
        "chronicle_event",
        "chronicle_log_identity",
        "chronicle_leaf",
        "chronicle_seal",
    ),
}


def test_sqlite_triggers_exist_after_every_migration(tmp_path: Path, django_db_blocker):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite rebuilds tables (and loses triggers) during migrations")
    connections.settings["steps"] = {**connection.settings_dict, "NAME": str(tmp_path / "steps.sqlite3")}
    wrapper = connections["steps"]
    with django_db_blocker.unblock():
        _migrate_step_by_step(wrapper)


def _migrate_step_by_step(wrapper) -> None:
    """Apply the whole plan one migration at a time, checking the triggers after each."""
    try:
        executor = MigrationExecutor(wrapper)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        guarded: tuple[str, ...] = ()
        assert len(plan) > 10
        for migration, _ in plan:
            executor.migrate([(migration.app_label, migration.name)])
            executor.loader.build_graph()
            guarded = GUARDED.get((migration.app_label, migration.name), guarded)
            if guarded:
                assert sqlite_triggers(wrapper) == expected_sqlite_triggers(guarded), (
                    f"after {migration.app_label}.{migration.name}"
                )
        assert guarded == GUARDED["eventstore", "0004_merkle_seals"]
    finally:
        wrapper.close()
        del connections["steps"]
        del connections.settings["steps"]
