"""The OpenAPI schema documents every endpoint, and the API keeps to it under fuzzing."""

from __future__ import annotations

import re

import pytest
import schemathesis
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application
from orders.tokens import token_issue
from tests.factories import member_of

pytestmark = pytest.mark.django_db(transaction=True)

# Each operation gets this many generated requests, positive and negative: about a minute
# for all of them on the CI machine.
EXAMPLES_PER_OPERATION = 40


def api_routes(patterns: list, prefix: str = "") -> set[str]:
    """Every route under /api/v1/, as the schema spells it (``{id}`` for ``<uuid:id>``)."""
    routes = set()
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes |= api_routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
            routes.add("/" + re.sub(r"<\w+:(\w+)>", r"{\1}", route))
    return routes


def test_the_schema_documents_every_endpoint_with_its_errors_and_headers():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == api_routes(get_resolver().url_patterns)
    command = schema["paths"]["/api/v1/orders/{id}/pay/"]["post"]
    assert {p["name"] for p in command["parameters"]} >= {"id", "If-Match", "Idempotency-Key", "X-Request-ID"}
    assert set(command["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "415", "422", "429"}
    assert command["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PayOrderInput")
    create = schema["paths"]["/api/v1/customers/"]["post"]["responses"]["201"]
    assert {"Location", "ETag"} <= set(create["headers"])
    feed = schema["paths"]["/api/v1/events/"]["get"]
    assert {p["name"] for p in feed["parameters"]} >= {"after", "limit", "stream_type", "event_type"}
    proof = schema["paths"]["/api/v1/events/{event_id}/proof/"]["get"]
    assert {p["name"] for p in proof["parameters"]} >= {"event_id", "tree_size"}
    assert set(proof["responses"]) == {"200", "400", "401", "403", "404", "409", "429"}
    seals = schema["paths"]["/api/v1/log/seals/"]["get"]
    assert seals["operationId"] == "log_seals_list" and {p["name"] for p in seals["parameters"]} >= {"cursor", "limit"}
    assert set(schema["components"]["schemas"]["ErrorDetail"]["properties"]) == {
        "code",
        "message",
        "fields",
        "current_version",
        "request_id",
    }


def test_the_interactive_docs_are_served_from_local_files():
    page = APIClient().get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "/api/schema/" in page


@pytest.fixture
def superuser_token(settings) -> dict[str, str]:
    """A superuser may call everything; the fuzzer is not to be throttled."""
    settings.API_THROTTLE_RATE = "100000/minute"
    user = member_of(None)
    user.is_superuser = True
    user.save()
    return {"Authorization": f"Token {token_issue(user=user)[1]}"}


# Loaded when the tests are collected (schemathesis' lazy loading from a fixture does not
# work with pytest 9); reading the schema needs no database.
fuzzed = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.mark.postgres(reason="the PostgreSQL pass of CI fuzzes the API once; SQLite adds nothing to it")
@fuzzed.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
def test_no_input_gets_a_server_error_and_every_answer_matches_the_schema(case, superuser_token):
    case.call_and_validate(
        headers=superuser_token,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_headers_conformance,
            response_schema_conformance,
        ],
    )


def test_a_command_endpoint_is_documented_by_its_command_then_by_what_http_adds():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()

    refund = schema["paths"]["/api/v1/orders/{id}/refund/"]["post"]
    assert refund["summary"] == "Refund money paid for an order, in its currency, with a reason."
    assert refund["description"].startswith("At most what was paid and not yet refunded.")
    assert refund["description"].endswith("422 `refund_exceeds_paid`.")
