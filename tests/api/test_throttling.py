"""Rate limits per user, counted in Redis, and an API that keeps working when Redis is down."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis
from django.core.cache import cache

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen]]:
    """A Redis server of this test's own, on a free port, never the shared one."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield url, server
    server.kill()
    server.wait(10)


def test_a_user_past_the_rate_is_refused_with_429_and_retry_after(api, auditor_api, settings):
    settings.CACHES = LOCAL_MEMORY
    settings.API_THROTTLE_RATE = "2/day"
    cache.clear()
    assert [api.get(f"{API}events/").status_code for _ in range(2)] == [200, 200]

    refused = api.get(f"{API}events/")

    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 86400
    assert refused.json()["error"]["code"] == "throttled"
    assert auditor_api.get(f"{API}events/").status_code == 200  # another user counts apart


def test_limits_are_counted_in_redis_and_fail_open_when_it_is_down(api, settings, own_redis, caplog):
    url, server = own_redis
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    settings.API_THROTTLE_RATE = "2/day"
    assert [api.get(f"{API}events/").status_code for _ in range(3)] == [200, 200, 429]
    assert any(key.startswith(b":1:throttle:") for key in redis.Redis.from_url(url).keys())  # noqa: SIM118 -- Redis's KEYS, not a dict

    server.kill()
    server.wait(10)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="orders.api.throttling"):
        responses = [api.get(f"{API}events/") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert time.monotonic() - started < 5
    assert "rate limiting skipped: the cache is unreachable" in caplog.text
