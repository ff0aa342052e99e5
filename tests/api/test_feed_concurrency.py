"""Following the feed over HTTP while others write: every event exactly once."""

from __future__ import annotations

import threading
import time
from uuid import uuid4

import pytest
import requests
from django.db import transaction

from eventstore import store
from eventstore.models import Event
from orders.permissions import OPERATORS
from orders.tokens import token_issue
from tests.factories import member_of, product
from tests.support import META, new_event, run_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres(
        reason="on SQLite transactions commit in position order; the feed's horizon is a PostgreSQL matter"
    ),
]

WRITERS = 4
COMMANDS_EACH = 25


def test_following_next_while_writers_commit_out_of_order_sees_every_event_once(live_server):
    token = token_issue(user=member_of(OPERATORS))[1]
    products = [product() for _ in range(WRITERS)]
    late_started, writers_done = threading.Event(), threading.Event()

    def late_writer() -> None:
        """Takes a place in the feed first and commits last, while the others go on."""
        with transaction.atomic():
            store.append("order", uuid4(), [new_event()], expected_version=0, metadata=META)
            late_started.set()
            time.sleep(1.0)

    def api_writer(i: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"Token {token}"
            for _ in range(COMMANDS_EACH):
                url = f"{live_server.url}/api/v1/products/{products[i]}/receive-stock/"
                assert http.post(url, json={"quantity": 1}, timeout=30).status_code == 200

    failures: list[BaseException] = []

    def write() -> None:
        try:
            run_threads(lambda i: late_writer() if i == WRITERS else api_writer(i), WRITERS + 1)
        except BaseException as exc:
            failures.append(exc)
        finally:
            writers_done.set()

    background = threading.Thread(target=write)
    background.start()
    late_started.wait(10)
    seen = []
    with requests.Session() as http:
        http.headers["Authorization"] = f"Token {token}"
        url = f"{live_server.url}/api/v1/events/?limit=7"
        while True:
            finished = writers_done.is_set()
            page = http.get(url, timeout=30).json()
            seen += [event["event_id"] for event in page["results"]]
            url = page["next"]
            if finished and page["caught_up"]:
                break
    background.join(60)

    assert not failures, failures
    assert len(seen) == len(set(seen)) == Event.objects.count() == WRITERS + WRITERS * COMMANDS_EACH + 1
    assert set(seen) == {str(event_id) for event_id in Event.objects.values_list("event_id", flat=True)}
