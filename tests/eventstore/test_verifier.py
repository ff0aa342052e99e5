"""The offline verifier proves an export, or one event's proof, with the public keyring
alone: it runs as its own process, without Django or settings, and names the first
problem of every tampered file in one line."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from eventstore import backup, export, merkle, sealing, sealkeys, store, verifier
from eventstore.models import Event, Leaf, Seal
from eventstore.records import NO_STREAM, NewEvent
from tests.support import META, append_stream, new_event, seal_everything

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
Lines = list[dict[str, Any]]


def run_python(*args: Any) -> subprocess.CompletedProcess[str]:
    """A Python process as an auditor starts one: no Django settings in its environment."""
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def run_verifier(*args: Any) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "eventstore.verifier", *args)


def assert_ok(result: subprocess.CompletedProcess[str]) -> str:
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("OK: ")
    return line


def assert_broken(result: subprocess.CompletedProcess[str], kind: str, *details: str) -> str:
    """Exit 1 and one line on stderr naming the problem: no traceback, nothing on stdout."""
    assert result.returncode == 1, result
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("BROKEN: ") and f": {kind}: " in line, line
    for detail in details:
        assert detail in line, line
    return line


@dataclass
class Sealed:
    """An exported log: three streams in three seals, the keyring and the witness."""

    path: Path
    keyring: Path
    witness: Path
    order: UUID
    product: UUID
    customer: UUID

    def lines(self) -> Lines:
        return [json.loads(text) for text in self.path.read_text(encoding="utf-8").splitlines()]

    def rewrite(self, change: Callable[[Lines], Lines]) -> Path:
        """The export with ``change`` applied, written anew (spelled as ``json.dumps`` does:
        the verifier reads content, never the file's spelling)."""
        tampered = self.path.with_name("tampered.jsonl")
        tampered.write_text("".join(json.dumps(line) + "\n" for line in change(self.lines())), encoding="utf-8")
        return tampered

    def event(self, stream: UUID, version: int) -> dict[str, Any]:
        return next(
            line for line in self.lines() if line.get("stream_id") == str(stream) and line["version"] == version
        )


def write_keyring(path: Path) -> Path:
    out = io.StringIO()
    call_command("seal_key", "--public", stdout=out)
    path.write_text(out.getvalue())
    return path


def export_to(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as out:
        call_command("export_events", stdout=out, stderr=io.StringIO())
    return path


@pytest.fixture
def sealed(tmp_path: Path, settings: Any) -> Sealed:
    """Line 1 the header; 2-4 order v1-v3, 5 product v1, 6 the seal of size 4; 7-8 product
    v2-v3, 9 the seal of size 6; 10 customer v1, 11-12 order v4-v5, 13 the seal of size 9."""
    order = append_stream("order", count=3)
    product = append_stream("product", count=3)
    seal_everything(batch=4)
    customer = uuid4()
    registered = NewEvent("Registered", {"name": "Zoë 😀", "zeta": 1, "alpha": {"ü": ["ß", None, True]}})
    store.append("customer", customer, [registered], expected_version=NO_STREAM, metadata=META)
    store.append("order", order, [new_event(n=4), new_event(n=5)], expected_version=3, metadata=META)
    seal_everything()
    path = export_to(tmp_path / "events.jsonl")
    keyring = write_keyring(tmp_path / "keys.json")
    made = Sealed(path, keyring, Path(settings.SEAL_WITNESS), order, product, customer)
    assert [line["seal"]["tree_size"] for line in made.lines() if "seal" in line] == [4, 6, 9]
    return made


def seals(lines: Lines) -> list[int]:
    return [i for i, line in enumerate(lines) if "seal" in line]


def test_an_untouched_export_verifies_in_a_process_without_django(sealed: Sealed) -> None:
    line = assert_ok(run_verifier("--keyring", sealed.keyring, sealed.path))
    newest = sealing.newest_seal()
    assert line == (
        f"OK: 9 events in 3 streams, 3 seals; the newest seal covers every event: tree size 9, "
        f"root {newest.root_hash}, key dev, sealed at {sealing.SignedSeal.of(newest).sealed_at}"
    )
    assert_ok(run_verifier("--keyring", sealed.keyring, sealed.rewrite(lambda lines: lines)))  # spelled anew
    assert_ok(run_verifier("--keyring", sealed.keyring, "--witness", sealed.witness, sealed.path))


def test_the_verifier_loads_nothing_of_django(sealed: Sealed) -> None:
    timed = run_python("-X", "importtime", "-m", "eventstore.verifier", "--keyring", sealed.keyring, sealed.path)
    assert timed.returncode == 0, timed.stderr
    imported = {line.split("|")[-1].strip() for line in timed.stderr.splitlines() if line.startswith("import time:")}
    assert {"cryptography", "eventstore.merkle"} <= imported
    assert not {name for name in imported if name.split(".")[0] in {"django", "orjson", "config", "rest_framework"}}

    loaded = run_python("-c", "import sys, eventstore.verifier; print(' '.join(sorted(sys.modules)))").stdout.split()
    assert {name for name in loaded if name.split(".")[0] in {"eventstore", "orders", "projections", "config"}} == {
        "eventstore",
        "eventstore.merkle",
        "eventstore.verifier",
    }
    assert not [name for name in loaded if name.split(".")[0] == "django"]


def _edit_data(sealed: Sealed) -> Callable[[Lines], Lines]:
    target = sealed.event(sealed.product, 2)["event_id"]
    return lambda lines: [{**line, "data": {"n": 99}} if line.get("event_id") == target else line for line in lines]


def _swap_positions(sealed: Sealed) -> Callable[[Lines], Lines]:
    first, second = sealed.event(sealed.order, 2), sealed.event(sealed.product, 1)
    swapped = {first["event_id"]: second["position"], second["event_id"]: first["position"]}
    return lambda lines: [
        {**line, "position": swapped[line["event_id"]]} if line.get("event_id") in swapped else line for line in lines
    ]


def _backdate(sealed: Sealed) -> Callable[[Lines], Lines]:
    target = sealed.event(sealed.product, 3)["event_id"]
    earlier = "2001-01-01T00:00:00.000000Z"
    return lambda lines: [
        {**line, "recorded_at": earlier} if line.get("event_id") == target else line for line in lines
    ]


def _without(sealed: Sealed, stream: str, *versions: int) -> Callable[[Lines], Lines]:
    """Without the stream's lines of these versions (every version when none are named)."""
    stream_id = str(getattr(sealed, stream))
    gone = lambda line: line.get("stream_id") == stream_id and (not versions or line["version"] in versions)  # noqa: E731
    return lambda lines: [line for line in lines if not gone(line)]


def _reorder(sealed: Sealed, first: tuple[str, int], second: tuple[str, int]) -> Callable[[Lines], Lines]:
    def change(lines: Lines) -> Lines:
        a, b = (lines.index(sealed.event(getattr(sealed, stream), version)) for stream, version in (first, second))
        lines[a], lines[b] = lines[b], lines[a]
        return lines

    return change


def _seal_at(index: int, **fields: Any) -> Callable[[Lines], Lines]:
    """The index-th seal line (0 the first) with these fields changed."""

    def change(lines: Lines) -> Lines:
        at = seals(lines)[index]
        lines[at] = {"seal": {**lines[at]["seal"], **fields}}
        return lines

    return change


def _drop_seal(index: int) -> Callable[[Lines], Lines]:
    return lambda lines: [line for i, line in enumerate(lines) if i != seals(lines)[index]]


def _signed_by(key: Ed25519PrivateKey, key_id: str, **fields: Any) -> Callable[[Lines], Lines]:
    """The newest seal re-signed by ``key`` under ``key_id``, with these fields changed."""

    def change(lines: Lines) -> Lines:
        seal = verifier.Seal(**{**lines[-1]["seal"], **fields, "key_id": key_id, "signature": ""})
        signature = base64.b64encode(key.sign(seal.message())).decode()
        return [*lines[:-1], {"seal": {**lines[-1]["seal"], **fields, "key_id": key_id, "signature": signature}}]

    return change


TAMPERED = {
    "an event's data edited": (_edit_data, "root_mismatch", "the seal of tree size 6", "lines 7-8"),
    "positions of two events in different streams swapped": (
        _swap_positions,
        "root_mismatch",
        "the seal of tree size 4",
        "lines 2-5",
    ),
    "a recorded_at backdated": (_backdate, "root_mismatch", "the seal of tree size 6", "line 9:"),
    "an event in the middle of a stream deleted": (
        lambda s: _without(s, "order", 2),
        "stream_broken",
        "version 3 follows version 1",
        "line 3:",
    ),
    "the tail of a stream deleted": (
        lambda s: _without(s, "order", 4, 5),
        "size_mismatch",
        "the seal of tree size 9 follows 7 events: 2 events were removed (since the seal of size 6)",
    ),
    "a whole stream deleted": (
        lambda s: _without(s, "customer"),
        "size_mismatch",
        "the seal of tree size 9 follows 8 events: 1 event was removed (since the seal of size 6)",
    ),
    "a whole stream across seals deleted": (
        lambda s: _without(s, "product"),
        "size_mismatch",
        "the seal of tree size 4 follows 3 events: 1 event was removed",
    ),
    "the last seal deleted": (
        lambda s: _drop_seal(-1),
        "unsealed_tail",
        "3 events after the last seal (tree size 6) are covered by no seal",
    ),
    "a seal's root replaced": (
        lambda s: _seal_at(1, root_hash=merkle.root([merkle.leaf_hash(b"forged")]).hex()),
        "bad_signature",
        "the seal of tree size 6",
    ),
    "a seal's tree size changed": (lambda s: _seal_at(2, tree_size=8), "bad_signature", "tree size 8"),
    "a seal's signature garbled": (lambda s: _seal_at(0, signature="not base64!"), "bad_signature", "tree size 4"),
    "a seal signed by a key not in the keyring": (
        lambda s: _signed_by(Ed25519PrivateKey.generate(), "rogue"),
        "unknown_key",
        "names key 'rogue', which the keyring does not hold",
    ),
    "a seal signed by another key under the keyring's key id": (
        lambda s: _signed_by(Ed25519PrivateKey.generate(), "dev"),
        "bad_signature",
        "the seal of tree size 9",
    ),
    "two event lines of different streams reordered": (
        lambda s: _reorder(s, ("order", 3), ("product", 1)),
        "root_mismatch",
        "the seal of tree size 4",
    ),
    "two event lines of one stream reordered": (
        lambda s: _reorder(s, ("order", 2), ("order", 3)),
        "stream_broken",
        "version 3 follows version 1",
    ),
}


@pytest.mark.parametrize("damage, kind, details", [(d, k, x) for d, k, *x in TAMPERED.values()], ids=list(TAMPERED))
def test_every_tampered_export_is_caught_and_named(
    sealed: Sealed, damage: Callable[[Sealed], Callable[[Lines], Lines]], kind: str, details: list[str]
) -> None:
    assert_broken(run_verifier("--keyring", sealed.keyring, sealed.rewrite(damage(sealed))), kind, *details)


def test_a_seal_the_key_holder_signed_over_the_wrong_last_position_is_caught(sealed: Sealed) -> None:
    _, key = sealkeys.signing_key()
    wrong = sealed.event(sealed.order, 4)["position"]  # the last event is order v5
    result = run_verifier("--keyring", sealed.keyring, sealed.rewrite(_signed_by(key, "dev", last_position=wrong)))
    assert_broken(result, "position_mismatch", f"signs position {wrong} for its last event")


def test_a_seal_line_dropped_from_the_middle_shows_against_the_witness(sealed: Sealed) -> None:
    """The seals that remain still prove every event: only seals held elsewhere show one gone."""
    dropped = sealed.rewrite(_drop_seal(1))
    assert_ok(run_verifier("--keyring", sealed.keyring, dropped))
    result = run_verifier("--keyring", sealed.keyring, "--witness", sealed.witness, dropped)
    assert_broken(result, "seal_missing", "the witness's seal of tree size 6 is not in the file")


def test_an_export_cut_back_to_an_older_seal_shows_against_the_witness(sealed: Sealed) -> None:
    cut = sealed.rewrite(lambda lines: lines[: seals(lines)[1] + 1])
    assert_ok(run_verifier("--keyring", sealed.keyring, cut))
    result = run_verifier("--keyring", sealed.keyring, "--witness", sealed.witness, cut)
    assert_broken(result, "behind_witness", "a seal of tree size 9, past the file's newest (6)")


def test_witness_seals_of_another_log_epoch_are_passed_over(sealed: Sealed) -> None:
    """A witness shared with another database (a fresh one, a new epoch) holds seals that
    are not this log's business."""
    newest = sealing.SignedSeal.of(sealing.newest_seal())
    other = {**newest.to_json(), "epoch": "another-database", "tree_size": 1000}
    _, other["signature"] = sealkeys.sign(verifier.Seal(**other).message())
    with sealed.witness.open("a") as witness:
        witness.write(json.dumps(other) + "\n")
    assert_ok(run_verifier("--keyring", sealed.keyring, "--witness", sealed.witness, sealed.path))


def test_a_seal_that_differs_from_the_witness_is_named(sealed: Sealed, tmp_path: Path) -> None:
    _, key = sealkeys.signing_key()
    resigned = sealed.rewrite(_signed_by(key, "dev", sealed_at="2030-01-01T00:00:00.000000Z"))
    result = run_verifier("--keyring", sealed.keyring, "--witness", sealed.witness, resigned)
    assert_broken(result, "witness_mismatch", "the seal of tree size 9 differs from the witness's")


def test_seals_signed_before_a_key_rotation_verify_with_the_retired_public_key(tmp_path: Path, settings: Any) -> None:
    append_stream(count=2)
    seal_everything()
    settings.SEAL_OLD_PUBLIC_KEYS = {"dev": sealkeys.public_keyring()["dev"]}
    settings.SEAL_SIGNING_KEY_ID, settings.SEAL_SIGNING_KEY = "k2", sealkeys.generate_key()[0]
    append_stream(count=2)
    path = export_to(tmp_path / "events.jsonl")
    keyring = write_keyring(tmp_path / "keys.json")
    assert [entry["key_id"] for entry in json.loads(keyring.read_text())["keys"]] == ["k2", "dev"]
    assert "key k2" in assert_ok(run_verifier("--keyring", keyring, path))

    current_only = tmp_path / "current.json"
    current_only.write_text(json.dumps({"k2": sealkeys.public_keyring()["k2"]}))  # the {key id: key} shape
    assert_broken(run_verifier("--keyring", current_only, path), "unknown_key", "tree size 2", "'dev'")


UNREADABLE = {
    "a missing file": (lambda path: path.with_name("nowhere.jsonl"), "No such file"),
    "an empty file": (lambda path: _written(path, ""), "not a chronicle-events v2 file"),
    "another format": (lambda path: _written(path, '{"format": "other"}\n'), "not a chronicle-events v2 file"),
    "a line cut in half": (lambda path: _written(path, path.read_text()[:-40]), "line 13: unreadable: not a JSON line"),
    "a line that is not an object": (lambda path: _written(path, path.read_text() + "[1]\n"), "line 14"),
    "bytes that are not UTF-8": (lambda path: _written(path, path.read_bytes() + b"\xff\xfe\n"), "not UTF-8"),
    "an event line without its hash": (
        lambda path: _edited_line(path, 1, lambda line: {k: v for k, v in line.items() if k != "hash"}),
        "an event line lacks hash",
    ),
    "an event line with a field the leaf does not cover": (
        lambda path: _edited_line(path, 1, lambda line: {**line, "note": "trust me"}),
        "an event line has note",
    ),
    "a version that is text": (lambda path: _edited_line(path, 1, lambda line: {**line, "version": "1"}), "integers"),
    "a seal without its signature": (
        lambda path: _edited_line(path, 5, lambda line: {"seal": {**line["seal"], "signature": None}}),
        "integers, the rest text",
    ),
    "a seal line with more than the seal": (
        lambda path: _edited_line(path, 5, lambda line: {**line, "note": 1}),
        "a seal line is",
    ),
}


def _written(path: Path, content: str | bytes) -> Path:
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def _edited_line(path: Path, index: int, change: Callable[[dict[str, Any]], dict[str, Any]]) -> Path:
    lines = path.read_text().splitlines()
    lines[index] = json.dumps(change(json.loads(lines[index])))
    return _written(path, "\n".join(lines) + "\n")


@pytest.mark.parametrize("damage, detail", UNREADABLE.values(), ids=list(UNREADABLE))
def test_unreadable_input_is_one_line_and_exit_1(sealed: Sealed, damage: Callable[[Path], Path], detail: str) -> None:
    result = run_verifier("--keyring", sealed.keyring, damage(sealed.path))
    assert "Traceback" not in assert_broken(result, "unreadable", detail)


def test_a_file_that_proves_nothing_is_not_ok(sealed: Sealed) -> None:
    lines = sealed.lines()
    header_only = sealed.rewrite(lambda _: lines[:1])
    assert_broken(run_verifier("--keyring", sealed.keyring, header_only), "no_seal", "no event and no seal")
    partial = sealed.rewrite(lambda _: [{**lines[0], "after": "some-cursor"}, *lines[1:]])
    assert_broken(run_verifier("--keyring", sealed.keyring, partial), "partial_export")


@pytest.mark.parametrize(
    "keyring, detail",
    [
        ("", "not a JSON document"),
        ('{"keys": []}', "holds no key"),
        ('"dev"', "not a keyring"),
        ('{"keys": [{"key_id": "dev", "public_key": "c2hvcnQ="}]}', "not a base64 Ed25519 public key"),
    ],
)
def test_an_unreadable_keyring_is_one_line_and_exit_1(sealed: Sealed, keyring: str, detail: str) -> None:
    sealed.keyring.write_text(keyring)
    assert_broken(run_verifier("--keyring", sealed.keyring, sealed.path), "unreadable", "keys.json", detail)


def test_a_usage_error_exits_2() -> None:
    result = run_verifier("--keyring", "keys.json")
    assert result.returncode == 2 and "give an export file, or --proof and --event" in result.stderr


def test_help_says_what_cannot_be_checked_without_the_secret() -> None:
    result = run_verifier("--help")
    assert result.returncode == 0
    assert "HMAC hash chain, which needs the app's secret key" in " ".join(result.stdout.split())


# --- One proof ----------------------------------------------------------------------------------


def leaf_hashes() -> list[bytes]:
    return [bytes.fromhex(h) for h in Leaf.objects.order_by("index").values_list("hash", flat=True)]


def write_proof(sealed: Sealed, index: int, **changes: Any) -> tuple[Path, Path]:
    """proof.json in the shape of ``GET /api/v1/events/{id}/proof/``, from the project's own
    ``merkle.inclusion_proof`` against the newest seal, and event.json, the event's line in
    the export."""
    newest = sealing.newest_seal()
    leaves = leaf_hashes()[: newest.tree_size]
    position = Leaf.objects.get(index=index).position
    proof = {
        "leaf_index": index,
        "leaf_hash": leaves[index].hex(),
        "tree_size": newest.tree_size,
        "audit_path": [node.hex() for node in merkle.inclusion_proof(index, leaves)],
        "seal": sealing.SignedSeal.of(newest).to_json(),
        **changes,
    }
    event = next(line for line in sealed.lines() if line.get("position") == position)
    proof_path, event_path = sealed.path.with_name("proof.json"), sealed.path.with_name("event.json")
    proof_path.write_text(json.dumps(proof))
    event_path.write_text(json.dumps(event, ensure_ascii=False))
    return proof_path, event_path


def test_a_proof_of_every_leaf_verifies(sealed: Sealed) -> None:
    proof, event = write_proof(sealed, 7)
    line = assert_ok(run_verifier("--keyring", sealed.keyring, "--proof", proof, "--event", event))
    assert f"stream {sealed.order}, version 4" in line and "is leaf 7 of the seal of tree size 9" in line
    for index in range(9):  # the same code, in this process: quicker than nine interpreters
        proof, event = write_proof(sealed, index)
        args = ["--keyring", str(sealed.keyring), "--proof", str(proof), "--event", str(event)]
        assert verifier.main(args) == 0


def _tampered_proof(sealed: Sealed, case: str) -> tuple[Path, Path]:
    proof, event = write_proof(sealed, 4)
    content, line = json.loads(proof.read_text()), json.loads(event.read_text())
    if case == "audit path":
        first = bytes.fromhex(content["audit_path"][0])
        content["audit_path"][0] = bytes([first[0] ^ 1, *first[1:]]).hex()
    elif case == "leaf":
        line["data"] = {"n": 99}
    elif case == "leaf and leaf hash":
        line["data"] = {"n": 99}
        content["leaf_hash"] = verifier.leaf_hash(line).hex()
    elif case == "index":
        content["leaf_index"] = 5
    elif case == "tree size":
        content["tree_size"] = 8
    elif case == "signature":
        content["seal"]["root_hash"] = merkle.EMPTY_ROOT.hex()
    proof.write_text(json.dumps(content))
    event.write_text(json.dumps(line))
    return proof, event


@pytest.mark.parametrize(
    "case, kind",
    [
        ("audit path", "not_included"),
        ("leaf", "leaf_mismatch"),
        ("leaf and leaf hash", "not_included"),
        ("index", "not_included"),
        ("tree size", "size_mismatch"),
        ("signature", "bad_signature"),
    ],
)
def test_a_tampered_proof_is_caught(sealed: Sealed, case: str, kind: str) -> None:
    proof, event = _tampered_proof(sealed, case)
    assert_broken(run_verifier("--keyring", sealed.keyring, "--proof", proof, "--event", event), kind)


# --- One spelling -------------------------------------------------------------------------------


def test_the_verifier_spells_leaves_seals_and_files_as_chronicle_does(sealed: Sealed) -> None:
    """Its own copies of the file format and the signed message, held to Chronicle's."""
    assert set(export.STORED_COLUMNS) == verifier.EVENT_COLUMNS
    assert (verifier.FORMAT, verifier.FORMAT_VERSION) == (backup.FORMAT, backup.FORMAT_VERSION)
    assert verifier.SEAL_FORMAT == sealing.SEAL_FORMAT
    for row in Event.objects.all():
        line = export.stored_row(row)
        assert verifier.leaf_hash(line) == sealing.leaf_hash_of(line)
    for row in Seal.objects.all():
        signed = sealing.SignedSeal.of(row)
        assert verifier.Seal(**signed.to_json()).message() == signed.message()


def test_consistency_proofs_from_a_frontier_are_the_rfc_proofs() -> None:
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(40)]
    for second in range(2, 41):
        for first in range(1, second):
            frontier = merkle.Frontier()
            frontier.extend(leaves[:first])
            nodes = [bytes.fromhex(node) for node in frontier.to_json()["hashes"]]
            made = verifier.consistency_proof(nodes, first, leaves[first:second])
            assert made == merkle.consistency_proof(first, leaves[:second]), (first, second)
