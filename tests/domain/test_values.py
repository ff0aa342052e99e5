import dataclasses
from decimal import Decimal

import pytest

from orders.domain import (
    MAX_QUANTITY,
    Address,
    Money,
    clean_adjustment,
    clean_email,
    clean_name,
    clean_quantity,
    clean_reason,
    clean_sku,
    email_key,
)
from tests.domain.scenario import HOME, eur, raises_code, usd

# --- Money ----------------------------------------------------------------------------------


def test_money_is_held_with_two_decimal_places():
    assert Money(Decimal("12.5"), "EUR").amount == Decimal("12.50")
    assert str(Money(3, "EUR")) == "3.00 EUR"
    assert Money(3, "EUR") == eur("3.00") == Money.zero("EUR") + eur("3")


@pytest.mark.parametrize("amount", [1.5, 1.0, "1.00", True, None])
def test_money_never_takes_a_float_or_anything_but_decimal_and_int(amount):
    with pytest.raises(TypeError):
        Money(amount, "EUR")


@pytest.mark.parametrize("amount", ["1.005", "NaN", "Infinity", "1E+30"])
def test_money_refuses_fractions_of_cents_and_non_numbers(amount):
    with raises_code("amount_invalid"):
        Money(Decimal(amount), "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "", "€UR", 978, None])
def test_money_needs_a_three_capital_letter_currency(currency):
    with raises_code("currency_invalid"):
        Money(Decimal(1), currency)


def test_money_adds_subtracts_multiplies_and_compares_within_one_currency():
    assert eur("1.10") + eur("2.20") == eur("3.30")
    assert eur("1.10") - eur("2.20") == eur("-1.10")
    assert eur("12.50") * 3 == eur("37.50")
    assert eur("1.00") < eur("1.01") <= eur("1.01") and eur("2.00") > eur("1.99") >= eur("1.99")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
    ids=["+", "-", "<", "<=", ">", ">="],
)
def test_money_never_mixes_currencies(combine):
    with raises_code("currency_mismatch") as caught:
        combine(eur("1.00"), usd("1.00"))
    assert caught.value.message == "Expected an amount in EUR, not in USD."


def test_amounts_in_different_currencies_are_simply_not_equal():
    assert eur("1.00") != usd("1.00")


@pytest.mark.parametrize("factor", [1.5, Decimal(2), True])
def test_money_is_multiplied_by_whole_numbers_only(factor):
    with pytest.raises(TypeError):
        eur("1.00") * factor


# --- Addresses ------------------------------------------------------------------------------


def test_an_address_is_stripped_and_its_country_upper_cased():
    address = Address(line1=" Keizersgracht 1 ", line2="", postal_code="1015 AA ", city="Amsterdam", country="nl")
    assert address == HOME


def test_an_address_names_every_field_at_fault():
    with raises_code("address_invalid") as caught:
        Address(line1=" ", line2=7, postal_code="x" * 201, city="Amsterdam", country="NLD")
    assert caught.value.fields == {
        "line1": "This field is required.",
        "line2": "Enter text.",
        "postal_code": "Use at most 200 characters.",
        "country": "Use a two-letter country code, such as NL.",
    }


@pytest.mark.parametrize("country", ["", "N1", "NLD", "ÑL"])
def test_an_address_needs_a_two_letter_country_code(country):
    with raises_code("address_invalid") as caught:
        dataclasses.replace(HOME, country=country)
    assert list(caught.value.fields) == ["country"]


def test_an_address_is_one_line_per_field():
    with raises_code("address_invalid") as caught:
        dataclasses.replace(HOME, city="Amster\ndam")
    assert caught.value.fields == {"city": "Use a single line of text."}


def test_an_address_cannot_be_changed_in_place():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HOME.city = "Utrecht"  # type: ignore[misc]


# --- E-mail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("ada@example.com", "ada@example.com"),
        ("  Ada.L+shop@Mail.Example.co.uk ", "Ada.L+shop@Mail.Example.co.uk"),
    ],
)
def test_an_email_is_stripped_and_keeps_its_case(raw, clean):
    assert clean_email(raw) == clean


@pytest.mark.parametrize(
    "email",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "ada@@example.com",
        "a@b@example.com",
        "ada @example.com",
        "ada@example..com",
        "ada@.example.com",
        "ada@example.com.",
        "ada@exam\x00ple.com",
        "a" * 245 + "@example.com",
        None,
    ],
)
def test_an_invalid_email_is_refused(email):
    with raises_code("email_invalid") as caught:
        clean_email(email)
    assert list(caught.value.fields) == ["email"]


def test_the_email_key_ignores_case_and_surrounding_space():
    assert email_key(" Ada@Example.COM ") == email_key("ada@example.com") == "ada@example.com"


# --- SKUs, names, reasons -------------------------------------------------------------------


def test_a_sku_is_stripped_and_upper_cased():
    assert clean_sku(" mug_1-b ") == "MUG_1-B"
    assert clean_sku("A" * 64) == "A" * 64


@pytest.mark.parametrize("sku", ["", "  ", "A" * 65, "MUG 1", "MUG.1", "MÜG", None])
def test_an_invalid_sku_is_refused(sku):
    with raises_code("sku_invalid"):
        clean_sku(sku)


def test_a_name_is_stripped():
    assert clean_name("  Ada Lovelace ") == "Ada Lovelace"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Ada\nLovelace", None])
def test_a_name_is_one_line_of_1_to_200_characters(name):
    with raises_code("name_invalid") as caught:
        clean_name(name)
    assert list(caught.value.fields) == ["name"]


def test_a_reason_may_span_several_lines():
    assert clean_reason(" Broken\nin transit. ") == "Broken\nin transit."


@pytest.mark.parametrize("reason", ["", "  ", "x" * 2001, "bad\x00byte", None])
def test_a_reason_is_required(reason):
    with raises_code("reason_required"):
        clean_reason(reason)


# --- Quantities -----------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", [1, MAX_QUANTITY])
def test_a_quantity_is_a_positive_whole_number(quantity):
    assert clean_quantity(quantity) == quantity


@pytest.mark.parametrize(
    "quantity, code",
    [
        (0, "quantity_not_positive"),
        (-1, "quantity_not_positive"),
        (MAX_QUANTITY + 1, "quantity_too_large"),
        (True, "quantity_invalid"),
        (1.0, "quantity_invalid"),
        ("1", "quantity_invalid"),
        (None, "quantity_invalid"),
    ],
)
def test_an_invalid_quantity_is_refused(quantity, code):
    with raises_code(code) as caught:
        clean_quantity(quantity)
    assert list(caught.value.fields) == ["quantity"]


@pytest.mark.parametrize("quantity", [-MAX_QUANTITY, -1, 1, MAX_QUANTITY])
def test_a_stock_adjustment_is_signed(quantity):
    assert clean_adjustment(quantity) == quantity


@pytest.mark.parametrize(
    "quantity, code",
    [
        (0, "adjustment_zero"),
        (MAX_QUANTITY + 1, "quantity_too_large"),
        (-MAX_QUANTITY - 1, "quantity_too_large"),
        (False, "quantity_invalid"),
    ],
)
def test_an_invalid_stock_adjustment_is_refused(quantity, code):
    with raises_code(code):
        clean_adjustment(quantity)
