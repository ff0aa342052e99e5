"""The customers projection: name, e-mail and default address of every customer.

Their order counts and lifetime values (``CustomerValue``) follow the rule of what counts
as a sale, so the sales projection keeps them (see ``projections.sales``).
"""

from __future__ import annotations

from collections.abc import Sequence

from eventstore.records import RecordedEvent
from orders.domain import CustomerAddressChanged, CustomerEmailChanged, CustomerRegistered

from .models import CustomerSummary
from .subscribers import Projection, Table, handles


class CustomersProjection(Projection):
    name = "customers"
    customers = Table(CustomerSummary)

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        self.customers.fetch(event.stream_id for event in events)

    @handles(CustomerRegistered)
    def customer_registered(self, event: RecordedEvent) -> None:
        data = event.data
        customer = self.customers.new(
            id=event.stream_id,
            name=data["name"],
            email=data["email"],
            shipping_address=data["shipping_address"],
            registered_at=event.occurred_at,
        )
        self.stamped(customer, event)

    @handles(CustomerEmailChanged)
    def customer_email_changed(self, event: RecordedEvent) -> None:
        self._customer(event).email = event.data["email"]

    @handles(CustomerAddressChanged)
    def customer_address_changed(self, event: RecordedEvent) -> None:
        self._customer(event).shipping_address = event.data["shipping_address"]

    def _customer(self, event: RecordedEvent) -> CustomerSummary:
        return self.stamped(self.customers[event.stream_id], event)
