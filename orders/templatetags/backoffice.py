"""Template filters of the back office: amounts with their currency, addresses on one line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """``1234.5, "EUR"`` -> ``1,234.50 EUR``; the currency is always shown, never converted."""
    if amount is None:
        return "—"
    return f"{amount:,.2f} {currency}"


@register.filter
def one_line(address: dict[str, Any] | None) -> str:
    """A stored address as one line: "Keizersgracht 1, 1015 CJ Amsterdam, NL"."""
    if not address:
        return "—"
    parts = [
        address.get("line1"),
        address.get("line2"),
        f"{address.get('postal_code', '')} {address.get('city', '')}".strip(),
        address.get("country"),
    ]
    return ", ".join(part for part in parts if part)
