"""Reads of the read models, for the API's queries: typed functions returning plain data.

Lists page by keyset: each has one stable order, and a page continues after the sort key
of the last row of the one before (``Page.after``), never at an offset, so rows written
meanwhile neither repeat nor go missing from the rows already passed. A key is a list of
strings; the caller keeps it opaque (the API signs it into a cursor).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar
from uuid import UUID

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime

from .models import CustomerSummary, OrderSummary, ProductStock

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


@dataclass(frozen=True)
class Product:
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


@dataclass(frozen=True)
class Customer:
    id: UUID
    name: str
    email: str
    shipping_address: dict[str, str] | None
    # Orders that count as sales, over every currency.
    order_count: int
    # Their totals less refunds, per currency (never converted).
    lifetime_value: dict[str, Decimal]
    version: int


@dataclass(frozen=True)
class OrderLine:
    product_id: UUID
    sku: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


@dataclass(frozen=True)
class Order:
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


# --- Products: by SKU ---------------------------------------------------------------------


def product_get(*, product_id: UUID) -> Product | None:
    row = ProductStock.objects.filter(id=product_id).first()
    return _product(row) if row is not None else None


def product_list(*, after: Key | None = None, limit: int) -> Page[Product]:
    rows = ProductStock.objects.order_by("sku", "id")
    if after is not None:
        sku, id = _parts(after, str, UUID)
        rows = rows.filter(Q(sku__gte=sku) & (Q(sku__gt=sku) | Q(id__gt=id)))
    return _page(rows, limit, _product, lambda row: [row.sku, str(row.id)])


def _product(row: ProductStock) -> Product:
    return Product(
        row.id,
        row.sku,
        row.name,
        row.price,
        row.currency,
        row.on_hand,
        row.reserved,
        row.available,
        row.discontinued,
        row.version,
    )


# --- Customers: by name, then id -------------------------------------------------------------


def customer_get(*, customer_id: UUID) -> Customer | None:
    row = CustomerSummary.objects.prefetch_related("values").filter(id=customer_id).first()
    return _customer(row) if row is not None else None


def customer_list(*, after: Key | None = None, limit: int) -> Page[Customer]:
    rows = CustomerSummary.objects.prefetch_related("values").order_by("name", "id")
    if after is not None:
        name, id = _parts(after, str, UUID)
        rows = rows.filter(Q(name__gte=name) & (Q(name__gt=name) | Q(id__gt=id)))
    return _page(rows, limit, _customer, lambda row: [row.name, str(row.id)])


def _customer(row: CustomerSummary) -> Customer:
    values = list(row.values.all())
    return Customer(
        row.id,
        row.name,
        row.email,
        row.shipping_address,
        sum(value.orders for value in values),
        {value.currency: value.lifetime_value for value in values},
        row.version,
    )


# --- Orders: newest first (created, then id) ------------------------------------------------


def order_get(*, order_id: UUID) -> Order | None:
    row = OrderSummary.objects.prefetch_related("lines").filter(id=order_id).first()
    return _order(row) if row is not None else None


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
    rows = OrderSummary.objects.prefetch_related("lines").order_by("-created_at", "-id")
    if status is not None:
        rows = rows.filter(status=status)
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    if placed_after is not None:
        rows = rows.filter(placed_at__gte=placed_after)
    if placed_before is not None:
        rows = rows.filter(placed_at__lt=placed_before)
    if after is not None:
        created_at, id = _parts(after, _datetime, UUID)
        rows = rows.filter(Q(created_at__lte=created_at) & (Q(created_at__lt=created_at) | Q(id__lt=id)))
    return _page(rows, limit, _order, lambda row: [row.created_at.isoformat(), str(row.id)])


def _order(row: OrderSummary) -> Order:
    lines = [
        OrderLine(line.product_id, line.sku, line.quantity, line.unit_price, line.line_total)
        for line in row.lines.all()
    ]
    return Order(
        row.id,
        row.number,
        row.customer_id,
        row.status,
        row.currency,
        row.total,
        row.amount_paid,
        row.amount_refunded,
        row.shipping_address,
        row.created_at,
        row.placed_at,
        row.paid_at,
        row.shipped_at,
        lines,
        row.version,
    )


# --- Keyset paging ------------------------------------------------------------------------


def _page(rows: QuerySet[Any], limit: int, build: Any, key_of: Any) -> Page[Any]:
    """One page of ``rows`` (ordered by their key): ``limit`` items, and the key of the
    last if one more row follows."""
    found = list(rows[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return Page([build(row) for row in found], key_of(found[-1]) if more else None)


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
