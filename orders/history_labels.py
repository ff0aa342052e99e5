"""Entities, their states and their changes in the words staff use: an order by its number,
a customer by name, a product by SKU; each field under a label ("Unit price of TIN-TEA")
with amounts in their currency ("7.25 EUR"), rather than the paths ``history.fields`` and
``history.diff`` name them by (``lines[TIN-TEA].unit_price``).

The back office's history and time-travel pages take their words from here and nowhere
else. Each labelled field keeps its path: the REST API's states are made of those, and
integrators rely on them, so the API answers with paths and the pages show them on hover.

A product's state holds its reservations by order id; ``order_numbers`` looks up those
orders' numbers (one query of the orders' read model), and labels name an order by number
where they are given one ("Reserved for order CH-000042"), by id where not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from projections.models import OrderSummary

from . import history
from .templatetags.backoffice import money

# The state field an entity of each stream type is known by.
NAMED_BY: Final = {"order": "number", "customer": "name", "product": "sku"}

LABELS: Final = {
    "amount_due": "Amount due",
    "amount_paid": "Paid",
    "amount_refunded": "Refunded",
    "available": "Available",
    "currency": "Currency",
    "customer_id": "Customer id",
    "discontinued": "Discontinued",
    "email": "E-mail",
    "item_count": "Items",
    "name": "Name",
    "number": "Number",
    "on_hand": "On hand",
    "price": "Price",
    "product_id": "Product id",
    "quantity": "Quantity",
    "reserved": "Reserved",
    "shipping_address": "Shipping address",
    "sku": "SKU",
    "status": "Status",
    "total": "Total",
    "unit_price": "Unit price",
    # An address's parts.
    "line1": "line 1",
    "line2": "line 2",
    "postal_code": "postal code",
    "city": "city",
    "country": "country",
}
# Fields holding an amount in the entity's ``currency``.
AMOUNTS: Final = frozenset({"amount_due", "amount_paid", "amount_refunded", "price", "total", "unit_price"})

_LINE = re.compile(r"^lines\[(?P<sku>.+)\]\.(?P<field>\w+)$")
_RESERVATION = re.compile(r"^reservations\.(?P<order>[0-9a-f-]{36})$")


@dataclass(frozen=True)
class Field:
    path: str
    label: str
    # None when the field has no value (shown as a dash).
    value: str | None


@dataclass(frozen=True)
class LabelledChange:
    path: str
    label: str
    # None when the field did not exist before, or no longer does after.
    before: str | None
    after: str | None


def name(stream_type: str, state: Mapping[str, Any] | None) -> str | None:
    """What the entity is known by (``CH-000042``, ``Ada Lovelace``, ``TIN-TEA``); None
    before it exists."""
    value = (state or {}).get(NAMED_BY.get(stream_type, ""))
    return str(value) if value else None


def subject(stream_type: str, stream_id: UUID, state: Mapping[str, Any] | None) -> str:
    """``order CH-000042``; the id stands in for a name only before the entity exists."""
    return f"{stream_type} {name(stream_type, state) or stream_id}"


def order_numbers(states: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """The numbers of the orders these states hold reservations for, by order id, as far as
    the orders' read model has them."""
    ids = {order_id for state in states for order_id in (state or {}).get("reservations", {})}
    if not ids:
        return {}
    return {str(pk): number for pk, number in OrderSummary.objects.filter(pk__in=ids).values_list("pk", "number")}


def label(path: str, numbers: Mapping[str, str] | None = None) -> str:
    """``lines[TIN-TEA].unit_price`` -> ``Unit price of TIN-TEA``; a field without a label
    of its own is named after its path, so a new field is shown before it is labelled.
    ``numbers`` (``order_numbers``) name the orders a reservation is for."""
    if line := _LINE.match(path):
        return f"{_word(line['field'])} of {line['sku']}"
    if reservation := _RESERVATION.match(path):
        order_id = reservation["order"]
        return f"Reserved for order {(numbers or {}).get(order_id, order_id)}"
    first, *rest = path.split(".")
    return ", ".join([_word(first), *(_word(part).lower() for part in rest)])


def text(path: str, value: Any, state: Mapping[str, Any] | None) -> str | None:
    """A field's value as shown: amounts with the currency of ``state`` (the state the
    value belongs to), statuses capitalised, yes or no."""
    if value is None:
        return None
    currency = (state or {}).get("currency")
    if path.rsplit(".", 1)[-1] in AMOUNTS and currency:
        return money(Decimal(str(value)), currency)
    if path == "status":
        return str(value).capitalize()
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def fields(state: Mapping[str, Any] | None, numbers: Mapping[str, str] | None = None) -> list[Field]:
    """A state, field by field, in the order the state holds them."""
    pairs = history.fields(dict(state or {}))
    return [Field(path, label(path, numbers), text(path, value, state)) for path, value in pairs]


def changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, numbers: Mapping[str, str] | None = None
) -> list[LabelledChange]:
    """What differs from ``before`` to ``after``, in the order the states hold the fields
    (a line's fields together), each value formatted with its own state's currency."""
    old, new = dict(before or {}), dict(after or {})
    positions: dict[str, int] = {}
    for path, _ in [*history.fields(new), *history.fields(old)]:
        positions.setdefault(path, len(positions))
    ordered = sorted(history.diff(old, new), key=lambda change: positions[change.path])
    return [
        LabelledChange(
            change.path,
            label(change.path, numbers),
            text(change.path, change.before, old),
            text(change.path, change.after, new),
        )
        for change in ordered
    ]


def _word(key: str) -> str:
    return LABELS.get(key) or key.replace("_", " ").capitalize()
