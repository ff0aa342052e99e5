"""Shadow tables: where a rebuild writes, swapped in for the live tables in one transaction.

``<table>__rebuild`` is a copy of the live table's definition (columns, defaults, primary
key, indexes) that a rebuild fills while readers keep reading the live table. The swap
drops the live table and renames the shadow to its name (on PostgreSQL its indexes and
constraints too, matched by definition), so afterwards the schema is exactly what the
migrations made. Both engines change schemas transactionally: readers see the old table or
the new one, never a mix. On PostgreSQL the swap waits at most for the transaction's
``lock_timeout`` for readers still inside the old table; on SQLite readers see the old
table until the swap commits (WAL). Read models have no foreign-key constraints, so no
other table refers to one that is swapped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.db.models import Model

SUFFIX = "__rebuild"


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


class ShadowTables:
    """The shadow copies of a projection's tables."""

    def __init__(self, models: Sequence[type[Model]]) -> None:
        self.live = {model: model._meta.db_table for model in models}
        self.indexed = False

    @property
    def names(self) -> dict[type[Model], str]:
        return {model: table + SUFFIX for model, table in self.live.items()}

    def create(self) -> None:
        """Empty shadow tables, replacing any an interrupted rebuild left behind. On
        PostgreSQL without their indexes (primary key included) until ``index``: building
        an index over the loaded rows is several times faster than updating it row by row
        while they are copied in."""
        self.drop()
        self.indexed = connection.vendor != "postgresql"
        with connection.cursor() as cursor:
            for table in self.live.values():
                if connection.vendor == "postgresql":
                    like = f"LIKE {_q(table)} INCLUDING ALL EXCLUDING INDEXES"
                    cursor.execute(f"CREATE TABLE {_q(table + SUFFIX)} ({like})")
                else:
                    cursor.execute(_sqlite_copy(cursor, table))

    def index(self) -> None:
        """Give the shadow tables the live tables' indexes and the constraints they back,
        once: after the first rows are loaded, before any upsert needs the primary key.
        (SQLite's are made at the swap, ``_sqlite_swap``.)"""
        if self.indexed:
            return
        with connection.cursor() as cursor:
            for table in self.live.values():
                for statement in _postgres_index_statements(cursor, table):
                    cursor.execute(statement)
        self.indexed = True

    def drop(self) -> None:
        with connection.cursor() as cursor:
            for table in self.live.values():
                cursor.execute(f"DROP TABLE IF EXISTS {_q(table + SUFFIX)}")

    def swap(self) -> None:
        """Inside a transaction: put every shadow table in place of its live table."""
        with connection.cursor() as cursor:
            for table in self.live.values():
                if connection.vendor == "postgresql":
                    _postgres_swap(cursor, table)
                else:
                    _sqlite_swap(cursor, table)


def _sqlite_copy(cursor: CursorWrapper, table: str) -> str:
    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
    (sql,) = cursor.fetchone()
    prefix = f"CREATE TABLE {_q(table)}"
    if not sql.startswith(prefix):
        raise RuntimeError(f"unexpected definition of {table}: {sql[:80]}")
    return f"CREATE TABLE {_q(table + SUFFIX)}" + sql[len(prefix) :]


def _sqlite_swap(cursor: CursorWrapper, table: str) -> None:
    """SQLite cannot rename an index: the live table's indexes are made again on the new one."""
    cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL", [table])
    indexes = [sql for (sql,) in cursor.fetchall()]
    cursor.execute(f"DROP TABLE {_q(table)}")
    cursor.execute(f"ALTER TABLE {_q(table + SUFFIX)} RENAME TO {_q(table)}")
    for sql in indexes:
        cursor.execute(sql)


def _postgres_swap(cursor: CursorWrapper, table: str) -> None:
    renames = _postgres_index_renames(cursor, table)
    cursor.execute(f"DROP TABLE {_q(table)}")
    cursor.execute(f"ALTER TABLE {_q(table + SUFFIX)} RENAME TO {_q(table)}")
    for current, wanted, is_constraint in renames:
        if is_constraint:
            cursor.execute(f"ALTER TABLE {_q(table)} RENAME CONSTRAINT {_q(current)} TO {_q(wanted)}")
        else:
            cursor.execute(f"ALTER INDEX {_q(current)} RENAME TO {_q(wanted)}")


def _postgres_index_statements(cursor: CursorWrapper, table: str) -> list[str]:
    """What makes ``table``'s indexes and constraints on its shadow, under names PostgreSQL
    chooses (the swap renames them)."""
    cursor.execute(
        "SELECT pg_get_indexdef(x.indexrelid), pg_get_constraintdef(c.oid) FROM pg_index x "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = %s::regclass",
        [table],
    )
    shadow = _q(table + SUFFIX)
    return [
        f"ALTER TABLE {shadow} ADD {constraint}"
        if constraint
        else re.sub(r"INDEX \S+ ON \S+ ", f"INDEX ON {shadow} ", index, count=1)
        for index, constraint in cursor.fetchall()
    ]


def _postgres_index_renames(cursor: CursorWrapper, table: str) -> list[tuple[str, str, bool]]:
    """(shadow index, live index it replaces, whether it backs a constraint), matched by
    definition: ``LIKE ... INCLUDING ALL`` copies every index but names them anew."""
    live = _postgres_indexes(cursor, table)
    renames = []
    for definition, (name, is_constraint) in _postgres_indexes(cursor, table + SUFFIX).items():
        if definition not in live:
            raise RuntimeError(f"{table}{SUFFIX} has an index {table} lacks: {definition}")
        renames.append((name, live[definition][0], is_constraint))
    return renames


def _postgres_indexes(cursor: CursorWrapper, table: str) -> dict[str, tuple[str, bool]]:
    """{definition without its names: (index name, whether it backs a constraint)}"""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid), c.oid IS NOT NULL FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = %s::regclass",
        [table],
    )
    return {
        re.sub(r"INDEX \S+ ON \S+ ", "INDEX ON ", definition): (name, is_constraint)
        for name, definition, is_constraint in cursor.fetchall()
    }
