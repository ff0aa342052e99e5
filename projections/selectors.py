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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypedDict, TypeVar
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


# The columns of each answer, in its order; an entity's own rows (order lines, a customer's
# figures per currency) are joined in, so that a page is one query.
PRODUCT_FIELDS = tuple(Product.__annotations__)
CUSTOMER_FIELDS = ("id", "name", "email", "shipping_address", "version")
CUSTOMER_VALUE_FIELDS = ("values__currency", "values__orders", "values__lifetime_value")
ORDER_FIELDS = tuple(field for field in Order.__annotations__ if field != "lines")
ORDER_LINE_FIELDS = tuple(f"lines__{field}" for field in OrderLine.__annotations__)
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "country")


# --- Products: by SKU ---------------------------------------------------------------------


def product_get(*, product_id: UUID) -> Product | None:
    return ProductStock.objects.filter(id=product_id).values(*PRODUCT_FIELDS).first()  # type: ignore[return-value]


def product_list(*, after: Key | None = None, limit: int) -> Page[Product]:
    rows = ProductStock.objects.order_by("sku", "id")
    if after is not None:
        sku, id = _parts(after, str, UUID)
        rows = rows.filter(Q(sku__gte=sku) & (Q(sku__gt=sku) | Q(id__gt=id)))
    found = list(rows.values(*PRODUCT_FIELDS)[: limit + 1])
    return _page(found, limit, lambda row: [row["sku"], str(row["id"])])


# --- Customers: by name, then id -------------------------------------------------------------


def customer_get(*, customer_id: UUID) -> Customer | None:
    found = _customers(CustomerSummary.objects.filter(id=customer_id))
    return found[0] if found else None


def customer_list(*, after: Key | None = None, limit: int) -> Page[Customer]:
    rows = CustomerSummary.objects.order_by("name", "id")
    if after is not None:
        name, id = _parts(after, str, UUID)
        rows = rows.filter(Q(name__gte=name) & (Q(name__gt=name) | Q(id__gt=id)))
    found = _customers(CustomerSummary.objects.filter(id__in=rows.values("id")[: limit + 1]), "name", "id")
    return _page(found, limit, lambda row: [row["name"], str(row["id"])])


def _customers(rows: QuerySet[CustomerSummary], *ordering: str) -> list[Customer]:
    """Each customer of ``rows`` in that ``ordering``, with their figures per currency."""
    joined = rows.order_by(*ordering, "values__currency").values(*CUSTOMER_FIELDS, *CUSTOMER_VALUE_FIELDS)
    customers: list[Customer] = []
    for row in joined:
        currency, orders, value = (row.pop(field) for field in CUSTOMER_VALUE_FIELDS)
        if not customers or customers[-1]["id"] != row["id"]:
            row["shipping_address"] = _address(row["shipping_address"])
            customers.append({**row, "order_count": 0, "lifetime_value": {}})  # type: ignore[typeddict-item]
        if currency is not None:
            customers[-1]["order_count"] += orders
            customers[-1]["lifetime_value"][currency] = value
    for customer in customers:  # the answer's order: version last
        customer["version"] = customer.pop("version")
    return customers


# --- Orders: newest first (created, then id) ------------------------------------------------


def order_get(*, order_id: UUID) -> Order | None:
    found = _orders(OrderSummary.objects.filter(id=order_id))
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
    rows = OrderSummary.objects.order_by("-created_at", "-id")
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
    found = _orders(OrderSummary.objects.filter(id__in=rows.values("id")[: limit + 1]), "-created_at", "-id")
    return _page(found, limit, lambda row: [row["created_at"].isoformat(), str(row["id"])])


def _orders(rows: QuerySet[OrderSummary], *ordering: str) -> list[Order]:
    """Each order of ``rows`` in that ``ordering``, with its lines in the order they were added."""
    joined = rows.order_by(*ordering, "lines__added_in_version").values(*ORDER_FIELDS, *ORDER_LINE_FIELDS)
    orders: list[Order] = []
    for row in joined:
        line = {field.removeprefix("lines__"): row.pop(field) for field in ORDER_LINE_FIELDS}
        if not orders or orders[-1]["id"] != row["id"]:
            row["shipping_address"] = _address(row["shipping_address"])
            orders.append({**row, "lines": []})  # type: ignore[typeddict-item]
        if line["product_id"] is not None:
            orders[-1]["lines"].append(line)  # type: ignore[arg-type]
    for order in orders:  # the answer's order: version last
        order["version"] = order.pop("version")
    return orders


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
