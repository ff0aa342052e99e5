"""Reads written out in SQL, for the paths every API request takes (its token, the
projections' checkpoints, a page of a read model): there, compiling a query through the ORM
cost more than the database took to answer it, and planning it anew each time cost the
database more than running it.

``rows`` runs the SQL; on PostgreSQL on a server-binding cursor, which psycopg prepares once
it has run ``prepare_threshold`` times on a connection (the settings' ``DB_PREPARE_THRESHOLD``,
2; "off" never), so the server parses and plans it once per connection. Django logs it as
it logs its own queries. ``converted`` turns the values into what the ORM would have given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connections
from django.db.models import Field, Model


def rows(using: str, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (``%s`` placeholders; ``params`` as the database takes them, see
    ``Field.get_db_prep_value``) on the database ``using``."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found: list[tuple[Any, ...]] = cursor.fetchall()
            return found
    connection.ensure_connection()
    binding = psycopg.Cursor(connection.connection)
    cursor = connection.make_debug_cursor(binding) if connection.queries_logged else connection.make_cursor(binding)  # type: ignore[arg-type]  # stubs: it wraps a DB-API cursor
    with cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
        return found


def column(field: Field[Any, Any]) -> str:
    """The column of a concrete field (the stubs allow None, for fields without one)."""
    assert field.column is not None, f"{field} has no column"
    return field.column


def converted(using: str, fields: Sequence[Field[Any, Any]], found: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Each row of ``found`` (a value for each of ``fields``), its values converted as the ORM
    converts its fields' (UUIDs, amounts and times on SQLite, JSON everywhere)."""
    connection = connections[using]
    converters = []
    for position, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        found_converters = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        if found_converters:
            converters.append((position, column, found_converters))
    result = []
    for row in found:
        values = list(row)
        for position, column, convert in converters:
            for converter in convert:
                values[position] = converter(values[position], column, connection)
        result.append(values)
    return result


def instance(model: type[Model], using: str, values: Sequence[Any]) -> Any:
    """A ``model`` instance from its concrete fields' ``values`` as the database gave them."""
    fields = model._meta.concrete_fields
    [row] = converted(using, fields, [values])
    return model.from_db(using, [field.attname for field in fields], row)
