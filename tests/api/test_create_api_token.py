"""``manage.py create_api_token``: a token that authenticates as the user, nothing else."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from orders.permissions import AUDITORS
from tests.factories import member_of

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)


def create_api_token(username: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, stdout=out)
    return out.getvalue().strip()


def test_prints_a_token_that_authenticates_as_the_user_and_the_same_one_again():
    auditor = member_of(AUDITORS)
    key = create_api_token(auditor.username)
    client = APIClient(headers={"Authorization": f"Token {key}"})
    assert client.get(f"{API}events/").status_code == 200
    assert client.post(f"{API}products/", {}).status_code == 403
    assert create_api_token(auditor.username) == key


def test_an_unknown_or_inactive_user_is_refused_naming_no_one_else():
    User.objects.create_user("someone-else", password="pw")
    with pytest.raises(CommandError) as unknown:
        create_api_token("ghost")
    assert str(unknown.value) == "There is no user named 'ghost'."
    User.objects.create_user("sleeper", password="pw", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        create_api_token("sleeper")
