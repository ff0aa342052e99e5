"""The schema and docs are public in development and need a login in production."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.factories import member_of
from tests.test_settings import PRODUCTION, manage

from .conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def docs_private(settings):
    settings.API_DOCS_PUBLIC = False


def test_anyone_reads_the_schema_and_docs_where_they_are_public(settings):
    settings.API_DOCS_PUBLIC = True
    assert APIClient().get("/api/schema/", {"format": "json"}).status_code == 200
    assert APIClient().get("/api/docs/").status_code == 200


def test_without_a_login_the_schema_answers_401_in_the_api_s_shape(docs_private):
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_authenticated" and response.json()["error"]["request_id"]
    assert "openapi" not in response.content.decode()


def test_without_a_login_the_docs_page_sends_the_browser_to_sign_in(docs_private):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/login/?next=/api/docs/"


def test_a_token_reads_the_schema(docs_private):
    response = client_for(member_of(None)).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200 and response.json()["openapi"].startswith("3.")


def test_a_staff_session_reads_the_docs_and_the_schema_they_load(docs_private, client, admin_user):
    client.force_login(admin_user)
    page = client.get("/api/docs/")
    assert page.status_code == 200 and "/api/schema/" in page.content.decode()
    assert client.get("/api/schema/", {"format": "json"}).status_code == 200


def test_a_bad_token_is_refused_even_where_the_docs_are_public(settings):
    settings.API_DOCS_PUBLIC = True
    response = APIClient().get("/api/schema/", HTTP_AUTHORIZATION="Token chr_not-a-token")
    assert response.status_code == 401


@pytest.mark.parametrize(("setting", "public"), [(None, "False"), ("1", "True")])
def test_production_keeps_the_docs_private_unless_told(setting, public):
    env = {**PRODUCTION, **({"API_DOCS_PUBLIC": setting} if setting else {})}
    result = manage("shell", "-c", "from django.conf import settings; print(settings.API_DOCS_PUBLIC)", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == public
