"""Proofs against the seals, for auditors: that an event is in the tree a seal signs
(inclusion, RFC 9162 2.1.3) and that an older seal's tree is a prefix of a newer one's
(consistency, RFC 9162 2.1.4).

The API and the admin serve these; both are computed with ``merkle``, the file the offline
verifier vendors, so what Chronicle shows is what an auditor's own check recomputes. A
proof needs nothing but the leaf hashes and the seal: anyone with the public keyring can
check it (``InclusionProof.checks``).

Proofs are fast on a long log (``LogTree``): each costs the leaves of at most two blocks of
``BLOCK`` leaves and log n cached hashes, not a pass over every leaf up to the seal.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final
from uuid import UUID

from django.conf import settings
from django.db import connections
from django.utils import timezone

from . import merkle
from .exceptions import EventStoreError
from .models import Event, Leaf, LogIdentity, Seal
from .sealing import SignedSeal, newest_seal

# Proofs read the tree in aligned blocks of 2**BLOCK_LEVEL leaves (see ``LogTree``).
BLOCK_LEVEL: Final = 8
BLOCK: Final = 1 << BLOCK_LEVEL
# Tree sizes are PostgreSQL bigints: no seal can have a larger one.
MAX_TREE_SIZE: Final = 2**63 - 1


class NoSuchEvent(EventStoreError):
    def __init__(self, event_id: UUID) -> None:
        super().__init__(f"no event has id {event_id}")
        self.event_id = event_id


class NoSuchSeal(EventStoreError):
    """No seal has this tree size; ``argument`` names the argument that gave it."""

    def __init__(self, tree_size: int, argument: str = "tree_size") -> None:
        super().__init__(f"no seal has tree size {tree_size}")
        self.tree_size = tree_size
        self.argument = argument


class NotYetSealed(EventStoreError):
    """The event is newer than every seal (or than the seal asked for); ``wait_seconds`` is
    how long until the next seal should cover it."""

    def __init__(self, message: str, wait_seconds: int) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class ProofRefused(EventStoreError):
    """A proof the seals asked for cannot give: an inclusion proof against a seal older
    than the event, a consistency proof between sizes out of order. The message is a
    sentence for people; ``argument`` names the argument at fault."""

    def __init__(self, message: str, argument: str) -> None:
        super().__init__(message)
        self.argument = argument


class LogDamaged(EventStoreError):
    """The leaf table cannot make a proof: a leaf a seal covers is missing or holds what is
    not a hash. ``verify_events`` names how the log was damaged."""


class LeafMissing(LogDamaged):
    """A leaf a seal covers is not in the leaf table: the log is damaged (``verify_events``
    names how), and no proof can be made from it."""


@dataclass(frozen=True, slots=True)
class InclusionProof:
    leaf_index: int
    leaf_hash: str
    tree_size: int
    audit_path: list[str]
    seal: SignedSeal

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash,
            "tree_size": self.tree_size,
            "audit_path": self.audit_path,
            "seal": self.seal.to_json(),
        }

    def checks(self) -> bool:
        """Whether the audit path leads from the leaf to the seal's root and the seal's
        signature is its key's: the offline verifier's check, with the same code. False for
        anything that is not a hash, as merkle's verifiers answer."""
        try:
            leaf, path = bytes.fromhex(self.leaf_hash), [bytes.fromhex(node) for node in self.audit_path]
            root = bytes.fromhex(self.seal.root_hash)
        except ValueError:
            return False
        return (
            self.tree_size == self.seal.tree_size
            and merkle.verify_inclusion(self.leaf_index, self.tree_size, leaf, path, root)
            and self.seal.signature_checks()
        )


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """That the tree the ``first`` seal signs is a prefix of the one ``second`` signs."""

    first: SignedSeal
    second: SignedSeal
    proof: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first.tree_size,
            "second": self.second.tree_size,
            "first_root": self.first.root_hash,
            "second_root": self.second.root_hash,
            "proof": self.proof,
        }


def find_seal(tree_size: int, *, using: str = "default") -> Seal | None:
    """The seal of ``tree_size`` leaves, or None (for a size no seal can have, too)."""
    if not 0 < tree_size <= MAX_TREE_SIZE:
        return None
    return Seal.objects.using(using).filter(tree_size=tree_size).first()


def seal_of_size(tree_size: int, *, using: str = "default", argument: str = "tree_size") -> Seal:
    row = find_seal(tree_size, using=using)
    if row is None:
        raise NoSuchSeal(tree_size, argument)
    return row


def seal_page(*, below: int | None = None, limit: int, using: str = "default") -> tuple[list[SignedSeal], int | None]:
    """Up to ``limit`` seals, newest first, of fewer than ``below`` leaves when given; and
    the tree size to continue below, None on the last page."""
    rows = Seal.objects.using(using).order_by("-tree_size")
    if below is not None:
        rows = rows.filter(tree_size__lt=below)
    found = list(rows[: limit + 1])
    page = [SignedSeal.of(row) for row in found[:limit]]
    return page, page[-1].tree_size if len(found) > limit else None


def leaf_of(event_id: UUID, *, using: str = "default") -> Leaf | None:
    """The event's leaf, or None while no seal covers it; NoSuchEvent for an unknown event."""
    position = Event.objects.using(using).filter(event_id=event_id).values_list("position", flat=True).first()
    if position is None:
        raise NoSuchEvent(event_id)
    return Leaf.objects.using(using).filter(position=position).first()


def inclusion(event_id: UUID, tree_size: int | None = None, *, using: str = "default") -> InclusionProof:
    """The event's inclusion proof against the seal of ``tree_size``, or the newest seal."""
    leaf = leaf_of(event_id, using=using)
    seal = seal_of_size(tree_size, using=using) if tree_size is not None else newest_seal(using=using)
    if leaf is None or seal is None or leaf.index >= seal.tree_size:
        if tree_size is not None and leaf is not None:
            raise ProofRefused(f"The seal of tree size {tree_size} is older than event {event_id}.", "tree_size")
        raise NotYetSealed(f"no seal covers event {event_id} yet", expected_wait(using=using))
    leaf_hash, root = _leaf_hash(leaf.index, leaf.hash), _root(seal)
    path = _checked(
        lambda tree: tree.inclusion_path(leaf.index),
        lambda path: merkle.verify_inclusion(leaf.index, seal.tree_size, leaf_hash, path, root),
        seal.tree_size,
        using,
    )
    return InclusionProof(leaf.index, leaf.hash, seal.tree_size, [node.hex() for node in path], SignedSeal.of(seal))


def consistency_proof(first: int, second: int, *, using: str = "default") -> ConsistencyProof:
    """The RFC 9162 consistency proof from the seal of size ``first`` to that of ``second``."""
    older = seal_of_size(first, using=using, argument="first")
    newer = seal_of_size(second, using=using, argument="second")
    if first > second:
        raise ProofRefused(f"The first tree size ({first}) is larger than the second ({second}).", "first")
    roots = _root(older), _root(newer)
    proof = _checked(
        lambda tree: tree.consistency_proof(first),
        lambda proof: merkle.verify_consistency(first, second, *roots, proof),
        second,
        using,
    )
    return ConsistencyProof(SignedSeal.of(older), SignedSeal.of(newer), [node.hex() for node in proof])


def consistency(first: int, second: int, *, using: str = "default") -> list[str]:
    """The nodes of ``consistency_proof``."""
    return consistency_proof(first, second, using=using).proof


def leaf_hashes(tree_size: int, *, using: str = "default") -> list[bytes]:
    """The first ``tree_size`` leaf hashes in index order; LeafMissing if one is not there."""
    return list(_leaves(0, tree_size, using=using))


def _leaves(start: int, end: int, *, using: str) -> Iterator[bytes]:
    """The hashes of leaves ``start`` to ``end - 1`` in index order; LeafMissing if one is
    not there. More than a block is streamed."""
    rows = Leaf.objects.using(using).filter(index__gte=start, index__lt=end).order_by("index")
    values = rows.values_list("index", "hash")
    expected = start
    for index, value in values.iterator(chunk_size=10_000) if end - start > BLOCK else values:
        if index != expected:
            break
        yield _leaf_hash(index, value)
        expected += 1
    if expected < end:
        raise LeafMissing(f"leaf {expected} is missing from the sealed tree of {end} leaves; run verify_events")


def _leaf_hash(index: int, value: str) -> bytes:
    try:
        digest = bytes.fromhex(value)
    except ValueError:
        digest = b""
    if len(digest) != merkle.HASH_SIZE:
        raise LogDamaged(f"leaf {index} holds a value that is not a hash: the leaves were changed; run verify_events")
    return digest


def _root(seal: Seal) -> bytes:
    """A seal's root; b"" for one that is not a hash, which no proof verifies against (the
    proof is still made from the leaves, and shows the seal does not hold)."""
    try:
        return bytes.fromhex(seal.root_hash)
    except ValueError:
        return b""


def _checked(
    make: Callable[[LogTree], list[bytes]], holds: Callable[[list[bytes]], bool], size: int, using: str
) -> list[bytes]:
    """What ``make`` makes of the tree of the first ``size`` leaves, if it ``holds`` against
    the seals. Otherwise it is made again from the leaves alone, the cached roots dropped:
    they may be of other leaves (a log emptied and refilled within one epoch, as tests do).
    That answer stands whether it holds or not, as one from a pass over every leaf would: a
    proof shows what the leaf table holds, and a damaged table shows in it."""
    nodes = make(LogTree(size, using=using))
    if holds(nodes):
        return nodes
    _BlockCache.forget(using)
    return make(LogTree(size, using=using))


class LogTree:
    """The Merkle tree of the log's first ``size`` leaves, as proofs read it.

    Every node of an RFC 9162 tree is a run of perfect subtrees, each aligned to its own
    size, largest first (the set bits of the node's size). A perfect subtree of a whole
    block of ``BLOCK`` leaves or more is made of complete blocks, and a complete block
    never changes: leaves are append-only and their indexes run without gaps. So the roots
    of complete blocks, and of the perfect subtrees above them, are computed once and kept
    (``_BlockCache``); a smaller subtree is hashed from its block's leaves, read once per
    tree. An audit path's siblings below the block level lie in the leaf's own block or
    the tree's last, incomplete one, and a consistency proof's in the last blocks of the
    two trees, so a proof reads at most two blocks of leaves, hashes about as many, and
    looks up log n cached roots, however long the log. The first proof a process makes
    after a restore (or its start) reads every leaf once, to fill the cache.
    """

    def __init__(self, size: int, *, using: str = "default") -> None:
        self.size = size
        self.using = using
        self._cache = _BlockCache.of(using)
        self._cache.fill(size >> BLOCK_LEVEL, using=using)
        self._blocks: dict[int, list[bytes]] = {}  # the leaves of the blocks read, by block

    def inclusion_path(self, index: int) -> list[bytes]:
        return merkle.inclusion_path(index, self.size, self.subtree_root)

    def consistency_proof(self, first_size: int) -> list[bytes]:
        return merkle.consistency_path(first_size, self.size, self.subtree_root)

    def subtree_root(self, start: int, end: int) -> bytes:
        """MTH of leaves ``start`` to ``end - 1``, a node of the tree: the roots of its
        perfect subtrees folded from the right, as ``merkle.Frontier.root`` does."""
        roots = []
        while start < end:
            level = (end - start).bit_length() - 1
            if start % (1 << level):
                raise ValueError(f"leaves {start} to {end - 1} are no node of an RFC 9162 tree")
            roots.append(self._perfect(level, start >> level))
            start += 1 << level
        node = roots.pop()
        while roots:
            node = merkle.node_hash(roots.pop(), node)
        return node

    def _perfect(self, level: int, index: int) -> bytes:
        """The root of the ``index``-th perfect subtree of ``2**level`` leaves."""
        if level >= BLOCK_LEVEL:
            return self._cache.root(level, index)
        block, offset = divmod(index << level, BLOCK)
        if block not in self._blocks:
            start = block << BLOCK_LEVEL
            self._blocks[block] = list(_leaves(start, min(start + BLOCK, self.size), using=self.using))
        return merkle.root(self._blocks[block][offset : offset + (1 << level)])


class _BlockCache:
    """One log's roots of perfect subtrees of a block or more, kept in process memory for as
    long as the log's epoch lasts: ``levels[k]`` holds, in order, the roots of the first
    subtrees of ``BLOCK * 2**k`` leaves (``levels[0]``, of the complete blocks).

    Memory rather than a table: the roots are a function of leaves that never change, so
    the cache needs no invalidation within an epoch and may be lost at any time, while a
    table would be one more thing for the app role's grants, the restore and
    ``verify_events`` to know. Each process fills its own with its first proof (one pass
    over the leaves, which every proof used to cost) and keeps about two 32-byte roots per
    block: some 60 MB per hundred million events. Threads share it; it grows under a lock,
    and what it holds never changes.

    Keyed by the database: a restore starts a new epoch, and the first proof after it a new
    cache. A log emptied and refilled within one epoch (only the test suite does that) is
    caught by ``_checked``.
    """

    _logs: ClassVar[dict[tuple[str, str], _BlockCache]] = {}

    def __init__(self, epoch: str) -> None:
        self.epoch = epoch
        self.levels: list[list[bytes]] = [[]]
        self.lock = threading.Lock()

    @classmethod
    def of(cls, using: str) -> _BlockCache:
        """The cache of the log ``using`` holds now: a new one once its epoch has changed."""
        epoch = LogIdentity.objects.using(using).order_by("-id").values_list("epoch", flat=True).first() or ""
        cache = cls._logs.get(cls._key(using))
        if cache is None or cache.epoch != epoch:
            cache = cls._logs[cls._key(using)] = cls(epoch)
        return cache

    @classmethod
    def forget(cls, using: str) -> None:
        cls._logs.pop(cls._key(using), None)

    @staticmethod
    def _key(using: str) -> tuple[str, str]:
        return using, str(connections[using].settings_dict["NAME"])

    def fill(self, count: int, *, using: str) -> None:
        """Know the roots of the first ``count`` blocks and of the perfect subtrees they
        make up; the leaves of the blocks not known yet are read in one pass."""
        with self.lock:
            blocks = self.levels[0]
            if len(blocks) >= count:
                return
            block: list[bytes] = []
            for leaf in _leaves(len(blocks) << BLOCK_LEVEL, count << BLOCK_LEVEL, using=using):
                block.append(leaf)
                if len(block) == BLOCK:
                    blocks.append(merkle.root(block))
                    block = []
            for level, lower in enumerate(self.levels):
                if len(lower) < 2:
                    break
                if level + 1 == len(self.levels):
                    self.levels.append([])
                upper = self.levels[level + 1]
                upper.extend(merkle.node_hash(*lower[2 * i : 2 * i + 2]) for i in range(len(upper), len(lower) // 2))

    def root(self, level: int, index: int) -> bytes:
        """The root of the ``index``-th perfect subtree of ``2**level`` leaves, a block or more."""
        return self.levels[level - BLOCK_LEVEL][index]


def expected_wait(*, using: str = "default") -> int:
    """Whole seconds until the next seal is due: the embedded default seals after each
    commit (0), Celery beat every ``SEAL_INTERVAL_SECONDS`` after the newest seal."""
    if settings.SEAL_AFTER_COMMIT:
        return 0
    newest = newest_seal(using=using)
    if newest is None:
        return settings.SEAL_INTERVAL_SECONDS
    age = (timezone.now() - newest.sealed_at).total_seconds()
    return max(0, math.ceil(settings.SEAL_INTERVAL_SECONDS - age))
