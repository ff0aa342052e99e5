"""Demo data through the commands: every status, business times in each order's order, and
read models a rebuild agrees with."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from eventstore import integrity, store
from eventstore.models import Event
from projections.models import OrderSummary
from tests.projections.support import rebuilt_snapshot, snapshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.fulfilment]

# An order's life, in the order its business times must follow.
LIFECYCLE = ("OrderCreated", "OrderPlaced", "OrderConfirmed", "OrderPaid", "OrderShipped", "OrderDelivered")


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


def test_each_orders_business_times_follow_its_life_and_none_is_in_the_future():
    seed("--customers", "4", "--products", "6", "--orders", "40", "--days", "5")
    seeded = dt.datetime.now(dt.UTC)
    steps_seen = set()
    for order_id in Event.objects.filter(stream_type="order", version=1).values_list("stream_id", flat=True):
        events = store.read_stream(order_id)
        told = [(e.event_type, e.occurred_at.isoformat()) for e in events]
        steps = {e.event_type: e.occurred_at for e in events if e.event_type in LIFECYCLE}
        assert list(steps) == [step for step in LIFECYCLE if step in steps], told
        assert list(steps.values()) == sorted(steps.values()), told
        # Rejections, cancellations and refunds too: each event no earlier than the one before.
        assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events), told
        assert events[-1].occurred_at <= seeded, told
        steps_seen |= steps.keys()
    assert steps_seen == set(LIFECYCLE)


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
