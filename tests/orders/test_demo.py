"""Demo data through the commands: every status, and read models a rebuild agrees with."""

import io

import pytest
from django.core.management import CommandError, call_command

from eventstore import integrity
from eventstore.models import Event
from projections.models import OrderSummary
from tests.projections.support import rebuilt_snapshot, snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fulfilment]


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_demo_shop_has_orders_in_every_status_at_rest_and_rebuilds_to_the_same_read_models():
    assert "Seeded 8 customers, 6 products and 60 orders over 10 days." in seed(
        "--customers", "8", "--products", "6", "--orders", "60", "--days", "10"
    )
    statuses = set(OrderSummary.objects.values_list("status", flat=True))
    assert statuses >= {"draft", "confirmed", "rejected", "paid", "shipped", "delivered", "cancelled"}
    assert not Event.objects.filter(metadata__source="system", stream_type="order").exists()  # all via commands
    assert integrity.verify().ok
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_it_can_leave_an_existing_shop_alone():
    seed("--customers", "1", "--products", "1", "--orders", "1", "--days", "1")
    count = Event.objects.count()
    assert "Demo data is there already." in seed("--if-empty")
    assert Event.objects.count() == count


def test_impossible_amounts_are_refused_in_one_line():
    with pytest.raises(CommandError, match="orders need at least one customer and one product"):
        seed("--customers", "0", "--orders", "5")
    with pytest.raises(CommandError, match="--days must be between 0 and 100000"):
        seed("--days", "-1")
