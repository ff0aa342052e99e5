"""Workloads for ``manage.py benchmark``: the event store's hot paths, timed.

The same workloads as ``shared/peer-bench`` (the eventsourcing library and raw psycopg on
the same server), with the same ~200-byte payload, so ratios measured in one sitting mean
something. Other apps add workloads with ``@workload`` in a ``benchmarks`` module.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from time import perf_counter
from typing import Any

from django.db import connections

from . import store
from .benchmark_writer import concurrent_writer
from .records import NO_STREAM, NewEvent
from .serialization import EventRegistry

USER_ID = "6f1c1c8e-3c1b-4c55-9a63-2f4a1d1e7b42"
META = {"actor": "system", "source": "command-line", "correlation_id": "benchmark"}
# Not a domain event's name: the read side's projections would take these for real orders.
EVENT_TYPE = "BenchmarkLineAdded"
BARRIER_TIMEOUT = 180

# A workload takes a dict it may keep set-up data in across its runs, and returns one
# measurement: higher is better for ``_eps``/``_rps``, lower for ``_ms``.
Workload = Callable[[dict[str, Any]], float]
WORKLOADS: dict[str, Workload] = {}


class Skipped(Exception):
    """Raised by a workload that cannot run here; the message says why (reported, not fatal)."""


def workload(name: str) -> Callable[[Workload], Workload]:
    """Register a workload under the name its figure is reported as."""

    def register(func: Workload) -> Workload:
        WORKLOADS[name] = func
        return func

    return register


def log(message: str) -> None:
    print(f"[benchmark] {message}", file=sys.stderr, flush=True)


def analyze(*tables: str) -> None:
    """Give the planner the statistics autovacuum would gather after a workload's load (of
    ``tables``, or of every table): without them, on a table just filled, it may pick a
    plan that reads every row."""
    if connections["default"].vendor == "postgresql":
        with connections["default"].cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(tables)}")


def payload(i: int) -> dict[str, Any]:
    """~200 bytes of JSON: an order line added, with metadata (as peer-bench writes it)."""
    return {
        "sku": f"SKU-{i % 100_000:06d}",
        "quantity": 1 + i % 5,
        "unit_price": f"{(i % 9_000) / 100 + 10:.2f}",
        "currency": "EUR",
        "metadata": {"user_id": USER_ID, "correlation_id": str(uuid.uuid4())},
    }


def events(n: int, offset: int = 0) -> list[NewEvent]:
    return [NewEvent(EVENT_TYPE, payload(offset + i)) for i in range(n)]


# --- The aggregate the load workloads rebuild ---------------------------------------------

bench_registry = EventRegistry()


@bench_registry.event(EVENT_TYPE)
@dataclasses.dataclass(frozen=True, slots=True)
class OrderLineAdded:
    sku: str
    quantity: int
    unit_price: Decimal
    currency: str
    metadata: dict[str, Any]


@dataclasses.dataclass
class BenchOrder:
    version: int = 0
    lines: list[tuple[str, int, Decimal]] = dataclasses.field(default_factory=list)

    def apply(self, event: OrderLineAdded) -> None:
        self.lines.append((event.sku, event.quantity, event.unit_price))

    def to_snapshot(self) -> dict[str, Any]:
        return {"lines": [[sku, quantity, str(price)] for sku, quantity, price in self.lines]}

    @classmethod
    def from_snapshot(cls, version: int, state: dict[str, Any]) -> BenchOrder:
        return cls(version, [(sku, quantity, Decimal(price)) for sku, quantity, price in state["lines"]])


def load_order(stream_id: uuid.UUID, *, use_snapshot: bool) -> BenchOrder:
    """Snapshot (if any) plus the events after it, each decoded into its event class."""
    snapshot = store.load_snapshot(stream_id, state_schema=1) if use_snapshot else None
    order = BenchOrder.from_snapshot(snapshot.version, snapshot.state) if snapshot else BenchOrder()
    decode = bench_registry.decode
    for payload in store.read_payloads(stream_id, from_version=order.version + 1):
        order.apply(decode(payload.event_type, payload.data))
        order.version = payload.version
    return order


# --- Workloads ----------------------------------------------------------------------------


@workload("append_one_eps")
def append_one(state: dict[str, Any]) -> float:
    """2,000 sequential transactions, one event each, each to a new stream."""
    for event in events(50, 10**6):
        store.append("order", uuid.uuid4(), [event], expected_version=NO_STREAM, metadata=META)
    batch = events(2_000)
    started = perf_counter()
    for event in batch:
        store.append("order", uuid.uuid4(), [event], expected_version=NO_STREAM, metadata=META)
    return len(batch) / (perf_counter() - started)


@workload("append_batch_eps")
def append_batch(state: dict[str, Any]) -> float:
    """500 transactions of 10 events, each to a new stream."""
    batches = [events(10, i * 10) for i in range(500)]
    started = perf_counter()
    for batch in batches:
        store.append("order", uuid.uuid4(), batch, expected_version=NO_STREAM, metadata=META)
    return 5_000 / (perf_counter() - started)


def _database_settings() -> dict[str, Any]:
    """What a process of the benchmark's own needs to reach the benchmark's database as its role."""
    return {key: connections["default"].settings_dict[key] for key in ("NAME", "USER", "PASSWORD")}


@workload("append_concurrent_eps")
def append_concurrent(state: dict[str, Any]) -> float:
    """4 writer processes x 500 one-event transactions, distinct streams."""
    writers = 4
    context = mp.get_context("spawn")
    start, done = context.Barrier(writers + 1), context.Barrier(writers + 1)
    database = _database_settings()
    processes = [
        context.Process(
            target=concurrent_writer,
            args=(database, events(10, 10**7 + i * 500), events(500, i * 500), META, start, done, BARRIER_TIMEOUT),
        )
        for i in range(writers)
    ]
    for process in processes:
        process.start()
    start.wait(BARRIER_TIMEOUT)
    started = perf_counter()
    done.wait(BARRIER_TIMEOUT)
    elapsed = perf_counter() - started
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError("a writer process failed")
    return writers * 500 / elapsed


@workload("read_all_eps")
def read_all(state: dict[str, Any]) -> float:
    """Page through the feed from the start, 1,000 events a page, decoded. The first run
    appends 20,000 events in 200 streams of 100 (on top of whatever earlier workloads left)."""
    if "read_all" not in state:
        for s in range(200):
            store.append("order", uuid.uuid4(), events(100, s * 100), expected_version=NO_STREAM, metadata=META)
        state["read_all"] = True
    _page_through()  # warm-up
    started = perf_counter()
    count = _page_through()
    return count / (perf_counter() - started)


def _page_through() -> int:
    cursor, count = None, 0
    while True:
        page = store.read_feed(cursor, limit=1000)
        count += len(page.events)
        cursor = page.next_cursor
        if page.caught_up:
            if count < 20_000:
                raise RuntimeError(f"read_all paged through only {count} events")
            return count


def _aggregate_stream(state: dict[str, Any]) -> uuid.UUID:
    """A 1,000-event stream (written in 10 appends of 100), with a snapshot at 1,000."""
    if "aggregate" not in state:
        stream = uuid.uuid4()
        for i in range(10):
            store.append("order", stream, events(100, i * 100), expected_version=i * 100, metadata=META)
        order = load_order(stream, use_snapshot=False)
        store.save_snapshot("order", stream, version=order.version, state=order.to_snapshot(), state_schema=1)
        state["aggregate"] = stream
    stream_id: uuid.UUID = state["aggregate"]
    return stream_id


def _median_load_ms(state: dict[str, Any], use_snapshot: bool) -> float:
    stream = _aggregate_stream(state)
    for _ in range(3):
        load_order(stream, use_snapshot=use_snapshot)
    times = []
    for _ in range(20):
        started = perf_counter()
        order = load_order(stream, use_snapshot=use_snapshot)
        times.append(perf_counter() - started)
        if order.version != 1000 or len(order.lines) != 1000:
            raise RuntimeError("the aggregate did not load completely")
    return statistics.median(times) * 1000


@workload("load_aggregate_1000_ms")
def load_aggregate(state: dict[str, Any]) -> float:
    """Median of 20 loads of a 1,000-event stream, every event decoded and applied."""
    return _median_load_ms(state, use_snapshot=False)


@workload("load_aggregate_1000_snapshot_ms")
def load_aggregate_snapshot(state: dict[str, Any]) -> float:
    """The same load, starting from a snapshot at version 1,000."""
    return _median_load_ms(state, use_snapshot=True)


# --- Sealing ------------------------------------------------------------------------------


def _backlog(n: int) -> None:
    """``n`` events no seal covers yet, in streams of 100."""
    for s in range(n // 100):
        store.append("order", uuid.uuid4(), events(100, s * 100), expected_version=NO_STREAM, metadata=META)


@workload("seal_eps")
def seal_backlog(state: dict[str, Any]) -> float:
    """Leaves sealed per second over a 100,000-event backlog (appended first, then read once
    untimed, as ``read_all_eps`` warms up, so both compare reads of settled rows)."""
    from . import sealing
    from .cursor import FeedKey
    from .recorders import recorder_for

    sealing.seal()  # whatever earlier workloads left
    _backlog(100_000)
    newest = sealing.newest_seal()
    recorder = recorder_for()
    place = FeedKey(newest.feed_transaction_id, newest.last_position) if newest else FeedKey(0, 0)
    recorder.read_leaf_lines(place, recorder.horizon()[0], 100_000)
    started = perf_counter()
    newest = sealing.seal()
    elapsed = perf_counter() - started
    assert newest is not None, "the backlog was sealed"
    state["sealed"] = newest.tree_size
    return 100_000 / elapsed


def sealed_log(state: dict[str, Any], events: int = 100_000) -> int:
    """A log of at least ``events`` sealed events, shared by the workloads that need one
    (appended and sealed on first use); the newest seal's tree size. On PostgreSQL the
    sealer reads below the feed's horizon, which waits for every older transaction on the
    server to end, another database's too: it seals until every event is covered."""
    from . import sealing
    from .models import Event

    def sealed() -> int:
        sealing.seal()
        newest = sealing.newest_seal()
        return newest.tree_size if newest else 0

    if state.get("sealed", 0) < events:
        _backlog(events)
        committed, deadline = Event.objects.count(), time.monotonic() + BARRIER_TIMEOUT
        while (size := sealed()) < committed:
            if time.monotonic() > deadline:
                raise RuntimeError(f"sealed {size} of {committed} events in {BARRIER_TIMEOUT} s")
            time.sleep(0.1)
        state["sealed"] = size
    tree_size: int = state["sealed"]
    return tree_size


@workload("verify_100k_ms")
def verify_log(state: dict[str, Any]) -> float:
    """``integrity.verify`` over the whole log (at least 100,000 sealed events: every
    chain, leaf and seal), scaled to 100,000 events (the walk is linear)."""
    from . import integrity

    sealed_log(state)
    started = perf_counter()
    report = integrity.verify()
    elapsed = perf_counter() - started
    if report.problems or report.events < 100_000:
        raise RuntimeError(f"verify found {report.summary()}")
    return elapsed * 1000 * 100_000 / report.events


@workload("offline_verify_100k_ms")
def offline_verify(state: dict[str, Any]) -> float:
    """``python -m eventstore.verifier`` over an export of the whole sealed log (at least
    100,000 events, exported once, untimed), scaled to 100,000 events. Its ``main`` runs in
    this process: the interpreter's start and the imports (a fixed ~0.1 s an auditor pays
    once) are not counted, only the work that grows with the log."""
    import contextlib
    import io
    import tempfile
    from pathlib import Path

    from django.core.management import call_command

    from . import backup, sealing, verifier

    exported: int
    if "offline_export" not in state:
        if state.get("sealed", 0) < 100_000:
            _backlog(100_000)
            newest = sealing.seal()
            assert newest is not None, "the backlog was sealed"
            state["sealed"] = newest.tree_size
        directory = tempfile.TemporaryDirectory(prefix="chronicle-offline-verify-")  # removed at exit
        path, keyring = Path(directory.name, "events.jsonl"), Path(directory.name, "keys.json")
        with path.open("w", encoding="utf-8") as out:
            exported = backup.export_events(out, progress=io.StringIO())
        with keyring.open("w") as out:
            call_command("seal_key", "--public", stdout=out)
        state["offline_export"] = (directory, path, keyring, exported)
    _, path, keyring, exported = state["offline_export"]
    said = io.StringIO()
    started = perf_counter()
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        code = verifier.main(["--keyring", str(keyring), str(path)])
    elapsed = perf_counter() - started
    if code != 0 or exported < 100_000:
        raise RuntimeError(f"the verifier said: {said.getvalue().strip()} ({exported} events exported)")
    return elapsed * 1000 * 100_000 / exported


@workload("append_one_sealing_eps")
def append_one_while_sealing(state: dict[str, Any]) -> float:
    """``append_one_eps`` with a sealer sealing the new events every 0.1 s beside it (Celery
    beat's default is every 10 s: this is the worst case). The sealer is a process of its
    own, as a Celery worker is: a thread would measure the appender waiting for the GIL."""
    import subprocess

    database = _database_settings()
    sealer = subprocess.Popen([sys.executable, "-c", _SEALER, json.dumps(database)], stdin=subprocess.PIPE)
    assert sealer.stdin is not None, "stdin=PIPE"
    try:
        return append_one(state)
    finally:
        sealer.stdin.close()  # the sealer's signal to stop
        if sealer.wait(timeout=60):
            raise RuntimeError(f"the sealer process exited with {sealer.returncode}")


_SEALER = """
import json, select, sys
import django
django.setup()
from django.db import connections
connections["default"].settings_dict.update(json.loads(sys.argv[1]))
from eventstore import sealing
while not select.select([sys.stdin], [], [], 0.1)[0]:
    sealing.seal()
"""
