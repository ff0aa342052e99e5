import pytest

from orders.domain import Customer, CustomerAddressChanged, CustomerEmailChanged
from tests.domain.scenario import HOME, OFFICE, REGISTERED, given, refused


def test_registering_records_the_cleaned_name_and_email():
    customer = given(Customer)
    customer.register("  Ada Lovelace ", " Ada@Example.com ", HOME)
    assert customer.pending == [REGISTERED]
    assert (customer.name, customer.email) == ("Ada Lovelace", "Ada@Example.com")
    assert customer.shipping_address == HOME


def test_a_customer_may_register_without_an_address():
    customer = given(Customer)
    customer.register("Ada Lovelace", "ada@example.com")
    assert customer.shipping_address is None


def test_a_customer_registers_only_once():
    customer = given(Customer, REGISTERED)
    with refused(customer, "already_registered"):
        customer.register("Ada Lovelace", "ada@example.com", HOME)


@pytest.mark.parametrize(
    "name, email, code", [("", "ada@example.com", "name_invalid"), ("Ada", "ada", "email_invalid")]
)
def test_registering_needs_a_name_and_a_valid_email(name, email, code):
    customer = given(Customer)
    with refused(customer, code):
        customer.register(name, email, HOME)


def test_changing_the_email_records_it():
    customer = given(Customer, REGISTERED)
    customer.change_email(" ada@example.org ")
    assert customer.pending == [CustomerEmailChanged(email="ada@example.org")]


def test_a_change_of_case_alone_is_a_change_of_email():
    customer = given(Customer, REGISTERED)
    customer.change_email("ada@example.com")
    assert customer.pending == [CustomerEmailChanged(email="ada@example.com")]


def test_changing_the_email_to_the_same_address_records_nothing():
    customer = given(Customer, REGISTERED)
    customer.change_email(" Ada@Example.com")
    assert customer.pending == []


def test_an_invalid_new_email_is_refused():
    customer = given(Customer, REGISTERED)
    with refused(customer, "email_invalid"):
        customer.change_email("ada@example")


def test_changing_the_address_records_it():
    customer = given(Customer, REGISTERED)
    customer.change_address(OFFICE)
    assert customer.pending == [CustomerAddressChanged(shipping_address=OFFICE)]
    assert customer.shipping_address == OFFICE


def test_changing_the_address_to_the_same_address_records_nothing():
    customer = given(Customer, REGISTERED)
    customer.change_address(HOME)
    assert customer.pending == []


@pytest.mark.parametrize("change", [lambda c: c.change_email("ada@example.org"), lambda c: c.change_address(OFFICE)])
def test_a_customer_who_never_registered_cannot_be_changed(change):
    with pytest.raises(LookupError):
        change(given(Customer))
