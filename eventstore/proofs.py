"""Proofs against the seals, for auditors: that an event is in the tree a seal signs
(inclusion, RFC 9162 2.1.3) and that an older seal's tree is a prefix of a newer one's
(consistency, RFC 9162 2.1.4).

The API and the admin serve these; both are computed with ``merkle``, the file the offline
verifier vendors, so what Chronicle shows is what an auditor's own check recomputes. A
proof needs nothing but the leaf hashes and the seal: anyone with the public keyring can
check it (``InclusionProof.checks``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from . import merkle
from .exceptions import EventStoreError
from .models import Event, Leaf, Seal
from .sealing import SignedSeal, newest_seal


class NoSuchEvent(EventStoreError):
    pass


class NoSuchSeal(EventStoreError):
    """No seal has this tree size."""

    def __init__(self, tree_size: int) -> None:
        super().__init__(f"no seal has tree size {tree_size}")
        self.tree_size = tree_size


class NotYetSealed(EventStoreError):
    """The event is newer than every seal (or than the seal asked for); ``wait_seconds`` is
    how long until the next seal should cover it."""

    def __init__(self, message: str, wait_seconds: int) -> None:
        super().__init__(message)
        self.wait_seconds = wait_seconds


class ProofRefused(EventStoreError):
    """A proof the seals asked for cannot give: an inclusion proof against a seal older
    than the event, a consistency proof between sizes out of order."""


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
        signature is its key's: the offline verifier's check, with the same code."""
        return (
            self.tree_size == self.seal.tree_size
            and merkle.verify_inclusion(
                self.leaf_index,
                self.tree_size,
                bytes.fromhex(self.leaf_hash),
                [bytes.fromhex(node) for node in self.audit_path],
                bytes.fromhex(self.seal.root_hash),
            )
            and self.seal.signature_checks()
        )


def seal_of_size(tree_size: int, *, using: str = "default") -> Seal:
    row = Seal.objects.using(using).filter(tree_size=tree_size).first()
    if row is None:
        raise NoSuchSeal(tree_size)
    return row


def leaf_of(event_id: UUID, *, using: str = "default") -> Leaf | None:
    """The event's leaf, or None while no seal covers it; NoSuchEvent for an unknown event."""
    position = Event.objects.using(using).filter(event_id=event_id).values_list("position", flat=True).first()
    if position is None:
        raise NoSuchEvent(f"no event has id {event_id}")
    return Leaf.objects.using(using).filter(position=position).first()


def inclusion(event_id: UUID, tree_size: int | None = None, *, using: str = "default") -> InclusionProof:
    """The event's inclusion proof against the seal of ``tree_size``, or the newest seal."""
    leaf = leaf_of(event_id, using=using)
    seal = seal_of_size(tree_size, using=using) if tree_size is not None else newest_seal(using=using)
    if leaf is None or seal is None or leaf.index >= seal.tree_size:
        if tree_size is not None and leaf is not None:
            raise ProofRefused(f"the seal of tree size {tree_size} is older than event {event_id}")
        raise NotYetSealed(f"no seal covers event {event_id} yet", expected_wait(using=using))
    path = merkle.inclusion_proof(leaf.index, leaf_hashes(seal.tree_size, using=using))
    return InclusionProof(leaf.index, leaf.hash, seal.tree_size, [node.hex() for node in path], SignedSeal.of(seal))


def consistency(first: int, second: int, *, using: str = "default") -> list[str]:
    """The RFC 9162 consistency proof from the seal of size ``first`` to that of ``second``."""
    for size in (first, second):
        seal_of_size(size, using=using)
    if first > second:
        raise ProofRefused(f"the first tree size ({first}) is larger than the second ({second})")
    return [node.hex() for node in merkle.consistency_proof(first, leaf_hashes(second, using=using))]


def leaf_hashes(tree_size: int, *, using: str = "default") -> list[bytes]:
    """The first ``tree_size`` leaf hashes in index order."""
    rows = Leaf.objects.using(using).filter(index__lt=tree_size).order_by("index").values_list("hash", flat=True)
    return [bytes.fromhex(value) for value in rows.iterator(chunk_size=10_000)]


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
