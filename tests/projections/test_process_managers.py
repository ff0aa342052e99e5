"""Process managers on the same runner: they start at the head of the log, react outside
any transaction, advance after each event (so reactions must be idempotent), stop on a
failure like any subscriber, and are never rebuilt."""

import io
import os
import uuid
from uuid import UUID, uuid5

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from eventstore import cursor as feed_cursor
from eventstore import store
from eventstore.models import Event
from eventstore.records import NO_STREAM, NewEvent, RecordedEvent
from orders.domain import OrderPlaced
from orders.history_builder import Shop
from projections import runner
from projections.models import Checkpoint, OrderSummary
from projections.runner import RunResult, retry, run
from projections.subscribers import ProcessManager, handles
from tests.projections.support import feed_passed_everything, settle, two_runs_at_once, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# (cause's event id, whether the handler ran inside a transaction), in the order handled.
HANDLED: list[tuple[UUID, bool]] = []


class Notifier(ProcessManager):
    """Test-only: sends one note per placed order, with an id derived from its cause."""

    name = "test-notifier"

    @handles(OrderPlaced)
    def order_placed(self, event: RecordedEvent) -> None:
        HANDLED.append((event.event_id, connection.in_atomic_block))
        note = NewEvent(
            "NoteSent",
            {"order_id": str(event.stream_id)},
            event_id=uuid5(event.event_id, "note"),
            occurred_at=event.occurred_at,
        )
        store.append(
            "note",
            uuid5(event.event_id, "note-stream"),
            [note],
            expected_version=NO_STREAM,
            metadata={"actor": "system", "source": "worker", "causation_id": str(event.event_id)},
        )


class AutoConfirm(ProcessManager):
    """Test-only: confirms every placed order at once."""

    name = "test-auto-confirm"

    @handles(OrderPlaced)
    def order_placed(self, event: RecordedEvent) -> None:
        confirmed = NewEvent(
            "OrderConfirmed", {}, event_id=uuid5(event.event_id, "confirm"), occurred_at=event.occurred_at
        )
        store.append(
            "order",
            event.stream_id,
            [confirmed],
            expected_version=event.version,
            metadata={"actor": "system", "source": "worker", "causation_id": str(event.event_id)},
        )


class Crash(BaseException):
    pass


@pytest.fixture(autouse=True)
def notifier(settings):
    settings.PROJECTIONS_SUBSCRIBERS = [*settings.PROJECTIONS_SUBSCRIBERS, f"{__name__}.Notifier"]
    HANDLED.clear()


@pytest.fixture
def shop():
    shop = Shop()
    shop.mug = shop.create_product(stock=100)
    shop.ada = shop.register_customer()
    return shop


def place(shop: Shop, count: int = 1) -> list[UUID]:
    """Place orders; the ids of their OrderPlaced events."""
    orders = [shop.order(shop.ada, {shop.mug: 1}, until="placed") for _ in range(count)]
    return [Event.objects.get(stream_id=order, event_type="OrderPlaced").event_id for order in orders]


def notes() -> list[str]:
    return sorted(e.metadata["causation_id"] for e in Event.objects.filter(event_type="NoteSent"))


def test_it_starts_at_the_head_of_the_log_and_reacts_outside_any_transaction(shop):
    place(shop)
    feed_passed_everything()
    settle()
    assert HANDLED == []
    checkpoint = Checkpoint.objects.get(name="test-notifier")
    assert (checkpoint.kind, checkpoint.events_processed) == ("process manager", 0)

    causes = place(shop, 2)
    settle()
    assert [(cause, False) for cause in causes] == HANDLED
    assert notes() == sorted(map(str, causes))
    assert Checkpoint.objects.get(name="test-notifier").events_processed == 2


def test_its_checkpoint_moves_after_each_event_and_a_repeated_reaction_appends_nothing(shop):
    settle()
    causes = place(shop, 3)

    def crash_on_the_second(name, event):
        if event.event_id == causes[1]:
            raise Crash  # after its reaction, before its checkpoint

    with runner.reacted.runs(crash_on_the_second), pytest.raises(Crash):
        wait_until(lambda: run(Notifier).events == 3, what="the crash")
    assert [cause for cause, _ in HANDLED] == causes[:2]
    assert Checkpoint.objects.get(name="test-notifier").events_processed == 1

    settle()
    assert [cause for cause, _ in HANDLED] == [causes[0], causes[1], causes[1], causes[2]]
    assert notes() == sorted(map(str, causes))


def test_a_failing_reaction_stops_it_alone_and_retry_resumes_at_that_event(shop, monkeypatch):
    settle()
    causes = place(shop, 2)
    react = Notifier.order_placed

    def refuses_the_second(self, event):
        if event.event_id == causes[1]:
            raise RuntimeError("the mail server said no")
        react(self, event)

    monkeypatch.setattr(Notifier, "order_placed", refuses_the_second)
    assert settle() == {
        "orders": "caught up",
        "stock": "caught up",
        "customers": "caught up",
        "sales": "caught up",
        "test-notifier": "failed",
    }
    checkpoint = Checkpoint.objects.get(name="test-notifier")
    assert (checkpoint.failed_event_id, checkpoint.failed_event_type) == (causes[1], "OrderPlaced")
    assert checkpoint.events_processed == 1 and checkpoint.last_error.startswith(
        "RuntimeError: the mail server said no"
    )

    monkeypatch.undo()
    assert retry("test-notifier").outcome == "caught up"
    assert notes() == sorted(map(str, causes))


def test_one_run_at_a_time_owns_it(shop, monkeypatch):
    settle()
    place(shop)

    def handled() -> RunResult | None:
        result = run(Notifier)
        return result if result.events else None

    owner, other = two_runs_at_once(
        monkeypatch, Notifier, "order_placed", lambda: wait_until(handled, what="the order")
    )
    assert (owner.outcome, other.outcome, other.events) == ("caught up", "busy", 0)
    assert len(notes()) == 1


def test_it_is_never_rebuilt(shop):
    settle()
    place(shop)
    settle()
    before = Checkpoint.objects.values().get(name="test-notifier")
    out = io.StringIO()
    call_command("rebuild_projections", "--all", stdout=out, stderr=io.StringIO())
    assert "test-notifier" not in out.getvalue() and "Rebuilt orders" in out.getvalue()
    assert Checkpoint.objects.values().get(name="test-notifier") == before
    with pytest.raises(CommandError, match="test-notifier is a process manager: only projections are rebuilt"):
        call_command("rebuild_projections", "test-notifier")


def test_after_a_restore_it_starts_again_at_the_head_of_the_log(shop):
    settle()
    restored = feed_cursor.encode(uuid.uuid4().hex, feed_cursor.START)
    Checkpoint.objects.filter(name="test-notifier").update(cursor=restored)
    place(shop)
    feed_passed_everything()
    assert run(Notifier).events == 0
    causes = place(shop)
    settle()
    assert [cause for cause, _ in HANDLED] == causes


@pytest.mark.skipif(
    "DATABASE_URL" in os.environ or not django_settings.CELERY_TASK_ALWAYS_EAGER,
    reason="about the embedded default only: SQLite and no broker (tasks run in-process after commit)",
)
def test_with_no_broker_its_reactions_reach_the_read_models_before_the_command_returns(settings):
    settings.PROJECTIONS_SUBSCRIBERS = [*settings.PROJECTIONS_SUBSCRIBERS, f"{__name__}.AutoConfirm"]
    settings.PROJECTIONS_WAKE_ON_COMMIT = True
    shop = Shop()
    shop.create_product()  # the first wake-up: the process manager starts at the head from here
    order = shop.order(shop.register_customer(), {shop.create_product(stock=1): 1}, until="placed")
    assert OrderSummary.objects.get(id=order).status == "confirmed"
