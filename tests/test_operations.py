"""Health endpoints and metrics."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from config.celery import app
from eventstore.models import Event
from orders.domain import commands as c
from tests.factories import product, run
from tests.projections.processes import RedisServer

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parent.parent


def test_healthz_answers_whenever_the_process_runs(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_checks_the_database_and_migrations(client):
    body = client.get("/readyz").json()
    assert (body["status"], body["database"], body["migrations"]) == ("ok", "ok", "ok")
    assert body["broker"] in {"ok", "embedded"}
    # A file database has no privileges to check (tests/eventstore/test_privileges.py: roles).
    assert body["log_privileges"] in ({"insert-only", "unsafe"} if connection.vendor == "postgresql" else {"unchecked"})


def readyz_elsewhere(**env: str) -> tuple[int, dict]:
    """/readyz answered by a fresh process configured by ``env``."""
    script = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/readyz'); print(r.status_code, json.dumps(r.json()))"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
    )
    status, body = result.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), json.loads(body)


def test_readyz_is_unavailable_without_a_database_or_before_migrating(tmp_path):
    status, body = readyz_elsewhere(SQLITE_PATH=str(tmp_path / "missing" / "db.sqlite3"))
    assert status == 503 and body["database"].startswith("unreachable")
    status, body = readyz_elsewhere(SQLITE_PATH=str(tmp_path / "new.sqlite3"))
    assert status == 503 and body["migrations"].endswith("migrations not applied")


def test_a_broker_that_is_away_is_degraded_but_still_ready(client, settings, monkeypatch, tmp_path):
    redis = RedisServer(tmp_path / "redis.log")
    redis.start()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(app.conf, "broker_url", redis.url)
    try:
        assert client.get("/readyz").json()["broker"] == "ok"
        redis.stop()
        away = client.get("/readyz")
        assert (away.status_code, away.json()["broker"]) == (200, "degraded")
        redis.start()
        assert client.get("/readyz").json()["broker"] == "ok"
    finally:
        redis.stop()


def test_metrics_count_events_commands_and_report_the_feed_head(client, settings):
    settings.METRICS_TOKEN = "s3cret-token"
    pid = product()
    run(c.ReceiveStock(pid, 2))
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").content.decode()
    assert 'chronicle_events_appended_total{event_type="StockReceived",stream_type="product"}' in text
    assert 'chronicle_command_duration_seconds_count{command="ReceiveStock",outcome="ok"}' in text
    head = Event.objects.order_by("-position").first().position
    assert f"chronicle_feed_head_position {float(head)}" in text


def test_metrics_without_a_token_answer_only_the_allowed_addresses(client, settings):
    settings.METRICS_TOKEN = None
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_readyz_reports_each_subscriber_and_a_failed_one_degrades_without_failing_readiness(client):
    from projections.models import Checkpoint
    from projections.runner import catch_up

    catch_up()
    body = client.get("/readyz").json()
    assert set(body["subscribers"]) == {"orders", "stock", "customers", "sales"}
    assert set(body["subscribers"].values()) == {"ok"}
    Checkpoint.objects.filter(name="stock").update(state=Checkpoint.FAILED, last_error="boom")
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["subscribers"]["stock"] == "degraded"


def test_metrics_show_each_subscribers_lag_after_events_are_appended(client):
    from projections.runner import catch_up
    from tests.projections.support import feed_passed_everything

    catch_up()
    run(c.ReceiveStock(product(), 2))
    feed_passed_everything()
    text = client.get("/metrics").content.decode()
    assert 'chronicle_subscriber_lag_events{subscriber="stock"} 2.0' in text  # created, received
    assert 'chronicle_subscriber_failed{subscriber="stock"} 0.0' in text
    assert 'chronicle_subscriber_lag_seconds{subscriber="orders"} 0.0' in text
