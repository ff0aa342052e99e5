"""The rows a projection works on: fetched in bulk, changed in memory, written in bulk.

Handlers never query. A batch fetches the rows its events will touch in a few queries,
handlers change model instances in memory, and ``flush`` writes them all back with one
multi-row upsert per table (and chunk). That keeps a catch-up batch at a handful of queries
and lets a rebuild fold tens of thousands of events per second. The table is a parameter,
not the model's own, so the same projection code fills a rebuild's shadow tables.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)
T = TypeVar("T")

MAX_ROWS_PER_STATEMENT = 1000
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

    def __len__(self) -> int:
        return len(self._rows)

    def fetch(self, keys: Iterable[Hashable]) -> None:
        """Bring the rows with these primary keys into memory, in as few queries as it takes."""
        missing = [key for key in set(keys) if key not in self._rows and key not in self._absent]
        if missing and not self.complete:
            for row in _select(self.model, self.table, missing):
                self._rows[row.pk] = row
        self._absent.update(key for key in missing if key not in self._rows)

    def get(self, key: Hashable) -> M | None:
        if key not in self._rows:
            self.fetch([key])
        return self._rows.get(key)

    def __getitem__(self, key: Hashable) -> M:
        row = self.get(key)
        if row is None:
            raise KeyError(f"no {self.model.__name__} {key}")
        return row

    def add(self, row: M) -> M:
        self._rows[row.pk] = row
        self._absent.discard(row.pk)
        self._removed.discard(row.pk)
        return row

    def remove(self, key: Hashable) -> None:
        self._rows.pop(key, None)
        self._absent.add(key)
        self._removed.add(key)

    def flush(self) -> None:
        """Write every row in memory (and the removals) to the table, then forget them all:
        from now on rows are fetched again."""
        _delete(self.model, self.table, list(self._removed))
        _upsert(self.model, self.table, list(self._rows.values()))
        self._rows.clear()
        self._absent.clear()
        self._removed.clear()
        self.complete = False


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _key_params(model: type[Model], keys: Sequence[Hashable]) -> list[Any]:
    pk = model._meta.pk
    assert pk is not None
    return [pk.get_db_prep_value(key, connection) for key in keys]


def _where_pk_in(model: type[Model], count: int) -> str:
    assert model._meta.pk is not None
    return f"{_quote(model._meta.pk.column)} IN ({', '.join(['%s'] * count)})"


def _select(model: type[M], table: str, keys: Sequence[Hashable]) -> Iterator[M]:
    for chunk in chunks(keys, MAX_KEYS_PER_QUERY):
        sql = f"SELECT * FROM {_quote(table)} WHERE {_where_pk_in(model, len(chunk))}"
        yield from model._default_manager.raw(sql, _key_params(model, chunk))


def _delete(model: type[Model], table: str, keys: Sequence[Hashable]) -> None:
    with connection.cursor() as cursor:
        for chunk in chunks(keys, MAX_KEYS_PER_QUERY):
            cursor.execute(f"DELETE FROM {_quote(table)} WHERE {_where_pk_in(model, len(chunk))}", _key_params(model, chunk))


def _upsert(model: type[Model], table: str, rows: Sequence[Model]) -> None:
    """INSERT ... ON CONFLICT (pk) DO UPDATE, many rows a statement (PostgreSQL and SQLite)."""
    if not rows:
        return
    fields = model._meta.concrete_fields
    columns = [_quote(field.column) for field in fields]
    pk = _quote(model._meta.pk.column)  # type: ignore[union-attr]
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns if column != pk)
    row_sql = f"({', '.join(['%s'] * len(fields))})"
    per_statement = min(MAX_ROWS_PER_STATEMENT, (connection.features.max_query_params or 65535) // len(fields))
    prepare = _preparer(fields)
    with connection.cursor() as cursor:
        for chunk in chunks(rows, per_statement):
            params = [value for row in chunk for value in prepare(row)]
            cursor.execute(
                f"INSERT INTO {_quote(table)} ({', '.join(columns)}) VALUES {', '.join([row_sql] * len(chunk))} "
                f"ON CONFLICT ({pk}) DO UPDATE SET {updates}",
                params,
            )


def _preparer(fields: Sequence[Field]) -> Callable[[Model], list[Any]]:
    def prepare(row: Model) -> list[Any]:
        return [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]

    return prepare
