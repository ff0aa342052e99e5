"""The log's keys, seals and proofs through the API, checked as an auditor would: with an
RFC 9162 check written here (not the project's ``merkle``) and the public key the API
publishes, nothing else."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from eventstore import merkle, sealing, sealkeys, store
from eventstore.models import Event, Leaf, Seal
from eventstore.serialization import format_datetime
from orders.api.errors import InvalidPageCursor
from orders.api.http import page_cursor
from tests.support import append_stream, owner_execute, seal_everything

from .conftest import API

pytestmark = pytest.mark.django_db(transaction=True)

SEAL_FIELDS = {"tree_size", "root_hash", "last_position", "epoch", "sealed_at", "key_id", "signature"}


# --- An auditor's own checks ------------------------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def audit_path_leads_to_root(leaf_index: int, tree_size: int, leaf_hash: str, path: list[str], root: str) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, bytes.fromhex(leaf_hash)
    for p in map(bytes.fromhex, path):
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root


def consistent(first: int, second: int, first_hash: str, second_hash: str, proof: list[str]) -> bool:
    """RFC 9162 section 2.1.4.2, step by step (for first < second)."""
    path = [bytes.fromhex(node) for node in proof]
    if not path:
        return False
    if first & (first - 1) == 0:
        path.insert(0, bytes.fromhex(first_hash))
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr.hex() == first_hash and sr.hex() == second_hash and sn == 0


def signed(seal: dict[str, Any], keyring: dict[str, str]) -> bool:
    """Whether the seal's signature is its key's, over the canonical JSON of what it signs."""
    fields = {name: seal[name] for name in SEAL_FIELDS - {"signature"}}
    message = json.dumps(
        {**fields, "format": "chronicle-seal/1"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(keyring[seal["key_id"]]))
    try:
        key.verify(base64.b64decode(seal["signature"]), message)
    except InvalidSignature:
        return False
    return True


def proves_inclusion(proof: dict[str, Any], keyring: dict[str, str]) -> bool:
    seal = proof["seal"]
    return (
        proof["tree_size"] == seal["tree_size"]
        and audit_path_leads_to_root(
            proof["leaf_index"], proof["tree_size"], proof["leaf_hash"], proof["audit_path"], seal["root_hash"]
        )
        and signed(seal, keyring)
    )


# --- Fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def keyring(auditor_api: APIClient) -> dict[str, str]:
    """The public keyring, as the API publishes it: all an auditor needs."""
    response = auditor_api.get(f"{API}log/keys/")
    assert response.status_code == 200
    return {key["key_id"]: key["public_key"] for key in response.json()["keys"]}


def sealed_batches(*sizes: int) -> list[Event]:
    """Events appended and sealed in batches of these sizes; the events in leaf order."""
    for size in sizes:
        append_stream(count=size)
        seal_everything()
    return list(Event.objects.order_by("position"))


def proof_of(client: APIClient, event: Event, **query: Any) -> Any:
    return client.get(f"{API}events/{event.event_id}/proof/", query)


def error_of(response: Any) -> tuple[int, str, dict[str, str]]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["fields"]


# --- Keys and seals ---------------------------------------------------------------------------


def test_the_keyring_lists_the_current_key_then_the_retired_ones_as_seal_key_prints_it(settings, auditor_api):
    _, retired = sealkeys.generate_key()
    settings.SEAL_OLD_PUBLIC_KEYS = {"retired-1": retired}
    printed = io.StringIO()
    call_command("seal_key", "--public", stdout=printed)

    keys = auditor_api.get(f"{API}log/keys/").json()

    assert keys == json.loads(printed.getvalue())
    assert [key["key_id"] for key in keys["keys"]] == [settings.SEAL_SIGNING_KEY_ID, "retired-1"]
    assert keys["keys"][1]["public_key"] == retired


def test_seals_are_listed_newest_first_a_page_at_a_time_each_as_signed(auditor_api, keyring):
    sealed_batches(1, 2, 3, 4, 5)

    pages, url = [], f"{API}log/seals/?limit=2"
    while url:
        response = auditor_api.get(url)
        assert response.status_code == 200, response.json()
        pages.append(response.json())
        url = pages[-1]["next"]

    seals = [seal for page in pages for seal in page["results"]]
    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert [seal["tree_size"] for seal in seals] == [15, 10, 6, 3, 1]
    assert all(set(seal) == SEAL_FIELDS and signed(seal, keyring) for seal in seals)
    assert auditor_api.get(f"{API}log/seals/6/").json() == seals[2]


@pytest.mark.parametrize(
    "cursor", ["nonsense", page_cursor("products", ["TEA", str(uuid4())]), page_cursor("seals", ["x"])]
)
def test_a_seal_list_cursor_must_be_one_it_handed_out(auditor_api, cursor):
    sealed_batches(1, 1)
    response = auditor_api.get(f"{API}log/seals/", {"cursor": cursor})
    assert error_of(response) == (400, "invalid_cursor", {"cursor": InvalidPageCursor.default_detail})


@pytest.mark.parametrize("tree_size", [2, 2**70])
def test_a_tree_size_no_seal_has_is_404(auditor_api, tree_size):
    sealed_batches(1)
    response = auditor_api.get(f"{API}log/seals/{tree_size}/")
    assert error_of(response)[:2] == (404, "not_found")


# --- Inclusion proofs -------------------------------------------------------------------------


def test_a_proof_of_each_event_verifies_with_the_rfc_check_and_the_public_key_alone(auditor_api, keyring):
    events = sealed_batches(3, 4, 2)

    for index, event in enumerate(events):
        proof = proof_of(auditor_api, event).json()
        assert set(proof) == {"leaf_index", "leaf_hash", "tree_size", "audit_path", "seal"}
        assert (proof["leaf_index"], proof["tree_size"]) == (index, 9)
        assert proves_inclusion(proof, keyring)

    older = proof_of(auditor_api, events[0], tree_size=3).json()
    assert older["seal"]["tree_size"] == 3 and proves_inclusion(older, keyring)
    forged = {**older, "leaf_index": 1}
    assert not proves_inclusion(forged, keyring)  # the check is not vacuous


def test_an_event_is_not_yet_sealed_until_a_seal_covers_it(settings, auditor_api, keyring):
    settings.SEAL_INTERVAL_SECONDS = 10
    append_stream(count=1)

    before = proof_of(auditor_api, Event.objects.get())

    status, code, fields = error_of(before)
    assert (status, code, set(fields)) == (409, "not_yet_sealed", {"wait_seconds"})
    assert 0 <= int(fields["wait_seconds"]) <= 10
    seal_everything()
    after = proof_of(auditor_api, Event.objects.get())
    assert after.status_code == 200 and proves_inclusion(after.json(), keyring)


def test_a_proof_of_an_unknown_event_is_404(auditor_api):
    sealed_batches(1)
    assert error_of(auditor_api.get(f"{API}events/{uuid4()}/proof/"))[:2] == (404, "not_found")


def test_a_proof_from_a_damaged_leaf_table_is_a_json_500_that_says_so(auditor_api):
    events = sealed_batches(1)
    owner_execute("UPDATE chronicle_leaf SET hash = %s WHERE leaf_index = 0", ["not a hash"])

    status, code, _ = error_of(proof_of(auditor_api, events[0]))
    assert (status, code) == (500, "log_damaged")


@pytest.mark.parametrize(
    ("tree_size", "code"),
    [("three", "invalid"), ("0", "invalid"), (str(2**63), "invalid"), ("4", "no_such_seal"), ("2", "proof_refused")],
)
def test_a_tree_size_that_cannot_prove_the_event_is_400_naming_it(auditor_api, tree_size, code):
    events = sealed_batches(2, 1)

    response = proof_of(auditor_api, events[-1], tree_size=tree_size)

    status, found, fields = error_of(response)
    assert (status, found, set(fields)) == (400, code, {"tree_size"})


def test_a_proof_in_a_log_of_100000_events_has_at_most_17_hashes(auditor_api, keyring):
    """The leaf table is filled directly (appending 100,000 events would take minutes), and
    the seal over it signed with the app's key; the proof comes through the API."""
    [event] = sealed_batches(1)
    first = Leaf.objects.get()
    size = 100_000
    leaves = [bytes.fromhex(first.hash)] + [hashlib.sha256(b"leaf %d" % i).digest() for i in range(1, size)]
    rows = (Leaf(index=i, position=10**9 + i, hash=leaves[i].hex()) for i in range(1, size))
    Leaf.objects.bulk_create(rows, batch_size=5_000)
    frontier = merkle.Frontier()
    frontier.extend(leaves)
    _seal_directly(frontier, last_position=10**9 + size - 1)

    proof = proof_of(auditor_api, event).json()

    # The first leaf's path is the tree's longest: ceil(log2(100,000)) = 17.
    assert proof["tree_size"] == size and len(proof["audit_path"]) == 17
    assert proves_inclusion(proof, keyring)
    consistency = auditor_api.get(f"{API}log/consistency/", {"first": 1, "second": size}).json()
    assert consistent(1, size, consistency["first_root"], consistency["second_root"], consistency["proof"])


def _seal_directly(frontier: merkle.Frontier, *, last_position: int) -> None:
    """A seal over the leaves as they stand, signed as the sealer signs."""
    key_id, _ = sealkeys.signing_key()
    sealed_at = timezone.now()
    fields = {
        "tree_size": frontier.size,
        "root_hash": frontier.root().hex(),
        "last_position": last_position,
        "epoch": store.current_epoch(),
        "sealed_at": format_datetime(sealed_at),
        "key_id": key_id,
    }
    _, signature = sealkeys.sign(sealing.seal_message(**fields))
    Seal.objects.create(
        **{**fields, "sealed_at": sealed_at},
        signature=signature,
        feed_transaction_id=0,
        frontier=frontier.to_json(),
    )


# --- Consistency proofs -----------------------------------------------------------------------


def test_consistency_proofs_between_seals_verify_with_the_rfc_check(auditor_api, keyring):
    sealed_batches(3, 4, 5, 1)
    seals = {seal.tree_size: seal for seal in Seal.objects.all()}

    for first in seals:
        for second in (size for size in seals if size >= first):
            answer = auditor_api.get(f"{API}log/consistency/", {"first": first, "second": second}).json()
            assert answer["first"] == first and answer["second"] == second
            assert (answer["first_root"], answer["second_root"]) == (seals[first].root_hash, seals[second].root_hash)
            if first == second:
                assert answer["proof"] == []
            else:
                assert consistent(first, second, answer["first_root"], answer["second_root"], answer["proof"])


@pytest.mark.parametrize(
    ("query", "code", "field"),
    [
        ({"first": 3}, "invalid", "second"),
        ({"first": "x", "second": 7}, "invalid", "first"),
        ({"first": 0, "second": 7}, "invalid", "first"),
        ({"first": 4, "second": 7}, "no_such_seal", "first"),
        ({"first": 3, "second": 8}, "no_such_seal", "second"),
        ({"first": 7, "second": 3}, "proof_refused", "first"),
    ],
)
def test_consistency_of_sizes_that_are_no_seals_or_out_of_order_is_400_naming_them(auditor_api, query, code, field):
    sealed_batches(3, 4)

    status, found, fields = error_of(auditor_api.get(f"{API}log/consistency/", query))

    assert (status, found, set(fields)) == (400, code, {field})


# --- Who may read -----------------------------------------------------------------------------


def _paths() -> list[str]:
    [event] = sealed_batches(1)
    return [
        f"{API}log/keys/",
        f"{API}log/seals/",
        f"{API}log/seals/1/",
        f"{API}events/{event.event_id}/proof/",
        f"{API}log/consistency/?first=1&second=1",
    ]


def test_auditors_and_operators_may_read_seals_and_proofs(auditor_api, api):
    for path in _paths():
        assert auditor_api.get(path).status_code == 200, path
        assert api.get(path).status_code == 200, path


def test_a_user_in_no_group_is_refused_and_anonymous_requests_must_authenticate(outsider_api):
    for path in _paths():
        assert error_of(outsider_api.get(path))[:2] == (403, "not_permitted"), path
        assert error_of(APIClient().get(path))[:2] == (401, "not_authenticated"), path
