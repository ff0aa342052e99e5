"""Snapshots are a cache: with or without them every result is the same."""

import pytest

from eventstore import store
from eventstore.records import NO_STREAM
from tests.support import META, delete_snapshots, new_event, new_stream

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMA = 1


def fold(state, events):
    for event in events:
        state = {"total": state["total"] + event.data["quantity"], "version": event.version}
    return state


def load(stream, *, max_version=None, use_snapshots=True):
    """The state at max_version (None: now): nearest snapshot at or below it, then events."""
    snapshot = store.load_snapshot(stream, state_schema=SCHEMA, max_version=max_version) if use_snapshots else None
    state = snapshot.state if snapshot else {"total": 0, "version": 0}
    return fold(state, store.read_stream(stream, from_version=state["version"] + 1, to_version=max_version))


def test_loading_with_or_without_snapshots_gives_the_same_state():
    stream = new_stream()
    for version in range(1, 51):
        store.append("order", stream, [new_event(quantity=version)], expected_version=version - 1, metadata=META)
        if version % 20 == 0:
            state = load(stream, use_snapshots=False)
            store.save_snapshot("order", stream, version=version, state=state, state_schema=SCHEMA)

    for max_version in (None, 1, 19, 20, 21, 40, 50):
        assert load(stream, max_version=max_version) == load(stream, max_version=max_version, use_snapshots=False)
    assert store.load_snapshot(stream, state_schema=SCHEMA).version == 40
    assert store.load_snapshot(stream, state_schema=SCHEMA, max_version=39).version == 20

    assert delete_snapshots(stream_id=stream) == 2
    assert load(stream) == {"total": sum(range(1, 51)), "version": 50}


def test_a_snapshot_of_another_state_shape_is_ignored():
    stream = new_stream()
    store.append("order", stream, [new_event(quantity=2)], expected_version=NO_STREAM, metadata=META)
    store.save_snapshot("order", stream, version=1, state={"old": "shape"}, state_schema=SCHEMA + 1)
    assert store.load_snapshot(stream, state_schema=SCHEMA) is None
    assert load(stream) == {"total": 2, "version": 1}


def test_saving_the_same_snapshot_twice_is_harmless():
    stream = new_stream()
    store.append("order", stream, [new_event(quantity=2)], expected_version=NO_STREAM, metadata=META)
    store.save_snapshot("order", stream, version=1, state={"total": 2, "version": 1}, state_schema=SCHEMA)
    store.save_snapshot("order", stream, version=1, state={"total": 2, "version": 1}, state_schema=SCHEMA)
    assert store.load_snapshot(stream, state_schema=SCHEMA).state == {"total": 2, "version": 1}
