"""One correlation id finds everything a request did, in this process's log and the worker's."""

import json

import pytest

from eventstore import context
from orders.context import CommandContext
from orders.domain import commands as c
from orders.fulfilment import FulfilmentProcess
from projections.runner import ensure_checkpoint
from tests.factories import order, product, run
from tests.projections.processes import needs_redis
from tests.projections.support import wait_until

pytestmark = [pytest.mark.postgres, needs_redis, pytest.mark.django_db(transaction=True), pytest.mark.fulfilment]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_command_and_what_the_worker_did_about_it_share_a_correlation_id(start_worker, settings, json_log):
    ensure_checkpoint(FulfilmentProcess)  # deployed before the order is placed
    worker = start_worker(LOG_FORMAT="json")
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    oid = order(lines=[(product(stock=1), 1)])

    with context.bound(correlation_id="req-trace-7"):
        run(c.PlaceOrder(oid), CommandContext.system(source="api"))

    ours = [line for line in json_log() if line["command"] == "PlaceOrder"]
    theirs = wait_until(
        lambda: [line for line in json_lines(worker.output()) if line.get("command") == "ConfirmOrder"],
        what="the worker to confirm the order",
    )
    assert ours[0]["correlation_id"] == theirs[0]["correlation_id"] == "req-trace-7"
    assert theirs[0]["actor"] == "system" and theirs[0]["level"] == "INFO"
