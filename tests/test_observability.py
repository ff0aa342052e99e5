"""Correlation ids: per request, in responses, in log lines, in events, in tasks."""

import pytest
from celery.signals import before_task_publish

from config import observability
from config.celery import app
from eventstore import context, store
from orders.context import CommandContext
from orders.domain import commands as c
from tests.factories import product, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_request_gets_an_id_and_a_sensible_given_one_is_kept(client):
    fresh = client.get("/admin/login/")
    given = client.get("/admin/login/", HTTP_X_REQUEST_ID="req-42.abc")
    hostile = client.get("/admin/login/", HTTP_X_REQUEST_ID="<script>" + "x" * 200)
    assert len(fresh["X-Request-ID"]) == 32
    assert given["X-Request-ID"] == "req-42.abc"
    assert "<" not in hostile["X-Request-ID"] and len(hostile["X-Request-ID"]) == 32


def test_a_commands_log_line_is_json_with_the_correlation_id_of_its_events(json_log):
    pid = product()
    with context.bound(correlation_id="req-9"):
        run(c.ReceiveStock(pid, 3), CommandContext.system(source="command-line"))
    line = json_log()[-1]
    assert (line["correlation_id"], line["actor"], line["command"], line["level"]) == (
        "req-9",
        "system",
        "ReceiveStock",
        "INFO",
    )
    assert store.read_stream(pid)[-1].metadata["correlation_id"] == "req-9"


def test_tasks_carry_the_correlation_id_of_whoever_published_them():
    """The header a published task carries, and an in-process task's view. (The worker
    side, a separate process, is tested with a real worker in tests/projections.)"""

    @app.task(name="tests.echo_correlation")
    def echo():
        return context.correlation_id.get()

    headers: dict = {}
    with context.bound(correlation_id="req-77"):
        before_task_publish.send(sender=echo.name, headers=headers, body=None)
        in_process = echo.apply().get()
    assert headers[observability.TASK_HEADER] == "req-77"
    assert in_process == "req-77"
