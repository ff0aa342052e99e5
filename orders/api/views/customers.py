"""Customers: register, change e-mail, change address."""

from __future__ import annotations

from rest_framework import serializers

from orders.domain import commands as c

from ..serializers import AddressSerializer, email_field, name_field
from .base import CommandApi, CreateApi


class RegisterCustomerApi(CreateApi):
    """Register a customer.

    The e-mail address must not belong to another customer (422 `email_taken`). The shipping
    address is optional: orders can be given one of their own.
    """

    command = c.RegisterCustomer
    collection = "api:customers"

    class InputSerializer(serializers.Serializer):
        name = name_field()
        email = email_field()
        shipping_address = AddressSerializer(required=False, allow_null=True)


class ChangeCustomerEmailApi(CommandApi):
    """Change a customer's e-mail address.

    The same address again changes nothing; one used by another customer is 422 `email_taken`.
    """

    command = c.ChangeCustomerEmail

    class InputSerializer(serializers.Serializer):
        email = email_field()


class ChangeCustomerAddressApi(CommandApi):
    """Change a customer's shipping address (used for their new orders)."""

    command = c.ChangeCustomerAddress

    class InputSerializer(serializers.Serializer):
        shipping_address = AddressSerializer()
