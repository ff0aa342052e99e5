import json
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command

from eventstore import integrity, store
from eventstore.records import NO_STREAM, NewEvent
from tests.support import META, append_stream, owner_execute

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(report):
    return [p.kind for p in report.problems]


def positions(stream):
    return [e.position for e in store.read_stream(stream)]


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
    call_command("verify_events", "--seal")
    out = capsys.readouterr().out
    assert out.startswith("OK: 4 events in 2 streams, 0 seals")
    assert "Sealed 2 changed stream heads and 4 events" in out

    append_stream(count=2)
    report = integrity.verify()
    assert report.ok, report.problems
    assert (report.events, report.streams, report.seals, report.sealed_streams) == (6, 3, 1, 2)


def test_a_changed_payload_is_named_by_stream_version_and_position():
    stream = append_stream(count=3)
    second = positions(stream)[1]
    owner_execute("UPDATE chronicle_event SET data = %s::jsonb WHERE position = %s", [json.dumps({"n": 99}), second])

    report = integrity.verify()

    assert kinds(report) == ["hash_mismatch"]
    problem = report.problems[0]
    assert (problem.stream_id, problem.version, problem.position) == (stream, 2, second)
    with pytest.raises(CommandError, match=f"hash_mismatch.*stream {stream}, version 2, position {second}"):
        call_command("verify_events")


@pytest.mark.parametrize(
    "column, value",
    [
        ("event_type", "Forged"),
        ("schema_version", 7),
        ("occurred_at", "2001-01-01 00:00:00"),
        ("metadata", json.dumps({**META, "actor": "intruder"})),
    ],
)
def test_every_signed_field_is_covered(column, value):
    stream = append_stream(count=2)
    cast = "::jsonb" if column == "metadata" else ""
    owner_execute(f"UPDATE chronicle_event SET {column} = %s{cast} WHERE position = %s", [value, positions(stream)[0]])
    assert kinds(integrity.verify()) == ["hash_mismatch"]


def test_a_changed_hash_breaks_the_link_to_the_next_event():
    stream = append_stream(count=3)
    owner_execute("UPDATE chronicle_event SET hash = %s WHERE position = %s", ["0" * 64, positions(stream)[1]])
    report = integrity.verify()
    assert kinds(report) == ["hash_mismatch", "hash_mismatch"]
    assert [p.version for p in report.problems] == [2, 3]


def test_a_removed_event_in_the_middle_is_caught():
    stream = append_stream(count=3)
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(stream)[1]])
    report = integrity.verify()
    assert kinds(report) == ["events_missing", "hash_mismatch"]
    assert report.problems[0].version == 3


def test_a_removed_tail_is_caught_only_by_a_seal():
    unsealed = append_stream(count=3)
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(unsealed)[-1]])
    assert integrity.verify().ok  # the limit of a hash chain: its end can be cut off

    sealed = append_stream(count=3)
    integrity.seal()
    owner_execute("DELETE FROM chronicle_event WHERE position = %s", [positions(sealed)[-1]])

    report = integrity.verify()
    assert kinds(report) == ["events_missing", "event_count_mismatch"]
    assert (report.problems[0].stream_id, report.problems[0].version) == (sealed, 3)


def test_a_removed_stream_is_caught_by_a_seal():
    kept = append_stream(count=2)
    removed = append_stream(count=2)
    integrity.seal()
    owner_execute("DELETE FROM chronicle_event WHERE stream_id = %s", [removed])

    report = integrity.verify()
    assert set(kinds(report)) == {"stream_missing", "event_count_mismatch"}
    assert [p.stream_id for p in report.problems if p.kind == "stream_missing"] == [removed]
    assert kept not in [p.stream_id for p in report.problems]


def test_a_forged_seal_is_caught():
    append_stream(count=2)
    integrity.seal()
    owner_execute("UPDATE chronicle_seal_head SET version = 1")
    assert "seal_tampered" in kinds(integrity.verify())


def test_a_removed_seal_in_the_middle_breaks_the_seal_chain():
    for _ in range(3):
        append_stream(count=1)
        integrity.seal()
    owner_execute("DELETE FROM chronicle_seal WHERE id = (SELECT MIN(id) + 1 FROM chronicle_seal)")
    assert "seal_chain_broken" in kinds(integrity.verify())


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
