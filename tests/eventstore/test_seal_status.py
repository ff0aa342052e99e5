"""What the admin shows of the seals, without walking the log: the witness read from its
end, the unsealed tail counted up to a limit, malformed hashes taken for tampering."""

import json
from uuid import uuid4

import pytest

from eventstore import proofs, seal_status, sealing
from eventstore.models import Event
from tests.support import append_stream, owner_execute, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_witness_is_read_from_its_end_past_other_logs_and_broken_lines():
    append_stream(count=1)
    seal_everything()
    append_stream(count=1)
    newest = seal_everything()
    witness = sealing.witness_path()
    other = {**json.loads(witness.read_text().splitlines()[0]), "epoch": "f" * 32, "tree_size": 99}
    witness.write_text(witness.read_text() + json.dumps(other) + "\n" + "not a seal\n\n")

    found = sealing.witness_newest({newest.epoch})
    assert found == sealing.SignedSeal.of(newest)
    assert sealing.witness_newest({"f" * 32}).tree_size == 99
    assert sealing.witness_newest({"0" * 32}) is None


def test_lines_from_the_end_cross_block_boundaries(tmp_path):
    path = tmp_path / "witness.jsonl"
    lines = [str(n).encode() * (n % 7 + 1) for n in range(50)]
    path.write_bytes(b"\n".join(lines) + b"\n\n")
    for block in (1, 3, 16, 1 << 16):
        assert list(sealing._lines_from_end(path, block)) == lines[::-1]
    assert list(sealing._lines_from_end(tmp_path / "missing")) == []


def test_the_unsealed_tail_is_counted_up_to_a_limit(monkeypatch):
    monkeypatch.setattr(seal_status, "TAIL_LIMIT", 3)
    append_stream(count=2)
    seal_everything()
    append_stream(count=5)
    status = seal_status.log_status()
    assert (status.newest_seal.tree_size, status.unsealed, status.unsealed_text) == (2, 3, "3+")
    assert status.oldest_unsealed == Event.objects.order_by("position")[2].recorded_at
    assert status.newest_signature_checks and status.witness.state == "ok"


def test_a_stale_tail_is_older_than_the_setting(settings):
    append_stream(count=1)
    settings.SEAL_STALE_SECONDS = 3600
    assert not seal_status.log_status().stale
    settings.SEAL_STALE_SECONDS = -1
    assert seal_status.log_status().stale


def test_hashes_that_are_not_hashes_are_tampering_not_errors():
    append_stream(count=3)
    seal_everything()
    append_stream(count=1)
    seal_everything()
    event = Event.objects.order_by("position").first()
    owner_execute("UPDATE chronicle_seal SET root_hash = %s WHERE tree_size = 4", ["zz" * 32])
    status = seal_status.event_seal(event.event_id)
    assert not status.checks and "does not check against the seal of tree size 4" in status.problems[0]
    assert not seal_status.consistency(3, 4).checks

    owner_execute("UPDATE chronicle_leaf SET hash = %s WHERE leaf_index = 2", ["not hex"])
    assert "leaf 2 holds a value that is not a hash" in seal_status.event_seal(event.event_id).problems[0]
    broken = seal_status.consistency(3, 4)
    assert broken.proof is None and not broken.checks


def test_an_unknown_event_is_named():
    with pytest.raises(proofs.NoSuchEvent):
        seal_status.event_seal(uuid4())
