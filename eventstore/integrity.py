"""Tamper evidence: verifying the log against its hash chains, its leaves, its seals and
the witness, in one run.

- **Chains.** Every stream's HMAC chain, in (stream, version) order, page by page in
  constant memory: a changed event, or one missing inside a stream.
- **Leaves.** The leaves are exactly the sealed events: leaf indexes run without gaps,
  each leaf's event is still there and still hashes to the leaf (content, position and
  recorded time), and as many events lie up to the newest seal's place in the feed as it
  has leaves. A removed tail, a removed stream, swapped positions or a backdated event
  shows here.
- **Seals.** Every seal's Ed25519 signature, and its root against the tree the leaves
  build at its size; since all roots come from the one sequence of leaves, consecutive
  seals are consistent.
- **Witness.** Every seal of this log's epochs in the witness must be in the database,
  unchanged, and its root must be what the leaves build at its size: deleting the newest
  seals, or every seal, shows here.
- **Unsealed tail.** Events no seal covers yet: how many, and how old the oldest is;
  older than ``SEAL_STALE_SECONDS`` makes the log stale.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from . import merkle, sealing, sealkeys
from .cursor import FeedKey
from .exceptions import UnknownSigningKey
from .models import LogIdentity, Seal
from .recorders import recorder_for
from .records import RecordedEvent
from .serialization import canonical_json, format_datetime
from .signing import event_hash, key_for

PAGE_SIZE = 5000
MAX_PROBLEMS = 100


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    message: str
    stream_id: UUID | None = None
    version: int | None = None
    position: int | None = None

    def __str__(self) -> str:
        where = []
        if self.stream_id is not None:
            where.append(f"stream {self.stream_id}")
        if self.version is not None:
            where.append(f"version {self.version}")
        if self.position is not None:
            where.append(f"position {self.position}")
        return f"{self.kind}: {self.message}" + (f" ({', '.join(where)})" if where else "")


@dataclass
class Report:
    events: int = 0
    streams: int = 0
    leaves: int = 0
    seals: int = 0
    newest_seal: Seal | None = None
    unsealed: int = 0
    oldest_unsealed: dt.datetime | None = None
    witnessed: int = 0
    stale: bool = False
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.stale

    @property
    def exit_code(self) -> int:
        """0 all verifies, 1 tampered, 2 nothing tampered but the unsealed tail is stale."""
        return 1 if self.problems else 2 if self.stale else 0

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def summary(self) -> str:
        text = (
            f"{self.events} events in {self.streams} streams, {self.leaves} leaves, {self.seals} seals"
            f" ({self.witnessed} in the witness), {self.unsealed} unsealed"
        )
        if self.oldest_unsealed is not None:
            text += f" (oldest {(timezone.now() - self.oldest_unsealed).total_seconds():.0f} s)"
        if self.problems:
            return f"BROKEN: {text}; {len(self.problems) + self.more_problems} problems, first: {self.problems[0]}"
        if self.stale:
            return (
                f"STALE: {text}; unsealed events are older than {settings.SEAL_STALE_SECONDS} s: is the sealer running?"
            )
        return f"OK: {text}; every hash chain, leaf and seal verifies."


class _ChainWalk:
    """Walks events in (stream, version) order, checking each stream's HMAC chain."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.keys: dict[str, bytes] = {}
        self.stream: UUID | None = None
        self.previous_hash = ""
        self.last_version = 0

    def event(self, event: RecordedEvent, key_id: str, hash_: str) -> None:
        if event.stream_id != self.stream:
            self.report.streams += 1
            self.stream, self.previous_hash, self.last_version = event.stream_id, "", 0
        self.report.events += 1
        if event.version != self.last_version + 1:
            self.report.add(
                Problem(
                    "events_missing",
                    f"versions {self.last_version + 1}..{event.version - 1} are missing",
                    event.stream_id,
                    event.version,
                    event.position,
                )
            )
        key = self._key(key_id, event)
        if key and _hash_of(key, event, self.previous_hash) != hash_:
            self.report.add(
                Problem(
                    "hash_mismatch",
                    "this event or the one before it was changed",
                    event.stream_id,
                    event.version,
                    event.position,
                )
            )
        self.previous_hash, self.last_version = hash_, event.version

    def _key(self, key_id: str, event: RecordedEvent) -> bytes:
        if key_id not in self.keys:
            try:
                self.keys[key_id] = key_for(key_id)
            except UnknownSigningKey as exc:
                self.report.add(Problem("unknown_key", str(exc), event.stream_id, event.version, event.position))
                self.keys[key_id] = b""
        return self.keys[key_id]


def _hash_of(key: bytes, event: RecordedEvent, previous_hash: str) -> str:
    return event_hash(
        key,
        event_id=str(event.event_id),
        stream_type=event.stream_type,
        stream_id=str(event.stream_id),
        version=event.version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data_json=canonical_json(event.data),
        metadata_json=canonical_json(event.metadata),
        occurred_at=format_datetime(event.occurred_at),
        previous_hash=previous_hash,
    )


def verify(*, using: str = "default", page_size: int = PAGE_SIZE) -> Report:
    """Verify the chains, the leaves, the seals, the witness and the unsealed tail.

    The witness is read first and the database in one snapshot (PostgreSQL: a repeatable
    read, read-only transaction), so a seal made while this runs is never taken for a
    removed one: a seal is appended to the witness only after its commit."""
    report = Report()
    witness = list(sealing.witness_lines())
    with _snapshot(using):
        walk = _ChainWalk(report)
        for event, key_id, hash_ in recorder_for(using).iter_by_stream(page_size):
            walk.event(event, key_id, hash_)
        seals = {row.tree_size: row for row in Seal.objects.using(using).order_by("tree_size")}
        report.seals, report.newest_seal = len(seals), (seals[max(seals)] if seals else None)
        for row in seals.values():
            _check_signature(report, sealing.SignedSeal.of(row), f"the seal of tree size {row.tree_size}")
        witnessed = _witness(report, witness, seals, using)
        walked = _walk_leaves(report, set(seals) | set(witnessed), using)
        for size, row in seals.items():
            _check_seal(report, row, walked.get(size))
        for size, (line, _) in witnessed.items():
            if size not in seals:
                report.add(
                    Problem(
                        "seal_missing",
                        f"the witness holds the seal of tree size {size} (line {line}), the database does not",
                    )
                )
        sealed_size = report.newest_seal.tree_size if report.newest_seal else 0
        if report.leaves > sealed_size:
            # The sealer writes leaves and their seal in one transaction: leaves past the
            # newest seal mean newer seals were removed.
            report.add(
                Problem(
                    "seal_missing", f"{report.leaves - sealed_size} leaves follow the newest seal: seals were removed"
                )
            )
        place = (walked[sealed_size].place if sealed_size in walked else None) or _place_of_newest(report)
        _check_sealed_count(report, place, using)
        _check_tail(report, place, using)
    return report


@contextlib.contextmanager
def _snapshot(using: str) -> Iterator[None]:
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic(using=using), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _check_signature(report: Report, signed: sealing.SignedSeal, what: str, kind: str = "seal_tampered") -> bool:
    try:
        if sealkeys.verify_signature(signed.key_id, signed.message(), signed.signature):
            return True
    except UnknownSigningKey as exc:
        report.add(Problem("unknown_key", f"{what}: {exc}"))
        return False
    report.add(Problem(kind, f"{what}: its signature does not verify"))
    return False


def _check_seal(report: Report, row: Seal, walked: _Walked | None) -> None:
    """A seal's root against the leaves, and the sealer's own state beside it (its place in
    the feed and the frontier, which the next seal builds on) against what the walk found."""
    size = row.tree_size
    if walked is None:
        report.add(Problem("seal_tampered", f"the seal of tree size {size}: the log has only {report.leaves} leaves"))
    elif walked.root.hex() != row.root_hash:
        report.add(Problem("seal_tampered", f"the seal of tree size {size}: the leaves no longer build its root"))
    elif row.frontier != walked.frontier or (
        walked.place is not None and FeedKey(row.feed_transaction_id, row.last_position) != walked.place
    ):
        report.add(Problem("seal_tampered", f"the seal of tree size {size}: the sealer's state beside it was changed"))


def _witness(
    report: Report, lines: list[tuple[int, sealing.SignedSeal | None]], seals: dict[int, Seal], using: str
) -> dict[int, tuple[int, sealing.SignedSeal]]:
    """The witness's seals of this log (its epochs), by tree size; problems for lines that
    are not seals, do not verify, or differ from the database's seal of the same size."""
    # Every epoch the log has had (insert-only): a new epoch recorded by hand does not make
    # the witness's older seals someone else's.
    epochs = {row.epoch for row in seals.values()} | {_current_epoch(using)}
    epochs |= set(LogIdentity.objects.using(using).values_list("epoch", flat=True))
    witnessed: dict[int, tuple[int, sealing.SignedSeal]] = {}
    for line, signed in lines:
        if signed is None:
            report.add(Problem("witness_mismatch", f"witness line {line} is not a seal"))
            continue
        if signed.epoch not in epochs:
            continue  # another database's log
        report.witnessed += 1
        if not _check_signature(report, signed, f"witness line {line}", "witness_mismatch"):
            continue
        stored = seals.get(signed.tree_size)
        if stored is not None and sealing.SignedSeal.of(stored) != signed:
            report.add(
                Problem(
                    "witness_mismatch",
                    f"witness line {line}: the database's seal of tree size {signed.tree_size} differs",
                )
            )
        witnessed[signed.tree_size] = (line, signed)
    return witnessed


def _current_epoch(using: str) -> str:
    from .store import current_epoch

    return current_epoch(using=using)


@dataclass(frozen=True, slots=True)
class _Walked:
    """The tree as the walk built it at one size, and the feed place of its last leaf (None
    when that leaf's event is gone, which is reported already)."""

    root: bytes
    frontier: dict[str, Any]
    place: FeedKey | None


def _walk_leaves(report: Report, wanted: set[int], using: str) -> dict[int, _Walked]:
    """Recompute every leaf from its event, check the leaves follow the feed's order, and
    build the tree over them; returns the tree at each size in ``wanted`` (and at the last)."""
    walked: dict[int, _Walked] = {}
    frontier = merkle.Frontier()
    recorder = recorder_for(using)
    after, place = -1, FeedKey(0, 0)
    while leaves := recorder.leaves_with_lines(after, PAGE_SIZE):
        for index, position, leaf_hash, line, transaction_id in leaves:
            if index != frontier.size:
                report.add(Problem("leaf_missing", f"leaves {frontier.size}..{index - 1} are missing"))
                frontier = _skip_to(frontier, index)
            if line is None:
                report.add(Problem("sealed_event_missing", f"leaf {index}: the event is gone", position=position))
            elif sealing.leaf_hash_of(line).hex() != leaf_hash:
                report.add(
                    Problem(
                        "leaf_mismatch",
                        f"leaf {index}: the event is not what was sealed (content, position or recorded time)",
                        UUID(line["stream_id"]),
                        line["version"],
                        position,
                    )
                )
            elif FeedKey(transaction_id, position) <= place:
                report.add(
                    Problem(
                        "feed_reordered",
                        f"leaf {index}: the event now comes before the one sealed ahead of it in the feed",
                        UUID(line["stream_id"]),
                        line["version"],
                        position,
                    )
                )
            else:
                place = FeedKey(transaction_id, position)
            frontier.append(bytes.fromhex(leaf_hash))
            if frontier.size in wanted:
                last_ok = place.position == position
                walked[frontier.size] = _Walked(frontier.root(), frontier.to_json(), place if last_ok else None)
        after = leaves[-1][0]
    report.leaves = frontier.size
    walked.setdefault(frontier.size, _Walked(frontier.root(), frontier.to_json(), place))
    return walked


def _place_of_newest(report: Report) -> FeedKey:
    """Where the newest seal says it is in the feed, when the walk could not tell."""
    newest = report.newest_seal
    return FeedKey(newest.feed_transaction_id, newest.last_position) if newest else FeedKey(0, 0)


def _skip_to(frontier: merkle.Frontier, size: int) -> merkle.Frontier:
    """Past missing leaves the roots cannot match anyway; keep counting from ``size``."""
    while frontier.size < size:
        frontier.append(merkle.EMPTY_ROOT)
    return frontier


def _check_sealed_count(report: Report, place: FeedKey, using: str) -> None:
    """As many events up to the newest sealed leaf's place in the feed as there are sealed
    leaves: an event slipped in below it shows here."""
    newest = report.newest_seal
    if newest is None:
        return
    counted = recorder_for(using).count_upto(place)
    if counted != newest.tree_size:
        report.add(
            Problem(
                "event_count_mismatch",
                f"the newest seal covers {newest.tree_size} events, the log now has {counted} up to it",
            )
        )


def _check_tail(report: Report, place: FeedKey, using: str) -> None:
    report.unsealed, report.oldest_unsealed = recorder_for(using).backlog(place, None, 2**62)
    if report.oldest_unsealed is not None:
        age = (timezone.now() - report.oldest_unsealed).total_seconds()
        report.stale = age > settings.SEAL_STALE_SECONDS
