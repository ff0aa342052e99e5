"""The whole stack under load, for ``manage.py loadtest``: set up, run Locust, take down.

As production runs it (README "Running it for real"), on a database of its own: the owner
creates and migrates a throwaway database and sets up the app role there
(``setup_database_roles``); the shop is seeded through the commands; then gunicorn with
the production configuration (2 workers x 4 threads), 2 Celery workers and one beat run as
the app role against PostgreSQL and Redis, bound to 127.0.0.1, while Locust runs headless
for a bounded time (``orders/loadtest/locustfile.py``). A thread samples every
subscriber's lag meanwhile. Everything started is stopped and the database dropped
afterwards, also after a failure or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from uuid import UUID, uuid4

import redis
from celery import current_app
from django.conf import settings
from django.db import connection, connections
from django.test.utils import override_settings

from eventstore.roles import setup_app_role
from orders import bus, demo
from orders.benchmarks.api import gunicorn, operator_token
from orders.context import CommandContext
from orders.domain import commands as c
from projections import runner
from projections.management.commands.setup_database_roles import read_model_tables
from projections.models import CustomerSummary, OrderSummary, ProductStock
from projections.subscribers import Kind, select
from projections.worker_process import WorkerProcess, database_environment, forget_queue

from . import cpu
from .report import Report, build

LOCUSTFILE: Final = Path(__file__).with_name("locustfile.py")
WEB_WORKERS: Final = 2
WEB_THREADS: Final = 4
WORKERS: Final = 2
HOT_ORDERS: Final = 3
HOT_ORDER_LINES: Final = 3
STOCK_TOP_UP: Final = 100_000
LAG_SAMPLE_SECONDS: Final = 0.5
CATCH_UP_WAIT_SECONDS: Final = 120
# The locustfile ends the load after the duration; Locust's --run-time only backs it up.
LOCUST_BACKSTOP_SECONDS: Final = 30
# How long users may take to finish the request they are in when the load ends.
LOCUST_STOP_SECONDS: Final = 10
WARM_UP_THREADS: Final = 8
# The demo shop the load starts from (``manage.py seed_demo``'s defaults, twice the customers).
SHOP_SIZE: Final = {"customers": 50, "products": 16, "orders": 150, "days": 30}


class StackError(Exception):
    """The stack cannot run here, or a part of it failed; the message says which."""


@dataclass(frozen=True)
class Run:
    duration: int
    users: int
    spawn_rate: float
    progress: Callable[[str], None]
    keep_logs: bool = False


def check_environment() -> None:
    """PostgreSQL, a Redis broker and Locust: what the load test is about, or nothing."""
    if connection.vendor != "postgresql":
        raise StackError("the load test runs on PostgreSQL: set DATABASE_URL (and DATABASE_OWNER_URL, see README)")
    if current_app.conf.task_always_eager:
        raise StackError("the load test runs real Celery workers: set REDIS_URL")
    if importlib.util.find_spec("locust") is None:
        raise StackError("Locust is not installed: `make loadtest` installs requirements-load.txt first")


def run(spec: Run) -> tuple[Report, Path]:
    """Set the stack up, load it for ``spec.duration`` seconds, take it down; the report and
    the folder of the processes' logs (removed again when the run had no error)."""
    check_environment()
    logs = Path(tempfile.mkdtemp(prefix="chronicle-load-"))
    queue = f"chronicle-load-{os.getpid()}"
    files = {"SEAL_KEY_FILE": str(logs / "seal-signing-key"), "SEAL_WITNESS": str(logs / "seal-witness.jsonl")}
    overrides = override_settings(
        CELERY_TASK_DEFAULT_QUEUE=queue, PROJECTIONS_WAKE_ON_COMMIT=False, SEAL_AFTER_COMMIT=False, **files
    )
    report = None
    try:
        with overrides, _throwaway_database(f"chronicle_load_{os.getpid()}", spec.progress):
            spec.progress("seeding the shop through the commands")
            shop = _seed(spec.users, spec.progress)
            (logs / "shop.json").write_text(json.dumps(shop))
            environment = {**files, "REDIS_URL": current_app.conf.broker_url, "CELERY_QUEUE": queue}
            with _workers(logs, queue, environment), _beat(logs, environment), _web(logs, environment) as port:
                spec.progress(
                    f"gunicorn on 127.0.0.1:{port}, {WORKERS} Celery workers and beat: loading for {spec.duration} s"
                )
                _warm_up(port, shop)
                load_before, cpu_before = os.getloadavg()[0], cpu.read(_database_pids())
                with _LagSampler() as sampler:
                    outcomes = _locust(spec, port, logs)
                load_after, cpu_after = os.getloadavg()[0], cpu.read(_database_pids())
                caught_up = _caught_up()
                report = build(
                    outcomes,
                    setting=_setting(),
                    load_average=(load_before, load_after),
                    cpu=cpu.spent(cpu_before, cpu_after) if cpu_before and cpu_after else None,
                    users=spec.users,
                    lag_samples=sampler.samples,
                    projections=[cls.name for cls in select(kind=Kind.PROJECTION)],
                    caught_up_seconds=caught_up,
                    failed_subscribers=[status.name for status in runner.status() if status.failed],
                )
    finally:
        forget_queue(current_app.conf.broker_url, queue)
        if spec.keep_logs or report is None or report.error_count:
            spec.progress(f"the processes' logs are kept in {logs}")
        else:
            shutil.rmtree(logs, ignore_errors=True)
    return report, logs


def _setting() -> str:
    """What ran: the stack's shape and the versions and cores it ran on."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    redis_version = redis.Redis.from_url(current_app.conf.broker_url).info("server")["redis_version"]
    return (
        f"gunicorn {WEB_WORKERS} workers x {WEB_THREADS} threads, {WORKERS} Celery workers (solo pool) and beat; "
        f"PostgreSQL {postgres}, Redis {redis_version}; {os.cpu_count()} cores"
    )


def _database_pids() -> list[int]:
    """The server processes of every session on the load test's database but this one's."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


# --- The database -------------------------------------------------------------------------


def _reconnect(user: str, password: str) -> None:
    from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLWrapper

    default = connections["default"]
    assert isinstance(default, PostgreSQLWrapper), "the load test runs on PostgreSQL"
    default.close()
    default.close_pool()
    default.settings_dict.update(USER=user, PASSWORD=password)


@contextlib.contextmanager
def _throwaway_database(name: str, progress: Callable[[str], None]) -> Iterator[None]:
    """A new database ``name``, created and migrated by the owner, set up for the app role
    (as ``make release`` does) and used as the app role; dropped by the owner afterwards.
    With one role for both (no ``DATABASE_OWNER_URL``), that role does everything."""
    default = connections["default"].settings_dict
    app = (default["USER"], default["PASSWORD"])
    owner = (settings.DATABASES["owner"]["USER"], settings.DATABASES["owner"]["PASSWORD"])
    old_name = default["NAME"]
    _reconnect(*owner)
    default["TEST"] = {**default.get("TEST", {}), "NAME": name}
    progress(f"creating and migrating {name} as {owner[0]}")
    connections["default"].creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        if app != owner:
            for change in setup_app_role(
                app[0], password=app[1] or None, handed_over=read_model_tables(), using="default"
            ):
                progress(change)
            _reconnect(*app)
        yield
    finally:
        _reconnect(*owner)
        connections["default"].creation.destroy_test_db(old_name, verbosity=0)
        _reconnect(*app)
        progress(f"dropped {name}")


# --- The shop -----------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_commands() -> Iterator[None]:
    """A line per seeded command would drown the progress (as in ``seed_demo``)."""
    commands_log = logging.getLogger("chronicle.commands")
    level = commands_log.level
    commands_log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        commands_log.setLevel(level)


def _seed(users: int, progress: Callable[[str], None]) -> dict[str, Any]:
    """The demo shop with plenty of stock, a few hot draft orders, a token per user; the ids
    Locust's users work on. The read models are caught up before the load starts."""
    system = CommandContext.system(source="command-line")
    with _quiet_commands():
        demo.seed(**SHOP_SIZE, progress=progress)
        _catch_up_now()  # the products and customers are read from the read models
        products = list(ProductStock.objects.filter(discontinued=False).values_list("id", flat=True))
        for product_id in products:  # every order the load places can be confirmed
            bus.dispatch(c.ReceiveStock(product_id, STOCK_TOP_UP), system)
        customers = list(CustomerSummary.objects.filter(shipping_address__isnull=False).values_list("id", flat=True))
        hot = [_hot_order(customers[n], products[n : n + HOT_ORDER_LINES], system) for n in range(HOT_ORDERS)]
        _catch_up_now()
    return {
        "tokens": [operator_token("load test") for _ in range(users)],
        "products": [str(p) for p in products],
        "customers": [str(p) for p in customers],
        "orders": [str(o) for o in OrderSummary.objects.values_list("id", flat=True)],
        "hot_orders": hot,
    }


def _catch_up_now() -> None:
    """Every subscriber through every event, in this process (no worker runs yet)."""
    if _caught_up(lambda: runner.catch_up(patience=1)) is None:
        raise StackError(f"the seeded shop's read models did not catch up within {CATCH_UP_WAIT_SECONDS} s")


def _hot_order(customer_id: UUID, products: list[UUID], context: CommandContext) -> dict[str, Any]:
    """A draft every user reads and changes: a line of each of ``products``."""
    order_id = uuid4()
    bus.dispatch(c.CreateOrder(order_id, customer_id, "EUR"), context)
    for product_id in products:
        bus.dispatch(c.AddOrderLine(order_id, product_id, 1), context)
    return {"id": str(order_id), "products": [str(p) for p in products]}


# --- The processes ------------------------------------------------------------------------


@contextlib.contextmanager
def _web(logs: Path, environment: dict[str, str]) -> Iterator[int]:
    """gunicorn with the production configuration (``gunicorn.conf.py``: gthread workers,
    access log, metrics), 2 workers x 4 threads, the rate limit as configured."""
    with (
        (logs / "gunicorn.log").open("ab") as output,
        gunicorn(
            *("-c", "gunicorn.conf.py"),
            output=output,
            WEB_CONCURRENCY=str(WEB_WORKERS),
            GUNICORN_THREADS=str(WEB_THREADS),
            PROMETHEUS_MULTIPROC_DIR=str(logs / "metrics"),
            API_THROTTLE_RATE=settings.API_THROTTLE_RATE,
            LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"),
            **environment,
        ) as port,
    ):
        yield port


@contextlib.contextmanager
def _workers(logs: Path, queue: str, environment: dict[str, str]) -> Iterator[None]:
    workers: list[WorkerProcess] = []
    try:
        for number in range(1, WORKERS + 1):
            workers.append(
                WorkerProcess(
                    broker_url=current_app.conf.broker_url,
                    queue=queue,
                    log=logs / f"worker-{number}.log",
                    **environment,
                )
            )
        for worker in workers:
            worker.wait_ready()
        yield
    finally:
        for worker in workers:
            worker.stop()


@contextlib.contextmanager
def _beat(logs: Path, environment: dict[str, str]) -> Iterator[None]:
    """One Celery beat: sealing every ``SEAL_INTERVAL_SECONDS``, sweeps behind the wake-ups."""
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_OWNER_URL")}
    env |= {**database_environment(), **environment}
    command = [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "info", f"--schedule={logs / 'beat'}"]
    with (logs / "beat.log").open("ab") as output:
        beat = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        beat.terminate()
        try:
            beat.wait(20)
        except subprocess.TimeoutExpired:
            beat.kill()
            beat.wait()


def _warm_up(port: int, shop: dict[str, Any]) -> None:
    """A few queries on many connections at once before the load: the first request each
    web worker serves imports and builds what a long-running server has had for long (URL
    conf, serializers, the schema), which is not what the load test measures."""
    paths = ["products/?limit=50", "orders/?limit=20", "customers/?limit=50", f"orders/{shop['orders'][0]}/"]
    headers = {"Authorization": f"Token {shop['tokens'][0]}"}

    def get_each() -> None:
        for path in paths:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/{path}", headers=headers)
            with urllib.request.urlopen(request, timeout=60) as answer:
                answer.read()

    threads = [threading.Thread(target=get_each) for _ in range(WARM_UP_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _locust(spec: Run, port: int, logs: Path) -> dict[str, Any]:
    """Locust headless for ``spec.duration`` seconds against 127.0.0.1; what its users recorded."""
    outcomes = logs / "outcomes.json"
    command = [
        *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
        *("--host", f"http://127.0.0.1:{port}", "--users", str(spec.users), "--spawn-rate", str(spec.spawn_rate)),
        *("--run-time", f"{spec.duration + LOCUST_BACKSTOP_SECONDS}s", "--stop-timeout", str(LOCUST_STOP_SECONDS)),
        *("--only-summary", "--exit-code-on-error", "0"),
    ]
    env = {
        **os.environ,
        "LOADTEST_SECONDS": str(spec.duration),
        "LOADTEST_SHOP": str(logs / "shop.json"),
        "LOADTEST_OUTCOMES": str(outcomes),
    }
    with (logs / "locust.log").open("ab") as output:
        locust = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            code = locust.wait(spec.duration + LOCUST_BACKSTOP_SECONDS + LOCUST_STOP_SECONDS + 60)
        except BaseException:
            locust.kill()
            locust.wait()
            raise
    if code != 0 or not outcomes.exists():
        raise StackError(f"Locust exited with {code}: see {logs / 'locust.log'}")
    return json.loads(outcomes.read_text())


# --- Lag ----------------------------------------------------------------------------------


class _LagSampler:
    """Every ``LAG_SAMPLE_SECONDS``, each subscriber's lag as ``/metrics`` reports it
    (``chronicle_subscriber_lag_seconds``: the age of the oldest event it has still to
    handle, 0 when it has none), read in a thread of its own: (time.time(), lag by
    subscriber) each time."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="lag-sampler", daemon=True)

    def __enter__(self) -> _LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        try:
            while not self._stop.wait(LAG_SAMPLE_SECONDS):
                at = time.time()
                self.samples.append((at, {status.name: status.seconds_behind for status in runner.status()}))
        finally:
            connection.close()


def _caught_up(step: Callable[[], object] = lambda: time.sleep(LAG_SAMPLE_SECONDS / 5)) -> float | None:
    """Seconds until every subscriber has handled every event (None: not within
    ``CATCH_UP_WAIT_SECONDS``), doing ``step`` between looks: by default only waiting for
    the workers. Events that an open transaction elsewhere on the server holds back from
    the feed are waited for too."""
    started = time.monotonic()
    while not all(status.events_behind == 0 for status in runner.status()):
        if time.monotonic() - started > CATCH_UP_WAIT_SECONDS:
            return None
        step()
    return time.monotonic() - started
