"""Settings from the environment: the embedded default, PostgreSQL, and production."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "EVENT_SIGNING_KEY": "an-event-signing-key-that-is-long-enough",
    "SEAL_SIGNING_KEY": "c2VhbC1zaWduaW5nLWtleS1vZi0zMi1ieXRlcyEhISE=",
    "SEAL_SIGNING_KEY_ID": "s2026",
    "ALLOWED_HOSTS": "shop.example",
    "DATABASE_URL": "postgres://chronicle@db.internal:5432/chronicle",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "METRICS_TOKEN": "a-metrics-token-for-the-scraper-only",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "DEBUG"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_commands_commit_in_their_handlers_not_per_request():
    assert not settings.DATABASES["default"].get("ATOMIC_REQUESTS", False)


@pytest.mark.django_db
def test_the_configured_database_is_tuned_for_concurrent_writers():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA busy_timeout")
            assert cursor.fetchone()[0] >= 5000
            assert connection.transaction_mode == "IMMEDIATE"
        else:
            cursor.execute("SHOW idle_in_transaction_session_timeout")
            assert cursor.fetchone()[0] == "30s"
            assert connection.pool is not None


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "EVENT_SIGNING_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "METRICS_TOKEN"]
)
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_ENV=production" in result.stderr


def test_production_refuses_a_short_signing_key():
    result = manage("check", **{**PRODUCTION, "EVENT_SIGNING_KEY": "short"})
    assert result.returncode != 0
    assert "EVENT_SIGNING_KEY must be at least 32 characters" in result.stderr


def test_production_passes_the_deployment_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_health_probes_are_exempt_from_the_https_redirect_in_production():
    script = (
        "import django; django.setup(); from django.test import Client; c = Client(); "
        "print(c.get('/healthz', HTTP_HOST='shop.example').status_code, c.get('/admin/', HTTP_HOST='shop.example').status_code)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if k not in PRODUCTION},
            **PRODUCTION,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        },
    )
    assert result.stdout.split() == ["200", "301"], result.stderr[-2000:]


def test_read_models_are_read_from_a_replica_when_there_is_one(monkeypatch):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.routers import ReadReplicaRouter, ReplicaReadsMiddleware
    from eventstore.models import Event
    from projections.models import OrderSummary

    router = ReadReplicaRouter()
    seen = {}

    def view(request):
        seen[request.method] = router.db_for_read(OrderSummary), router.db_for_read(Event)
        return HttpResponse()

    middleware = ReplicaReadsMiddleware(view)
    middleware(RequestFactory().get("/"))
    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    middleware(RequestFactory().head("/"))
    middleware(RequestFactory().post("/"))
    assert seen == {"GET": (None, None), "HEAD": ("replica", None), "POST": (None, None)}
    assert router.db_for_read(OrderSummary) is None  # outside requests: workers use the primary
    assert router.db_for_write(OrderSummary) == "default" and not router.allow_migrate("replica", "projections")


def test_the_replica_serves_read_models_by_their_table_never_the_write_side_s(monkeypatch):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.routers import ReadReplicaRouter, ReplicaReadsMiddleware
    from orders.models import Command, Customer, IdempotencyRecord, Order, Product, UniqueClaim
    from projections.models import Checkpoint

    router = ReadReplicaRouter()
    models = (Order, Product, Customer, Checkpoint, IdempotencyRecord, UniqueClaim, Command)
    seen = {}

    def view(request):
        seen.update({model.__name__: router.db_for_read(model) for model in models})
        return HttpResponse()

    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    ReplicaReadsMiddleware(view)(RequestFactory().get("/"))
    assert seen == {
        "Order": "replica",
        "Product": "replica",
        "Customer": "replica",
        "Checkpoint": "replica",
        "IdempotencyRecord": None,
        "UniqueClaim": None,
        "Command": None,
    }


@pytest.fixture
def mirrored_replica(monkeypatch):
    """A ``replica`` alias that is the default connection, as the test runner's mirror makes it."""
    from django.db import connections

    monkeypatch.setitem(settings.DATABASES, "replica", settings.DATABASES["default"])
    connections["replica"] = connections["default"]
    yield
    del connections["replica"]


@pytest.mark.django_db(transaction=True)
def test_a_session_reads_the_primary_after_its_command_until_the_replica_shows_it(mirrored_replica):
    from django.http import HttpResponse
    from django.test import RequestFactory

    from config.routers import ReadReplicaRouter, ReplicaReadsMiddleware
    from orders.domain import commands as c
    from projections import freshness
    from projections.models import ProductStock
    from tests.factories import product, run
    from tests.projections.support import settle

    pid = product()
    settle()
    position = run(c.ReceiveStock(pid, 4)).position
    session: dict = {}
    freshness.remember_write(session, ["stock"], position)
    read_from = []

    def view(request):
        read_from.append(ReadReplicaRouter().db_for_read(ProductStock))
        return HttpResponse()

    def get() -> None:
        request = RequestFactory().get("/")
        request.session = session
        ReplicaReadsMiddleware(view)(request)

    get()
    assert read_from == [None] and freshness.LAST_WRITE in session  # the replica lacks it: the primary
    settle()
    get()
    get()
    assert read_from == [None, "replica", "replica"]
    assert freshness.LAST_WRITE not in session  # shown once: forgotten


def test_without_a_replica_a_session_keeps_no_last_write():
    from projections import freshness

    session: dict = {}
    freshness.remember_write(session, ["stock"], 7)
    assert session == {}


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {*PRODUCTION, "DEBUG", "DATABASE_OWNER_URL"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


OWNER = {"DATABASE_OWNER_URL": "postgres://chronicle_owner@db.internal:5432/chronicle"}
STARTS = {
    "web": "import config.wsgi",
    "worker": "from celery.signals import worker_init; from config.celery import app; worker_init.send(sender=None)",
    "beat": "from celery.signals import beat_init; from config.celery import app; beat_init.send(sender=None)",
}


@pytest.mark.parametrize("process", STARTS)
def test_production_web_and_workers_refuse_the_owners_credentials(process):
    refused = python(STARTS[process], **PRODUCTION, **OWNER)
    assert refused.returncode != 0
    assert f"DATABASE_OWNER_URL is set in the {process} process's environment" in refused.stderr
    assert python(STARTS[process], **PRODUCTION).returncode == 0


def test_the_release_step_may_hold_the_owners_credentials():
    result = manage("check", "--deploy", "--fail-level", "ERROR", **PRODUCTION, **OWNER)
    assert result.returncode == 0, result.stderr
