"""The global feed: every committed event exactly once, in feed order, while writers commit."""

import base64
import random
import threading
import time
from uuid import uuid4

import pytest
from django.db import transaction

from eventstore import cursor as feed_cursor
from eventstore import store
from eventstore.exceptions import ConcurrencyError, CursorExpired, InvalidCursor, TransactionOrderConflict
from eventstore.models import Event
from eventstore.records import ANY_VERSION, NO_STREAM, Backlog
from tests.support import META, append_stream, held_open_append, horizon_passed, new_event, new_stream, run_threads

pytestmark = pytest.mark.django_db(transaction=True)


def follow(cursor=None, **filters):
    """Every event from ``cursor`` to the end of the feed, and the cursor after them."""
    events = []
    while True:
        page = store.read_feed(cursor, **filters)
        events += page.events
        assert page.next_cursor
        cursor = page.next_cursor
        if page.caught_up:
            return events, cursor


def test_following_the_feed_from_the_start_visits_every_event_once_in_order():
    streams = [append_stream(count=4) for _ in range(5)]
    horizon_passed()  # another session's open transaction may hold the feed back a moment
    seen, pages, cursor = [], 0, None
    while True:
        page = store.read_feed(cursor, limit=3)
        seen += page.events
        pages += 1
        cursor = page.next_cursor
        if page.caught_up:
            break
    assert len(seen) == 20 and pages == 7
    assert len({e.event_id for e in seen}) == 20
    assert [e.feed_key for e in seen] == sorted(e.feed_key for e in seen)
    for stream in streams:
        assert [e.version for e in seen if e.stream_id == stream] == [1, 2, 3, 4]
    assert store.read_feed(cursor).events == []


def test_new_events_appear_after_the_cursor_of_a_caught_up_reader():
    append_stream(count=2)
    _, cursor = follow()
    stream = append_stream(count=1)
    page = store.read_feed(cursor)
    assert [e.stream_id for e in page.events] == [stream]


def test_a_filtered_page_may_be_empty_while_its_cursor_advances():
    append_stream("order", count=3)
    start = store.read_feed(None, limit=1).next_cursor
    page = store.read_feed(start, event_types=["Nothing"])
    assert page.events == [] and page.caught_up and page.next_cursor != start

    store.append("customer", new_stream(), [new_event("Registered")], expected_version=NO_STREAM, metadata=META)
    later = store.read_feed(page.next_cursor, event_types=["Registered"])
    assert [e.event_type for e in later.events] == ["Registered"]


def test_filters_by_stream_type_and_event_type():
    append_stream("order", count=2)
    customer = new_stream()
    store.append(
        "customer", customer, [new_event("Registered"), new_event("Moved")], expected_version=NO_STREAM, metadata=META
    )
    by_stream_type, _ = follow(stream_types=["customer"])
    by_event_type, _ = follow(event_types=["Moved", "Unknown"])
    both, _ = follow(stream_types=["order"], event_types=["Registered"])

    assert [e.event_type for e in by_stream_type] == ["Registered", "Moved"]
    assert [e.stream_id for e in by_event_type] == [customer]
    assert both == []


def test_head_cursor_starts_after_everything_so_far():
    append_stream(count=3)
    cursor = store.head_cursor()
    assert store.read_feed(cursor).events == []
    stream = append_stream(count=1)
    assert [e.stream_id for e in store.read_feed(cursor).events] == [stream]


def test_the_backlog_counts_the_events_after_a_cursor_up_to_a_limit():
    """Committed events count even while the feed still holds them back, so this needs no
    reader: the cursor is the one just past an event."""
    seen = store.append("order", new_stream(), [new_event(), new_event()], expected_version=NO_STREAM, metadata=META)
    cursor = feed_cursor.encode(store.current_epoch(), feed_cursor.FeedKey(*seen[-1].feed_key))
    assert store.feed_backlog(cursor) == Backlog(0, None)

    lines = store.append(
        "order", new_stream(), [new_event() for _ in range(3)], expected_version=NO_STREAM, metadata=META
    )
    (registered,) = store.append(
        "customer", new_stream(), [new_event("Registered")], expected_version=NO_STREAM, metadata=META
    )
    assert store.feed_backlog(cursor) == Backlog(4, lines[0].recorded_at)
    assert store.feed_backlog(cursor, event_types=["Registered"]) == Backlog(1, registered.recorded_at)
    assert store.feed_backlog(cursor, limit=2).count == 2
    assert store.feed_backlog(None).count == 6


def encoded(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "%%%",
        encoded("2:abc:1:2"),
        encoded("1:" + "0" * 32 + ":1"),
        encoded("1:" + "g" * 32 + ":1:2"),
        "x" * 500,
    ],
)
def test_a_malformed_cursor_is_a_clear_error(cursor):
    with pytest.raises(InvalidCursor, match="malformed cursor"):
        store.read_feed(cursor)


def test_a_cursor_of_another_log_has_expired():
    with pytest.raises(CursorExpired):
        store.read_feed(encoded(f"1:{uuid4().hex}:0:5"))


@pytest.mark.parametrize("limit", [0, 1001, "10"])
def test_page_size_is_bounded(limit):
    with pytest.raises(ValueError):
        store.read_feed(None, limit=limit)


@pytest.mark.postgres
def test_a_reader_never_passes_a_transaction_that_is_still_open():
    """Writer A takes a position and holds its transaction open; writer B takes a later
    position and commits first. Paging by position would hand out B and skip A for good."""
    cursor = store.head_cursor()
    stream_a, stream_b = new_stream(), new_stream()
    with held_open_append(stream_a):
        store.append("order", stream_b, [new_event()], expected_version=NO_STREAM, metadata=META)
        assert store.read_stream(stream_a) == [] and store.read_stream(stream_b) != []

        page = store.read_feed(cursor)
        assert page.events == []  # neither A nor B: B must wait for A
        assert store.read_feed(page.next_cursor).events == []

    after = store.read_feed(page.next_cursor)
    assert [e.stream_id for e in after.events] == [stream_a, stream_b]
    assert after.events[0].position < after.events[1].position  # B committed first, from a later position


def test_many_writers_committing_in_random_order_and_one_tailing_reader():
    """The reader's set equals the table's set, without duplicates."""
    cursor = store.head_cursor()
    done = threading.Event()
    seen = []
    shared = [new_stream() for _ in range(3)]
    rng = random.Random(7)
    delays = [[rng.uniform(0, 0.02) for _ in range(15)] for _ in range(6)]

    def writer(i):
        for delay in delays[i]:
            while True:  # a ConcurrencyError means: retry the whole transaction
                try:
                    with transaction.atomic():
                        store.append(
                            "order", rng.choice(shared), [new_event()], expected_version=ANY_VERSION, metadata=META
                        )
                        store.append(
                            "order", new_stream(), [new_event(), new_event()], expected_version=NO_STREAM, metadata=META
                        )
                        time.sleep(delay)  # hold the transaction open so commits interleave
                    break
                except ConcurrencyError:
                    continue

    def reader(_):
        nonlocal cursor
        while True:
            finished = done.is_set()
            page = store.read_feed(cursor, limit=7)
            seen.extend(page.events)
            cursor = page.next_cursor
            if finished and page.caught_up:
                return

    reader_thread = threading.Thread(target=run_threads, args=(reader, 1))
    reader_thread.start()
    try:
        run_threads(writer, 6)
    finally:
        done.set()
        reader_thread.join(60)

    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids)) == 6 * 15 * 3
    assert set(ids) == set(Event.objects.values_list("event_id", flat=True))
    for stream in shared:
        assert [e.version for e in seen if e.stream_id == stream] == list(range(1, store.stream_version(stream) + 1))


@pytest.mark.postgres
def test_an_append_that_would_precede_its_predecessor_in_the_feed_is_refused():
    """T1 writes first (taking an older transaction id), T2 then appends version 1 of S and
    commits; T1 appending version 2 of S would put it before version 1 in the feed."""
    stream = new_stream()
    t1_wrote, t2_done = threading.Event(), threading.Event()
    outcome = {}

    def t1(_):
        try:
            with transaction.atomic():
                store.append("order", new_stream(), [new_event()], expected_version=NO_STREAM, metadata=META)
                t1_wrote.set()
                assert t2_done.wait(30)
                store.append("order", stream, [new_event()], expected_version=1, metadata=META)
        except TransactionOrderConflict as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run_threads, args=(t1, 1))
    thread.start()
    assert t1_wrote.wait(30)
    store.append("order", stream, [new_event()], expected_version=NO_STREAM, metadata=META)
    t2_done.set()
    thread.join(30)

    assert isinstance(outcome.get("error"), TransactionOrderConflict)
    store.append("order", stream, [new_event()], expected_version=1, metadata=META)  # the retry
    events, _ = follow()
    assert [e.version for e in events if e.stream_id == stream] == [1, 2]


@pytest.mark.postgres(reason="prepared statements and their generic plans are PostgreSQL's")
def test_the_covered_position_is_planned_with_its_values_every_time():
    """A generic plan of this query walks the primary key past every event of the log; the
    API asks it on every query, so it must never become a prepared statement."""
    from django.db import connection

    append_stream(count=3)
    horizon_passed()
    head = store.committed_key()
    answers = {store.covered_position(head) for _ in range(10)}
    assert answers == {Event.objects.order_by("-position").values_list("position", flat=True)[0]}
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%min(position) - 1%%'")
        assert cursor.fetchone() == (0,)
