"""No API query answers 5xx because of its query string: every parameter of every GET
endpoint, with impossible dates, years 1 and 9999 (with offsets that carry them past what
UTC can hold), huge and negative numbers, non-UUIDs and 10 KB strings, is a 400 in the
API's error shape or an answer."""

import pytest

from eventstore.models import Event
from tests.factories import order_at
from tests.support import HOSTILE_VALUES, seal_everything

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

LIST = ("cursor", "limit", "min_position")
ENDPOINTS = {
    "customers/": LIST,
    "products/": LIST,
    "orders/": (*LIST, "status", "customer_id", "placed_after", "placed_before"),
    "orders/{id}/": ("min_position",),
    "orders/{id}/history/": ("after_version", "limit"),
    "orders/{id}/state/": ("version", "at"),
    "events/": ("after", "limit", "stream_type", "event_type"),
    "events/{event_id}/proof/": ("tree_size",),
    "log/seals/": ("cursor", "limit"),
    "log/consistency/": ("first", "second"),
}


def test_no_query_answers_5xx_to_any_hostile_parameter(auditor_api, settings):
    settings.API_MIN_POSITION_WAIT_SECONDS = 0  # a made-up min_position must not hold each request
    order = order_at("paid")
    event_id = seal_everything() and Event.objects.order_by("position").values_list("event_id", flat=True).first()
    failures = []
    for path, names in ENDPOINTS.items():
        for name in names:
            for value in HOSTILE_VALUES:
                response = auditor_api.get(API + path.format(id=order, event_id=event_id), {name: value})
                if response.status_code >= 500 or response["Content-Type"] != "application/json":
                    failures.append(f"{path}?{name}={value[:40]} -> {response.status_code}")
    assert not failures, "\n".join(failures)
