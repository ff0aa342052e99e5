"""API tokens: issued, looked up, revoked. Writes and reads for the command, the admin and
the API's authentication alike.

A token's secret is 32 random bytes; the database keeps only its SHA-256. A password hasher
(PBKDF2 and the like) is made for guessable secrets and would cost its full work factor on
every API request; a secret of 256 bits needs no stretching, and a plain digest is looked
up with one index probe. Whoever reads the table learns the digests, which authenticate
nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.utils.timezone import now

from .models import ApiToken
from .permissions import permissions_column, remember_permissions

SECRET_PREFIX: Final = "chr_"
PREFIX_LENGTH: Final = 12
LAST_USED_EVERY: Final = timedelta(minutes=1)


class TokenError(Exception):
    """A refusal of the token services, in words for whoever asked."""


def token_digest(secret: str) -> str:
    """What the database holds for ``secret``."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(*, user: AbstractBaseUser, name: str = "", days: int | None = None) -> tuple[ApiToken, str]:
    """A new token for ``user`` valid ``days`` (default ``API_TOKEN_DAYS``), and its secret,
    which is shown this once and kept nowhere."""
    days = settings.API_TOKEN_DAYS if days is None else days
    if days < 1:
        raise TokenError(f"A token must be valid for at least one day, not {days}.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    issued = now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=secret[:PREFIX_LENGTH],
        digest=token_digest(secret),
        created_at=issued,
        expires_at=issued + timedelta(days=days),
    )
    return token, secret


def token_list(*, user: AbstractBaseUser) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("created_at")


def token_revoke(*, user: AbstractBaseUser, prefix: str) -> ApiToken:
    """Revoke the one unrevoked token of ``user`` whose prefix starts with ``prefix``."""
    live = token_list(user=user).filter(revoked_at__isnull=True)
    matches = list(live.filter(prefix__startswith=prefix)) if prefix else []
    if len(matches) != 1:
        found = len(matches) or "No"
        raise TokenError(f"{found} unrevoked tokens of {user.get_username()!r} have the prefix {prefix!r}; see --list.")
    tokens_revoke(ApiToken.objects.filter(pk=matches[0].pk))
    matches[0].refresh_from_db()
    return matches[0]


def tokens_revoke(tokens: QuerySet[ApiToken]) -> int:
    """Revoke every token of ``tokens`` not revoked yet; how many that was."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=now())


def token_authenticate(secret: str) -> ApiToken | None:
    """The live token whose secret this is, its last use noted (at most once a minute), or
    None if there is none, or it expired, or it was revoked, or its user is inactive. The
    user's permissions come in the same query (``orders.permissions.permissions_column``)."""
    at = now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(secret), revoked_at__isnull=True, expires_at__gt=at, user__is_active=True)
        .annotate(permissions=permissions_column(f"{ApiToken._meta.db_table}.user_id"))
        .first()
    )
    if token is None:
        return None
    remember_permissions(token.user, token.permissions)
    if token.last_used_at is None or token.last_used_at <= at - LAST_USED_EVERY:
        # Conditional, so concurrent requests of the same minute write once.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USED_EVERY)
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=at)
    return token
