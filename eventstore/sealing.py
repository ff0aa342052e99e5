"""Sealing the log: one Merkle leaf per event, signed tree heads, and a witness outside the
database, so that anyone holding the public keyring can prove nothing recorded was
changed, removed or reordered.

**Leaves.** The sealer reads the feed with a place of its own and appends one leaf per
event, in the order it reads them (``chronicle_leaf``: leaf index, position, leaf hash).
A leaf's bytes are the event's line in an export (``export.stored_row``) as canonical
JSON (``serialization.canonical_json``), UTF-8::

    {"data", "event_id", "event_type", "hash", "key_id", "metadata", "occurred_at",
     "position", "recorded_at", "schema_version", "stream_id", "stream_type", "version"}

with ``position`` and ``version`` integers and both times as ``format_datetime`` writes
them. The leaf hash is RFC 9162's: SHA-256 of 0x00 and those bytes. So the feed's order
(positions, leaf indexes), the recorded time and every field of the content are covered,
and a verifier without the HMAC secret still detects an edited field.

**Seals.** A seal is a signed tree head: the tree size, the Merkle root of that many
leaves (RFC 9162, SHA-256), the last leaf's position, the log epoch, when it was made and
the key id, signed with Ed25519 (``sealkeys``) over ``seal_message``. The private key never
reaches the database. Beside the signed fields a seal row keeps the sealer's place (the
feed key it read up to and the tree's frontier), so the next seal costs the events since
this one plus log n hashes. A quiet log makes no new seals.

**Witness.** After its transaction commits, each seal is appended to the witness
(``SEAL_WITNESS``, a JSON-lines file by default) as its signed fields: a copy the database
cannot rewrite, against which ``verify`` checks the database's seals.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypedDict

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from . import merkle, sealkeys
from . import store as event_store
from .cursor import START, FeedKey
from .exceptions import EventStoreError, UnknownSigningKey
from .export import line_bytes
from .models import Event, Seal
from .recorders import collector_paused, recorder_for
from .serialization import canonical_json, format_datetime

log = logging.getLogger("chronicle.sealing")

SEAL_FORMAT = "chronicle-seal/1"
# At most this many leaves a seal, so a backlog is sealed in transactions of bounded size.
SEAL_BATCH = 20_000
_SEAL_LOCK = 0x43484C53  # "CHLS": one sealer at a time


leaf_bytes = line_bytes


def leaf_hash_of(line: dict[str, Any]) -> bytes:
    return merkle.leaf_hash(leaf_bytes(line))


class _SignedFields(TypedDict):
    """What ``seal_message`` takes: a seal's fields under its signature."""

    tree_size: int
    root_hash: str
    last_position: int
    epoch: str
    sealed_at: str
    key_id: str


@dataclass(frozen=True, slots=True)
class SignedSeal:
    """What a seal signs and the signature: the form in the witness, the export and the API."""

    tree_size: int
    root_hash: str
    last_position: int
    epoch: str
    sealed_at: str
    key_id: str
    signature: str

    @classmethod
    def of(cls, row: Seal) -> SignedSeal:
        return cls(
            row.tree_size,
            row.root_hash,
            row.last_position,
            row.epoch,
            format_datetime(row.sealed_at),
            row.key_id,
            row.signature,
        )

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SignedSeal:
        """Raises (KeyError, TypeError, ValueError) on a malformed seal."""
        fields = {name: value[name] for name in cls.__slots__}
        if not isinstance(fields["tree_size"], int) or not isinstance(fields["last_position"], int):
            raise TypeError("tree_size and last_position must be integers")
        if not all(
            isinstance(fields[name], str) for name in cls.__slots__ if name not in ("tree_size", "last_position")
        ):
            raise TypeError("seal fields must be strings")
        return cls(**fields)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def message(self) -> bytes:
        return seal_message(self.tree_size, self.root_hash, self.last_position, self.epoch, self.sealed_at, self.key_id)

    def signature_checks(self) -> bool:
        """Whether the signature is this seal's, by the key it names (False for an unknown key)."""
        try:
            return sealkeys.verify_signature(self.key_id, self.message(), self.signature)
        except UnknownSigningKey:  # the seal cannot be trusted either way
            return False


def seal_message(tree_size: int, root_hash: str, last_position: int, epoch: str, sealed_at: str, key_id: str) -> bytes:
    """The bytes a seal's signature covers: canonical JSON of the signed fields and the format."""
    return canonical_json(
        {
            "epoch": epoch,
            "format": SEAL_FORMAT,
            "key_id": key_id,
            "last_position": last_position,
            "root_hash": root_hash,
            "sealed_at": sealed_at,
            "tree_size": tree_size,
        }
    ).encode()


def newest_seal(*, using: str = "default") -> Seal | None:
    return Seal.objects.using(using).order_by("-tree_size").first()


def seal(*, using: str = "default", batch: int = SEAL_BATCH) -> Seal | None:
    """Seal every event below the feed's horizon that no seal covers yet, ``batch`` leaves
    a seal (each in a transaction of its own); returns the newest new seal, or None when
    nothing was new."""
    newest = None
    while (made := _seal_batch(using, batch)) is not None:
        newest, added = made
        if added < batch:
            break
    return newest


def _seal_batch(using: str, batch: int) -> tuple[Seal, int] | None:
    recorder = recorder_for(using)
    with transaction.atomic(using=using):
        _lock(using)
        previous = newest_seal(using=using)
        after = FeedKey(previous.feed_transaction_id, previous.last_position) if previous else START
        frontier = merkle.Frontier.from_json(previous.frontier) if previous else merkle.Frontier()
        if previous is not None:
            _check_place(previous, frontier, using)
        horizon, epoch = recorder.horizon()
        leaves = []
        with collector_paused():  # a batch's rows and leaves form no cycles
            # The last row's transaction id and position are the seal's place in the feed.
            for transaction_id, position, leaf in recorder.read_leaves(after, horizon, batch):  # noqa: B007
                digest = merkle.leaf_hash(leaf)
                leaves.append((frontier.size, position, digest.hex()))
                frontier.append(digest)
        if not leaves:
            return None
        recorder.insert_leaves(leaves)
        place = FeedKey(transaction_id, position)
        key_id, _ = sealkeys.signing_key()
        signed: _SignedFields = {
            "tree_size": frontier.size,
            "root_hash": frontier.root().hex(),
            "last_position": place.position,
            "epoch": epoch or event_store.current_epoch(using=using),
            "sealed_at": format_datetime(timezone.now()),
            "key_id": key_id,
        }
        _, signature = sealkeys.sign(seal_message(**signed))
        row = Seal(
            **{**signed, "sealed_at": dt.datetime.fromisoformat(signed["sealed_at"])},
            signature=signature,
            feed_transaction_id=place.transaction_id,
            frontier=frontier.to_json(),
        )
        row.save(using=using)
        transaction.on_commit(lambda: witness_append(SignedSeal.of(row)), using=using)
    return row, len(leaves)


def on_events_appended(sender: Any, using: str, **kwargs: Any) -> None:
    """Receiver of ``store.events_appended`` where ``SEAL_AFTER_COMMIT`` is on (the embedded
    default, which has no Celery beat): seal once the transaction commits, once per
    transaction."""
    if not settings.SEAL_AFTER_COMMIT:
        return
    connection = connections[using]
    if connection.in_atomic_block and any(
        getattr(callback, "func", None) is seal_after_commit for _, callback, *_ in connection.run_on_commit
    ):
        return
    transaction.on_commit(functools.partial(seal_after_commit, using), using=using, robust=True)


def seal_after_commit(using: str) -> None:
    """A failed seal never fails the command that committed; the next one seals its events."""
    try:
        seal(using=using)
    except Exception:
        log.exception("sealing after a commit failed; the next seal will cover these events")


def sealer_held(using: str = "default") -> contextlib.AbstractContextManager[None]:
    """No sealer runs on ``using`` during the block (a restore: the sealer must not seal
    half-loaded batches): the sealers' lock, held by this session."""
    return event_store.session_lock(_SEAL_LOCK, using=using)


class SealRefused(EventStoreError):
    """The newest seal's unsigned state (its place in the feed, the frontier) does not
    match what it signed or the log: sealing on from it could skip events or sign a tree
    the leaves do not build. Nothing is sealed until ``verify_events`` has been looked at."""


def _check_place(previous: Seal, frontier: merkle.Frontier, using: str) -> None:
    if frontier.size != previous.tree_size or frontier.root().hex() != previous.root_hash:
        raise SealRefused(f"the frontier beside the seal of tree size {previous.tree_size} does not build its root")
    stored = Event.objects.using(using).filter(position=previous.last_position).values_list("transaction_id")
    if [row[0] or 0 for row in stored] != [previous.feed_transaction_id]:
        raise SealRefused(f"the seal of tree size {previous.tree_size} names a place in the feed its event is not at")


def _lock(using: str) -> None:
    """One sealer at a time. (SQLite's IMMEDIATE transactions serialise writers already.)"""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEAL_LOCK])


# --- The witness ---------------------------------------------------------------------------


def witness_path() -> Path:
    return Path(settings.SEAL_WITNESS)


def witness_append(signed: SignedSeal) -> None:
    """Append one seal to the witness. A failure is logged, never raised: the seal is
    committed, and ``verify`` reports seals the witness lacks."""
    path = witness_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as witness:
            witness.write(json.dumps(signed.to_json(), sort_keys=True) + "\n")
    except OSError as error:
        log.error("could not append seal %s to the witness %s: %s", signed.tree_size, path, error)


def witness_lines() -> Iterator[tuple[int, SignedSeal | None]]:
    """(line number, seal) for each witness line; None for a line that is not a seal."""
    path = witness_path()
    if not path.exists():
        return
    with path.open(encoding="utf-8") as witness:
        for number, text in enumerate(witness, start=1):
            try:
                yield number, SignedSeal.from_json(json.loads(text))
            except (ValueError, KeyError, TypeError):
                yield number, None


def witness_newest(epochs: Collection[str]) -> SignedSeal | None:
    """The witness's last seal of these epochs (this log's), read from the end of the file:
    what a page shows of the witness without reading every seal it holds. Lines that are
    not seals are passed over here; ``verify`` reports them."""
    for text in _lines_from_end(witness_path()):
        try:
            signed = SignedSeal.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError):
            continue
        if signed.epoch in epochs:
            return signed
    return None


def _lines_from_end(path: Path, block: int = 1 << 16) -> Iterator[bytes]:
    """The file's non-blank lines, last first, reading ``block`` bytes at a time."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        end = file.seek(0, os.SEEK_END)
        head = b""  # the start of a line that may begin in the block before
        while end > 0:
            start = max(0, end - block)
            file.seek(start)
            lines = (file.read(end - start) + head).split(b"\n")
            head = lines.pop(0)
            yield from (line for line in reversed(lines) if line.strip())
            end = start
        if head.strip():
            yield head
