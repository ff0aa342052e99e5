"""No API query answers 5xx because of its query string: every parameter of every GET
endpoint, with impossible dates, years 1 and 9999 (with offsets that carry them past what
UTC can hold), huge and negative numbers, non-UUIDs and 10 KB strings, is a 400 in the
API's error shape or an answer."""

import pytest

from tests.factories import order_at

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

HOSTILE = [
    "2024-02-30T10:00:00",
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59",
    "99999999999999999999",
    "-99999999999999999999",
    "-1",
    "1e400",
    "NaN",
    "not-a-uuid",
    "x" * 10_240,
]
LIST = ("cursor", "limit", "min_position")
ENDPOINTS = {
    "customers/": LIST,
    "products/": LIST,
    "orders/": (*LIST, "status", "customer_id", "placed_after", "placed_before"),
    "orders/{id}/": ("min_position",),
    "orders/{id}/history/": ("after_version", "limit"),
    "orders/{id}/state/": ("version", "at"),
    "events/": ("after", "limit", "stream_type", "event_type"),
}


def test_no_query_answers_5xx_to_any_hostile_parameter(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 0  # a made-up min_position must not hold each request
    order = order_at("paid")
    failures = []
    for path, names in ENDPOINTS.items():
        for name in names:
            for value in HOSTILE:
                response = auditor_api.get(API + path.format(id=order), {name: value})
                if response.status_code >= 500 or response["Content-Type"] != "application/json":
                    failures.append(f"{path}?{name}={value[:40]} -> {response.status_code}")
    assert not failures, "\n".join(failures)
