"""``manage.py benchmark`` workloads of the REST API, measured through gunicorn over HTTP:
commands (``api_command_rps``), queries of the read models (``api_query_rps``), the same
queries answered by bare Django views (``api_query_floor_rps``, see ``floor_urls``) and
inclusion proofs on a log of 100,000 sealed events (``proof_p95_ms``).

The server runs against the throwaway benchmark database, as production would: gunicorn's
threaded workers, DEBUG off, rate limiting out of the way. Each client thread keeps one
connection alive and sends its requests one after another.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from time import perf_counter
from typing import IO, Any, Final
from urllib.parse import quote
from uuid import UUID, uuid4

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection

from eventstore.benchmark import BARRIER_TIMEOUT, analyze, log, sealed_log, workload
from eventstore.models import Event, Leaf
from orders import bus
from orders.context import CommandContext
from orders.domain import Money
from orders.domain import commands as c
from orders.permissions import OPERATORS
from orders.tokens import token_issue
from projections.runner import catch_up

CLIENTS: Final = 4
REQUESTS_EACH: Final = 300
WARM_UP_EACH: Final = 20
QUERY_PRODUCTS: Final = 100
QUERY_CUSTOMERS: Final = 50
QUERY_ORDERS: Final = 200
PROOF_LOG_EVENTS: Final = 100_000
GUNICORN: Final = [
    *("--workers", "2", "--threads", "4", "--worker-class", "gthread", "--keep-alive", "30"),
    *("--no-control-socket", "--log-level", "warning"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_environment(settings_module: str) -> dict[str, str]:
    """This process's settings (``settings_module``), pointed at the benchmark database as
    this process's role, without ``DATABASE_OWNER_URL`` (a production web process refuses
    to start with it)."""
    database = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_OWNER_URL"}
    env |= {"DEBUG": "0", "API_THROTTLE_RATE": "1000000/minute", "LOG_LEVEL": "WARNING"}
    env["DJANGO_SETTINGS_MODULE"] = settings_module
    if connection.vendor == "postgresql":
        credentials = quote(database["USER"]) + (f":{quote(database['PASSWORD'])}" if database["PASSWORD"] else "")
        env["DATABASE_URL"] = f"postgres://{credentials}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = str(database["NAME"])
    return env


@contextmanager
def gunicorn(
    *options: str, output: IO[bytes] | None = None, settings_module: str = "config.settings", **environment: str
) -> Iterator[int]:
    """A gunicorn serving the API on a free port of 127.0.0.1, stopped afterwards; yields
    the port. ``options`` replace the benchmark's command-line options, ``settings_module``
    is the Django settings it runs (the floor's mounts its bare views) and ``environment``
    adds to its settings (the load test runs the production configuration file); with
    ``output``, the server's output and errors go there."""
    port = _free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "config.wsgi:application"),
            *(options or GUNICORN),
            *("--bind", f"127.0.0.1:{port}"),
        ],
        cwd=Path(settings.BASE_DIR),
        env=_server_environment(settings_module) | environment,
        # Not onto the command's output, whose last line is the JSON of figures.
        stdout=output or subprocess.DEVNULL,
        stderr=output,
    )
    try:
        _wait_until_serving(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(30)


def _wait_until_serving(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("gunicorn exited before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start serving within 30 s")


def _token(state: dict[str, Any]) -> str:
    """The benchmark's one Operator token, made on first use (one user for the run)."""
    if "api_token" not in state:
        state["api_token"] = operator_token()
    return state["api_token"]


def operator_token(name: str = "benchmark") -> str:
    """The secret of a new API token of a new Operator (each client its own user, as
    integrations have: the rate limit counts per user)."""
    user = User.objects.create_user(f"{name.split()[0]}-{uuid4().hex[:8]}")
    user.groups.add(Group.objects.get(name=OPERATORS))
    return token_issue(user=user, name=name)[1]


def _new_product() -> UUID:
    product_id = uuid4()
    price = Money(Decimal("9.99"), "EUR")
    bus.dispatch(c.CreateProduct(product_id, f"BENCH-{product_id.hex[:12]}", "Bench", price), CommandContext.system())
    return product_id


class _Client:
    """One keep-alive connection sending its requests, round and round, one at a time, and
    timing each (``latencies``, seconds)."""

    def __init__(self, port: int, token: str, requests: list[tuple[str, str, str | None]]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.requests = requests
        self.sent = 0
        self.latencies: list[float] = []

    def send(self, count: int) -> None:
        """The next ``count`` requests, going on where the last call stopped."""
        for _ in range(count):
            method, path, body = self.requests[self.sent % len(self.requests)]
            self.sent += 1
            started = perf_counter()
            self.connection.request(method, path, body, self.headers)
            response = self.connection.getresponse()
            answer = response.read()
            self.latencies.append(perf_counter() - started)
            if response.status != 200:
                raise RuntimeError(f"the API answered {response.status} to {method} {path}: {answer[:200]!r}")


def _elapsed(clients: list[_Client]) -> float:
    """Warm each client up, then the seconds ``REQUESTS_EACH`` requests of each take, all at
    once (their latencies are the clients' ``latencies`` then)."""
    for client in clients:
        client.send(WARM_UP_EACH)
        client.latencies.clear()
    start = threading.Barrier(len(clients) + 1, timeout=BARRIER_TIMEOUT)
    failures: list[BaseException] = []

    def run(client: _Client) -> None:
        try:
            start.wait()
            client.send(REQUESTS_EACH)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    start.wait()
    started = perf_counter()
    for thread in threads:
        thread.join()
    elapsed = perf_counter() - started
    for client in clients:
        client.connection.close()
    if failures:
        raise failures[0]
    return elapsed


@workload("api_command_rps")
def api_command_rps(state: dict[str, Any]) -> float:
    """4 clients x 300 receive-stock commands over HTTP, each appending one event."""
    token = _token(state)
    body = json.dumps({"quantity": 1})
    with gunicorn() as port:
        clients = [
            _Client(port, token, [("POST", f"/api/v1/products/{_new_product()}/receive-stock/", body)])
            for _ in range(CLIENTS)
        ]
        elapsed = _elapsed(clients)
    log(f"api_command_rps: {CLIENTS * REQUESTS_EACH} commands in {elapsed:.2f} s")
    return CLIENTS * REQUESTS_EACH / elapsed


@workload("api_query_rps")
def api_query_rps(state: dict[str, Any]) -> float:
    """4 clients x 300 GETs of the read models over HTTP: in turn a page of products, a
    product, a page of orders, an order, a page of customers, a customer."""
    return _queries(state, "api_query_rps", "config.settings")


@workload("api_query_floor_rps")
def api_query_floor_rps(state: dict[str, Any]) -> float:
    """What ``api_query_rps`` would reach if the API cost nothing beyond reading its rows:
    its requests, clients and gunicorn, answered by bare views (``floor_urls``) that read the
    same rows with ``.values()`` and answer with ``JsonResponse``."""
    return _queries(state, "api_query_floor_rps", "config.benchmark_settings")


def _queries(state: dict[str, Any], name: str, settings_module: str) -> float:
    token = _token(state)
    if "query_shop" not in state:
        state["query_shop"] = _query_shop()
    shop = state["query_shop"]
    analyze()  # the commands' workload may have just added thousands of events
    with gunicorn(settings_module=settings_module) as port:
        clients = [_Client(port, token, _query_requests(shop, offset=i)) for i in range(CLIENTS)]
        elapsed = _elapsed(clients)
    log(f"{name}: {CLIENTS * REQUESTS_EACH} queries in {elapsed:.2f} s")
    return CLIENTS * REQUESTS_EACH / elapsed


def _query_shop() -> dict[str, list[UUID]]:
    """A small shop, through the commands, with the read models caught up: 100 products,
    50 customers, 200 orders of 3 lines."""
    system = CommandContext.system()
    products = [_new_product() for _ in range(QUERY_PRODUCTS)]
    for product_id in products:
        bus.dispatch(c.ReceiveStock(product_id, 10_000), system)
    customers = []
    for n in range(QUERY_CUSTOMERS):
        customer_id = uuid4()
        bus.dispatch(c.RegisterCustomer(customer_id, f"Bench Customer {n}", f"{customer_id.hex}@example.com"), system)
        customers.append(customer_id)
    orders = []
    for n in range(QUERY_ORDERS):
        order_id = uuid4()
        bus.dispatch(c.CreateOrder(order_id, customers[n % len(customers)], "EUR"), system)
        for k in range(3):
            bus.dispatch(c.AddOrderLine(order_id, products[(n + k) % len(products)], 1 + k), system)
        orders.append(order_id)
    catch_up(patience=30)
    return {"products": products, "customers": customers, "orders": orders}


def _query_requests(shop: dict[str, list[UUID]], *, offset: int) -> list[tuple[str, str, str | None]]:
    """Each client's round of requests, over different entities than the other clients'."""
    requests: list[tuple[str, str, str | None]] = []
    for i in range(offset, offset + 50):
        requests += [
            ("GET", "/api/v1/products/?limit=50", None),
            ("GET", f"/api/v1/products/{shop['products'][i % QUERY_PRODUCTS]}/", None),
            ("GET", "/api/v1/orders/?limit=20", None),
            ("GET", f"/api/v1/orders/{shop['orders'][i % QUERY_ORDERS]}/", None),
            ("GET", "/api/v1/customers/?limit=50", None),
            ("GET", f"/api/v1/customers/{shop['customers'][i % QUERY_CUSTOMERS]}/", None),
        ]
    return requests


@workload("proof_p95_ms")
def proof_p95_ms(state: dict[str, Any]) -> float:
    """p95 latency of ``GET events/{id}/proof/`` over HTTP: 4 clients x 300 proofs of random
    events, against the newest seal of a log of at least 100,000 sealed events. Each client's
    20 warm-up requests (other events) fill its gunicorn worker's cached block roots, which
    a long-running process has filled long since."""
    token = _token(state)
    tree_size = sealed_log(state, PROOF_LOG_EVENTS)
    events = _sealed_events(tree_size, CLIENTS * (WARM_UP_EACH + REQUESTS_EACH))
    each = len(events) // CLIENTS
    with gunicorn() as port:
        clients = [
            _Client(port, token, [("GET", f"/api/v1/events/{event_id}/proof/", None) for event_id in chunk])
            for chunk in (events[i * each : (i + 1) * each] for i in range(CLIENTS))
        ]
        _elapsed(clients)
    latencies = sorted(latency for client in clients for latency in client.latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1] * 1000
    log(
        f"proof_p95_ms: {len(latencies)} proofs in a tree of {tree_size} leaves, "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p95 {p95:.1f} ms, max {latencies[-1] * 1000:.1f} ms"
    )
    return p95


def _sealed_events(tree_size: int, count: int) -> list[UUID]:
    """The ids of ``count`` events picked at random among the first ``tree_size`` sealed."""
    pick = random.Random(13)
    positions = Leaf.objects.filter(index__in=pick.sample(range(tree_size), count)).values_list("position", flat=True)
    events = list(Event.objects.filter(position__in=list(positions)).values_list("event_id", flat=True))
    pick.shuffle(events)
    return events
