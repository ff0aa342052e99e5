"""The command bus: metadata, one transaction per command, conflicts, idempotency."""

import datetime as dt
from uuid import UUID, uuid4

import pytest
from django.db import transaction

from eventstore import store
from eventstore.models import Event
from orders import bus, repository
from orders.context import CommandContext, business_time
from orders.domain import DomainError
from orders.domain import commands as c
from orders.errors import IdempotencyKeyReused, VersionConflict
from orders.models import IdempotencyRecord
from tests.factories import customer, product, run
from tests.support import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_event_carries_who_from_where_and_why():
    context = CommandContext(actor="42", source="api", correlation_id="req-7")
    pid = product()
    command_id = uuid4()
    bus.dispatch(c.ReceiveStock(pid, 5), context, command_id=command_id)
    (event,) = store.read_stream(pid, from_version=2)
    assert event.metadata == {
        "actor": "42",
        "source": "api",
        "correlation_id": "req-7",
        "causation_id": str(command_id),
        "command_id": str(command_id),
    }
    caused = context.caused_by("event-1")
    bus.dispatch(c.ReceiveStock(pid, 1), caused)
    assert store.read_stream(pid, from_version=3)[0].metadata["causation_id"] == "event-1"


def test_business_time_defaults_to_now_and_can_be_given():
    pid = product()
    last_week = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    run(c.ReceiveStock(pid, 5, occurred_at=last_week))
    first, second = store.read_stream(pid)
    assert second.occurred_at == last_week
    assert abs(first.occurred_at - first.recorded_at) < dt.timedelta(seconds=5)


def test_a_business_time_in_effect_dates_the_commands_that_name_none():
    pid = product()
    last_week, yesterday = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC), dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    with business_time(last_week):
        run(c.ReceiveStock(pid, 5))
        run(c.ReceiveStock(pid, 1, occurred_at=yesterday))
    run(c.ReceiveStock(pid, 2))
    _, dated, named, after = store.read_stream(pid)
    assert (dated.occurred_at, named.occurred_at) == (last_week, yesterday)
    assert abs(after.occurred_at - after.recorded_at) < dt.timedelta(seconds=5)


def test_the_result_names_stream_version_and_position_also_for_a_no_op():
    pid = product()
    changed = run(c.ReceiveStock(pid, 5))
    unchanged = run(c.DiscontinueProduct(pid)), run(c.DiscontinueProduct(pid))
    assert (changed.id, changed.version) == (pid, 2)
    assert changed.position == store.read_stream(pid)[-1].position - 1
    assert unchanged[0] == unchanged[1] and unchanged[1].position == store.read_stream(pid)[-1].position


def test_commands_refuse_to_join_a_callers_transaction():
    pid = product()
    with pytest.raises(RuntimeError, match="transaction of their own"), transaction.atomic():
        run(c.ReceiveStock(pid, 1))


def test_a_pinned_version_that_moved_on_is_a_conflict_and_appends_nothing():
    pid = product()
    run(c.ReceiveStock(pid, 1))
    with pytest.raises(VersionConflict) as caught:
        run(c.ReceiveStock(pid, 1, expected_version=1))
    assert (caught.value.current_version, caught.value.code) == (2, "version_conflict")
    assert store.stream_version(pid) == 2
    run(c.ReceiveStock(pid, 1, expected_version=2))
    assert store.stream_version(pid) == 3


def interleave_once(monkeypatch, stream: UUID) -> None:
    """The first time the unit of work saves, another writer appends to the same stream
    first (from its own connection), as a concurrent command would."""
    save = repository.UnitOfWork.save
    state = {"done": False}

    def save_after_someone_else(self, aggregate):
        if not state["done"]:
            state["done"] = True
            run_threads(lambda _: run(c.ReceiveStock(stream, 100)), 1)
        return save(self, aggregate)

    monkeypatch.setattr(repository.UnitOfWork, "save", save_after_someone_else)


@pytest.mark.postgres(reason="SQLite takes its write lock before loading, so writers never interleave")
def test_a_conflict_is_retried_as_a_whole_when_the_version_was_not_pinned(monkeypatch):
    pid = product()
    interleave_once(monkeypatch, pid)
    result = run(c.ReceiveStock(pid, 1))
    assert result.version == 3
    assert [e.data["quantity"] for e in store.read_stream(pid)[1:]] == [100, 1]


@pytest.mark.postgres(reason="SQLite takes its write lock before loading, so writers never interleave")
def test_a_conflict_after_loading_a_pinned_version_is_reported(monkeypatch):
    pid = product()
    interleave_once(monkeypatch, pid)
    with pytest.raises(VersionConflict) as caught:
        run(c.ReceiveStock(pid, 1, expected_version=1))
    assert caught.value.current_version == 2


def test_the_same_key_and_command_returns_the_first_result_and_appends_nothing():
    pid = product()
    first = run(c.ReceiveStock(pid, 5, idempotency_key="delivery-17"))
    events = Event.objects.count()
    again = run(c.ReceiveStock(pid, 5, idempotency_key="delivery-17"))
    assert again == first and Event.objects.count() == events
    with pytest.raises(IdempotencyKeyReused):
        run(c.ReceiveStock(pid, 6, idempotency_key="delivery-17"))


def test_keys_are_scoped_to_the_actor_and_the_command():
    pid = product()
    run(c.ReceiveStock(pid, 5, idempotency_key="k"))
    other_actor = CommandContext(actor="7", source="api")
    bus.dispatch(c.ReceiveStock(pid, 5, idempotency_key="k"), other_actor)
    run(c.DiscontinueProduct(pid, idempotency_key="k"))
    assert store.stream_version(pid) == 4


def test_a_refusal_is_replayed_for_the_same_key():
    pid = product(stock=1)
    order_id = uuid4()
    with pytest.raises(DomainError) as first:
        run(c.ReserveStock(pid, order_id, 5, idempotency_key="r"))
    run(c.ReceiveStock(pid, 10))
    with pytest.raises(DomainError) as again:
        run(c.ReserveStock(pid, order_id, 5, idempotency_key="r"))
    assert (
        (again.value.code, again.value.message)
        == (first.value.code, first.value.message)
        == (
            "insufficient_stock",
            first.value.message,
        )
    )
    assert [e.event_type for e in store.read_stream(pid)][-1] == "StockReceived"


@pytest.mark.postgres(reason="SQLite takes its write lock before the key check, so no duplicate commits in between")
def test_a_duplicate_that_commits_between_the_key_check_and_the_load_is_replayed():
    """The window the concurrent test hits now and then, opened on purpose: a duplicate
    commits, on a connection of its own, after this request found the key unused and
    before it loads the stream, so the domain refuses ("already registered") a command
    that in fact succeeded. The duplicate's outcome is the answer."""
    cid = uuid4()
    command = c.RegisterCustomer(cid, "Ada", "ada@example.com", idempotency_key="signup")
    duplicate = []

    def duplicate_commits_meanwhile(checked):
        if not duplicate:  # the duplicate passes this point too
            duplicate.append(None)
            duplicate[:] = run_threads(lambda _: run(command), 1)

    with bus.key_checked.runs(duplicate_commits_meanwhile):
        again = run(command)
    assert again == duplicate[0] and again.id == cid and store.stream_version(cid) == 1


def test_an_expired_key_may_be_used_again():
    pid = product()
    run(c.ReceiveStock(pid, 5, idempotency_key="old"))
    IdempotencyRecord.objects.update(expires_at=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    run(c.ReceiveStock(pid, 6, idempotency_key="old"))
    assert [e.data["quantity"] for e in store.read_stream(pid)[1:]] == [5, 6]


def test_new_customers_for_retries_target_the_same_stream():
    cid = uuid4()
    first = run(c.RegisterCustomer(cid, "Ada", "ada@example.com", idempotency_key="signup"))
    again = run(c.RegisterCustomer(cid, "Ada", "ada@example.com", idempotency_key="signup"))
    assert first == again and store.stream_version(cid) == 1
    assert customer() != cid
