"""``manage.py create_api_token``: a new secret each time, printed once; --list and --revoke."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from orders.models import ApiToken
from orders.permissions import AUDITORS
from tests.factories import member_of

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)


def create_api_token(username: str, *options: str) -> str:
    out = StringIO()
    call_command("create_api_token", username, *options, stdout=out)
    return out.getvalue().strip()


def test_prints_a_new_secret_that_authenticates_as_the_user_each_time():
    auditor = member_of(AUDITORS)
    secret = create_api_token(auditor.username, "--name", "sync", "--days", "7")
    client = APIClient(headers={"Authorization": f"Token {secret}"})
    assert client.get(f"{API}events/").status_code == 200
    assert client.post(f"{API}products/", {}).status_code == 403
    assert create_api_token(auditor.username) != secret
    first = ApiToken.objects.filter(user=auditor).order_by("created_at").first()
    assert (first.name, (first.expires_at - first.created_at).days) == ("sync", 7)


def test_lists_tokens_without_their_secrets_and_revokes_one_by_prefix():
    auditor = member_of(AUDITORS)
    secret = create_api_token(auditor.username, "--name", "sync")
    listing = create_api_token(auditor.username, "--list").splitlines()
    assert listing[0].split("\t")[:2] == ["prefix", "name"]
    assert listing[1].split("\t")[:2] == [secret[:12], "sync"] and secret not in "\n".join(listing)
    assert create_api_token(auditor.username, "--revoke", secret[:12]) == f"Revoked {secret[:12]}."
    assert create_api_token(auditor.username, "--list").splitlines()[1].split("\t")[-1] != "-"
    assert APIClient(headers={"Authorization": f"Token {secret}"}).get(f"{API}events/").status_code == 401


def test_an_unknown_or_inactive_user_is_refused_naming_no_one_else():
    User.objects.create_user("someone-else", password="pw")
    with pytest.raises(CommandError) as unknown:
        create_api_token("ghost")
    assert str(unknown.value) == "There is no user named 'ghost'."
    User.objects.create_user("sleeper", password="pw", is_active=False)
    with pytest.raises(CommandError, match="inactive"):
        create_api_token("sleeper")


def test_a_bad_prefix_or_days_is_refused_in_one_line():
    auditor = member_of(AUDITORS)
    with pytest.raises(CommandError) as unknown:
        create_api_token(auditor.username, "--revoke", "chr_nothing")
    assert (
        str(unknown.value) == f"No unrevoked tokens of {auditor.username!r} have the prefix 'chr_nothing'; see --list."
    )
    with pytest.raises(CommandError) as days:
        create_api_token(auditor.username, "--days", "0")
    assert str(days.value) == "A token must be valid for at least one day, not 0."
