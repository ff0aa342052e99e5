"""Rate limiting per user, counted in the default cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import UserRateThrottle

logger = logging.getLogger(__name__)


class UserThrottle(UserRateThrottle):
    """``API_THROTTLE_RATE`` requests per user, every token and session of the user together
    (anonymous requests, refused anyway, count per address).

    Fails open: the limit protects the service, so a cache that is down must not take the
    API down with it. The request goes through and the outage is logged.
    """

    def get_rate(self) -> str:
        """Read when a request comes, not when the class is imported (DRF's default), so a
        changed setting takes effect."""
        return settings.API_THROTTLE_RATE

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except RedisError:
            logger.warning("rate limiting skipped: the cache is unreachable", exc_info=True)
            return True
