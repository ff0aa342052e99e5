"""Who runs a subscriber: PostgreSQL advisory locks, so one worker at a time owns it.

Advisory locks, never ``SELECT ... FOR UPDATE``: taking one gives the session no transaction
id, so it does not hold back the feed's horizon (see ``eventstore.store``). SQLite has a
single writer: its IMMEDIATE transactions already serialise batches, and a process-local
lock stands in for the session lock of a process manager (the embedded default runs in one
process; across processes, process managers' idempotent reactions absorb a double run).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_local_locks: dict[str, threading.Lock] = {}
_local_locks_guard = threading.Lock()


def lock_id(name: str) -> int:
    """A stable signed 64-bit key for the advisory lock called ``name``."""
    digest = hashlib.blake2b(f"chronicle:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def try_own_batch(name: str) -> bool:
    """Inside a transaction: own ``name`` until it ends, if no one else does."""
    if not _postgres():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock_id(name)])
        return bool(cursor.fetchone()[0])


def wait_own_batch(name: str, *, timeout_ms: int) -> None:
    """Inside a transaction: own ``name`` until it ends, waiting up to ``timeout_ms`` for
    the current owner's batch (an OperationalError after that). The timeout then stays set
    for the rest of the transaction, so its DDL waits no longer either."""
    if not _postgres():
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{timeout_ms}ms"])
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [lock_id(name)])


@contextmanager
def session_lock(name: str) -> Iterator[bool]:
    """Own ``name`` for the block, outside any transaction; yields False if someone else
    does. Released in ``finally``; a session that dies releases it too."""
    if not _postgres():
        with _local_lock(name) as owned:
            yield owned
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id(name)])
        owned = bool(cursor.fetchone()[0])
    try:
        yield owned
    finally:
        if owned:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id(name)])


def held_elsewhere(name: str) -> bool:
    """Whether another PostgreSQL session holds the session lock ``name`` (taken and let go
    at once if not): a process that dies lets go of its locks, so this tells whether the
    owner of a long-running job is still alive."""
    if not _postgres():
        raise RuntimeError("SQLite has no locks across processes")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [lock_id(name)])
        if not cursor.fetchone()[0]:
            return True
        cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id(name)])
    return False


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _local_locks_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    owned = lock.acquire(blocking=False)
    try:
        yield owned
    finally:
        if owned:
            lock.release()
