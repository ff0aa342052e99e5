"""Customers: list and read them; register, change e-mail, change address."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from orders.domain import Customer
from orders.domain import commands as c
from projections import selectors

from ..serializers import AddressSerializer, CustomerPageSerializer, CustomerSerializer, email_field, name_field
from .base import CommandApi, CreateApi
from .queries import DetailApi, ListApi


class CustomerListApi(ListApi):
    """Customers by name (then id), a page at a time.

    Follow `next` (null on the last page). Order count and lifetime value come from the
    sales figures: `X-Chronicle-Position` and `min_position` cover both.
    """

    OutputSerializer = CustomerPageSerializer
    projections = selectors.CUSTOMER_PROJECTIONS
    scope = "customers"

    def select(self, **query: Any) -> selectors.Page[selectors.Customer]:
        return selectors.customer_list(**query)


class CustomerApi(DetailApi):
    """A customer, with their order count and lifetime value per currency.

    `ETag` is the customer's version (for If-Match), which the order figures do not move,
    so this answer is never 304: it is always given in full.
    """

    OutputSerializer = CustomerSerializer
    projections = selectors.CUSTOMER_PROJECTIONS
    stream_type = Customer.STREAM_TYPE
    conditional = False

    def select(self, id: UUID) -> selectors.Customer | None:
        return selectors.customer_get(customer_id=id)


class RegisterCustomerApi(CreateApi):
    """An e-mail address another customer has is 422 `email_taken`."""

    command = c.RegisterCustomer
    collection = "api:customers"

    class InputSerializer(serializers.Serializer):
        name = name_field()
        email = email_field()
        shipping_address = AddressSerializer(required=False, allow_null=True)


# `customers/`: GET lists, POST registers. (each documented from its own side)
class CustomersApi(CustomerListApi, RegisterCustomerApi):
    pass


class ChangeCustomerEmailApi(CommandApi):
    """An address another customer has is 422 `email_taken`."""

    command = c.ChangeCustomerEmail

    class InputSerializer(serializers.Serializer):
        email = email_field()


class ChangeCustomerAddressApi(CommandApi):
    command = c.ChangeCustomerAddress

    class InputSerializer(serializers.Serializer):
        shipping_address = AddressSerializer()
