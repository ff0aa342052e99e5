"""API clients for each kind of user, authenticated with a token as integrations are."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from orders.permissions import AUDITORS, OPERATORS
from orders.tokens import token_issue
from tests.factories import member_of

API = "/api/v1/"


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user)[1]}")
    return client


@pytest.fixture
def operator() -> User:
    return member_of(OPERATORS)


@pytest.fixture
def api(operator: User) -> APIClient:
    """An Operator's client: may issue every command and read everything."""
    return client_for(operator)


@pytest.fixture
def auditor_api() -> APIClient:
    """An Auditor's client: may read everything and issue nothing."""
    return client_for(member_of(AUDITORS))


@pytest.fixture
def outsider_api() -> APIClient:
    """A user in no group: may do nothing."""
    return client_for(member_of(None))
