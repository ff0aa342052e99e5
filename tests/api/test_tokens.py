"""API tokens: only a digest is stored, and an expired, revoked or unknown token is a 401
in the API's error shape; the last use is written at most once a minute."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from orders import tokens
from orders.models import ApiToken
from orders.permissions import AUDITORS
from orders.tokens import token_issue, tokens_revoke
from tests.factories import member_of

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)


def get_events(secret: str):
    return APIClient(headers={"Authorization": f"Token {secret}"}).get(f"{API}events/")


def assert_refused(secret: str) -> None:
    response = get_events(secret)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("authentication_failed", "Invalid, expired or revoked token.")


def all_columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return [column.name for column in description]


def test_no_column_of_the_token_table_holds_the_secret_only_its_sha256():
    token, secret = token_issue(user=member_of(AUDITORS), name="sync")
    assert token.digest == hashlib.sha256(secret.encode()).hexdigest() != secret
    columns = all_columns(ApiToken._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {ApiToken._meta.db_table}")
        stored = [str(value) for row in cursor.fetchall() for value in row]
    assert not any(secret in value for value in stored)
    assert token.prefix == secret[:12] and len(secret) > 40


def test_a_live_token_authenticates_and_a_default_one_lasts_api_token_days(settings):
    settings.API_TOKEN_DAYS = 5
    token, secret = token_issue(user=member_of(AUDITORS))
    assert get_events(secret).status_code == 200
    assert token.expires_at - token.created_at == timedelta(days=5)


def test_expired_revoked_and_unknown_tokens_are_401_in_the_error_shape():
    auditor = member_of(AUDITORS)
    expired, expired_secret = token_issue(user=auditor)
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_refused(expired_secret)
    revoked, revoked_secret = token_issue(user=auditor)
    assert tokens_revoke(ApiToken.objects.filter(pk=revoked.pk)) == 1
    assert_refused(revoked_secret)
    assert_refused("chr_not-a-token-anyone-was-given")


def test_the_token_of_an_inactive_user_is_refused():
    user = member_of(AUDITORS)
    secret = token_issue(user=user)[1]
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_refused(secret)


def test_the_last_use_is_written_at_most_once_a_minute(monkeypatch):
    token, secret = token_issue(user=member_of(AUDITORS))
    start = timezone.now()
    for offset, expected in ((0, 0), (59, 0), (60, 60), (61, 60), (125, 125)):
        monkeypatch.setattr(tokens, "now", lambda offset=offset: start + timedelta(seconds=offset))
        assert get_events(secret).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at == start + timedelta(seconds=expected), offset


def test_a_request_within_the_minute_writes_nothing(django_assert_num_queries):
    secret = token_issue(user=member_of(AUDITORS))[1]
    tokens.token_authenticate(secret)
    with django_assert_num_queries(1):
        assert tokens.token_authenticate(secret) is not None
