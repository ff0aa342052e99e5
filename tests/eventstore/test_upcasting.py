"""Old payloads are brought up to date when read; stored rows are never rewritten."""

import pytest

from eventstore import integrity, recorders, store
from eventstore.models import Event
from eventstore.records import NO_STREAM, NewEvent
from eventstore.serialization import EventRegistry
from tests.support import META, horizon_passed, new_stream

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upcasting(monkeypatch):
    """A registry where PersonRegistered went v1 {name} -> v2 {first, last} -> v3 (+email)."""
    registry = EventRegistry()

    @registry.upcaster("PersonRegistered", from_version=1)
    def split_name(data):
        first, _, last = data.pop("name").partition(" ")
        return {**data, "first": first, "last": last}

    @registry.upcaster("PersonRegistered", from_version=2)
    def add_email(data):
        return {**data, "email": None}

    monkeypatch.setattr(recorders, "registry", registry)
    return registry


def test_a_stored_old_payload_is_read_in_its_current_shape(upcasting):
    stream = new_stream()
    store.append(
        "person",
        stream,
        [NewEvent("PersonRegistered", {"name": "Ada Lovelace"}, schema_version=1)],
        expected_version=NO_STREAM,
        metadata=META,
    )
    store.append(
        "person",
        stream,
        [NewEvent("PersonRegistered", {"first": "Ada", "last": "King"}, schema_version=2)],
        expected_version=1,
        metadata=META,
    )

    old, newer = store.read_stream(stream)
    assert (old.schema_version, old.data) == (3, {"first": "Ada", "last": "Lovelace", "email": None})
    assert (newer.schema_version, newer.data) == (3, {"first": "Ada", "last": "King", "email": None})
    horizon_passed()
    assert [e.data for e in store.read_feed(None).events] == [old.data, newer.data]
    assert [(p.schema_version, p.data) for p in store.read_payloads(stream)] == [(3, old.data), (3, newer.data)]

    stored = Event.objects.get(position=old.position)
    assert (stored.schema_version, stored.data) == (1, {"name": "Ada Lovelace"})
    assert integrity.verify().ok  # signatures cover what is stored, not what is read


def test_events_without_upcasters_are_left_alone(upcasting):
    stream = new_stream()
    store.append(
        "person", stream, [NewEvent("PersonMoved", {"city": "Paris"})], expected_version=NO_STREAM, metadata=META
    )
    (event,) = store.read_stream(stream)
    assert (event.schema_version, event.data) == (1, {"city": "Paris"})
