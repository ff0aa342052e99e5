"""Tamper evidence: verifying every stream's hash chain, and sealing stream heads.

A stream's chain catches a changed, inserted or removed event inside the stream, but not
its last events removed, nor a whole stream removed. Seals catch those: ``seal()`` appends
a signed record of the heads of the streams that changed since the last seal, together with
the number of events so far. ``verify()`` walks every chain in (stream, version) order, page
by page in constant memory, merges the latest sealed head of each stream into that walk,
checks the seals' own signature chain and the event count, and reports every problem it
finds, first broken link first.

Limits: removing the newest seal together with the events after the one before it cannot
be told from a log that was never sealed again; seal often (a periodic task does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from uuid import UUID

from django.db import connections, transaction
from django.db.models import F, QuerySet, Window
from django.db.models.functions import RowNumber

from . import cursor as feed_cursor
from .exceptions import UnknownSigningKey
from .models import Seal, SealHead
from .recorders import StreamHead, recorder_for
from .records import RecordedEvent
from .serialization import canonical_json, format_datetime
from .signing import current_key, event_hash, key_for, sign_text

PAGE_SIZE = 5000
MAX_PROBLEMS = 100
SEAL_LOCK = 0x43484C53  # "CHLS": advisory lock key for sealing


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
    seals: int = 0
    sealed_streams: int = 0
    problems: list[Problem] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: Problem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def summary(self) -> str:
        text = (
            f"{self.events} events in {self.streams} streams, {self.seals} seals "
            f"({self.sealed_streams} sealed stream heads)"
        )
        if self.ok:
            return f"OK: {text}; every hash chain and seal verifies."
        return f"BROKEN: {text}; {len(self.problems) + self.more_problems} problems, first: {self.problems[0]}"


def _seal_text(seal: Seal, heads_digest: str) -> str:
    return canonical_json(
        {
            "event_count": seal.event_count,
            "head_count": seal.head_count,
            "heads_digest": heads_digest,
            "position": seal.position,
            "previous_signature": seal.previous_signature,
            "transaction_id": seal.transaction_id,
        }
    )


def _digest(heads: Iterator[StreamHead]) -> tuple[str, int]:
    digest = hashlib.sha256()
    count = 0
    for head in heads:
        digest.update(f"{head.stream_id}:{head.stream_type}:{head.version}:{head.hash}\n".encode())
        count += 1
    return digest.hexdigest(), count


def _heads_by_stream(heads: QuerySet[SealHead]) -> Iterator[StreamHead]:
    """The heads in stream id order, a page at a time (keyset pagination)."""
    after = UUID(int=0)
    while True:
        page = list(
            heads.filter(stream_id__gt=after)
            .order_by("stream_id")
            .values_list("stream_id", "stream_type", "version", "hash")[:PAGE_SIZE]
        )
        yield from (StreamHead(*row) for row in page)
        if len(page) < PAGE_SIZE:
            return
        after = page[-1][0]


def _seal_heads(seal_id: int, using: str) -> Iterator[StreamHead]:
    return _heads_by_stream(SealHead.objects.using(using).filter(seal_id=seal_id))


def _latest_sealed_heads(using: str) -> Iterator[StreamHead]:
    """Each sealed stream's head from the newest seal that lists it, by stream id."""
    newest_first = Window(RowNumber(), partition_by=[F("stream_id")], order_by=F("seal_id").desc())
    return _heads_by_stream(SealHead.objects.using(using).annotate(rank=newest_first).filter(rank=1))


def _lock_seals(using: str) -> None:
    """One sealer at a time, or two seals could follow the same previous seal. (SQLite's
    IMMEDIATE transactions serialise writers already.)"""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEAL_LOCK])


def seal(*, using: str = "default") -> Seal:
    """Append a seal of the heads of every stream that changed since the last seal."""
    recorder = recorder_for(using)
    with transaction.atomic(using=using):
        _lock_seals(using)
        previous = Seal.objects.using(using).order_by("-id").first()
        after = feed_cursor.FeedKey(previous.transaction_id, previous.position) if previous else feed_cursor.START
        upto, _ = recorder.horizon()
        upto = max(after, upto)
        heads = recorder.changed_heads(after, upto)
        key_id, key = current_key()
        new = Seal(
            transaction_id=upto.transaction_id,
            position=upto.position,
            event_count=recorder.count_upto(upto),
            head_count=len(heads),
            previous_signature=previous.signature if previous else "",
            key_id=key_id,
        )
        digest, _ = _digest(iter(heads))
        new.signature = sign_text(key, _seal_text(new, digest))
        new.save(using=using)
        SealHead.objects.using(using).bulk_create(
            [
                SealHead(seal=new, stream_id=h.stream_id, stream_type=h.stream_type, version=h.version, hash=h.hash)
                for h in heads
            ],
            batch_size=1000,
        )
    return new


def _verify_seals(report: Report, using: str) -> Seal | None:
    """Check each seal's signature and the chain between them; return the newest seal."""
    previous: Seal | None = None
    for seal_row in Seal.objects.using(using).order_by("id").iterator(chunk_size=1000):
        report.seals += 1
        expected_previous = previous.signature if previous else ""
        if seal_row.previous_signature != expected_previous:
            report.add(Problem("seal_chain_broken", f"seal {seal_row.id} does not follow the seal before it"))
        digest, count = _digest(_seal_heads(seal_row.id, using))
        try:
            key = key_for(seal_row.key_id)
        except UnknownSigningKey as exc:
            report.add(Problem("unknown_key", f"seal {seal_row.id}: {exc}"))
        else:
            if count != seal_row.head_count or sign_text(key, _seal_text(seal_row, digest)) != seal_row.signature:
                report.add(Problem("seal_tampered", f"seal {seal_row.id} or its heads were changed"))
        previous = seal_row
    return previous


class _ChainWalk:
    """Walks events in (stream, version) order beside the latest sealed heads, also in
    stream order, so a whole log is checked in one pass and constant memory."""

    def __init__(self, report: Report, sealed: Iterator[StreamHead]) -> None:
        self.report = report
        self.sealed = sealed
        self.next_sealed = next(sealed, None)
        self.keys: dict[str, bytes] = {}
        self.stream: UUID | None = None
        self.sealed_head: StreamHead | None = None
        self.sealed_hash_ok = False
        self.previous_hash = ""
        self.last_version = 0

    def event(self, event: RecordedEvent, key_id: str, hash_: str) -> None:
        if event.stream_id != self.stream:
            self._end_stream()
            self._start_stream(event.stream_id)
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
        head = self.sealed_head
        if head is not None and event.version == head.version:
            self.sealed_hash_ok = hash_ == head.hash and event.stream_type == head.stream_type
        self.previous_hash, self.last_version = hash_, event.version

    def finish(self) -> None:
        self._end_stream()
        self._skip_sealed_before(None)

    def _start_stream(self, stream_id: UUID) -> None:
        self.report.streams += 1
        self.stream, self.previous_hash, self.last_version = stream_id, "", 0
        self._skip_sealed_before(stream_id)
        self.sealed_head, self.sealed_hash_ok = None, False
        if self.next_sealed is not None and self.next_sealed.stream_id == stream_id:
            self.sealed_head, self.next_sealed = self.next_sealed, next(self.sealed, None)

    def _skip_sealed_before(self, stream_id: UUID | None) -> None:
        """Sealed streams that sort before ``stream_id`` (None: all) have no events left."""
        while self.next_sealed is not None and (stream_id is None or self.next_sealed.stream_id < stream_id):
            head = self.next_sealed
            self.report.sealed_streams += 1
            self.report.add(
                Problem("stream_missing", f"sealed at version {head.version}, now has no events", head.stream_id)
            )
            self.next_sealed = next(self.sealed, None)

    def _end_stream(self) -> None:
        head = self.sealed_head
        if head is None:
            return
        self.report.sealed_streams += 1
        if self.last_version < head.version:
            self.report.add(
                Problem(
                    "events_missing",
                    f"sealed at version {head.version}, now ends at version {self.last_version}",
                    head.stream_id,
                    self.last_version + 1,
                )
            )
        elif not self.sealed_hash_ok:
            self.report.add(
                Problem("sealed_head_changed", "the sealed event was changed", head.stream_id, head.version)
            )

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
    """Verify every hash chain, every seal, and the log against its newest seal."""
    report = Report()
    recorder = recorder_for(using)
    newest_seal = _verify_seals(report, using)
    walk = _ChainWalk(report, _latest_sealed_heads(using))
    for event, key_id, hash_ in recorder.iter_by_stream(page_size):
        walk.event(event, key_id, hash_)
    walk.finish()
    if newest_seal is not None:
        counted = recorder.count_upto(feed_cursor.FeedKey(newest_seal.transaction_id, newest_seal.position))
        if counted != newest_seal.event_count:
            report.add(
                Problem(
                    "event_count_mismatch",
                    f"the newest seal counted {newest_seal.event_count} events up to it, the log now has {counted}",
                )
            )
    return report
