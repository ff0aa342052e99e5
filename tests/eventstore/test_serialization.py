"""Canonical JSON, payload normalisation, the event registry and the signed text. No database."""

import dataclasses
import datetime as dt
import enum
import hashlib
import hmac
import json
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from eventstore.exceptions import InvalidEvent
from eventstore.serialization import EventRegistry, canonical_json, format_datetime, to_json_value
from eventstore.signing import event_hash


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass(frozen=True)
class Line:
    sku: str
    quantity: int


@dataclasses.dataclass(frozen=True)
class Ordered:
    order_id: UUID
    total: Decimal
    at: dt.datetime
    lines: tuple[Line, ...]
    colour: Colour
    note: str | None = None


def test_canonical_json_sorts_keys_and_keeps_unicode():
    assert canonical_json({"b": 1, "a": {"ü": "ß", "A": [True, None]}}) == '{"a":{"A":[true,null],"ü":"ß"},"b":1}'


def test_payloads_are_normalised_to_exact_json_types():
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    value = to_json_value({"d": Decimal("1.50"), "u": UUID(int=1), "t": when, "e": Colour.RED, "l": (1, 2)})
    assert value == {
        "d": "1.50",
        "u": "00000000-0000-0000-0000-000000000001",
        "t": "2026-01-02T02:04:05.000006Z",
        "e": "red",
        "l": [1, 2],
    }


@pytest.mark.parametrize("bad", [1.0, Decimal("NaN"), dt.datetime(2026, 1, 1), object(), {"x": {1, 2}}])
def test_values_that_do_not_round_trip_are_refused(bad):
    with pytest.raises(InvalidEvent):
        to_json_value({"x": bad})


def test_registered_events_round_trip_through_json():
    registry = EventRegistry()
    registry.register(Ordered, name="Ordered", version=2)
    event = Ordered(uuid4(), Decimal("9.99"), dt.datetime(2026, 5, 1, tzinfo=dt.UTC), (Line("A", 2),), Colour.RED)

    name, version, data = registry.encode(event)

    assert (name, version) == ("Ordered", 2)
    assert registry.decode(name, json.loads(canonical_json(data))) == event


def test_upcasters_chain_to_the_current_version_without_touching_the_input():
    registry = EventRegistry()
    registry.upcaster("Renamed", 1)(lambda d: {"full_name": d["name"]})
    registry.upcaster("Renamed", 2)(lambda d: {**d, "email": None})
    stored = {"name": "Ada"}

    assert registry.upcast("Renamed", 1, stored) == (3, {"full_name": "Ada", "email": None})
    assert registry.upcast("Renamed", 3, {"x": 1}) == (3, {"x": 1})
    assert stored == {"name": "Ada"}
    with pytest.raises(ValueError):
        registry.upcaster("Renamed", 1)(lambda d: d)


def test_the_signed_text_is_the_canonical_json_of_the_whole_event():
    key = b"k" * 32
    fields = {
        "event_id": str(uuid4()),
        "stream_type": "order",
        "stream_id": str(uuid4()),
        "version": 3,
        "event_type": "LineAdded",
        "schema_version": 1,
        "data": {"z": 'é "quoted"\n', "a": [1, None]},
        "metadata": {"actor": "7", "source": "api"},
        "occurred_at": format_datetime(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        "previous_hash": "ab" * 32,
    }
    expected = hmac.new(key, canonical_json(fields).encode(), hashlib.sha256).hexdigest()
    assembled = event_hash(
        key,
        **{k: v for k, v in fields.items() if k not in {"data", "metadata"}},
        data_json=canonical_json(fields["data"]),
        metadata_json=canonical_json(fields["metadata"]),
    )
    assert assembled == expected
