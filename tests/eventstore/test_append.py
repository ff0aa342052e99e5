from decimal import Decimal

import pytest
from django.db import transaction

from eventstore import store
from eventstore.exceptions import (
    ConcurrencyError,
    DuplicateEventError,
    InvalidEvent,
    StreamTypeMismatch,
)
from eventstore.records import ANY_VERSION, NO_STREAM, NewEvent
from tests.support import META, new_event, new_stream

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_new_stream_starts_at_version_one_and_reads_back_in_order():
    stream = new_stream()
    first = store.append("order", stream, [new_event(n=1), new_event(n=2)], expected_version=NO_STREAM, metadata=META)
    second = store.append("order", stream, [new_event(n=3)], expected_version=2, metadata=META)

    events = store.read_stream(stream)
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.data["n"] for e in events] == [1, 2, 3]
    assert events == first + second
    assert store.read_payloads(stream, from_version=2) == [
        (e.version, e.event_type, e.schema_version, e.data) for e in events[1:]
    ]
    assert events[0].position < events[1].position < events[2].position
    assert store.stream_version(stream) == 3


def test_metadata_vocabulary_is_stored_on_every_event():
    stream = new_stream()
    store.append(
        "order",
        stream,
        [new_event(), NewEvent("Other", {}, metadata={"causation_id": "cause-1"})],
        expected_version=NO_STREAM,
        metadata={"actor": "42", "source": "api", "correlation_id": "req-1", "command_id": "cmd-1"},
    )
    first, second = store.read_stream(stream)
    assert first.metadata == {
        "actor": "42",
        "source": "api",
        "correlation_id": "req-1",
        "causation_id": None,
        "command_id": "cmd-1",
    }
    assert second.metadata["causation_id"] == "cause-1"


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"source": "api"}, "actor"),
        ({"actor": "1", "source": "fax"}, "source must be one of"),
        ({"actor": "1", "source": "api", "colour": "red"}, "unknown metadata keys: colour"),
    ],
)
def test_bad_metadata_is_refused_and_nothing_is_stored(metadata, message):
    stream = new_stream()
    with pytest.raises(InvalidEvent, match=message):
        store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=metadata)
    assert store.read_stream(stream) == []


@pytest.mark.parametrize(
    "data, message",
    [
        ({"price": 1.5}, "floats"),
        ({"name": "nul\x00byte"}, "NUL"),
        ({"name": "lone \ud800 surrogate"}, "Unicode"),
        ({1: "int key"}, "keys must be strings"),
    ],
)
def test_payloads_that_cannot_round_trip_are_refused(data, message):
    stream = new_stream()
    with pytest.raises(InvalidEvent, match=message):
        store.append("order", stream, [NewEvent("X", data)], expected_version=NO_STREAM, metadata=META)
    assert store.read_stream(stream) == []


def test_decimals_are_stored_as_exact_strings():
    stream = new_stream()
    store.append(
        "order", stream, [NewEvent("Priced", {"price": Decimal("10.50")})], expected_version=NO_STREAM, metadata=META
    )
    assert store.read_stream(stream)[0].data == {"price": "10.50"}


@pytest.mark.parametrize("expected", [NO_STREAM, 1, 3])
def test_a_wrong_expected_version_raises_with_the_actual_version(expected):
    stream = new_stream()
    store.append("order", stream, [new_event(), new_event()], expected_version=NO_STREAM, metadata=META)

    with pytest.raises(ConcurrencyError) as caught:
        store.append("order", stream, [new_event()], expected_version=expected, metadata=META)

    assert caught.value.actual_version == 2
    assert caught.value.expected_version == expected
    assert store.stream_version(stream) == 2


def test_expected_version_on_a_missing_stream_reports_version_zero():
    with pytest.raises(ConcurrencyError) as caught:
        store.append("order", new_stream(), [new_event()], expected_version=4, metadata=META)
    assert caught.value.actual_version == 0


def test_any_version_appends_at_the_head():
    stream = new_stream()
    store.append("order", stream, [new_event()], expected_version=ANY_VERSION, metadata=META)
    store.append("order", stream, [new_event()], expected_version=ANY_VERSION, metadata=META)
    assert [e.version for e in store.read_stream(stream)] == [1, 2]


def test_a_conflict_inside_a_transaction_leaves_it_usable():
    stream = new_stream()
    store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
    other = new_stream()
    with transaction.atomic():
        with pytest.raises(ConcurrencyError):
            store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
        store.append("order", other, [new_event()], expected_version=NO_STREAM, metadata=META)
    assert store.stream_version(other) == 1
    assert store.stream_version(stream) == 1


def test_events_appended_in_a_rolled_back_transaction_are_gone():
    stream = new_stream()
    with pytest.raises(RuntimeError), transaction.atomic():
        store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
        raise RuntimeError("abort")
    assert store.read_stream(stream) == []
    # The head cache must not remember the rolled-back event.
    store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
    store.append("order", stream, [new_event()], expected_version=1, metadata=META)
    assert store.stream_version(stream) == 2


def test_a_stream_keeps_its_type():
    stream = new_stream()
    store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
    with pytest.raises(StreamTypeMismatch):
        store.append("customer", stream, [new_event()], expected_version=1, metadata=META)
    with pytest.raises(StreamTypeMismatch):
        store.append("customer", stream, [new_event()], expected_version=ANY_VERSION, metadata=META)


def test_appending_the_same_events_again_returns_the_stored_ones():
    stream = new_stream()
    events = [new_event(n=1), new_event(n=2)]
    first = store.append("order", stream, events, expected_version=NO_STREAM, metadata=META)

    again = store.append("order", stream, events, expected_version=NO_STREAM, metadata=META)
    also = store.append("order", stream, events, expected_version=2, metadata=META)

    assert again == first == also
    assert store.stream_version(stream) == 2


def test_an_event_id_reused_with_other_content_is_an_error():
    stream = new_stream()
    event = new_event(n=1)
    store.append("order", stream, [event], expected_version=NO_STREAM, metadata=META)
    changed = NewEvent(event.event_type, {"n": 2}, event_id=event.event_id, occurred_at=event.occurred_at)

    with pytest.raises(DuplicateEventError, match="other content"):
        store.append("order", stream, [changed], expected_version=1, metadata=META)
    with pytest.raises(DuplicateEventError, match="some events"):
        store.append("order", stream, [event, new_event()], expected_version=1, metadata=META)
    assert store.stream_version(stream) == 1


def test_read_stream_slices_by_version_and_recorded_time():
    stream = new_stream()
    for n in range(1, 6):
        store.append("order", stream, [new_event(n=n)], expected_version=n - 1, metadata=META)
    events = store.read_stream(stream)

    assert [e.version for e in store.read_stream(stream, from_version=2, to_version=4)] == [2, 3, 4]
    as_of = store.read_stream(stream, as_of=events[2].recorded_at)
    assert [e.version for e in as_of][-1] >= 3
    assert all(e.recorded_at <= events[2].recorded_at for e in as_of)
