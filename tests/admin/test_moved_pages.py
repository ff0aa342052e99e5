"""Pages that moved when the back office joined the orders app: every old address answers
301 to the page that replaced it, query string included, and the new page answers to
those the old one answered."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from tests.factories import order, product
from tests.projections.support import settle

pytestmark = pytest.mark.django_db(transaction=True)


def follows(client, old: str, new: str) -> None:
    moved = client.get(old)
    assert moved.status_code == 301
    assert moved["Location"] == new
    assert client.get(new).status_code == 200


def test_the_back_office_s_old_pages_answer_301_to_their_new_place(auditor_client):
    oid = order()
    settle()
    follows(auditor_client, "/admin/backoffice/", reverse("admin:app_list", args=["orders"]))
    follows(auditor_client, "/admin/backoffice/order/", reverse("admin:orders_order_changelist"))
    follows(
        auditor_client,
        "/admin/backoffice/order/?status=draft",
        reverse("admin:orders_order_changelist") + "?status=draft",
    )
    follows(auditor_client, f"/admin/backoffice/order/{oid}/change/", reverse("admin:orders_order_change", args=[oid]))


def test_a_command_form_s_old_address_answers_301(operator_client):
    pid = product()
    settle()
    follows(
        operator_client,
        f"/admin/backoffice/product/{pid}/receive-stock/",
        reverse("admin:orders_product_receive_stock", args=[pid]),
    )


def test_the_event_log_s_old_history_and_state_pages_answer_301(auditor_client):
    pid = product()
    follows(
        auditor_client,
        f"/admin/eventstore/event/history/product/{pid}/",
        reverse("admin:orders_product_history", args=[pid]),
    )
    follows(
        auditor_client,
        f"/admin/eventstore/event/state/product/{pid}/?version=1",
        reverse("admin:orders_product_state", args=[pid]) + "?version=1",
    )
    assert auditor_client.get(f"/admin/eventstore/event/history/parcel/{pid}/").status_code == 404


def test_the_event_log_links_each_event_to_its_entity_s_history(auditor_client):
    pid = product()
    page = auditor_client.get(reverse("admin:eventstore_event_changelist")).content.decode()
    assert reverse("admin:orders_product_history", args=[pid]) in page


def test_who_may_browse_the_event_log_may_read_an_entity_s_history_there(client):
    reader = User.objects.create_user("log-reader", password="pw", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(content_type__app_label="eventstore", codename="view_event"))
    client.force_login(reader)
    pid = product()
    assert client.get(reverse("admin:orders_product_history", args=[pid])).status_code == 200
    assert client.get(reverse("admin:orders_product_state", args=[pid])).status_code == 200
