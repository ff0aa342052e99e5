"""The customer: who orders, where to reach them, where their parcels go by default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .aggregate import Aggregate, JSONDict, applies
from .events import CustomerAddressChanged, CustomerEmailChanged, CustomerRegistered
from .exceptions import AlreadyRegistered
from .values import Address, address_from_json, address_to_json, clean_email, clean_name


class Customer(Aggregate):
    """Changing the e-mail or address to the value it already has records nothing, so a
    form saved without changes leaves no event. E-mail uniqueness needs every customer and
    is checked by the handler layer with ``email_key``."""

    STREAM_TYPE = "customer"
    ALREADY_EXISTS = AlreadyRegistered

    name: str
    email: str
    shipping_address: Address | None

    def register(self, name: str, email: str, shipping_address: Address | None = None) -> None:
        self.check_new()
        name, email = clean_name(name), clean_email(email)
        self._record(CustomerRegistered(name=name, email=email, shipping_address=shipping_address))

    def change_email(self, email: str) -> None:
        """A change of case alone is recorded: the address is kept as the customer typed it."""
        self.check_exists()
        email = clean_email(email)
        if email != self.email:
            self._record(CustomerEmailChanged(email=email))

    def change_address(self, address: Address) -> None:
        self.check_exists()
        if address != self.shipping_address:
            self._record(CustomerAddressChanged(shipping_address=address))

    @applies(CustomerRegistered)
    def _registered(self, event: CustomerRegistered) -> None:
        self.name = event.name
        self.email = event.email
        self.shipping_address = event.shipping_address

    @applies(CustomerEmailChanged)
    def _email_changed(self, event: CustomerEmailChanged) -> None:
        self.email = event.email

    @applies(CustomerAddressChanged)
    def _address_changed(self, event: CustomerAddressChanged) -> None:
        self.shipping_address = event.shipping_address

    def to_snapshot(self) -> JSONDict:
        address = address_to_json(self.shipping_address)
        return {"name": self.name, "email": self.email, "shipping_address": address}

    def _restore(self, state: Mapping[str, Any]) -> None:
        self.name = state["name"]
        self.email = state["email"]
        self.shipping_address = address_from_json(state["shipping_address"])
