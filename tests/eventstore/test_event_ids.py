"""New events get time-ordered ids (UUIDv7), and PostgreSQL keeps recorded times in a
block-range index: both keep an append's index writes on the last pages."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.db import connection, transaction

from eventstore import store
from eventstore.records import NO_STREAM, NewEvent, new_event_id
from tests.support import META, new_stream, wait_until


def test_a_new_event_id_is_a_version_7_uuid_carrying_its_millisecond():
    before = time.time_ns() // 1_000_000
    event_id = new_event_id()
    after = time.time_ns() // 1_000_000
    assert event_id.version == 7
    assert event_id.variant == "specified in RFC 4122"
    assert before <= event_id.int >> 80 <= after


def test_ids_made_in_later_milliseconds_sort_later_and_never_repeat():
    ids = []
    for _ in range(3):
        ids += [new_event_id() for _ in range(1000)]
        now = time.time_ns() // 1_000_000
        wait_until(lambda now=now: time.time_ns() // 1_000_000 > now, timeout=1, what="the next millisecond")
    assert len(set(ids)) == len(ids)
    milliseconds = [event_id.int >> 80 for event_id in ids]
    assert milliseconds == sorted(milliseconds)
    assert ids[0] < ids[-1]


def test_new_events_get_such_ids():
    assert NewEvent("Thing", {}).event_id.version == 7


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="BRIN is PostgreSQL's; SQLite keeps a B-tree")
def test_recorded_times_are_a_block_range_index_that_the_time_filters_use():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'chronicle_event_recorded_idx'")
        assert "USING brin (recorded_at)" in cursor.fetchone()[0]
    stream = new_stream()
    [first] = store.append("order", stream, [NewEvent("Thing", {})], expected_version=NO_STREAM, metadata=META)
    query = "SELECT position FROM chronicle_event WHERE recorded_at BETWEEN %s AND %s"
    moments = [first.recorded_at, first.recorded_at + dt.timedelta(microseconds=1)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {query}", moments)
        assert "chronicle_event_recorded_idx" in " ".join(line for (line,) in cursor.fetchall())
        cursor.execute(query, moments)
        assert (first.position,) in cursor.fetchall()
