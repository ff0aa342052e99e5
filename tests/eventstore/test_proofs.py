"""Proofs against the seals: the shared core the API and the admin serve."""

from uuid import uuid4

import pytest

from eventstore import merkle, proofs, sealing
from eventstore.models import Event
from tests.support import append_stream

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_inclusion_proof_checks_against_the_newest_seal_and_older_ones():
    for _ in range(3):
        append_stream(count=3)
        sealing.seal()
    first = Event.objects.order_by("position").first()
    newest = proofs.inclusion(first.event_id)
    assert newest.tree_size == 9 and newest.leaf_index == 0 and newest.checks()
    older = proofs.inclusion(first.event_id, tree_size=3)
    assert older.tree_size == 3 and older.checks() and older.audit_path != newest.audit_path
    forged = proofs.InclusionProof(1, newest.leaf_hash, newest.tree_size, newest.audit_path, newest.seal)
    assert not forged.checks()


def test_an_event_newer_than_every_seal_is_not_yet_sealed(settings):
    settings.SEAL_INTERVAL_SECONDS = 10
    append_stream(count=1)
    sealing.seal()
    append_stream(count=1)
    last = Event.objects.order_by("position").last()
    with pytest.raises(proofs.NotYetSealed) as caught:
        proofs.inclusion(last.event_id)
    assert 0 <= caught.value.wait_seconds <= 10
    sealing.seal()
    assert proofs.inclusion(last.event_id).checks()
    with pytest.raises(proofs.ProofRefused):
        proofs.inclusion(last.event_id, tree_size=1)


def test_unknown_events_and_seals_are_named():
    with pytest.raises(proofs.NoSuchEvent):
        proofs.inclusion(uuid4())
    append_stream(count=2)
    sealing.seal()
    with pytest.raises(proofs.NoSuchSeal):
        proofs.consistency(1, 2)


def test_a_consistency_proof_links_two_seals():
    append_stream(count=3)
    first = sealing.seal()
    append_stream(count=4)
    second = sealing.seal()
    proof = [bytes.fromhex(node) for node in proofs.consistency(3, 7)]
    assert merkle.verify_consistency(3, 7, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof)
    assert proofs.consistency(7, 7) == []
    with pytest.raises(proofs.ProofRefused):
        proofs.consistency(7, 3)
