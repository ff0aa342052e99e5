"""API tokens: issued, looked up, revoked. Writes and reads for the command, the admin and
the API's authentication alike.

A token's secret is 32 random bytes; the database keeps only its SHA-256. A password hasher
(PBKDF2 and the like) is made for guessable secrets and would cost its full work factor on
every API request; a secret of 256 bits needs no stretching, and a plain digest is looked
up with one index probe. Whoever reads the table learns the digests, which authenticate
nothing.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connections, router
from django.db.models import Q, QuerySet
from django.utils.timezone import now

from eventstore import sql

from .models import ApiToken
from .permissions import permissions_column, remember_permissions

_USER: Final = ApiToken._meta.get_field("user").related_model

SECRET_PREFIX: Final = "chr_"
PREFIX_LENGTH: Final = 12
LAST_USED_EVERY: Final = timedelta(minutes=1)


class TokenError(Exception):
    """A refusal of the token services, in words for whoever asked."""


def token_digest(secret: str) -> str:
    """What the database holds for ``secret``."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_issue(*, user: User, name: str = "", days: int | None = None) -> tuple[ApiToken, str]:
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


def token_list(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("created_at")


def token_revoke(*, user: User, prefix: str) -> ApiToken:
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


def _live_token(digest: str, at: datetime) -> ApiToken | None:
    """The live token of ``digest`` with its user and the user's permissions, in one query
    written out (``eventstore.sql``): every API request asks it."""
    using = router.db_for_read(ApiToken)
    found = sql.rows(using, _token_sql(using), [digest, connections[using].ops.adapt_datetimefield_value(at)])
    if not found:
        return None
    row, split = found[0], len(ApiToken._meta.concrete_fields)
    token = sql.instance(ApiToken, using, row[:split])
    token.user = sql.instance(_USER, using, row[split:-1])
    remember_permissions(token.user, row[-1])
    return token


@functools.cache
def _token_sql(alias: str) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    columns = [f"t.{quote(sql.column(f))}" for f in ApiToken._meta.concrete_fields]
    columns += [f"u.{quote(sql.column(f))}" for f in _USER._meta.concrete_fields]
    return (
        f"SELECT {', '.join(columns)}, {permissions_column('t.user_id', connection)} "
        f"FROM {quote(ApiToken._meta.db_table)} t JOIN {quote(_USER._meta.db_table)} u ON u.id = t.user_id "
        "WHERE t.digest = %s AND t.revoked_at IS NULL AND t.expires_at > %s AND u.is_active"
    )


def token_authenticate(secret: str) -> ApiToken | None:
    """The live token whose secret this is, its last use noted (at most once a minute), or
    None if there is none, or it expired, or it was revoked, or its user is inactive. The
    user's permissions come in the same query (``orders.permissions.permissions_column``)."""
    at = now()
    token = _live_token(token_digest(secret), at)
    if token is None:
        return None
    if token.last_used_at is None or token.last_used_at <= at - LAST_USED_EVERY:
        # Conditional, so concurrent requests of the same minute write once.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=at - LAST_USED_EVERY)
        ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=at)
    return token
