"""Reads of the read models, for the API's queries: typed functions returning plain data,
rows shaped as the answer (each field under its answer's name, in its answer's order), each
page or entity in one query.

Lists page by keyset: each has one stable order, and a page continues after the sort key
of the last row of the one before (``Page.after``), never at an offset, so rows written
meanwhile neither repeat nor go missing from the rows already passed. A key is a list of
strings; the caller keeps it opaque (the API signs it into a cursor).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypedDict, TypeVar, cast
from uuid import UUID

from django.db import connection, connections, router
from django.db.models import Field, Model
from django.utils.dateparse import parse_datetime

from eventstore import sql

from .models import CustomerSummary, CustomerValue, OrderSummary, OrderSummaryLine, ProductStock

T = TypeVar("T")
# A sort key, as strings: (name, id), (sku, id) or (created_at, id).
Key = list[str]

# Which projection keeps what each query reads (X-Chronicle-Position, ?min_position=).
ORDER_PROJECTIONS = ("orders",)
PRODUCT_PROJECTIONS = ("stock",)
# Name, e-mail and address from one, order count and lifetime value from the other.
CUSTOMER_PROJECTIONS = ("customers", "sales")


class InvalidKey(ValueError):
    """A page key that none of these lists hands out."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    # The key to continue after; None on the last page.
    after: Key | None


class Product(TypedDict):
    id: UUID
    sku: str
    name: str
    price: Decimal
    currency: str
    on_hand: int
    reserved: int
    available: int
    discontinued: bool
    version: int


class Customer(TypedDict):
    id: UUID
    name: str
    email: str
    shipping_address: dict[str, str] | None
    # Orders that count as sales, over every currency.
    order_count: int
    # Their totals less refunds, per currency (never converted).
    lifetime_value: dict[str, Decimal]
    version: int


class OrderLine(TypedDict):
    product_id: UUID
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class Order(TypedDict):
    id: UUID
    number: str
    customer_id: UUID
    status: str
    currency: str
    total: Decimal
    amount_paid: Decimal
    amount_refunded: Decimal
    shipping_address: dict[str, str] | None
    created_at: dt.datetime
    placed_at: dt.datetime | None
    paid_at: dt.datetime | None
    shipped_at: dt.datetime | None
    lines: list[OrderLine]
    version: int


ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "country")


# --- Products: by SKU ---------------------------------------------------------------------


def product_get(*, product_id: UUID) -> Product | None:
    found = _products("WHERE id = %s", [(_field(ProductStock, "id"), product_id)], limit=1)
    return found[0] if found else None


def product_list(*, after: Key | None = None, limit: int) -> Page[Product]:
    where, params = "", []
    if after is not None:
        sku, id = _parts(after, str, UUID)
        where = "WHERE sku >= %s AND (sku > %s OR id > %s)"
        params = [(_field(ProductStock, "sku"), sku)] * 2 + [(_field(ProductStock, "id"), id)]
    return _page(_products(where, params, limit=limit + 1), limit, lambda row: [row["sku"], str(row["id"])])


def _products(where: str, params: Sequence[Param], *, limit: int) -> list[Product]:
    columns = _Columns(("p", ProductStock, tuple(Product.__annotations__)))
    query = f"SELECT {columns} FROM {_table(ProductStock)} p {where} ORDER BY p.sku, p.id LIMIT %s"
    rows = _read(ProductStock, query, [*params, (None, limit)], columns)
    return cast(list[Product], [dict(zip(columns.names, row, strict=True)) for row in rows])


# --- Customers: by name, then id -------------------------------------------------------------


def customer_get(*, customer_id: UUID) -> Customer | None:
    found = _customers("WHERE id = %s", [(_field(CustomerSummary, "id"), customer_id)], limit=1)
    return found[0] if found else None


def customer_list(*, after: Key | None = None, limit: int) -> Page[Customer]:
    where, params = "", []
    if after is not None:
        name, id = _parts(after, str, UUID)
        where = "WHERE name >= %s AND (name > %s OR id > %s)"
        params = [(_field(CustomerSummary, "name"), name)] * 2 + [(_field(CustomerSummary, "id"), id)]
    return _page(_customers(where, params, limit=limit + 1), limit, lambda row: [row["name"], str(row["id"])])


def _customers(where: str, params: Sequence[Param], *, limit: int) -> list[Customer]:
    """The customers ``where`` says, by name then id, at most ``limit``, each with their
    figures per currency (by currency): one query."""
    columns = _Columns(
        ("c", CustomerSummary, ("id", "name", "email", "shipping_address", "version")),
        ("v", CustomerValue, ("currency", "orders", "lifetime_value")),
    )
    query = (
        f"SELECT {columns} FROM (SELECT * FROM {_table(CustomerSummary)} {where} ORDER BY name, id LIMIT %s) c "
        f"LEFT JOIN {_table(CustomerValue)} v ON v.customer_id = c.id ORDER BY c.name, c.id, v.currency"
    )
    customers: list[Customer] = []
    for id, name, email, address, version, currency, orders, value in _read(
        CustomerSummary, query, [*params, (None, limit)], columns
    ):
        if not customers or customers[-1]["id"] != id:
            customers.append(
                Customer(
                    id=id,
                    name=name,
                    email=email,
                    shipping_address=_address(address),
                    order_count=0,
                    lifetime_value={},
                    version=version,
                )
            )
        if currency is not None:
            customers[-1]["order_count"] += orders
            customers[-1]["lifetime_value"][currency] = value
    return customers


# --- Orders: newest first (created, then id) ------------------------------------------------


def order_get(*, order_id: UUID) -> Order | None:
    found = _orders("WHERE id = %s", [(_field(OrderSummary, "id"), order_id)], limit=1)
    return found[0] if found else None


def order_list(
    *,
    status: str | None = None,
    customer_id: UUID | None = None,
    placed_after: dt.datetime | None = None,
    placed_before: dt.datetime | None = None,
    after: Key | None = None,
    limit: int,
) -> Page[Order]:
    """Orders newest first; ``placed_after`` is inclusive, ``placed_before`` exclusive, and
    either leaves out drafts (never placed)."""
    conditions, params = [], []
    field = functools.partial(_field, OrderSummary)
    for condition, value, name in (
        ("status = %s", status, "status"),
        ("customer_id = %s", customer_id, "customer_id"),
        ("placed_at >= %s", placed_after, "placed_at"),
        ("placed_at < %s", placed_before, "placed_at"),
    ):
        if value is not None:
            conditions.append(condition)
            params.append((field(name), value))
    if after is not None:
        created_at, id = _parts(after, _datetime, UUID)
        conditions.append("created_at <= %s AND (created_at < %s OR id < %s)")
        params += [(field("created_at"), created_at)] * 2 + [(field("id"), id)]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    found = _orders(where, params, limit=limit + 1)
    return _page(found, limit, lambda row: [row["created_at"].isoformat(), str(row["id"])])


def _orders(where: str, params: Sequence[Param], *, limit: int) -> list[Order]:
    """The orders ``where`` says, newest first, at most ``limit``, each with its lines in
    the order they were added: one query."""
    order_fields = tuple(name for name in Order.__annotations__ if name != "lines")
    line_fields = tuple(OrderLine.__annotations__)
    columns = _Columns(("o", OrderSummary, order_fields), ("l", OrderSummaryLine, line_fields))
    query = (
        f"SELECT {columns} FROM (SELECT * FROM {_table(OrderSummary)} {where} "
        "ORDER BY created_at DESC, id DESC LIMIT %s) o "
        f"LEFT JOIN {_table(OrderSummaryLine)} l ON l.order_id = o.id "
        "ORDER BY o.created_at DESC, o.id DESC, l.added_in_version"
    )
    orders: list[Order] = []
    split = len(order_fields)
    for row in _read(OrderSummary, query, [*params, (None, limit)], columns):
        if not orders or orders[-1]["id"] != row[0]:
            order = dict(zip(order_fields, row[:split], strict=True))
            order["shipping_address"] = _address(order["shipping_address"])
            version = order.pop("version")
            orders.append(cast(Order, {**order, "lines": [], "version": version}))
        if row[split] is not None:
            orders[-1]["lines"].append(cast(OrderLine, dict(zip(line_fields, row[split:], strict=True))))
    return orders


# --- Reading written-out SQL ----------------------------------------------------------------
# A read is one query written out (``eventstore.sql``): compiling these through the ORM took
# longer than the database took to answer them. The values go in and come out as the ORM's
# would.

# A parameter and the field that prepares it for the database (None: as it is).
Param = tuple[Field | None, Any]


class _Columns:
    """The columns a read selects: (table alias, model, field names) for each table."""

    def __init__(self, *tables: tuple[str, type[Model], tuple[str, ...]]) -> None:
        self.selected = [(alias, _field(model, name)) for alias, model, names in tables for name in names]
        self.names = [field.name for _, field in self.selected]

    def __str__(self) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{alias}.{quote(sql.column(field))}" for alias, field in self.selected)


def _read(model: type[Model], query: str, params: Sequence[Param], columns: _Columns) -> list[list[Any]]:
    """The rows of ``query``, each value converted as the ORM converts its field's, from the
    database the ORM would read ``model`` from (a replica's for a query, see config.routers)."""
    using = router.db_for_read(model)
    db = connections[using]
    found = sql.rows(using, query, [field.get_db_prep_value(v, db) if field else v for field, v in params])
    return sql.converted(using, [field for _, field in columns.selected], found)


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} has no column"
    return field


def _address(stored: dict[str, str] | None) -> dict[str, str] | None:
    """An address as answered: its fields in their order (a JSON column keeps its own)."""
    if stored is None:
        return None
    return {field: stored.get(field, "") for field in ADDRESS_FIELDS}


# --- Keyset paging ------------------------------------------------------------------------


def _page(found: list[T], limit: int, key_of: Callable[[T], Key]) -> Page[T]:
    """One page of ``found`` (at most ``limit`` + 1 items, ordered by their key): ``limit``
    items, and the key of the last if one more followed."""
    more = len(found) > limit
    found = found[:limit]
    return Page(found, key_of(found[-1]) if more else None)


def _parts(key: Sequence[str], *types: Any) -> tuple[Any, ...]:
    if not isinstance(key, list | tuple) or len(key) != len(types) or not all(isinstance(k, str) for k in key):
        raise InvalidKey("not a key of this list")
    try:
        return tuple(convert(part) for convert, part in zip(types, key, strict=True))
    except (TypeError, ValueError) as error:
        raise InvalidKey("not a key of this list") from error


def _datetime(value: str) -> dt.datetime:
    parsed = parse_datetime(value)
    if parsed is None or parsed.tzinfo is None:
        raise ValueError("not an aware ISO 8601 time")
    return parsed
