import dataclasses
import json
from decimal import Decimal

import pytest

from eventstore.serialization import canonical_json, registry
from orders.domain import (
    ALL_EVENTS,
    STREAM_TYPES,
    CustomerAddressChanged,
    CustomerEmailChanged,
    OrderLineQuantityChanged,
    OrderLineRemoved,
    OrderShippingAddressSet,
    ProductDiscontinued,
    ProductPriceChanged,
    RefundIssued,
    StockAdjusted,
    StockReceived,
    StockReservationCommitted,
    StockReservationReleased,
    StockReserved,
)
from tests.domain.scenario import (
    CANCELLED,
    DELIVERED,
    HOME,
    MUG_CREATED,
    MUG_ID,
    OFFICE,
    ORDER_ID,
    REGISTERED,
    REJECTED,
)

SAMPLES = [
    REGISTERED,
    dataclasses.replace(REGISTERED, shipping_address=None),
    CustomerEmailChanged(email="ada@example.org"),
    CustomerAddressChanged(shipping_address=OFFICE),
    MUG_CREATED,
    ProductPriceChanged(price=Decimal("13.95")),
    StockReceived(quantity=10),
    StockAdjusted(quantity=-2, reason="Two broke in transit.\nPhotos in the ticket."),
    StockReserved(order_id=ORDER_ID, quantity=2),
    StockReservationReleased(order_id=ORDER_ID, quantity=2),
    StockReservationCommitted(order_id=ORDER_ID, quantity=2),
    ProductDiscontinued(),
    *DELIVERED,
    *REJECTED[-1:],
    *CANCELLED[-1:],
    OrderLineQuantityChanged(product_id=MUG_ID, quantity=3),
    OrderLineRemoved(product_id=MUG_ID),
    OrderShippingAddressSet(shipping_address=HOME),
    RefundIssued(amount=Decimal("5.00"), reason="Late delivery."),
]


def test_the_samples_cover_every_event():
    assert {type(event) for event in SAMPLES} == set(ALL_EVENTS)


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda cls: cls.__name__)
def test_every_event_is_registered_under_its_class_name_at_version_1(event_type):
    registered = registry.type_of(event_type)
    assert (registered.name, registered.version) == (event_type.__name__, 1)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_every_event_survives_the_trip_through_stored_json(event):
    name, _, payload = registry.encode(event)
    stored = json.loads(canonical_json(payload))
    assert registry.decode(name, stored) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda event: type(event).__name__)
def test_events_are_immutable(event):
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.extra = 1


@pytest.mark.parametrize("event_type", ALL_EVENTS, ids=lambda cls: cls.__name__)
def test_every_event_belongs_to_exactly_one_stream_and_does_not_repeat_its_id(event_type):
    (aggregate,) = [cls for cls in STREAM_TYPES.values() if event_type in cls.EVENT_TYPES]
    assert f"{aggregate.STREAM_TYPE}_id" not in {field.name for field in dataclasses.fields(event_type)}
