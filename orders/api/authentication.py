"""``Authorization: Token <secret>`` checked against ``orders.tokens``: an unknown, expired
or revoked token is DRF's ``AuthenticationFailed``, a 401 in the API's error shape."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from orders.tokens import token_authenticate


class ApiTokenAuthentication(TokenAuthentication):
    """DRF's header parsing and ``WWW-Authenticate: Token``; our lookup."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = token_authenticate(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token
