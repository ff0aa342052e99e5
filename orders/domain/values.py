"""Value objects and input cleaning shared by the aggregates.

``clean_*`` functions take raw input, return it normalised (stripped, upper-cased...) and
raise the matching DomainError when it is unacceptable. Value objects validate themselves
on construction, so an invalid ``Money`` or ``Address`` cannot exist.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import total_ordering
from typing import Any, Final

from .exceptions import (
    AddressInvalid,
    AdjustmentZero,
    AmountInvalid,
    CurrencyInvalid,
    CurrencyMismatch,
    DomainError,
    EmailInvalid,
    NameInvalid,
    QuantityInvalid,
    QuantityNotPositive,
    QuantityTooLarge,
    ReasonRequired,
    SkuInvalid,
)

MAX_QUANTITY: Final = 1_000_000
# State-dependent limits, checked before anything is appended; with them an order's total
# fits 14 digits and every sum the read side keeps fits its numeric(20,2) columns.
MAX_LINES: Final = 100
MAX_ORDER_TOTAL: Final = Decimal("999999999999.99")
MAX_STOCK: Final = 1_000_000_000
MAX_TEXT: Final = 200
MAX_REASON: Final = 2000
MAX_EMAIL: Final = 254

_CENT: Final = Decimal("0.01")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_SKU: Final = re.compile(r"[A-Z0-9_-]{1,64}")
_LINE_BREAKS: Final = frozenset("\n\r\t")


class OrderStatus(StrEnum):
    DRAFT = "draft"
    PLACED = "placed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


# --- Money ----------------------------------------------------------------------------------


def clean_currency(value: object) -> str:
    if not isinstance(value, str) or not _CURRENCY.fullmatch(value):
        raise CurrencyInvalid(value=value)
    return value


def check_same_currency(expected: str, given: str) -> None:
    if given != expected:
        raise CurrencyMismatch(expected=expected, given=given)


def _to_cents(value: object) -> Decimal:
    """``value`` as a Decimal with exactly 2 places; floats are refused as a programming error."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"Money takes a Decimal or an int amount, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise AmountInvalid("The amount is not a number.")
    try:
        cents = amount.quantize(_CENT)
    except InvalidOperation:
        raise AmountInvalid("The amount is too large.") from None
    if cents != amount:
        raise AmountInvalid(f"Amounts have at most 2 decimal places; {amount} has more.")
    return cents


@total_ordering
@dataclass(frozen=True)
class Money:
    """An exact amount in one currency, always held with 2 decimal places.

    Adding, subtracting and ordering amounts in different currencies raises
    ``CurrencyMismatch``; equality simply compares amount and currency.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _to_cents(self.amount))
        clean_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def __add__(self, other: object) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        check_same_currency(self.currency, other.currency)
        return Money(self.amount + other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        return self + -other if isinstance(other, Money) else NotImplemented

    def __mul__(self, quantity: object) -> Money:
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            return NotImplemented
        return Money(self.amount * quantity, self.currency)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        check_same_currency(self.currency, other.currency)
        return self.amount < other.amount


def check_positive(money: Money) -> None:
    if money.amount <= 0:
        raise AmountInvalid(f"The amount must be above zero, not {money}.")


# --- Text -----------------------------------------------------------------------------------


def _text_problem(value: object, *, required: bool, max_length: int, multiline: bool) -> str | None:
    """Why ``value`` is not acceptable text, for a form, or None when it is."""
    if not isinstance(value, str):
        return "Enter text."
    text = value.strip()
    if required and not text:
        return "This field is required."
    if len(text) > max_length:
        return f"Use at most {max_length} characters."
    allowed = _LINE_BREAKS if multiline else frozenset()
    if any(unicodedata.category(char) == "Cc" and char not in allowed for char in text):
        return "Remove the control characters." if multiline else "Use a single line of text."
    return None


def _text_problems(
    texts: Mapping[str, object], *, optional: Collection[str], max_length: int, multiline: bool
) -> dict[str, str]:
    """Field name -> what is wrong with it, for every unacceptable text in ``texts``."""
    problems = {
        name: _text_problem(value, required=name not in optional, max_length=max_length, multiline=multiline)
        for name, value in texts.items()
    }
    return {name: problem for name, problem in problems.items() if problem}


def clean_texts(
    error: type[DomainError],
    texts: Mapping[str, object],
    *,
    optional: Collection[str] = (),
    max_length: int = MAX_TEXT,
    multiline: bool = False,
) -> dict[str, str]:
    """``texts`` stripped, or ``error`` naming every unacceptable field."""
    problems = _text_problems(texts, optional=optional, max_length=max_length, multiline=multiline)
    if problems:
        raise error(fields=problems)
    return {name: str(value).strip() for name, value in texts.items()}


def clean_name(value: object) -> str:
    return clean_texts(NameInvalid, {"name": value})["name"]


def clean_reason(value: object) -> str:
    """Reasons are free text for people reading the history: several lines are fine."""
    return clean_texts(ReasonRequired, {"reason": value}, max_length=MAX_REASON, multiline=True)["reason"]


def clean_email(value: object) -> str:
    """The address stripped, its case kept. Deliberately simple: one '@', something before
    it, a dotted domain after it, no spaces; whether it receives mail is not our concern."""
    if not isinstance(value, str):
        raise EmailInvalid()
    email = value.strip()
    local, _, domain = email.partition("@")
    if (
        len(email) > MAX_EMAIL
        or email.count("@") != 1
        or not local
        or "." not in domain
        or domain.startswith(".")
        or domain.endswith(".")
        or ".." in domain
        or any(char.isspace() or unicodedata.category(char) == "Cc" for char in email)
    ):
        raise EmailInvalid()
    return email


def email_key(email: str) -> str:
    """The form of an address used to tell whether two customers share it."""
    return email.strip().casefold()


def clean_sku(value: object) -> str:
    sku = value.strip().upper() if isinstance(value, str) else ""
    if not _SKU.fullmatch(sku):
        raise SkuInvalid()
    return sku


# --- Quantities -----------------------------------------------------------------------------


def _whole_number(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QuantityInvalid()
    return int(value)


def clean_quantity(value: object) -> int:
    """A count of items: 1 to MAX_QUANTITY."""
    quantity = _whole_number(value)
    if quantity <= 0:
        raise QuantityNotPositive(quantity=quantity)
    if quantity > MAX_QUANTITY:
        raise QuantityTooLarge(quantity=quantity, maximum=MAX_QUANTITY)
    return quantity


def clean_adjustment(value: object) -> int:
    """A signed correction of a stock count: non-zero, at most MAX_QUANTITY either way."""
    quantity = _whole_number(value)
    if quantity == 0:
        raise AdjustmentZero()
    if abs(quantity) > MAX_QUANTITY:
        raise QuantityTooLarge(quantity=quantity, maximum=MAX_QUANTITY)
    return quantity


# --- Addresses ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Address:
    """A postal address; ``line2`` may be empty, ``country`` is ISO 3166-1 alpha-2."""

    line1: str
    line2: str
    postal_code: str
    city: str
    country: str

    def __post_init__(self) -> None:
        texts = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        problems = _text_problems(texts, optional={"line2"}, max_length=MAX_TEXT, multiline=False)
        if "country" not in problems and not _COUNTRY.fullmatch(self.country.strip().upper()):
            problems["country"] = "Use a two-letter country code, such as NL."
        if problems:
            raise AddressInvalid(fields=problems)
        for name, value in texts.items():
            object.__setattr__(self, name, value.strip())
        object.__setattr__(self, "country", self.country.upper())


def address_to_json(address: Address | None) -> dict[str, str] | None:
    return None if address is None else dataclasses.asdict(address)


def address_from_json(data: Mapping[str, Any] | None) -> Address | None:
    return None if data is None else Address(**data)
