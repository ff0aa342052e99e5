"""Rate limiting per user, counted in the default cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class UserThrottle(BaseThrottle):
    """At most ``API_THROTTLE_RATE`` requests per user in each window (each minute for
    "1200/minute"), all of the user's tokens and sessions together; anonymous requests,
    refused anyway, count per address.

    One atomic increment per request, in one round trip to Redis, unlike DRF's throttles,
    which read and rewrite a list of every request's time in the window (a race under
    concurrency, and kilobytes per request at high rates). Fails open: the limit protects the service, so a cache
    that is down must not take the API down with it; the request goes through and the
    outage is logged.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        count, _, period = settings.API_THROTTLE_RATE.partition("/")
        window = SECONDS[period[0]]
        now = time.time()
        self.window_ends = (now // window + 1) * window
        user = request.user
        who = user.pk if user and user.is_authenticated else self.get_ident(request)
        key = f"throttle:{who}:{window}:{int(now // window)}"
        try:
            return _count(key, timeout=window + 1) <= int(count)
        except RedisError:
            logger.warning("rate limiting skipped: the cache is unreachable", exc_info=True)
            return True

    def wait(self) -> float:
        return max(1.0, self.window_ends - time.time())


# INCR, and EXPIRE for a new counter, as one atomic command.
_COUNT = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end return n"


def _count(key: str, *, timeout: int) -> int:
    """Add one to the counter ``key`` of the default cache, made to expire after ``timeout``
    seconds when it is new; the new count. Django's ``add`` and ``incr`` take three round
    trips to Redis (SET NX, EXISTS, INCRBY): here they are one script."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):  # local memory in development
        backend.add(key, 0, timeout=timeout)
        return backend.incr(key)
    return _client(backend).eval(_COUNT, 1, backend.make_and_validate_key(key), timeout)


def _client(backend: RedisCache) -> Any:
    """The cache's Redis client for writes, one per cache backend (one per thread): redis-py
    builds a table of some 170 reply callbacks for every client, and Django's cache builds a
    client for every call. (``_cache`` is Django's Redis client of the backend.)"""
    client = backend.__dict__.get("_chronicle_client")
    if client is None:
        client = backend._chronicle_client = backend._cache.get_client(write=True)  # type: ignore[attr-defined]  # private, not in the stubs
    return client
