"""No admin page answers 5xx because of what is in its query string: impossible dates,
years 1 and 9999, huge and negative numbers, non-UUIDs, 10 KB strings. Each is read into a
clear message, a 400 or the admin's own "invalid lookup" page."""

import re
from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver

from eventstore.models import Event
from orders.history_builder import Shop
from projections.models import Checkpoint
from tests.projections.support import catch_up_all
from tests.support import HOSTILE_VALUES, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)

# What each kind of admin page reads from its query string: the lists (and the log's
# exports, which take the same filters) their filters and Django's paging, ordering and
# search; an entity page the position to wait for; its history and time travel their own.
LIST_PARAMETERS = {
    "eventstore/event": ("recorded_from", "recorded_to", "cause", "correlation", "actor", "source", "event_type"),
    "orders/order": ("created_from", "created_to", "total_min", "total_max", "status", "customer"),
    "orders/product": ("stock", "discontinued__exact", "currency"),
}
PAGE_PARAMETERS = {
    "history": ("after_version", "limit"),
    "state": ("at", "version"),
    "create": ("customer",),
    "consistency": ("first", "second"),
}


def parameters(url: str) -> tuple[str, ...]:
    """The query parameters the page at ``url`` reads."""
    parts = url.removeprefix("/admin/").rstrip("/").split("/")
    if len(parts) <= 2 or parts[2].startswith("export."):
        return ("p", "o", "q", *LIST_PARAMETERS.get("/".join(parts[:2]), ()))
    return PAGE_PARAMETERS.get(parts[-1], ("after",))


# Pages that take no GET worth trying (POST-only, or Django's catch-alls).
SKIPPED = ("(?P<url>", "^(?P<app_label>", "/delete/", "/retry/", "/rebuild/")


def _patterns(patterns: list, prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def admin_urls(ids: dict[str, str]) -> list[str]:
    """Every admin page of the shop and the log, with real ids in its path."""
    urls = set()
    for pattern in _patterns(admin.site.urls[0]):
        if pattern.startswith("auth/") or any(part in pattern for part in SKIPPED):
            continue
        url = pattern.replace("<str:kind>/<uuid:stream_id>", f"order/{ids['order']}").replace("<str:name>", "orders")
        model = pattern.partition("/")[2].partition("/")[0]  # "order" of "orders/order/<uuid:object_id>/"
        url = re.sub(r"<(uuid|path):\w+>", ids.get(model, ""), url)
        urls.add("/admin/" + url)
    return sorted(urls)


@pytest.fixture
def shop_ids() -> dict[str, str]:
    shop = Shop()
    customer = shop.register_customer()
    product = shop.create_product("MUG-1", "Mug", "12.50", stock=5)
    order = shop.order(customer, {product: 1})
    catch_up_all()
    assert Checkpoint.objects.filter(name="orders").exists()
    event = Event.objects.order_by("position").first()
    seal = seal_everything()
    return {
        "order": str(order),
        "product": str(product),
        "customer": str(customer),
        "event": str(event.position),
        "seal": str(seal.tree_size),
    }


@pytest.fixture
def superuser() -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("root", password="pw"))
    return client


@pytest.mark.parametrize(
    "page, query",
    [
        ("order/{order}/state/", {"at": "2024-02-30T10:00:00"}),
        ("order/{order}/state/", {"at": "0001-01-01T00:00:00"}),
        ("order/{order}/history/", {"after_version": "99999999999999999999"}),
        ("order/{order}/", {"after": "99999999999999999999"}),
        ("order/{order}/change/", {"after": "99999999999999999999"}),
    ],
)
def test_the_odd_parameters_found_are_read_not_fatal(superuser, shop_ids, page, query):
    response = superuser.get("/admin/orders/" + page.format(**shop_ids), query)
    assert response.status_code in (200, 302, 400), response.status_code


def test_a_recorded_from_before_year_one_in_utc_is_a_message_on_the_event_log(superuser, shop_ids):
    response = superuser.get("/admin/eventstore/event/", {"recorded_from": "0001-01-01T00:00"})
    assert response.status_code in (200, 302, 400), response.status_code


def test_a_moment_that_cannot_exist_is_named_on_the_time_travel_page(superuser, shop_ids):
    response = superuser.get(f"/admin/orders/order/{shop_ids['order']}/state/", {"at": "2024-02-30T10:00:00"})
    assert response.status_code == 200 and response.context["bad_moment"]


def test_no_admin_page_answers_5xx_to_any_hostile_parameter(superuser, shop_ids):
    urls = admin_urls(shop_ids)
    assert (
        f"/admin/eventstore/seal/{shop_ids['seal']}/change/" in urls and "/admin/eventstore/seal/consistency/" in urls
    )
    failures = []
    for url in urls:
        for name in parameters(url):
            for value in HOSTILE_VALUES:
                status = superuser.get(url, {name: value}).status_code
                if status >= 500:
                    failures.append(f"{url}?{name}={value[:40]} -> {status}")
    assert not failures, "\n".join(failures)
