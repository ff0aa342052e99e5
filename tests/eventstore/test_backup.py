"""Export the log to a file and restore it: kept as it was, refused when it does not verify."""

import io
import json
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from eventstore import integrity, store
from eventstore.backup import RestoreRefused, export_events, import_events, verify_file
from eventstore.exceptions import CursorExpired
from eventstore.models import Event, LogIdentity, Seal
from orders.domain import commands as c
from orders.models import UniqueClaim
from projections.models import Checkpoint
from tests.factories import customer, order, product, run
from tests.support import append_stream, held_open_append, new_stream, purge_allowed, run_threads

pytestmark = pytest.mark.django_db(transaction=True)

STORED = (
    "position",
    "event_id",
    "stream_type",
    "stream_id",
    "version",
    "event_type",
    "schema_version",
    "data",
    "metadata",
    "occurred_at",
    "recorded_at",
    "key_id",
    "hash",
)


def export(path: Path) -> Path:
    with path.open("w") as out:
        call_command("export_events", stdout=out, stderr=io.StringIO())
    return path


def empty_the_log() -> None:
    """What a new database looks like (the test suite's bypass; nothing else may do this)."""
    with purge_allowed() as db:
        for table in ("chronicle_seal", "chronicle_leaf", "chronicle_event", "chronicle_unique_claim"):
            db.execute(f"DELETE FROM {table}")


def some_history():
    pid = product(sku="MUG-1", stock=5)
    oid = order(customer(email="ada@example.com"), [(pid, 2)])
    run(c.PlaceOrder(oid))
    return pid, oid


@pytest.mark.fulfilment
def test_a_restored_log_is_the_exported_log(tmp_path):
    some_history()
    before = list(Event.objects.order_by("position").values_list(*STORED))
    old_cursor = store.read_feed(None, limit=2).next_cursor
    old_epoch = LogIdentity.objects.latest("id").epoch
    path = export(tmp_path / "events.jsonl")

    empty_the_log()
    out = io.StringIO()
    call_command("import_events", str(path), stdout=out, stderr=io.StringIO())

    assert "Restored 6 events" in out.getvalue()
    assert list(Event.objects.order_by("position").values_list(*STORED)) == before
    assert integrity.verify().ok and Seal.objects.count() == 1
    epochs = list(LogIdentity.objects.order_by("id").values_list("epoch", flat=True))
    assert epochs[-1] != old_epoch and old_epoch in epochs  # a new epoch beside the old one
    with pytest.raises(CursorExpired):
        store.read_feed(old_cursor)
    assert set(UniqueClaim.objects.values_list("kind", "value")) == {("sku", "MUG-1"), ("email", "ada@example.com")}
    fulfilment = Checkpoint.objects.get(name="fulfilment")  # acts on nothing restored
    assert store.read_feed(fulfilment.cursor).events == []

    later = product()
    feed = [event for event, _ in store.iter_feed()]
    assert [e.stream_id for e in feed][-1] == later and len(feed) == 7
    assert feed[-1].position > before[-1][0]
    numbers = [row[7]["number"] for row in before if row[5] == "OrderCreated"]
    assert store.read_stream(order())[0].data["number"] > max(numbers)


def rewrite(path: Path, change) -> Path:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(line) + "\n" for line in change(lines)))
    return path


def _swap_positions(lines):
    first, second = (i for i, line in enumerate(lines) if line.get("stream_id") and line["version"] == 2)
    a, b = lines[first]["position"], lines[second]["position"]
    return [
        {**line, "position": {a: b, b: a}[line["position"]]} if i in (first, second) else line
        for i, line in enumerate(lines)
    ]


def _without_a_stream(lines):
    """Every line of the customer's stream gone (it has one event: no chain can tell)."""
    customer = next(line["stream_id"] for line in lines if line.get("stream_type") == "customer")
    return [line for line in lines if line.get("stream_id") != customer]


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda lines: lines[:-1], "does not end with a seal"),
        (lambda lines: lines[:-2] + lines[-1:], "does not match the 5 events"),
        (lambda lines: [lines[0], *lines[2:]], "version 2 follows version 0"),
        (
            lambda lines: [{**line, "data": {"sku": "FORGED"}} if line.get("version") == 1 else line for line in lines],
            "does not verify",
        ),
        (lambda lines: [{"format": "other"}, *lines[1:]], "not a chronicle-events"),
        (
            lambda lines: [*lines[:-1], {"seal": {**lines[-1]["seal"], "signature": "A" * 88}}],
            "its signature does not verify",
        ),
        (lambda lines: [*lines[:-1], {"seal": {**lines[-1]["seal"], "tree_size": 5}}], "signature does not verify"),
        (_swap_positions, "does not match the 6 events|not in position order"),
        (_without_a_stream, "does not match the"),
        (
            lambda lines: [
                {**line, "recorded_at": "2001-01-01T00:00:00.000000Z"} if line.get("version") == 2 else line
                for line in lines
            ],
            "does not match the 6 events",
        ),
    ],
)
def test_a_file_that_does_not_verify_is_refused_and_nothing_is_written(tmp_path, damage, reason):
    some_history()
    path = rewrite(export(tmp_path / "events.jsonl"), damage)
    empty_the_log()
    with pytest.raises(CommandError, match=f"refused, nothing was written: .*{reason}"):
        call_command("import_events", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Event.objects.exists()


def test_restoring_into_a_log_that_is_not_empty_is_refused(tmp_path):
    some_history()
    path = export(tmp_path / "events.jsonl")
    with pytest.raises(RestoreRefused, match="not empty"):
        import_events(path, progress=io.StringIO())
    assert verify_file(path) == 6


def _exported_streams(text: str) -> list[str]:
    return [line["stream_id"] for line in map(json.loads, text.splitlines()[1:]) if "stream_id" in line]


@pytest.mark.postgres(reason="only PostgreSQL commits out of position order")
def test_an_export_waits_for_an_older_open_transaction_instead_of_stopping_short():
    held_stream = new_stream()
    out = io.StringIO()
    export = lambda _: export_events(out, progress=io.StringIO(), wait_seconds=30)  # noqa: E731
    exporter = threading.Thread(target=run_threads, args=(export, 1))  # its own connection, closed after
    with held_open_append(held_stream):
        later = append_stream(count=1)  # committed before the export begins, behind the open one
        exporter.start()
        exporter.join(0.5)
        assert exporter.is_alive()  # still waiting: sealing now would leave `later` out
    exporter.join(30)
    streams = _exported_streams(out.getvalue())
    assert str(later) in streams and str(held_stream) in streams
    assert json.loads(out.getvalue().splitlines()[-1])["seal"]["tree_size"] == len(streams)


@pytest.mark.postgres(reason="only PostgreSQL commits out of position order")
def test_an_export_that_cannot_pass_an_open_transaction_fails_without_a_seal():
    with held_open_append(new_stream()):
        append_stream(count=1)
        out = io.StringIO()
        with pytest.raises(CommandError, match="export incomplete, no seal written"):
            call_command("export_events", "--wait", "0.3", stdout=out, stderr=io.StringIO())
        assert "seal" not in out.getvalue().splitlines()[-1]
