"""API tokens in the admin: listed without their secrets, revoked by an action, issued only
by the command."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orders.models import ApiToken
from orders.permissions import AUDITORS
from orders.tokens import token_issue
from tests.factories import member_of

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:orders_apitoken_changelist")


def test_the_list_shows_prefix_and_name_never_the_secret_and_offers_no_add(superuser_client):
    token, secret = token_issue(user=member_of(AUDITORS), name="warehouse sync")
    page = superuser_client.get(CHANGELIST).content.decode()
    assert token.prefix in page and "warehouse sync" in page and secret not in page
    detail = superuser_client.get(reverse("admin:orders_apitoken_change", args=[token.pk])).content.decode()
    assert secret not in detail and token.digest not in detail
    assert superuser_client.get(reverse("admin:orders_apitoken_add")).status_code == 403


def test_the_revoke_action_revokes_the_selected_tokens_only(superuser_client):
    user = member_of(AUDITORS)
    chosen, kept = token_issue(user=user)[0], token_issue(user=user)[0]
    response = superuser_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [chosen.pk]}, follow=True)
    assert "Revoked 1 token(s)." in response.content.decode()
    assert ApiToken.objects.get(pk=chosen.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=kept.pk).revoked_at is None


def test_auditors_see_the_tokens_as_they_read_everything_but_only_superusers_revoke(auditor_client):
    token = token_issue(user=member_of(AUDITORS))[0]
    page = auditor_client.get(CHANGELIST)
    assert page.status_code == 200 and token.prefix in page.content.decode()
    assert page.context["action_form"] is None
    auditor_client.post(CHANGELIST, {"action": "revoke", "_selected_action": [token.pk]})
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
