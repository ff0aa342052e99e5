"""The rows a projection works on: fetched in bulk, changed in memory, written in bulk.

Handlers never query. A batch fetches the rows its events will touch in a few queries,
handlers change model instances in memory, and ``flush`` writes them all back with one
multi-row upsert per table (and chunk). That keeps a catch-up batch at a handful of queries
and lets a rebuild fold tens of thousands of events per second. The table is a parameter,
not the model's own, so the same projection code fills a rebuild's shadow tables.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Field, JSONField, Model
from django.db.models.base import ModelState
from psycopg.types.json import Jsonb

from eventstore.sql import column

M = TypeVar("M", bound=Model)
T = TypeVar("T")

MAX_KEYS_PER_QUERY = 500


class Rows(Generic[M]):
    """The rows of one table a projection has in hand, by primary key."""

    def __init__(self, model: type[M], table: str, *, complete: bool = False) -> None:
        self.model = model
        self.table = table
        # True while every row of the table is in memory (a rebuild into an empty table).
        self.complete = complete
        self._rows: dict[Hashable, M] = {}
        self._absent: set[Hashable] = set()
        self._removed: set[Hashable] = set()
        self._pk = model._meta.pk.attname
        self._defaults, self._default_factories = _defaults(model)

    def __len__(self) -> int:
        return len(self._rows)

    def fetch(self, keys: Iterable[Hashable]) -> None:
        """Bring the rows with these primary keys into memory, in as few queries as it takes."""
        if self.complete:
            return
        missing = [key for key in set(keys) if key not in self._rows and key not in self._absent]
        for row in _select(self.model, self.table, missing):
            self._rows[getattr(row, self._pk)] = row
        self._absent.update(key for key in missing if key not in self._rows)

    def get(self, key: Hashable) -> M | None:
        row = self._rows.get(key)
        if row is None and not self.complete and key not in self._absent:
            self.fetch([key])
            row = self._rows.get(key)
        return row

    def __getitem__(self, key: Hashable) -> M:
        row = self._rows.get(key)  # most often in memory: spare the call to ``get``
        if row is None:
            row = self.get(key)
            if row is None:
                raise KeyError(f"no {self.model.__name__} {key}")
        return row

    def new(self, **values: Any) -> M:
        """Add a new row: ``values`` by attribute name (``order_id``, not ``order``), the
        other fields at their defaults. Faster than ``Model(**values)``, which counts when a
        rebuild makes tens of thousands of rows."""
        if not values.keys() <= self._defaults.keys():
            raise TypeError(f"{self.model.__name__} has no field {', '.join(values.keys() - self._defaults.keys())}")
        row = _instance(self.model, self._defaults)
        fields = row.__dict__
        fields.update(values)
        for name, make in self._default_factories:
            if name not in values:
                fields[name] = make()
        key = fields[self._pk]
        self._rows[key] = row
        self._absent.discard(key)
        self._removed.discard(key)
        return row

    def remove(self, key: Hashable) -> None:
        self._rows.pop(key, None)
        self._absent.add(key)
        self._removed.add(key)

    def flush(self) -> None:
        """Write every row in memory (and the removals) to the table, then forget them all:
        from now on rows are fetched again."""
        rows = list(self._rows.values())
        if self.complete:  # the table is empty: every row is new
            _insert(self.model, self.table, rows)
        else:
            _delete(self.model, self.table, list(self._removed))
            _upsert(self.model, self.table, rows)
        self._rows.clear()
        self._absent.clear()
        self._removed.clear()
        self.complete = False


def _instance(model: type[M], values: dict[str, Any]) -> M:
    """A model instance with these attribute values, without ``Model.__init__``: at some
    20 µs a row it would cost a rebuild more than writing the rows does. Read models have no
    signals or custom ``__init__`` that this skips; Django's own ``from_db`` state is set."""
    row = model.__new__(model)
    row.__dict__.update(values)
    row._state = ModelState()
    return row


def _defaults(model: type[Model]) -> tuple[dict[str, Any], list[tuple[str, Callable[[], Any]]]]:
    """The model's default values by attribute name, and the fields whose default is made
    afresh for every row (a new dict or list)."""
    fields = model._meta.concrete_fields
    factories = [(f.attname, f.default) for f in fields if f.has_default() and callable(f.default)]
    return {field.attname: field.get_default() for field in fields}, factories


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _column(field: Field[Any, Any]) -> str:
    return _quote(column(field))


def _db_type(field: Field[Any, Any]) -> str:
    """A concrete field's column type."""
    db_type = field.db_type(connection)
    assert db_type is not None
    return db_type


def _key_params(model: type[Model], keys: Sequence[Hashable]) -> list[Any]:
    pk = model._meta.pk
    assert pk is not None
    return [pk.get_db_prep_value(key, connection) for key in keys]


def _where_pk_in(model: type[Model], count: int) -> str:
    assert model._meta.pk is not None
    return f"{_column(model._meta.pk)} IN ({', '.join(['%s'] * count)})"


def _select(model: type[M], table: str, keys: Sequence[Hashable]) -> Iterator[M]:
    for chunk in chunks(keys, MAX_KEYS_PER_QUERY):
        sql = f"SELECT * FROM {_quote(table)} WHERE {_where_pk_in(model, len(chunk))}"
        yield from model._default_manager.raw(sql, _key_params(model, chunk))


def _delete(model: type[Model], table: str, keys: Sequence[Hashable]) -> None:
    with connection.cursor() as cursor:
        for chunk in chunks(keys, MAX_KEYS_PER_QUERY):
            sql = f"DELETE FROM {_quote(table)} WHERE {_where_pk_in(model, len(chunk))}"
            cursor.execute(sql, _key_params(model, chunk))


def _insert(model: type[Model], table: str, rows: Sequence[Model]) -> None:
    """Rows that are all new, e.g. into a rebuild's empty shadow table: COPY on PostgreSQL,
    the fastest way in."""
    if connection.vendor != "postgresql":
        _upsert(model, table, rows)
        return
    fields = model._meta.concrete_fields
    sql = f"COPY {_quote(table)} ({_columns(fields)}) FROM STDIN (FORMAT BINARY)"
    with _raw_cursor() as cursor, cursor.copy(sql) as copy:
        copy.set_types([re.sub(r"\(.*\)", "", _db_type(field)) for field in fields])
        for values in _values(fields, rows):
            copy.write_row(values)


def _upsert(model: type[Model], table: str, rows: Sequence[Model]) -> None:
    """INSERT ... ON CONFLICT (pk) DO UPDATE: on PostgreSQL one statement taking a column of
    values per array parameter, on SQLite one statement per row (in-process, cheap)."""
    if not rows:
        return
    fields = model._meta.concrete_fields
    pk = _column(model._meta.pk)
    updates = ", ".join(f"{c} = excluded.{c}" for c in map(_column, fields) if c != pk)
    into = f"INSERT INTO {_quote(table)} ({_columns(fields)})"
    conflict = f"ON CONFLICT ({pk}) DO UPDATE SET {updates}"
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
        with _raw_cursor() as cursor:
            columns = [list(column) for column in zip(*_values(fields, rows), strict=True)]
            cursor.execute(f"{into} SELECT * FROM unnest({arrays}) {conflict}", columns)
    else:
        with connection.cursor() as cursor:
            values = [[f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields] for row in rows]
            cursor.executemany(f"{into} VALUES ({', '.join(['%s'] * len(fields))}) {conflict}", values)


def _columns(fields: Sequence[Field]) -> str:
    return ", ".join(_column(field) for field in fields)


def _values(fields: Sequence[Field], rows: Iterable[Model]) -> Iterator[list[Any]]:
    """Each row's values in field order, as psycopg takes them (JSON wrapped as jsonb)."""
    get = operator.attrgetter(*(field.attname for field in fields))
    json = [i for i, field in enumerate(fields) if isinstance(field, JSONField)]
    for row in rows:
        values = list(get(row))
        for i in json:
            if values[i] is not None:
                values[i] = Jsonb(values[i])
        yield values


@contextmanager
def _raw_cursor() -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor on Django's own connection (so inside its transaction) that binds
    parameters server-side, with database errors turned into Django's."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    wrapper.ensure_connection()
    with wrapper.wrap_database_errors, psycopg.Cursor(wrapper.connection) as cursor:
        yield cursor
