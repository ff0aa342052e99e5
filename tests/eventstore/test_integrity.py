"""verify_events catches every change, removal and reordering of what was recorded: through
the hash chains, the leaves, the signed seals and the witness."""

import base64
import datetime as dt
import json
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.utils import timezone

from eventstore import integrity, merkle, sealing, sealkeys, store
from eventstore.cursor import FeedKey
from eventstore.exceptions import InvalidEvent
from eventstore.export import stored_row
from eventstore.models import Event, Leaf, Seal
from eventstore.recorders import recorder_for
from eventstore.records import NO_STREAM, NewEvent
from eventstore.serialization import format_datetime
from tests.support import META, append_stream, horizon_passed, owner_execute, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(report):
    return [p.kind for p in report.problems]


def positions(stream):
    return [e.position for e in store.read_stream(stream)]


def verify_events(capsys, *args):
    """Run the command; (exit code, stdout, stderr)."""
    try:
        call_command("verify_events", *args)
        code = 0
    except SystemExit as exit:
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def sealed_log():
    """Two streams of three events, sealed."""
    streams = [append_stream(count=3), append_stream("product", count=3)]
    assert seal_everything() is not None
    return streams


def test_an_untouched_log_verifies_and_seals(capsys):
    append_stream(count=3)
    # Key order, Unicode and nesting must not matter: PostgreSQL's JSONB reorders keys.
    store.append(
        "customer",
        uuid4(),
        [NewEvent("Registered", {"zeta": 1, "alpha": {"ü": ["ß", None, True]}, "name": "Zoë 😀"})],
        expected_version=NO_STREAM,
        metadata=META,
    )
    code, out, _ = verify_events(capsys, "--seal")
    assert code == 0
    assert "Sealed the log at tree size 4." in out
    assert "OK: 4 events in 2 streams, 4 leaves, 1 seals (1 in the witness), 0 unsealed" in out

    append_stream(count=2)
    report = integrity.verify()
    assert report.ok, report.problems
    assert (report.events, report.leaves, report.seals, report.unsealed) == (6, 4, 1, 2)


def test_a_quiet_log_makes_no_new_seals_and_a_seal_costs_only_what_is_new():
    append_stream(count=3)
    first = seal_everything()
    assert sealing.seal() is None
    append_stream(count=2)
    second = seal_everything()
    assert (first.tree_size, second.tree_size) == (3, 5)
    assert list(Leaf.objects.values_list("index", flat=True)) == [0, 1, 2, 3, 4]
    assert merkle.Frontier.from_json(second.frontier).root().hex() == second.root_hash


def test_a_backlog_is_sealed_in_bounded_batches():
    append_stream(count=7)
    newest = seal_everything(batch=3)
    assert list(Seal.objects.values_list("tree_size", flat=True)) == [3, 6, 7]
    assert newest.tree_size == 7 and integrity.verify().ok


def test_a_seal_checks_with_the_public_key_alone():
    append_stream(count=2)
    made = sealing.SignedSeal.of(seal_everything())
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(sealkeys.public_keyring()[made.key_id]))
    message = sealing.seal_message(
        made.tree_size, made.root_hash, made.last_position, made.epoch, made.sealed_at, made.key_id
    )
    public.verify(base64.b64decode(made.signature), message)  # raises InvalidSignature otherwise
    forged = sealing.seal_message(
        made.tree_size + 1, made.root_hash, made.last_position, made.epoch, made.sealed_at, made.key_id
    )
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(made.signature), forged)


def test_a_changed_payload_is_named_by_stream_version_and_position(capsys):
    stream = sealed_log()[0]
    second = positions(stream)[1]
    owner_execute("UPDATE chronicle_event SET data = %s::jsonb WHERE position = %s", [json.dumps({"n": 99}), second])

    report = integrity.verify()

    assert kinds(report) == ["hash_mismatch", "leaf_mismatch"]
    problem = report.problems[0]
    assert (problem.stream_id, problem.version, problem.position) == (stream, 2, second)
    code, _, err = verify_events(capsys)
    assert code == 1
    assert err.splitlines()[0].startswith("BROKEN:") and f"stream {stream}, version 2, position {second}" in err


@pytest.mark.parametrize(
    "column, value",
    [
        ("event_type", "Forged"),
        ("schema_version", 7),
        ("occurred_at", "2001-01-01 00:00:00+00"),
        ("metadata", json.dumps({**META, "actor": "intruder"})),
    ],
)
def test_every_signed_field_is_covered_by_chain_and_leaf(column, value):
    stream = sealed_log()[0]
    cast = "::jsonb" if column == "metadata" else ""
    owner_execute(f"UPDATE chronicle_event SET {column} = %s{cast} WHERE position = %s", [value, positions(stream)[0]])
    assert kinds(integrity.verify()) == ["hash_mismatch", "leaf_mismatch"]


def test_a_backdated_recorded_time_is_caught_by_its_leaf():
    stream = sealed_log()[0]
    owner_execute(
        "UPDATE chronicle_event SET recorded_at = %s WHERE position = %s",
        [timezone.now() - dt.timedelta(days=400), positions(stream)[1]],
    )
    assert kinds(integrity.verify()) == ["leaf_mismatch"]


def test_swapped_positions_of_events_in_two_streams_are_caught():
    first, second = sealed_log()
    a, b = positions(first)[1], positions(second)[1]
    owner_execute("UPDATE chronicle_event SET position = %s WHERE position = %s", [-1, a])
    owner_execute("UPDATE chronicle_event SET position = %s WHERE position = %s", [a, b])
    owner_execute("UPDATE chronicle_event SET position = %s WHERE position = %s", [b, -1])
    report = integrity.verify()
    assert kinds(report) == ["leaf_mismatch", "leaf_mismatch"]
    assert {p.position for p in report.problems} == {a, b}


def test_a_removed_event_in_the_middle_is_caught():
    stream = sealed_log()[0]
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(stream)[1]])
    report = integrity.verify()
    assert kinds(report) == ["events_missing", "hash_mismatch", "sealed_event_missing", "event_count_mismatch"]
    assert report.problems[0].version == 3


def test_a_removed_tail_is_caught_once_sealed():
    unsealed = append_stream(count=3)
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(unsealed)[-1]])
    assert integrity.verify().ok  # the limit of a hash chain: its unsealed end can be cut off

    sealed = sealed_log()[0]
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(sealed)[-1]])
    assert kinds(integrity.verify()) == ["sealed_event_missing", "event_count_mismatch"]


def test_a_removed_stream_is_caught():
    _, removed = sealed_log()
    owner_execute("DELETE FROM chronicle_event WHERE stream_id = %s", [removed])
    report = integrity.verify()
    assert kinds(report) == ["sealed_event_missing"] * 3 + ["event_count_mismatch"]


def test_a_removed_leaf_is_caught():
    sealed_log()
    owner_execute("DELETE FROM chronicle_leaf WHERE leaf_index = 2")
    report = integrity.verify()
    assert kinds(report)[:1] == ["leaf_missing"] and "seal_tampered" in kinds(report)


def test_removed_newest_seals_are_caught_by_the_witness():
    for _ in range(3):
        append_stream(count=1)
        seal_everything()
    owner_execute("DELETE FROM chronicle_seal WHERE tree_size > 1")
    report = integrity.verify()
    assert kinds(report) == ["seal_missing"] * 3
    assert "witness holds the seal of tree size 2" in str(report.problems[0])


def test_removing_every_seal_is_caught_by_the_witness(capsys):
    sealed_log()
    owner_execute("DELETE FROM chronicle_seal")
    assert kinds(integrity.verify()) == ["seal_missing", "seal_missing"]
    assert verify_events(capsys)[0] == 1


def test_a_new_epoch_recorded_by_hand_does_not_hide_the_witness():
    """Removing the seals and recording a new epoch, as a restore would, leaves the
    witness's seals of the old epoch this log's business: its epochs are insert-only."""
    sealed_log()
    owner_execute("DELETE FROM chronicle_seal")
    owner_execute("INSERT INTO chronicle_log_identity (epoch) VALUES (%s)", ["e" * 32])
    assert store.current_epoch() == "e" * 32
    assert kinds(integrity.verify()) == ["seal_missing", "seal_missing"]


def test_a_replaced_witness_line_is_caught(settings):
    for _ in range(2):
        append_stream(count=1)
        seal_everything()
    witness = sealing.witness_path()
    lines = witness.read_text().splitlines()
    forged = {**json.loads(lines[-1]), "root_hash": "0" * 64}
    witness.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    assert kinds(integrity.verify()) == ["witness_mismatch"]


def test_a_forged_seal_is_caught():
    sealed_log()
    owner_execute("UPDATE chronicle_seal SET root_hash = %s", ["0" * 64])
    problems = kinds(integrity.verify())
    assert "seal_tampered" in problems and "witness_mismatch" in problems


def test_a_witness_of_another_database_is_not_this_logs_business():
    sealed_log()
    witness = sealing.witness_path()
    other = {**json.loads(witness.read_text().splitlines()[0]), "epoch": "f" * 32, "tree_size": 99}
    witness.write_text(witness.read_text() + json.dumps(other) + "\n")
    assert integrity.verify().ok


def test_an_old_unsealed_tail_is_stale(settings, capsys):
    sealed_log()
    append_stream(count=1)
    settings.SEAL_STALE_SECONDS = 0
    code, _, err = verify_events(capsys)
    assert code == 2 and err.startswith("STALE:") and "1 unsealed" in err
    settings.SEAL_STALE_SECONDS = 3600
    assert verify_events(capsys)[0] == 0


def test_the_embedded_default_seals_after_each_committed_command(settings):
    settings.SEAL_AFTER_COMMIT = True
    stream = append_stream(count=2)
    newest = sealing.newest_seal()
    assert newest is not None and newest.tree_size == 2 and newest.last_position == positions(stream)[-1]
    assert len(sealing.witness_path().read_text().splitlines()) == 1


def test_an_unknown_key_id_is_reported():
    stream = append_stream(count=1)
    owner_execute("UPDATE chronicle_event SET key_id = 'lost' WHERE position = %s", [positions(stream)[0]])
    assert kinds(integrity.verify()) == ["unknown_key"]


def test_events_signed_with_a_retired_key_still_verify_and_a_wrong_key_does_not(settings):
    settings.EVENT_SIGNING_KEYS = {"k1": "first-secret-first-secret-first-secret"}
    settings.EVENT_SIGNING_KEY_ID = "k1"
    stream = append_stream(count=2)

    settings.EVENT_SIGNING_KEYS = {
        "k1": "first-secret-first-secret-first-secret",
        "k2": "second-secret-second-secret-second",
    }
    settings.EVENT_SIGNING_KEY_ID = "k2"
    store.append("order", stream, [NewEvent("LineAdded", {"n": 3})], expected_version=2, metadata=META)
    assert integrity.verify().ok

    settings.EVENT_SIGNING_KEYS = {
        "k1": "a-different-secret-a-different-secret",
        "k2": "second-secret-second-secret-second",
    }
    assert kinds(integrity.verify()) == ["hash_mismatch", "hash_mismatch"]


def test_the_leaf_format_is_the_export_line_as_canonical_json():
    stream = append_stream(count=1)
    seal_everything()
    (event,) = store.read_stream(stream)
    row = stored_row(Event.objects.get(position=event.position))
    assert row["recorded_at"] == format_datetime(event.recorded_at)
    expected = merkle.leaf_hash(json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert Leaf.objects.get().hash == expected.hex()


def test_the_sealer_reads_each_event_as_its_export_line_on_either_engine():
    """PostgreSQL spells the line's ids and times server-side; they must match the export's."""
    on_the_second = dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=5)))
    stream = uuid4()
    store.append(
        "customer",
        stream,
        [
            NewEvent("Registered", {"name": "Zoë 😀", "nested": {"b": 1, "a": [None, True, "ß"]}}),
            NewEvent("Moved", {"to": "x"}, occurred_at=on_the_second),
        ],
        expected_version=NO_STREAM,
        metadata=META,
    )
    horizon_passed()
    recorder = recorder_for()
    horizon, _ = recorder.horizon()
    lines = [line for _, line in recorder.read_leaf_lines(FeedKey(0, 0), horizon, 100)]
    assert lines == [stored_row(Event.objects.get(position=line["position"])) for line in lines]
    assert lines[1]["occurred_at"] == "2024-02-29T18:59:59.000000Z"


@pytest.mark.parametrize(
    "event_type", ["Registered", 'Said "hi"', "Back\\slash", "Tab\tand\nnewline\x1f", "Zoë 😀 \u2028"]
)
def test_the_sealer_spells_each_leaf_as_the_canonical_json_of_its_export_line(event_type):
    """PostgreSQL spells most of a leaf's bytes server-side (strings through to_json); every
    string, escaped or not, must come out as the standard library's canonical JSON."""
    store.append(
        "customer",
        uuid4(),
        [
            NewEvent(event_type, {"z": '"quoted" \\ \x07', "a": [2**63 - 1, -(2**63), {"é": None, "e": True}]}),
            NewEvent("Plain", {}, occurred_at=dt.datetime(1, 1, 1, tzinfo=dt.UTC)),
        ],
        expected_version=NO_STREAM,
        metadata={**META, "actor": '\\ "x"'},
    )
    horizon_passed()
    recorder = recorder_for()
    horizon, _ = recorder.horizon()
    leaves = list(recorder.read_leaves(FeedKey(0, 0), horizon, 100))
    assert len(leaves) == 2
    for transaction_id, position, leaf in leaves:
        event = Event.objects.get(position=position)
        assert leaf == json.dumps(stored_row(event), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert transaction_id == (event.transaction_id or 0)


def test_a_payload_integer_beyond_64_bits_is_refused():
    with pytest.raises(InvalidEvent, match="64 bits"):
        store.append(
            "customer", uuid4(), [NewEvent("Counted", {"n": 2**63})], expected_version=NO_STREAM, metadata=META
        )
    assert not Event.objects.exists()


def test_a_seal_made_while_verify_runs_is_not_taken_for_a_removed_one(monkeypatch):
    append_stream(count=2)
    seal_everything()
    read_witness = sealing.witness_lines

    def witness_then_a_new_seal():
        lines = list(read_witness())
        append_stream(count=1)
        sealing.seal()  # commits, and reaches the witness, after verify read it
        return iter(lines)

    monkeypatch.setattr(sealing, "witness_lines", witness_then_a_new_seal)
    report = integrity.verify()
    assert report.ok, report.problems


def test_a_moved_feed_place_is_caught_and_the_sealer_refuses_to_go_on():
    stream = sealed_log()[0]
    owner_execute("UPDATE chronicle_seal SET feed_transaction_id = feed_transaction_id + 7")
    assert "seal_tampered" in kinds(integrity.verify())
    append_stream(count=1)
    with pytest.raises(sealing.SealRefused, match="names a place in the feed"):
        sealing.seal()
    assert Seal.objects.count() == 1 and positions(stream)


def test_a_changed_frontier_is_caught_and_never_built_on():
    sealed_log()
    owner_execute("UPDATE chronicle_seal SET frontier = %s::jsonb", [json.dumps(merkle.Frontier().to_json())])
    assert kinds(integrity.verify()) == ["seal_tampered"]
    append_stream(count=1)
    with pytest.raises(sealing.SealRefused, match="does not build its root"):
        sealing.seal()


def test_a_seal_key_the_settings_no_longer_hold_is_named_not_called_tampering(settings):
    sealed_log()
    settings.SEAL_SIGNING_KEY_ID = "rotated"
    settings.SEAL_SIGNING_KEY = sealkeys.generate_key()[0]
    settings.SEAL_OLD_PUBLIC_KEYS = {}
    report = integrity.verify()
    assert set(kinds(report)) == {"unknown_key"}


def test_verify_and_seal_exits_non_zero_when_the_log_is_broken_after_sealing(capsys, monkeypatch):
    append_stream(count=1)
    real = integrity.verify
    calls = []

    def broken_the_second_time(**kwargs):
        report = real(**kwargs)
        calls.append(report)
        if len(calls) == 2:
            report.add(integrity.Problem("seal_tampered", "simulated"))
        return report

    monkeypatch.setattr(integrity, "verify", broken_the_second_time)
    code, _, err = verify_events(capsys, "--seal")
    assert code == 1 and "BROKEN" in err and len(calls) == 2


@pytest.mark.postgres(reason="only PostgreSQL's feed orders by transaction id")
def test_an_event_moved_in_the_feed_is_caught():
    first = sealed_log()[0]
    owner_execute(
        "UPDATE chronicle_event SET transaction_id = transaction_id + 1000000 WHERE position = %s",
        [positions(first)[0]],
    )
    assert "feed_reordered" in kinds(integrity.verify())
