"""Helpers and sample values for the domain's tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest

from orders.domain import Address, DomainError, Money


@contextmanager
def raises_code(code: str) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """The block raises the DomainError whose code is ``code``."""
    with pytest.raises(DomainError) as caught:
        yield caught
    assert caught.value.code == code, f"refused with {caught.value.code!r}, not {code!r}"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


HOME = Address(line1="Keizersgracht 1", line2="", postal_code="1015 AA", city="Amsterdam", country="NL")
OFFICE = Address(line1="Rue de Rivoli 2", line2="3e étage", postal_code="75001", city="Paris", country="FR")
