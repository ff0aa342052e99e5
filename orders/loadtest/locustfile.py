"""Locust's side of ``manage.py loadtest``: integrations using the REST API at once.

This file runs in Locust's own process (gevent), so it imports nothing of Chronicle or
Django: the driver (``orders.loadtest.stack``) hands it the shop it seeded, one API token
per simulated user and the ids to work on, in the JSON file named by ``LOADTEST_SHOP``,
and this file leaves every answer it got in ``LOADTEST_OUTCOMES`` for the report
(``orders.loadtest.report``).

The mix, counted in requests: 80 % queries (order, product and customer lists and
details), 20 % commands. Each user drafts orders of its own (create, add lines, place) and
pays them once a query has shown them confirmed by the fulfilment process, with the version
it saw as ``If-Match``; now and then it registers a customer. All users also share a few
*hot* draft orders: read one, then change a line's quantity with the version read, so when
two users (or the read model's lag) overlap, the second is answered ``409
version_conflict``. 409 and 422 are the answers the mix provokes by design; any other
answer that is not 2xx is an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final
from urllib.parse import urlsplit

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

API: Final = "/api/v1/"
BY_DESIGN: Final = frozenset({409, 422})
LOOPBACK: Final = frozenset({"127.0.0.1", "localhost", "::1"})
LINES_PER_ORDER: Final = (1, 3)


def _load_shop() -> dict[str, Any]:
    path = os.environ.get("LOADTEST_SHOP")
    if not path:
        raise RuntimeError("LOADTEST_SHOP is not set: run the load test with `manage.py loadtest`")
    with open(path, encoding="utf-8") as source:
        return json.load(source)


SHOP: Final = _load_shop()
_tokens = itertools.count()


@dataclass
class Outcomes:
    """Every answer: latency by request type, and count by (type, status, error code)."""

    latencies_ms: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    answers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    started: float = 0.0  # time.monotonic()
    stopped: float = 0.0
    started_at: float = 0.0  # time.time(), to line the driver's lag samples up with the load
    stopped_at: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": self.stopped - self.started,
            "started_at": self.started_at,
            "stopped_at": self.stopped_at,
            "latencies_ms": self.latencies_ms,
            "answers": [[name, status, code, count] for (name, status, code), count in self.answers.items()],
        }


OUTCOMES: Final = Outcomes()


@events.init.add_listener
def _loopback_only(environment: Any, **kwargs: Any) -> None:
    """The load goes to a server on this machine, never anywhere else."""
    host = urlsplit(environment.host or "").hostname
    if host not in LOOPBACK:
        raise SystemExit(f"the load test targets 127.0.0.1 only, not {environment.host!r}")


@events.test_start.add_listener
def _started(environment: Any, **kwargs: Any) -> None:
    OUTCOMES.started, OUTCOMES.started_at = time.monotonic(), time.time()
    gevent.spawn(_quit_after, environment, float(os.environ["LOADTEST_SECONDS"]))


def _quit_after(environment: Any, seconds: float) -> None:
    """End the load ``seconds`` after it started, by the clock. ``--run-time`` is only the
    backstop: on a busy machine its timer was seen to end a 15 s load after 10 s."""
    while time.monotonic() - OUTCOMES.started < seconds:
        gevent.sleep(0.1)
    environment.runner.quit()


@events.test_stop.add_listener
def _stopped(**kwargs: Any) -> None:
    OUTCOMES.stopped, OUTCOMES.stopped_at = time.monotonic(), time.time()


@events.quitting.add_listener
def _write_outcomes(**kwargs: Any) -> None:
    with open(os.environ["LOADTEST_OUTCOMES"], "w", encoding="utf-8") as out:
        json.dump(OUTCOMES.as_json(), out)


@events.request.add_listener
def _record(name: str, response_time: float, response: Any, **kwargs: Any) -> None:
    status = response.status_code or 0  # 0: no answer (connection refused, reset, timed out)
    OUTCOMES.latencies_ms[name].append(response_time)
    OUTCOMES.answers[name, status, _error_code(response) if status >= 400 else ""] += 1


def _error_code(response: Any) -> str:
    """The API's error code (``{"error": {"code": ...}}``), or empty if the body has none."""
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, TypeError, KeyError):
        return ""


@dataclass
class Draft:
    """One of the user's own orders, as the user last saw it."""

    version: int
    lines: set[str] = field(default_factory=set)
    wanted_lines: int = 1


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


class Integration(FastHttpUser):
    """A client of the API with a token of its own (an Operator's)."""

    wait_time = between(0.1, 0.5)  # seconds each user thinks between two tasks

    def on_start(self) -> None:
        tokens = SHOP["tokens"]
        self.token = tokens[next(_tokens) % len(tokens)]
        self.customers: list[str] = list(SHOP["customers"])
        self.drafts: dict[str, Draft] = {}
        self.placed: dict[str, int] = {}  # order id -> position of the placing
        self.confirmed: dict[str, tuple[int, str]] = {}  # order id -> (version, amount due)

    def send(self, method: str, path: str, name: str, body: Any = None, **headers: str) -> Answer:
        """One request; 409 and 422 count as answers the mix provokes, not as failures."""
        headers = {"Authorization": f"Token {self.token}", **headers}
        with self.client.request(method, API + path, name=name, json=body, headers=headers, catch_response=True) as r:
            if r.status_code in BY_DESIGN:
                r.success()
            try:
                payload = r.json() if r.status_code and r.content else {}
            except ValueError:
                payload = {}
            return Answer(r.status_code or 0, payload)

    # --- Queries (80 of every 100 requests) ---------------------------------------------

    @task(15)
    def order_list(self) -> None:
        status = random.choice(["", "", "confirmed", "paid"])
        self.send("GET", f"orders/?limit=20{'&status=' + status if status else ''}", "GET orders/")

    @task(12)
    def order_detail(self) -> None:
        self.send("GET", f"orders/{random.choice(SHOP['orders'])}/", "GET orders/{id}/")

    @task(10)
    def own_order_detail(self) -> None:
        """Read back an order this user placed, waiting until the read model has the
        placing (``min_position``): is it confirmed yet, and what is due?"""
        if not self.placed:
            self.order_detail()
            return
        order_id, position = random.choice(list(self.placed.items()))
        answer = self.send("GET", f"orders/{order_id}/?min_position={position}", "GET orders/{id}/?min_position=")
        status = answer.body.get("status")
        if answer.status != 200 or status == "placed":
            return
        del self.placed[order_id]
        if status == "confirmed":
            due = Decimal(answer.body["total"]) - Decimal(answer.body["amount_paid"])
            self.confirmed[order_id] = (answer.body["version"], str(due))

    @task(9)
    def product_list(self) -> None:
        self.send("GET", "products/?limit=50", "GET products/")

    @task(10)
    def product_detail(self) -> None:
        self.send("GET", f"products/{random.choice(SHOP['products'])}/", "GET products/{id}/")

    @task(9)
    def customer_list(self) -> None:
        self.send("GET", "customers/?limit=50", "GET customers/")

    @task(10)
    def customer_detail(self) -> None:
        self.send("GET", f"customers/{random.choice(self.customers)}/", "GET customers/{id}/")

    # --- Commands (20 of every 100 requests) --------------------------------------------

    @task(14)
    def next_step(self) -> None:
        """Move one of this user's orders on: pay a confirmed one, place a full draft, add a
        line to a draft, or start a new draft."""
        if self.confirmed:
            self.pay(*self.confirmed.popitem())
            return
        full = [order_id for order_id, draft in self.drafts.items() if len(draft.lines) >= draft.wanted_lines]
        if full:
            self.place(full[0])
        elif self.drafts:
            self.add_line(next(iter(self.drafts)))
        else:
            self.create_order()

    def create_order(self) -> None:
        body = {"customer_id": random.choice(self.customers), "currency": "EUR"}
        answer = self.send("POST", "orders/", "POST orders/", body, **{"Idempotency-Key": uuid.uuid4().hex})
        if answer.status == 201:
            self.drafts[answer.body["id"]] = Draft(
                answer.body["version"], wanted_lines=random.randint(*LINES_PER_ORDER)
            )

    def add_line(self, order_id: str) -> None:
        draft = self.drafts[order_id]
        product_id = random.choice([p for p in SHOP["products"] if p not in draft.lines])
        body = {"product_id": product_id, "quantity": random.randint(1, 3)}
        answer = self.send(
            "POST", f"orders/{order_id}/lines/", "POST orders/{id}/lines/", body, **{"If-Match": f'"{draft.version}"'}
        )
        if answer.status == 200:
            draft.lines.add(product_id)
            draft.version = answer.body["version"]
        else:
            del self.drafts[order_id]  # refused: leave this one and start another

    def place(self, order_id: str) -> None:
        draft = self.drafts.pop(order_id)
        answer = self.send(
            "POST", f"orders/{order_id}/place/", "POST orders/{id}/place/", **{"If-Match": f'"{draft.version}"'}
        )
        if answer.status == 200:
            self.placed[order_id] = answer.body["position"]

    def pay(self, order_id: str, seen: tuple[int, str]) -> None:
        version, due = seen
        body = {"amount": due, "method": "card", "reference": f"LOAD-{order_id[:8]}"}
        self.send("POST", f"orders/{order_id}/pay/", "POST orders/{id}/pay/", body, **{"If-Match": f'"{version}"'})

    @task(1)
    def register_customer(self) -> None:
        key = uuid.uuid4().hex
        body = {
            "name": f"Load Customer {key[:6]}",
            "email": f"load-{key}@example.com",
            "shipping_address": {
                "line1": "Station Street 1",
                "line2": "",
                "postal_code": "3511 AB",
                "city": "Utrecht",
                "country": "NL",
            },
        }
        answer = self.send("POST", "customers/", "POST customers/", body, **{"Idempotency-Key": key})
        if answer.status == 201:
            self.customers.append(answer.body["id"])

    # --- Both: a query, then a command on what it showed (5 of each per 100) -------------

    @task(5)
    def hot_order(self) -> None:
        """Read a draft order every user works on, then change one of its lines with the
        version read: whoever changed it meanwhile makes this a 409."""
        hot = random.choice(SHOP["hot_orders"])
        seen = self.send("GET", f"orders/{hot['id']}/", "GET orders/{id}/ (hot)")
        if seen.status != 200:
            return
        body = {"product_id": random.choice(hot["products"]), "quantity": random.randint(1, 5)}
        self.send(
            "POST",
            f"orders/{hot['id']}/change-quantity/",
            "POST orders/{id}/change-quantity/",
            body,
            **{"If-Match": f'"{seen.body["version"]}"'},
        )
