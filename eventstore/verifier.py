"""Verify Chronicle's log without trusting Chronicle: an export, or one event's proof,
checked with the public keyring alone.

    python -m eventstore.verifier --keyring keys.json events.jsonl
    python -m eventstore.verifier --keyring keys.json --proof proof.json --event event.json

Standard library, ``cryptography`` (Ed25519) and ``merkle`` (standard library only), and
nothing else of Chronicle: no Django, no settings, no database. An auditor can copy this
file and ``merkle.py`` into a package of their own and read every line that decides.

**An export** (``manage.py export_events``; ``backup`` describes the file): every event
line's leaf hash is recomputed from the line itself (its stored columns as canonical JSON,
README "Tamper evidence"), and the RFC 9162 tree is rebuilt from them in file order. Each
seal line must be signed by a key of the keyring, count exactly the events before it,
sign the root they build and the position of the last of them, and be consistent with
the seal before it (an RFC 9162 consistency proof, made from the leaves and checked); the
file must end with a seal over every event. Each stream's versions must run 1, 2, 3...
without gaps: the one part of the hash chains that can be checked without the HMAC secret.

The chain's HMACs cannot be checked here: they need the app's secret (``EVENT_SIGNING_KEY``).
The leaves cover every column the HMAC covers, the ``hash`` besides, so a change made after
sealing shows all the same. What only the HMAC shows is an event that never came from the
app, written into the database behind its back before the sealer read it: the sealer seals
what it finds. ``manage.py verify_events``, run by whoever holds the secret, checks that.

Memory stays bounded as the file streams past: the tree's frontier, the leaf hashes since
the last seal (for the next consistency proof) and each stream's last version.

**One proof** (``GET /api/v1/events/{event_id}/proof/``): the event's export line must hash
to the proof's leaf, its audit path must lead to the root of a seal the keyring signed,
and the proof must be for that seal's tree size.

The first problem is named in one line on stderr and the exit status is 1; 0 means every
check passed, with a one-line summary on stdout.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import merkle

# The file and the signed message as Chronicle writes them (``backup``, ``export``,
# ``sealing``); tests hold these spellings to Chronicle's own.
FORMAT = "chronicle-events"
FORMAT_VERSION = 2
SEAL_FORMAT = "chronicle-seal/1"
EVENT_COLUMNS = frozenset(
    (
        "position",
        "event_id",
        "stream_type",
        "stream_id",
        "version",
        "event_type",
        "schema_version",
        "data",
        "metadata",
        "occurred_at",
        "recorded_at",
        "key_id",
        "hash",
    )
)

# ``serialization.canonical_json``'s definition; one encoder, made once, for every leaf.
_canonical = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class Broken(Exception):
    """The first problem found: where (a file and line), a short kind to grep for, and a
    sentence saying what it means."""

    def __init__(self, kind: str, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {kind}: {message}" if where else f"{kind}: {message}")
        self.kind = kind


def leaf_hash(line: Mapping[str, Any]) -> bytes:
    """The RFC 9162 leaf hash of an event's export line: its canonical JSON, UTF-8."""
    return merkle.leaf_hash(_canonical(line).encode())


# --- Seals and the keyring ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seal:
    """A signed tree head, as the export, the witness and the API spell it."""

    tree_size: int
    root_hash: str
    last_position: int
    epoch: str
    sealed_at: str
    key_id: str
    signature: str

    @classmethod
    def from_json(cls, value: Any, where: str) -> Seal:
        """The seal's signed fields and signature; fields beyond them sign nothing and are
        not read."""
        if not isinstance(value, dict):
            raise Broken("unreadable", "a seal is a JSON object", where)
        names = cls.__slots__
        missing = [name for name in names if name not in value]
        if missing:
            raise Broken("unreadable", f"the seal lacks {', '.join(missing)}", where)
        counts = ("tree_size", "last_position")
        if any(not _is_int(value[name]) for name in counts) or any(
            not isinstance(value[name], str) for name in names if name not in counts
        ):
            raise Broken("unreadable", "a seal's tree_size and last_position are integers, the rest text", where)
        return cls(*(value[name] for name in names))

    def message(self) -> bytes:
        """The bytes the signature covers (``sealing.seal_message``)."""
        signed = {
            "epoch": self.epoch,
            "format": SEAL_FORMAT,
            "key_id": self.key_id,
            "last_position": self.last_position,
            "root_hash": self.root_hash,
            "sealed_at": self.sealed_at,
            "tree_size": self.tree_size,
        }
        return _canonical(signed).encode()

    def root(self, where: str) -> bytes:
        return _hash(self.root_hash, "the seal's root_hash", where)


class Keyring:
    """The public keys that check seals, by key id."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.keys = dict(keys)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """``manage.py seal_key --public`` and ``GET /api/v1/log/keys/`` print
        ``{"keys": [{"key_id", "public_key"}]}``; ``{key id: public key}`` is read too.
        Public keys are base64 of Ed25519's 32 raw bytes."""
        data = _read_json(path)
        entries = data["keys"] if isinstance(data, dict) and isinstance(data.get("keys"), list) else data
        if isinstance(entries, dict):
            pairs = list(entries.items())
        elif isinstance(entries, list) and all(isinstance(entry, dict) for entry in entries):
            pairs = [(entry.get("key_id"), entry.get("public_key")) for entry in entries]
        else:
            raise Broken("unreadable", 'not a keyring: {"keys": [{"key_id", "public_key"}, ...]}', str(path))
        keys = {key_id: _public_key(key_id, text, path) for key_id, text in pairs}
        if not keys:
            raise Broken("unreadable", "the keyring holds no key", str(path))
        return cls(keys)

    def check(self, seal: Seal, where: str) -> None:
        """The seal was signed by the key it names, over exactly its fields."""
        key = self.keys.get(seal.key_id)
        if key is None:
            raise Broken(
                "unknown_key",
                f"the seal of tree size {seal.tree_size} names key {seal.key_id!r}, which the keyring does not "
                "hold: it cannot be trusted (or the keyring lacks a retired key)",
                where,
            )
        try:
            key.verify(base64.b64decode(seal.signature, validate=True), seal.message())
        except (ValueError, InvalidSignature):  # binascii.Error is a ValueError
            raise Broken(
                "bad_signature",
                f"the seal of tree size {seal.tree_size}: its signature does not verify, so what it says "
                "(size, root, position, time) is not what the key signed",
                where,
            ) from None


def _public_key(key_id: Any, text: Any, path: Path) -> Ed25519PublicKey:
    try:
        if not isinstance(key_id, str) or not isinstance(text, str):
            raise ValueError
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError:
        raise Broken("unreadable", f"key {key_id!r} is not a base64 Ed25519 public key", str(path)) from None


# --- An export --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Summary:
    events: int
    streams: int
    seals: int
    newest: Seal

    def __str__(self) -> str:
        newest = self.newest
        return (
            f"{self.events} events in {self.streams} streams, {self.seals} seals; the newest seal covers "
            f"every event: tree size {newest.tree_size}, root {newest.root_hash}, "
            f"key {newest.key_id}, sealed at {newest.sealed_at}"
        )


@dataclass
class _Walk:
    """What checking a file needs to remember as its lines stream past."""

    keyring: Keyring
    witness: dict[tuple[str, int], Seal]  # by epoch and tree size
    frontier: merkle.Frontier = field(default_factory=merkle.Frontier)
    since_seal: list[bytes] = field(default_factory=list)  # leaf hashes after the newest seal
    first_line_since_seal: int = 2  # the line after the header
    last_position: int | None = None
    versions: dict[str, int] = field(default_factory=dict)  # stream id -> last version seen
    previous: Seal | None = None
    previous_frontier: list[bytes] = field(default_factory=list)
    epochs: set[str] = field(default_factory=set)
    witnessed: set[tuple[str, int]] = field(default_factory=set)  # the witness's seals seen in the file
    seals: int = 0

    def event(self, line: dict[str, Any], where: str) -> None:
        _check_event_line(line, where)
        stream, version = line["stream_id"], line["version"]
        last = self.versions.get(stream, 0)
        if version != last + 1:
            raise Broken("stream_broken", _version_problem(stream, version, last), where)
        self.versions[stream] = version
        digest = leaf_hash(line)
        self.frontier.append(digest)
        self.since_seal.append(digest)
        self.last_position = line["position"]

    def seal(self, seal: Seal, where: str, number: int) -> None:
        self.keyring.check(seal, where)
        self._check_tree(seal, where, number)
        if self.previous is not None:
            self._check_consistency(seal, where)
        if seal.last_position != self.last_position:
            raise Broken(
                "position_mismatch",
                f"the seal of tree size {seal.tree_size} signs position {seal.last_position} for its last "
                f"event, but the event before it is at position {self.last_position}",
                where,
            )
        self._check_witness(seal, where)
        self.previous, self.previous_frontier = seal, _frontier_nodes(self.frontier)
        self.since_seal, self.first_line_since_seal = [], number + 1
        self.epochs.add(seal.epoch)
        self.seals += 1

    def _check_tree(self, seal: Seal, where: str, number: int) -> None:
        """The seal counts the events before it and signs the root they build. The seals
        before it have checked already, so a change lies among the events since the last."""
        size = self.frontier.size
        after = self.previous.tree_size if self.previous else 0
        if self.previous is not None and seal.tree_size <= after:
            raise Broken(
                "seal_out_of_order", f"the seal of tree size {seal.tree_size} follows the seal of size {after}", where
            )
        if seal.tree_size != size:
            count = abs(seal.tree_size - size)
            raise Broken(
                "size_mismatch",
                f"the seal of tree size {seal.tree_size} follows {size} events: {_events(count)} "
                f"{'removed' if size < seal.tree_size else 'added'}{_since(after)}",
                where,
            )
        if seal.root_hash != self.frontier.root().hex():
            raise Broken(
                "root_mismatch",
                f"the seal of tree size {seal.tree_size} signs a root its {size} events do not build: an event "
                f"on lines {self.first_line_since_seal}-{number - 1}{_since(after)} was changed, moved or swapped",
                where,
            )

    def _check_consistency(self, seal: Seal, where: str) -> None:
        """RFC 9162 2.1.4: the previous seal's tree is a prefix of this one's."""
        previous = self.previous
        assert previous is not None
        proof = consistency_proof(self.previous_frontier, previous.tree_size, self.since_seal)
        if not merkle.verify_consistency(
            previous.tree_size, seal.tree_size, previous.root(where), seal.root(where), proof
        ):
            raise Broken(
                "inconsistent",
                f"the seal of tree size {seal.tree_size} is not consistent with the seal of size "
                f"{previous.tree_size}: the older tree is not a prefix of the newer",
                where,
            )

    def _check_witness(self, seal: Seal, where: str) -> None:
        held = self.witness.get((seal.epoch, seal.tree_size))
        if held is None:
            return
        if held != seal:
            raise Broken(
                "witness_mismatch", f"the seal of tree size {seal.tree_size} differs from the witness's", where
            )
        self.witnessed.add((seal.epoch, seal.tree_size))

    def finish(self, path: Path) -> Summary:
        """The file ends with a seal over every event, and holds every seal of its epochs
        that the witness holds."""
        size, newest = self.frontier.size, self.previous
        if newest is None:
            what = f"{size} events and no seal" if size else "no event and no seal"
            raise Broken("no_seal", f"the file holds {what}: it proves nothing", str(path))
        if size != newest.tree_size:
            raise Broken(
                "unsealed_tail",
                f"{size - newest.tree_size} events after the last seal (tree size {newest.tree_size}) are "
                "covered by no seal: the file was cut short, or events were added",
                str(path),
            )
        for held in sorted(self.witness.values(), key=lambda seal: seal.tree_size):
            if held.epoch not in self.epochs or (held.epoch, held.tree_size) in self.witnessed:
                continue
            if held.tree_size > newest.tree_size:
                raise Broken(
                    "behind_witness",
                    f"the witness holds a seal of tree size {held.tree_size}, past the file's newest "
                    f"({newest.tree_size}): the file was cut short, or is older than the witness",
                    str(path),
                )
            raise Broken(
                "seal_missing", f"the witness's seal of tree size {held.tree_size} is not in the file", str(path)
            )
        return Summary(size, len(self.versions), self.seals, newest)


def verify_export(path: Path, keyring: Keyring, witness: Sequence[Seal] = ()) -> Summary:
    """Check an export end to end; raises Broken at the first problem."""
    walk = _Walk(keyring, {(seal.epoch, seal.tree_size): seal for seal in witness})
    lines = _json_lines(path)
    _check_header(next(lines, None), path)
    for number, line in lines:
        where = f"{path} line {number}"
        if "seal" in line:
            if len(line) != 1:
                raise Broken("unreadable", 'a seal line is {"seal": {...}} and nothing else', where)
            walk.seal(Seal.from_json(line["seal"], where), where, number)
        else:
            walk.event(line, where)
    return walk.finish(path)


def _events(count: int) -> str:
    return "1 event was" if count == 1 else f"{count} events were"


def _since(previous_size: int) -> str:
    """Where a change must lie: the seals before this one have checked already."""
    return f" (since the seal of size {previous_size})" if previous_size else ""


def _check_header(header: tuple[int, dict[str, Any]] | None, path: Path) -> None:
    if header is None or header[1].get("format") != FORMAT or header[1].get("version") != FORMAT_VERSION:
        raise Broken("unreadable", f"not a {FORMAT} v{FORMAT_VERSION} file (manage.py export_events)", str(path))
    if header[1].get("after"):
        raise Broken("partial_export", "an export --after a cursor carries no seals: it proves nothing", str(path))


def _check_event_line(line: dict[str, Any], where: str) -> None:
    if line.keys() != EVENT_COLUMNS:
        missing, extra = sorted(EVENT_COLUMNS - line.keys()), sorted(line.keys() - EVENT_COLUMNS)
        named = "; ".join(text for text in (_listed("lacks", missing), _listed("has", extra)) if text)
        raise Broken("unreadable", f"an event line {named}", where)
    if not (_is_int(line["position"]) and _is_int(line["version"]) and isinstance(line["stream_id"], str)):
        raise Broken("unreadable", "an event's position and version are integers, its stream_id text", where)


def _listed(verb: str, names: list[str]) -> str:
    return f"{verb} {', '.join(names)}" if names else ""


def _version_problem(stream: str, version: int, last: int) -> str:
    if version > last + 1:
        return f"stream {stream}: version {version} follows version {last}: an event between them is missing or out of place"
    return f"stream {stream}: version {version} follows version {last}: events are repeated or out of order"


# --- Proofs -----------------------------------------------------------------------------------


def _frontier_nodes(frontier: merkle.Frontier) -> list[bytes]:
    return [bytes.fromhex(node) for node in frontier.to_json()["hashes"]]


def consistency_proof(first: Sequence[bytes], first_size: int, later: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) of RFC 9162 2.1.4.1, m = first_size, n = m + len(later), from the
    first tree's frontier (the roots of its perfect subtrees, largest first) and the leaf
    hashes after it, rather than from every leaf (``merkle.consistency_proof``): the same
    descent, but each node it names lies wholly in the first tree, where it is one of the
    frontier's subtrees, or wholly among the later leaves. So a proof between consecutive
    seals costs the leaves between them, however long the log.
    """
    known, start = {}, 0
    for node, width in zip(first, _widths(first_size), strict=True):
        known[start, start + width] = node
        start += width

    def subtree(start: int, end: int) -> bytes:
        return known[start, end] if end <= first_size else merkle.root(later[start - first_size : end - first_size])

    return merkle.consistency_path(first_size, first_size + len(later), subtree)


def _widths(size: int) -> list[int]:
    """The sizes of the perfect subtrees ``size`` leaves decompose into, largest first."""
    return [1 << bit for bit in reversed(range(size.bit_length())) if size >> bit & 1]


def verify_proof(proof_path: Path, event_path: Path, keyring: Keyring) -> str:
    """Check one event's inclusion proof against the seal it names; raises Broken at the
    first problem, returns the summary line otherwise."""
    proof, event = _read_json(proof_path), _read_json(event_path)
    where = str(proof_path)
    if (
        not isinstance(proof, dict)
        or not {"leaf_index", "leaf_hash", "tree_size", "audit_path", "seal"} <= proof.keys()
    ):
        raise Broken("unreadable", "a proof has leaf_index, leaf_hash, tree_size, audit_path and seal", where)
    if not isinstance(event, dict):
        raise Broken("unreadable", "an event is its export line, a JSON object", str(event_path))
    _check_event_line(event, str(event_path))
    seal = Seal.from_json(proof["seal"], where)
    keyring.check(seal, where)
    index, size, path = proof["leaf_index"], proof["tree_size"], proof["audit_path"]
    if not (_is_int(index) and _is_int(size) and isinstance(path, list)):
        raise Broken("unreadable", "leaf_index and tree_size are integers, audit_path a list of hashes", where)
    if size != seal.tree_size:
        raise Broken("size_mismatch", f"the proof is for tree size {size}, its seal for {seal.tree_size}", where)
    digest = leaf_hash(event)
    if digest != _hash(proof["leaf_hash"], "leaf_hash", where):
        raise Broken(
            "leaf_mismatch",
            f"{event_path} does not hash to the proof's leaf: the event was changed, or the proof is another's",
            where,
        )
    nodes = [_hash(node, "an audit_path entry", where) for node in path]
    if not merkle.verify_inclusion(index, size, digest, nodes, seal.root(where)):
        raise Broken(
            "not_included",
            f"the audit path does not lead from leaf {index} to the root of the seal of tree size {size}",
            where,
        )
    return (
        f"event {event['event_id']} (stream {event['stream_id']}, version {event['version']}, position "
        f"{event['position']}) is leaf {index} of the seal of tree size {size}, root {seal.root_hash}, "
        f"key {seal.key_id}, sealed at {seal.sealed_at}"
    )


# --- Reading files ----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return type(value) is int


def _hash(text: Any, what: str, where: str) -> bytes:
    """A SHA-256 hash in lowercase hexadecimal, as Chronicle writes them."""
    try:
        node = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        node = b""
    if len(node) != merkle.HASH_SIZE or node.hex() != text:
        raise Broken("unreadable", f"{what} is not a SHA-256 hash in lowercase hexadecimal", where)
    return node


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Broken("unreadable", error.strerror or str(error), str(path)) from None
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise Broken("unreadable", "not a JSON document", str(path)) from None


def _json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each line, streamed."""
    try:
        with path.open(encoding="utf-8") as handle:
            for number, text in enumerate(handle, start=1):
                try:
                    line = json.loads(text)
                except (ValueError, RecursionError):
                    raise Broken("unreadable", "not a JSON line", f"{path} line {number}") from None
                if not isinstance(line, dict):
                    raise Broken("unreadable", "not a JSON object", f"{path} line {number}")
                yield number, line
    except OSError as error:
        raise Broken("unreadable", error.strerror or str(error), str(path)) from None
    except UnicodeDecodeError:
        raise Broken("unreadable", "not UTF-8 text", str(path)) from None


def load_witness(path: Path, keyring: Keyring) -> list[Seal]:
    """Seals held apart from the export (the witness file, seals saved from the API or an
    earlier export), one a line: each must be signed by a key of the keyring."""
    seals = []
    for number, line in _json_lines(path):
        where = f"{path} line {number}"
        seal = Seal.from_json(line.get("seal", line), where)
        keyring.check(seal, where)
        seals.append(seal)
    return seals


# --- The command ------------------------------------------------------------------------------

DESCRIPTION = """Verify Chronicle's log with its public keyring alone: an export (manage.py export_events),
or one event's inclusion proof (GET /api/v1/events/{id}/proof/ and the event's export line).

An export: every leaf is recomputed from its event line; every seal must be signed by a
key of the keyring, count the events before it, sign the root they build and the last
one's position, and be consistent with the seal before it (RFC 9162); the file must end
with a seal over every event; each stream's versions must run 1, 2, 3... without gaps.

What it cannot check: the events' HMAC hash chain, which needs the app's secret key
(EVENT_SIGNING_KEY). The leaves cover every field the HMAC covers, so an event changed after
sealing is caught all the same; but an event written into the database behind the app's
back before the sealer read it is sealed like any other, and only its HMAC would show it
(manage.py verify_events, run by whoever holds the secret). A seal line dropped from the
middle of the file is not seen without --witness: the seals that remain still prove every
event.

Exit status: 0 every check passed (one summary line on stdout); 1 a problem, the first one
named in one line on stderr (unreadable or malformed input included); 2 a usage error.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m eventstore.verifier",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("events", nargs="?", type=Path, help="an export_events file (JSON lines)")
    parser.add_argument(
        "--keyring", required=True, type=Path, help="the public keyring (manage.py seal_key --public, or the API's)"
    )
    parser.add_argument(
        "--witness",
        type=Path,
        help="seals held apart from the export, one a line (the SEAL_WITNESS file, or seals saved earlier): "
        "each must be in the export, which must reach the newest of them",
    )
    parser.add_argument("--proof", type=Path, help="an inclusion proof (GET /api/v1/events/{id}/proof/)")
    parser.add_argument("--event", type=Path, help="the event the proof is for: its export line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.proof is None) != (args.event is None) or (args.proof is None) == (args.events is None):
        parser.error("give an export file, or --proof and --event (not both)")
    if args.witness is not None and args.events is None:
        parser.error("--witness checks an export file")
    try:
        keyring = Keyring.load(args.keyring)
        if args.events is not None:
            witness = load_witness(args.witness, keyring) if args.witness is not None else []
            summary = str(verify_export(args.events, keyring, witness))
        else:
            summary = verify_proof(args.proof, args.event, keyring)
    except Broken as problem:
        print(f"BROKEN: {problem}", file=sys.stderr)
        return 1
    print(f"OK: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
