"""What the admin shows of the seals, cheap enough for a page view: one event against the
seals, the log's newest seal, unsealed tail and witness, and the consistency of two seals.

``integrity.verify`` walks the whole log and is too slow for a page of a big one; nothing
here walks it. An event's page checks that event: its current content against its leaf
(what ``verify`` does for every leaf) and its inclusion proof against the newest seal
(``proofs``, the offline verifier's code). The log page reads the newest seal, counts the
unsealed tail up to ``TAIL_LIMIT`` and reads the witness from its end.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from . import merkle, proofs
from .cursor import START, FeedKey
from .models import LogIdentity, Seal
from .recorders import recorder_for
from .sealing import SignedSeal, leaf_hash_of, newest_seal, witness_newest, witness_path

# The log page counts the unsealed tail up to this many events ("10000+" beyond).
TAIL_LIMIT = 10_000


# --- One event -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventSeal:
    """One event against the seals. ``proof`` is against the newest seal; ``first_seal`` is
    the oldest seal that covers the event's leaf; ``problems`` say what does not check."""

    leaf_index: int | None = None
    first_seal: Seal | None = None
    proof: proofs.InclusionProof | None = None
    # While no seal covers the event: seconds until the next seal should.
    wait_seconds: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def sealed(self) -> bool:
        return self.leaf_index is not None

    @property
    def checks(self) -> bool:
        return self.proof is not None and not self.problems


def event_seal(event_id: UUID, *, using: str = "default") -> EventSeal:
    """Whether the event is sealed, by which seal, and whether its proof checks; raises
    ``proofs.NoSuchEvent`` for an unknown event."""
    try:
        proof = proofs.inclusion(event_id, using=using)
    except proofs.LogDamaged as damaged:
        return EventSeal(problems=[f"no inclusion proof can be made: {damaged}"])
    except proofs.NotYetSealed as refused:
        leaf = proofs.leaf_of(event_id, using=using)
        if leaf is None:
            return EventSeal(wait_seconds=refused.wait_seconds)
        # Leaves and their seal are written in one transaction: a leaf no seal covers
        # means the seals covering it were removed.
        return EventSeal(leaf.index, problems=[f"it has leaf {leaf.index}, but no seal covers it: seals were removed"])
    problems = []
    if not _matches_leaf(proof.leaf_index, proof.leaf_hash, using):
        problems.append(
            f"it is not what was sealed: its content, position or recorded time changed since (leaf {proof.leaf_index})"
        )
    if not proof.checks():
        failed = f"its inclusion proof does not check against the seal of tree size {proof.tree_size}"
        if not proof.seal.signature_checks():
            failed += f": the seal's signature does not verify (key {proof.seal.key_id})"
        problems.append(failed)
    first = Seal.objects.using(using).filter(tree_size__gt=proof.leaf_index).order_by("tree_size").first()
    return EventSeal(proof.leaf_index, first, proof, problems=problems)


def _matches_leaf(index: int, leaf_hash: str, using: str) -> bool:
    """Whether the event now at the leaf's position still hashes to the leaf."""
    rows = recorder_for(using).leaves_with_lines(index - 1, 1)
    if not rows:
        return False
    found_index, _, stored_hash, line, _ = rows[0]
    if found_index != index or line is None:
        return False
    return stored_hash == leaf_hash and leaf_hash_of(line).hex() == leaf_hash


# --- The log ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Witness:
    """The witness against the database's newest seal. ``state`` is ``ok`` (it holds the
    newest seal, or nothing is sealed), ``lagging`` (it lacks the newest ``lacking`` seals)
    or ``failed`` (it contradicts the database: seals removed or changed)."""

    state: str
    message: str
    newest: SignedSeal | None = None
    lacking: int = 0


@dataclass(frozen=True, slots=True)
class LogStatus:
    newest_seal: Seal | None
    newest_signature_checks: bool
    # Events no seal covers yet, counted up to TAIL_LIMIT, and the oldest one's recorded time.
    unsealed: int
    oldest_unsealed: dt.datetime | None
    next_seal_within: int
    witness: Witness
    checked_at: dt.datetime

    @property
    def seal_age(self) -> float | None:
        return (self.checked_at - self.newest_seal.sealed_at).total_seconds() if self.newest_seal else None

    @property
    def tail_age(self) -> float | None:
        return (self.checked_at - self.oldest_unsealed).total_seconds() if self.oldest_unsealed else None

    @property
    def unsealed_text(self) -> str:
        return f"{self.unsealed}+" if self.unsealed >= TAIL_LIMIT else str(self.unsealed)

    @property
    def stale(self) -> bool:
        """Unsealed events older than ``SEAL_STALE_SECONDS``: ``verify_events`` exits 2."""
        return self.tail_age is not None and self.tail_age > settings.SEAL_STALE_SECONDS


def log_status(*, using: str = "default") -> LogStatus:
    newest = newest_seal(using=using)
    place = FeedKey(newest.feed_transaction_id, newest.last_position) if newest else START
    unsealed, oldest = recorder_for(using).backlog(place, None, TAIL_LIMIT)
    return LogStatus(
        newest_seal=newest,
        newest_signature_checks=newest is not None and SignedSeal.of(newest).signature_checks(),
        unsealed=unsealed,
        oldest_unsealed=oldest,
        next_seal_within=proofs.expected_wait(using=using),
        witness=witness_status(newest, using=using),
        checked_at=timezone.now(),
    )


def witness_status(newest: Seal | None, *, using: str = "default") -> Witness:
    """The witness's last seal of this log against the database's newest seal."""
    seals = Seal.objects.using(using)
    epochs = set(LogIdentity.objects.using(using).values_list("epoch", flat=True))
    if newest is not None:
        epochs.add(newest.epoch)
    witnessed = witness_newest(epochs)
    if witnessed is None:
        if newest is None:
            return Witness("ok", "Nothing is sealed yet.")
        where = "holds none of this log's seals" if witness_path().exists() else "file does not exist"
        return Witness("lagging", f"The witness {where}: it lacks all {seals.count()}.", lacking=seals.count())
    if not witnessed.signature_checks():
        return Witness("failed", f"Its newest seal (tree size {witnessed.tree_size}) does not verify.", witnessed)
    if newest is None or witnessed.tree_size > newest.tree_size:
        return Witness(
            "failed",
            f"It holds the seal of tree size {witnessed.tree_size}, newer than any in the database: "
            "seals were removed.",
            witnessed,
        )
    stored = newest if witnessed.tree_size == newest.tree_size else seals.filter(tree_size=witnessed.tree_size).first()
    if stored is None or SignedSeal.of(stored) != witnessed:
        change = "is not in the database" if stored is None else "differs from the database's"
        return Witness("failed", f"Its seal of tree size {witnessed.tree_size} {change}.", witnessed)
    lacking = seals.filter(tree_size__gt=witnessed.tree_size).count()
    if lacking:
        return Witness(
            "lagging",
            f"It lacks the {lacking} newest seals (it ends at tree size {witnessed.tree_size}).",
            witnessed,
            lacking,
        )
    return Witness("ok", "It holds the newest seal.", witnessed)


# --- Two seals -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Consistency:
    """The consistency proof from one seal to a later one, checked as an auditor would:
    the proof against both signed roots (``merkle.verify_consistency``), and both signatures."""

    first: SignedSeal
    second: SignedSeal
    # None when it cannot be computed (``problem`` says why).
    proof: list[str] | None
    proof_verifies: bool
    first_signature_checks: bool
    second_signature_checks: bool

    @property
    def checks(self) -> bool:
        return self.proof_verifies and self.first_signature_checks and self.second_signature_checks


def consistency(first: int, second: int, *, using: str = "default") -> Consistency:
    """Raises ``proofs.NoSuchSeal`` for a size no seal has, ``proofs.ProofRefused`` for
    sizes out of order."""
    older = SignedSeal.of(proofs.seal_of_size(first, using=using))
    newer = SignedSeal.of(proofs.seal_of_size(second, using=using))
    try:
        proof: list[str] | None = proofs.consistency(first, second, using=using)
    except proofs.LogDamaged:
        proof = None
    verifies = proof is not None and merkle.verify_consistency(
        older.tree_size, newer.tree_size, _bytes(older.root_hash), _bytes(newer.root_hash), [_bytes(n) for n in proof]
    )
    return Consistency(older, newer, proof, verifies, older.signature_checks(), newer.signature_checks())


def _bytes(text: str) -> bytes:
    """A hash from its hex; b"" (which no check accepts) for a value that is not one."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""
