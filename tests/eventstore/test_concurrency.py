"""Optimistic concurrency under real contention: writers on their own connections."""

import time
from uuid import UUID

import pytest

from eventstore import store
from eventstore.exceptions import ConcurrencyError
from eventstore.records import NO_STREAM
from tests.support import META, new_event, new_stream, run_threads

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8
SECONDS = 3


def test_eight_writers_on_one_stream_lose_nothing_and_never_overwrite():
    stream = new_stream()
    store.append("order", stream, [new_event(writer=-1)], expected_version=NO_STREAM, metadata=META)

    def writer(i: int) -> tuple[list[tuple[int, UUID]], int]:
        won, conflicts = [], 0
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            version = store.stream_version(stream)
            event = new_event(writer=i)
            try:
                (recorded,) = store.append("order", stream, [event], expected_version=version, metadata=META)
            except ConcurrencyError as exc:
                assert exc.actual_version >= version  # it moved on (or, equal, a feed-order retry)
                conflicts += 1
                continue
            assert recorded.version == version + 1 and recorded.event_id == event.event_id
            won.append((recorded.version, event.event_id))
        return won, conflicts

    results = run_threads(writer, WRITERS)

    events = store.read_stream(stream)
    won = [w for wins, _ in results for w in wins]
    assert [e.version for e in events] == list(range(1, len(events) + 1))  # every version once, no gaps
    assert sorted(won) == [(e.version, e.event_id) for e in events[1:]]  # each winner's event is the stored one
    assert sum(conflicts for _, conflicts in results) > 0  # the writers really did collide
    assert len(events) > WRITERS
