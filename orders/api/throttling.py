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


def _count(key: str, *, timeout: int) -> int:
    """Add one to the counter ``key`` of the default cache, made to expire after ``timeout``
    seconds when it is new; the new count. Django's ``add`` and ``incr`` take three round
    trips to Redis (SET NX, EXISTS, INCRBY): here they are one pipeline, on the cache's own
    client (``_cache``, Django's Redis client; its key and its connection pool)."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):  # local memory in development
        backend.add(key, 0, timeout=timeout)
        return backend.incr(key)
    key = backend.make_and_validate_key(key)
    with backend._cache.get_client(key, write=True).pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        return pipe.execute()[1]
