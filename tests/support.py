"""Small helpers shared by tests: metadata, events, threads with their own connections."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import Any
from uuid import UUID, uuid4

from django.db import connections, transaction
from django.utils import timezone

from eventstore import sealing, store
from eventstore.privileges import LOG_TABLES
from eventstore.recorders import recorder_for
from eventstore.records import NO_STREAM, NewEvent
from projections.worker_process import wait_until

META = {"actor": "system", "source": "system", "correlation_id": "test-run"}


# Values a person could type into any query parameter, for the tests that no page or
# endpoint answers 5xx: impossible dates, years 1 and 9999 (with offsets that carry them
# past what UTC can hold), huge and negative numbers, non-UUIDs and a 10 KB string.
HOSTILE_VALUES = (
    "2024-02-30T10:00:00",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59",
    "0001-01-01",
    "9999-12-31",
    "99999999999999999999",
    "-99999999999999999999",
    "-1",
    "1e400",
    "NaN",
    "not-a-uuid",
    "x" * 10_240,
)


def new_event(event_type: str = "LineAdded", **data: Any) -> NewEvent:
    return NewEvent(event_type, data or {"sku": "SKU-1", "quantity": 1})


def new_stream() -> UUID:
    return uuid4()


def run_threads(target: Callable[[int], Any], count: int, timeout: float = 120) -> list[Any]:
    """Run ``target(i)`` in ``count`` threads, each on its own database connection, and
    return their results; re-raise the first exception any of them raised."""
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            results[i] = target(i)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError("a test thread did not finish in time")
    if errors:
        raise errors[0]
    return results


@contextmanager
def held_open_append(
    stream: UUID, *, stream_type: str = "order", event: NewEvent | None = None, expected_version: int = NO_STREAM
) -> Iterator[None]:
    """Append one event to ``stream`` (a new one unless ``expected_version`` says otherwise)
    on a connection of its own, in a transaction held open while the with-block runs and
    committed when it ends."""
    written, release = threading.Event(), threading.Event()

    def writer(_: int) -> None:
        with transaction.atomic():
            store.append(stream_type, stream, [event or new_event()], expected_version=expected_version, metadata=META)
            written.set()
            assert release.wait(30)

    thread = threading.Thread(target=run_threads, args=(writer, 1))
    thread.start()
    try:
        assert written.wait(30)
        yield
    finally:
        release.set()
        thread.join(30)


def append_stream(stream_type: str = "order", count: int = 3, **data: Any) -> UUID:
    """A new stream with ``count`` events; returns its id."""
    from eventstore import store

    stream = new_stream()
    store.append(
        stream_type,
        stream,
        [new_event(n=n, **data) for n in range(1, count + 1)],
        expected_version=0,
        metadata=META,
    )
    return stream


def delete_snapshots(*, stream_id: UUID | None = None) -> int:
    """Throw away the snapshots (of one stream, or all): they are a cache, and loading must
    give the same state without them. Returns how many were deleted."""
    from eventstore.models import Snapshot

    snapshots = Snapshot.objects.all()
    if stream_id is not None:
        snapshots = snapshots.filter(stream_id=stream_id)
    deleted, _ = snapshots.delete()
    return deleted


def seal_everything(batch: int = sealing.SEAL_BATCH) -> Any:
    """Seal every event committed so far, ``batch`` a seal; returns the newest seal. On
    PostgreSQL the sealer passes an event once every older transaction on the server has
    ended (the feed's horizon), and another session's, in any database, can hold it back
    for a moment: wait for it, as an export does."""
    horizon_passed()
    return sealing.seal(batch=batch) or sealing.newest_seal()


def horizon_passed() -> None:
    """Wait until the feed's horizon has passed every event committed so far: on PostgreSQL
    another session's open transaction, in any database on the server, can hold it back
    for a moment (SQLite has no such wait)."""
    committed = store.committed_key()
    wait_until(lambda: recorder_for().horizon()[0] >= committed, timeout=60, what="the feed's horizon")


def log_row_counts() -> dict[str, int]:
    """How many rows each of the log's tables holds."""
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for table in LOG_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            counts[table] = cursor.fetchone()[0]
        return counts


def owner_conninfo() -> dict[str, Any]:
    """How the owner of the test database connects to it (on PostgreSQL): the owner alias's
    role, or the app's where one role does both."""
    from django.conf import settings
    from django.db import connection

    owner = settings.DATABASES.get("owner", connection.settings_dict)
    return {
        "dbname": connection.settings_dict["NAME"],
        "user": owner["USER"],
        "password": owner["PASSWORD"] or None,
        "host": owner["HOST"] or None,
        "port": owner["PORT"] or None,
    }


def separate_owner() -> bool:
    """Whether the suite connects as an app role that does not own the log (as CI does)."""
    from django.db import connection

    return connection.vendor == "postgresql" and owner_conninfo()["user"] != connection.settings_dict["USER"]


def owner_session() -> Any:
    """A psycopg session as the test database's owner, in autocommit."""
    import psycopg

    return psycopg.connect(**owner_conninfo(), autocommit=True)


@contextmanager
def purge_allowed() -> Iterator[Any]:
    """Something to ``execute`` statements on that may empty the log's tables for the block,
    never edit them: the test suite's clean-up, and what a deliberate purge looks like.

    PostgreSQL: the owner's act, in a transaction of its own: the DELETE and TRUNCATE
    triggers are disabled, and enabled again by the commit (or the rollback) that ends it.
    SQLite: the connection's purge flag, which its DELETE triggers read.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with owner_session() as session, session.transaction():
            _purge_triggers(session, "DISABLE")
            yield session
            _purge_triggers(session, "ENABLE")
        return
    connection.chronicle_purge_allowed = True
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        connection.chronicle_purge_allowed = False


def _purge_triggers(session: Any, action: str) -> None:
    for table in LOG_TABLES:
        for trigger in ("refuse_delete", "refuse_truncate"):
            session.execute(f"ALTER TABLE {table} {action} TRIGGER {table}_{trigger}")


def owner_execute(sql: str, params: list[Any] | tuple[Any, ...] = ()) -> None:
    """Run SQL on the test database as its owner would, with the append-only triggers out
    of the way: what someone with direct database access could do. ``%s`` placeholders;
    ``::jsonb`` casts are dropped on SQLite."""
    from django.db import connection

    if connection.vendor == "postgresql":
        params = [p if not isinstance(p, UUID) else str(p) for p in params]
        with owner_session() as raw, raw.transaction():
            # The owner's act: triggers off for this transaction only.
            for table in LOG_TABLES:
                raw.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            raw.execute(sql, params)
            for table in LOG_TABLES:
                raw.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    triggers = import_module("eventstore.migrations.0002_append_only_triggers")
    params = [p.hex if isinstance(p, UUID) else p for p in params]
    with connection.cursor() as cursor:
        for table in LOG_TABLES:
            cursor.execute(f"DROP TRIGGER {table}_refuse_update")
            cursor.execute(f"DROP TRIGGER {table}_refuse_delete")
        try:
            cursor.execute(sql.replace("::jsonb", ""), params)
        finally:
            for table in LOG_TABLES:
                for statement in triggers.sqlite_sql(table):
                    cursor.execute(statement)


def past(moment: dt.datetime) -> None:
    """Wait until the clock has left ``moment``'s millisecond, so the next event is recorded
    after it: SQLite's clock counts milliseconds, and two commands can share one."""
    wait_until(lambda: timezone.now() >= moment + dt.timedelta(milliseconds=1), timeout=5, what="the clock")
