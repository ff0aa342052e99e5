"""Commits wake the projection workers; a broker that is down never fails a command.

Every append sends ``eventstore.store.events_appended`` inside its transaction. The receiver
asks for one wake-up per transaction, run by ``transaction.on_commit`` (like Celery's
``DjangoTask.delay_on_commit``, but never raising): nothing is published for a transaction
that rolls back, and the workers read the feed only once the events are committed.

The commit only raises a flag; a thread of the process's own publishes, so no command waits
for the broker. It publishes the first flag at once and gathers the flags raised within the
next PUBLISH_DEBOUNCE_SECONDS into one publication after them: a gate check on every commit
cost a one-event append a third of its time here, and waiting out the window before the
first publication cost every lone command's read models that long. A flag still raised when the process exits is published then.

Bursts are deduplicated across all processes by a Redis gate: a commit publishes only if it
can ``SET <gate> NX PX``; the wake task deletes the gate as it starts, before it reads the
feed. So at most one wake-up waits in the queue at any time, and no commit is left behind:
either the waiting wake-up has not started yet (and will read its events), or the gate is
open again. (Events an older transaction, still open, keeps out of the feed are waited for
a moment by the wake-up, then left to the sweep.) The gate (``projections.gate``) expires
after GATE_TTL_MS in case a wake-up message is lost. Brokers other than Redis get one
wake-up per transaction.

Publishing uses the broker's short timeouts (1 s, see settings) and no retries. If it
fails, the failure is logged, not raised, and this process stops trying for
BROKER_BACKOFF_SECONDS so commands stay fast while the broker is away; the periodic sweep
(Celery beat) catches the read models up meanwhile. With no broker (``task_always_eager``)
the wake-up runs in-process right after the commit, so read models are current when the
command returns.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connections, transaction

from eventstore.context import bound, correlation_id

from .gate import open_gate
from .tasks import wake

log = logging.getLogger(__name__)

PUBLISH_DEBOUNCE_SECONDS = 0.02
BROKER_BACKOFF_SECONDS = 5.0
_broker_down_until = 0.0
_in_process = threading.local()


def on_events_appended(sender: Any, using: str, **kwargs: Any) -> None:
    """Receiver of ``events_appended``: schedule one wake-up for when this transaction commits."""
    if not settings.PROJECTIONS_WAKE_ON_COMMIT:
        return
    connection = connections[using]
    if connection.in_atomic_block and _scheduled(connection.run_on_commit):
        return
    transaction.on_commit(request_wake, using=using, robust=True)


def _scheduled(callbacks: Sequence[tuple[Any, ...]]) -> bool:
    # Django keeps (savepoint ids, callback, robust) per on_commit call and drops the
    # entries of a savepoint that rolls back, so this never misses a needed wake-up.
    return any(callback is request_wake for _, callback, *_ in callbacks)


def request_wake() -> None:
    """After a commit: wake the workers (with no broker: run the wake-up here and now)."""
    if current_app.conf.task_always_eager:
        _wake_in_process()
    else:
        _publisher.request()


class _Publisher:
    """The thread that publishes this process's wake-ups (started on first use, and again
    in a forked child, which does not inherit threads)."""

    def __init__(self) -> None:
        self._wanted = threading.Event()
        self._correlation_id: str | None = None
        self._pid = 0
        self._starting = threading.Lock()

    def request(self) -> None:
        if self._pid != os.getpid():
            self._start()
        # The wake-up carries the correlation id of the (latest) commit that asked for it.
        self._correlation_id = correlation_id.get()
        self._wanted.set()

    def flush(self) -> None:
        """Publish a wake-up still wanted (at exit)."""
        if self._pid == os.getpid() and self._wanted.is_set():
            self._wanted.clear()
            publish_wake()

    def _start(self) -> None:
        with self._starting:
            if self._pid != os.getpid():
                self._wanted = threading.Event()
                threading.Thread(target=self._run, args=(self._wanted,), name="wake-publisher", daemon=True).start()
                self._pid = os.getpid()

    def _run(self, wanted: threading.Event) -> None:
        # Leading edge: the first commit after a quiet spell is published at once (a lone
        # command's events reach the read models without waiting out the window); the commits
        # of the next PUBLISH_DEBOUNCE_SECONDS gather into one publication after it.
        while True:
            wanted.wait()
            wanted.clear()
            with bound(correlation_id=self._correlation_id):
                publish_wake()
            time.sleep(PUBLISH_DEBOUNCE_SECONDS)


_publisher = _Publisher()
atexit.register(_publisher.flush)


def publish_wake() -> None:
    """Send a wake-up to the workers; never raises (the sweep covers for one that does not
    go out)."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    try:
        if open_gate():
            wake.apply_async(queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=False)
    except Exception as error:
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        log.warning("could not wake the projection workers (%s); the sweep will catch up", error)


def _wake_in_process() -> None:
    """No broker: run the wake-up here, now, without waiting for held-back events (the
    command is waiting). A commit made during it (a process manager's reaction) asks for
    another round rather than starting a wake-up inside this one."""
    if getattr(_in_process, "waking", False):
        _in_process.again = True
        return
    _in_process.waking = True
    try:
        _in_process.again = True
        while _in_process.again:
            _in_process.again = False
            wake.apply(kwargs={"patience": 0.0})
    finally:
        _in_process.waking = False
