"""The projections page: every subscriber's checkpoint, lag, state and failure, for Operators
and Auditors; retry and rebuild for superusers only, each confirmed before it acts."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from eventstore.models import Event
from orders.domain import commands as c
from projections.models import Checkpoint, ProductStock
from tests.factories import customer, product, run
from tests.projections.support import catch_up_all, settle, snapshot

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = reverse("admin:projections_checkpoint_changelist")


def retry_url(name: str) -> str:
    return reverse("admin:chronicle_projection_retry", args=[name])


def rebuild_url(name: str) -> str:
    return reverse("admin:chronicle_projection_rebuild", args=[name])


def cancel_url(name: str) -> str:
    return reverse("admin:chronicle_projection_cancel", args=[name])


def states(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-subscriber="(\w+)" data-state="([\w ]+)"', html))


@pytest.fixture
def stock_failed(poisoned_stock):
    """The stock projection stopped at a negative adjustment of a mug (3 received, 1 broken)."""
    mug = product(sku="MUG-1", stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    catch_up_all_but_stock()
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.FAILED
    return mug


def catch_up_all_but_stock() -> None:
    assert settle()["stock"] == "failed"


def test_auditors_see_each_subscribers_checkpoint_lag_state_and_the_failing_event(stock_failed, auditor_client):
    customer()  # not handled yet by those that take customer events

    response = auditor_client.get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert states(html) == {"orders": "running", "stock": "failed", "customers": "running", "sales": "caught up"}
    poison = Event.objects.get(event_type="StockAdjusted")
    event_url = reverse("admin:eventstore_event_change", args=[poison.position])
    assert f'<a href="{event_url}" class="failed-event">position {poison.position} (StockAdjusted)</a>' in html
    assert "ValueError: cannot count below zero" in html
    stock_row = html[html.index('data-subscriber="stock"') :].split("</tr>")[0]
    assert re.search(r'class="num behind">1<', stock_row)  # the poison itself is still to handle
    orders_row = html[html.index('data-subscriber="orders"') :].split("</tr>")[0]
    assert re.search(r'class="num behind">1<', orders_row)  # the new customer
    assert "Retry</a>" not in html and "Rebuild</a>" not in html
    assert auditor_client.get(event_url).status_code == 200


def test_people_without_view_permission_on_projections_are_refused(outsider_client):
    assert outsider_client.get(PAGE).status_code == 403


@pytest.mark.parametrize("who", ["auditor_client", "operator_client"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_retry_rebuild_and_cancel_are_refused_to_everyone_but_superusers(stock_failed, request, who, method):
    client = request.getfixturevalue(who)
    before = snapshot()

    for url in (retry_url("stock"), rebuild_url("stock"), cancel_url("stock")):
        assert getattr(client, method)(url).status_code == 403

    stock = Checkpoint.objects.get(name="stock")
    assert (stock.state, stock.rebuilt_at) == (Checkpoint.FAILED, None)
    assert snapshot() == before


def test_a_superuser_confirms_a_retry_and_the_fixed_subscriber_resumes_at_the_failed_event(
    stock_failed, poisoned_stock, superuser_client, embedded
):
    confirm = superuser_client.get(retry_url("stock"))
    assert confirm.status_code == 200
    assert "Yes, retry stock" in confirm.content.decode() and 'method="post"' in confirm.content.decode()
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.FAILED  # a GET changes nothing

    poisoned_stock.undo()  # the bug is fixed
    response = superuser_client.post(retry_url("stock"))

    assert (response.status_code, response["Location"]) == (302, PAGE)
    stock = Checkpoint.objects.get(name="stock")
    assert (stock.state, stock.last_error, stock.failed_position) == (Checkpoint.RUNNING, "", None)
    assert ProductStock.objects.get(id=stock_failed).on_hand == 2
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Retried stock: caught up, 1 events handled."]
    assert states(superuser_client.get(PAGE).content.decode())["stock"] == "caught up"


def test_a_retry_that_fails_again_says_so_and_leaves_the_subscriber_failed(stock_failed, superuser_client, embedded):
    response = superuser_client.post(retry_url("stock"))
    assert next(str(m) for m in get_messages(response.wsgi_request)).startswith("stock failed again")
    assert Checkpoint.objects.get(name="stock").state == Checkpoint.FAILED


def test_a_superuser_confirms_a_rebuild_and_the_read_models_come_out_equal(superuser_client, embedded):
    mug = product(sku="MUG-1", stock=3)
    run(c.AdjustStock(mug, -1, "Broken."))
    customer()
    catch_up_all()
    before = snapshot()

    page = superuser_client.get(PAGE).content.decode()
    assert f'href="{rebuild_url("stock")}">Rebuild</a>' in page and "Retry</a>" not in page
    assert "No broker is configured (the embedded default): a rebuild or retry runs inside the" in page
    confirm = superuser_client.get(rebuild_url("stock"))
    assert confirm.status_code == 200 and "Yes, rebuild stock" in confirm.content.decode()
    assert "It runs in this request (no broker is configured)" in confirm.content.decode()
    assert Checkpoint.objects.get(name="stock").rebuilt_at is None  # a GET changes nothing

    response = superuser_client.post(rebuild_url("stock"))

    assert (response.status_code, response["Location"]) == (302, PAGE)
    assert Checkpoint.objects.get(name="stock").rebuilt_at is not None
    (message,) = [str(m) for m in get_messages(response.wsgi_request)]
    assert re.fullmatch(r"Rebuilt stock from 3 events in \d+\.\d s\.", message)
    assert snapshot() == before
    page = superuser_client.get(PAGE).content.decode()  # done by the time the request answered
    assert "No rebuild is running." in page and '<meta http-equiv="refresh"' not in page
    assert re.search(r'<tr data-rebuild="stock" data-state="done">\s*<td>stock</td>\s*<td>done</td>', page)


def test_process_managers_are_not_rebuilt_and_unknown_names_are_not_found(settings, superuser_client):
    settings.PROJECTIONS_SUBSCRIBERS = [*settings.PROJECTIONS_SUBSCRIBERS, "orders.fulfilment.FulfilmentProcess"]
    response = superuser_client.post(rebuild_url("fulfilment"))
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "fulfilment is a process manager: only projections are rebuilt."
    ]
    assert superuser_client.get(rebuild_url("nonsense")).status_code == 404
    assert superuser_client.post(retry_url("nonsense")).status_code == 404


def test_cancelling_when_no_rebuild_runs_says_so(superuser_client):
    response = superuser_client.post(cancel_url("stock"))
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["No rebuild of stock is running."]
