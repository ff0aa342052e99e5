"""Proofs against the seals: the shared core the API and the admin serve."""

import hashlib
import random
from uuid import uuid4

import pytest

from eventstore import merkle, proofs
from eventstore.models import Event, Leaf, LogIdentity
from tests.support import append_stream, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_inclusion_proof_checks_against_the_newest_seal_and_older_ones():
    for _ in range(3):
        append_stream(count=3)
        seal_everything()
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
    seal_everything()
    append_stream(count=1)
    last = Event.objects.order_by("position").last()
    with pytest.raises(proofs.NotYetSealed) as caught:
        proofs.inclusion(last.event_id)
    assert 0 <= caught.value.wait_seconds <= 10
    seal_everything()
    assert proofs.inclusion(last.event_id).checks()
    with pytest.raises(proofs.ProofRefused):
        proofs.inclusion(last.event_id, tree_size=1)


def test_unknown_events_and_seals_are_named():
    with pytest.raises(proofs.NoSuchEvent):
        proofs.inclusion(uuid4())
    append_stream(count=2)
    seal_everything()
    with pytest.raises(proofs.NoSuchSeal):
        proofs.consistency(1, 2)


def test_a_consistency_proof_links_two_seals():
    append_stream(count=3)
    first = seal_everything()
    append_stream(count=4)
    second = seal_everything()
    proof = [bytes.fromhex(node) for node in proofs.consistency(3, 7)]
    assert merkle.verify_consistency(3, 7, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash), proof)
    assert proofs.consistency(7, 7) == []
    with pytest.raises(proofs.ProofRefused):
        proofs.consistency(7, 3)


# --- The fast path: cached block roots give what a pass over every leaf gives ----------------


@pytest.fixture
def cache(monkeypatch):
    """Cached roots of this test's own, whatever other tests left in this process."""
    monkeypatch.setattr(proofs._BlockCache, "_logs", {})


def leaf_table(count: int) -> list[bytes]:
    """``count`` leaves written straight to the leaf table: all a tree reads."""
    leaves = [hashlib.sha256(b"leaf %d" % i).digest() for i in range(count)]
    Leaf.objects.bulk_create(
        [Leaf(index=i, position=10 * i + 1, hash=leaf.hex()) for i, leaf in enumerate(leaves)], batch_size=5_000
    )
    return leaves


def test_proofs_from_cached_blocks_equal_proofs_from_every_leaf(cache):
    block = proofs.BLOCK
    leaves = leaf_table(9 * block + 77)
    pick = random.Random(13)
    sizes = [1, 2, 3, block - 1, block, block + 1, 2 * block - 1, 2 * block, 2 * block + 1, 3 * block]
    sizes += [4 * block - 1, 4 * block, 4 * block + 7, len(leaves), *pick.sample(range(1, len(leaves)), 12)]
    for size in sizes:
        tree = proofs.LogTree(size)
        indexes = {0, size // 2, size - 1, block - 1, block, 2 * block + 5, *pick.sample(range(size), min(size, 8))}
        for index in sorted(i for i in indexes if i < size):
            assert tree.inclusion_path(index) == merkle.inclusion_proof(index, leaves[:size]), (index, size)
        firsts = {
            1,
            size // 3,
            size - 1,
            size,
            block,
            block + 1,
            3 * block,
            *pick.sample(range(1, size + 1), min(size, 3)),
        }
        for first in sorted(f for f in firsts if 0 < f <= size):
            assert tree.consistency_proof(first) == merkle.consistency_proof(first, leaves[:size]), (first, size)


def test_every_small_tree_gives_the_same_proofs_with_tiny_blocks(cache, monkeypatch):
    """Blocks of 4 leaves: every index and every first size of every tree up to 40 leaves."""
    monkeypatch.setattr(proofs, "BLOCK_LEVEL", 2)
    monkeypatch.setattr(proofs, "BLOCK", 4)
    leaves = leaf_table(40)
    for size in range(1, len(leaves) + 1):
        tree = proofs.LogTree(size)
        for index in range(size):
            assert tree.inclusion_path(index) == merkle.inclusion_proof(index, leaves[:size]), (index, size)
        for first in range(1, size + 1):
            assert tree.consistency_proof(first) == merkle.consistency_proof(first, leaves[:size]), (first, size)


def test_a_proof_reads_two_blocks_of_leaves_once_the_blocks_are_known(cache, django_assert_max_num_queries):
    size = 50 * proofs.BLOCK + 77
    leaf_table(size)
    proofs.LogTree(size).inclusion_path(0)  # the process's first proof reads every leaf once

    with django_assert_max_num_queries(3):  # the epoch, the leaf's block, the last block
        proofs.LogTree(size).inclusion_path(size // 2)
    with django_assert_max_num_queries(3):
        proofs.LogTree(size).consistency_proof(size // 3)


def test_a_new_epoch_starts_a_new_cache(cache):
    """A restore starts a new epoch: its first proof builds the tree again from the leaves."""
    size = 3 * proofs.BLOCK
    leaves = leaf_table(size)
    proofs.LogTree(size).inclusion_path(0)
    known = proofs._BlockCache.of("default")
    assert known is proofs._BlockCache.of("default") and len(known.levels[0]) == 3

    LogIdentity.objects.create(epoch=uuid4().hex)

    fresh = proofs._BlockCache.of("default")
    assert fresh is not known and fresh.levels == [[]]
    assert proofs.LogTree(size).inclusion_path(5) == merkle.inclusion_proof(5, leaves)


def test_cached_roots_that_are_not_the_leaves_are_dropped_and_the_proof_made_from_the_leaves(cache):
    """Roots cached from other leaves (a log emptied and refilled within one epoch, as tests
    do) give a proof that does not lead to the seal's root: it is made again."""
    append_stream(count=1000)
    append_stream(count=200)
    seal_everything()
    event = Event.objects.order_by("position")[proofs.BLOCK + 50]
    assert proofs.inclusion(event.event_id).checks()

    proofs._BlockCache.of("default").levels[0][0] = bytes(32)

    proof = proofs.inclusion(event.event_id)
    assert proof.checks()
    assert [bytes.fromhex(node) for node in proof.audit_path] == merkle.inclusion_proof(
        proof.leaf_index, proofs.leaf_hashes(proof.tree_size)
    )


def test_a_missing_leaf_is_named_rather_than_proved_around(cache):
    Leaf.objects.bulk_create([Leaf(index=i, position=i + 1, hash=bytes(32).hex()) for i in (0, 1, 3)])
    with pytest.raises(proofs.LeafMissing, match="leaf 2 is missing"):
        proofs.LogTree(4).inclusion_path(0)
