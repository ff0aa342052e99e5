"""The RFC 9162 Merkle tree: known answers from the reference implementations, every small
tree against the RFC's own recursive definitions, and proofs that stop verifying once
anything in them is altered. No database.

The known answers are the ones both reference implementations test against, the same
eight inputs, roots and proofs in each:

- google/certificate-transparency, ``cpp/merkletree/merkle_tree_test.cc``: ``kInputs``,
  ``kSHA256Roots``, ``kSHA256Paths`` and ``kSHA256Proofs``;
- transparency-dev/merkle (Trillian's Merkle library), ``proof/verify_test.go``: ``leaves``,
  ``roots``, ``inclusionProofs`` and ``consistencyProofs`` (the 6 -> 7 proof is only there),
  and ``rfc6962/rfc6962_test.go`` for the single leaf and node hashes.

Their path vectors number leaves from 1; the indexes below are 0-based.
"""

from __future__ import annotations

import ast
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventstore import merkle
from eventstore.merkle import (
    EMPTY_ROOT,
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

REFERENCE_INPUTS = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
REFERENCE_LEAVES = [leaf_hash(bytes.fromhex(data)) for data in REFERENCE_INPUTS]
REFERENCE_ROOTS = [  # by tree size, 0 to 8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
REFERENCE_INCLUSION_PROOFS = [  # (index, size, proof)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
REFERENCE_CONSISTENCY_PROOFS = [  # (first size, second size, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

MAX_SIZE = 40
LEAVES = [leaf_hash(bytes([i])) for i in range(MAX_SIZE)]


def _hex(hashes: list[bytes]) -> list[str]:
    return [node.hex() for node in hashes]


def _flip(node: bytes) -> bytes:
    return bytes([node[0] ^ 1]) + node[1:]


# --- The RFC's definitions, transcribed literally as a second opinion ----------------------


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return EMPTY_ROOT
    if len(d) == 1:
        return d[0]
    k = _split(len(d))
    return node_hash(_mth(d[:k]), _mth(d[k:]))


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _split(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [_mth(d)]
    k = _split(len(d))
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


@functools.cache
def _root(size: int) -> bytes:
    return root(LEAVES[:size])


def _path_length(m: int, n: int) -> int:
    if n == 1:
        return 0
    k = _split(n)
    return 1 + (_path_length(m, k) if m < k else _path_length(m - k, n - k))


def _subproof_length(m: int, n: int, b: bool) -> int:
    if m == n:
        return 0 if b else 1
    k = _split(n)
    return 1 + (_subproof_length(m, k, b) if m <= k else _subproof_length(m - k, n - k, False))


# --- Known answers -------------------------------------------------------------------------


def test_hashes_match_the_reference_hasher() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"


def test_roots_match_the_reference_tree_at_every_size() -> None:
    frontier = Frontier()
    assert frontier.root().hex() == REFERENCE_ROOTS[0]
    for size in range(len(REFERENCE_LEAVES) + 1):
        assert root(REFERENCE_LEAVES[:size]).hex() == REFERENCE_ROOTS[size]
    for size, leaf in enumerate(REFERENCE_LEAVES, start=1):
        frontier.append(leaf)
        assert (frontier.size, frontier.root().hex()) == (size, REFERENCE_ROOTS[size])


@pytest.mark.parametrize(("index", "size", "expected"), REFERENCE_INCLUSION_PROOFS)
def test_inclusion_proofs_match_the_reference(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(index, REFERENCE_LEAVES[:size])
    assert _hex(proof) == expected
    assert verify_inclusion(index, size, REFERENCE_LEAVES[index], proof, bytes.fromhex(REFERENCE_ROOTS[size]))


@pytest.mark.parametrize(("first_size", "second_size", "expected"), REFERENCE_CONSISTENCY_PROOFS)
def test_consistency_proofs_match_the_reference(first_size: int, second_size: int, expected: list[str]) -> None:
    proof = consistency_proof(first_size, REFERENCE_LEAVES[:second_size])
    assert _hex(proof) == expected
    first_root, second_root = (bytes.fromhex(REFERENCE_ROOTS[size]) for size in (first_size, second_size))
    assert verify_consistency(first_size, second_size, first_root, second_root, proof)


# --- Every small tree ----------------------------------------------------------------------


@pytest.mark.parametrize("size", range(MAX_SIZE + 1))
def test_every_small_tree_follows_the_rfc_definitions(size: int) -> None:
    leaves = LEAVES[:size]
    frontier = Frontier()
    frontier.extend(leaves)
    assert frontier.root() == root(leaves) == _mth(leaves)
    for index in range(size):
        proof = inclusion_proof(index, leaves)
        assert proof == _path(index, leaves)
        assert len(proof) == _path_length(index, size)
    for first_size in range(1, size + 1):
        proof = consistency_proof(first_size, leaves)
        assert proof == _subproof(first_size, leaves, True)
        assert len(proof) == _subproof_length(first_size, size, True)


def _nearby(value: int, limit: int) -> set[int]:
    """The mistakes an index or a size is likely to carry: a neighbour, one bit (one left
    or right turn) flipped, doubled or halved; from -1 to ``limit``."""
    nearby = {value - 1, value + 1, value * 2, value // 2}
    nearby |= {value ^ (1 << bit) for bit in range(limit.bit_length())}
    return {other for other in nearby if -1 <= other <= limit} - {value}


def _altered_proofs(proof: list[bytes]) -> list[list[bytes]]:
    """Each element flipped, each dropped, and one more hash at either end."""
    flipped = [[*proof[:i], _flip(node), *proof[i + 1 :]] for i, node in enumerate(proof)]
    dropped = [proof[:i] + proof[i + 1 :] for i in range(len(proof))]
    return [*flipped, *dropped, [*proof, EMPTY_ROOT], [EMPTY_ROOT, *proof]]


@pytest.mark.parametrize("size", range(1, MAX_SIZE + 1))
def test_every_inclusion_proof_verifies_and_fails_once_altered(size: int) -> None:
    """A size is bound to its root by the signed tree head, not by the proof: RFC 9162
    checks the path's shape, and sizes whose paths share a shape accept the same proof
    (0 in 3 leaves and 0 in 4 leaves, say). So an altered size must fail wherever its
    path has another length; every other alteration must fail outright."""
    tree_root = _root(size)
    for index in range(size):
        leaf = LEAVES[index]
        proof = inclusion_proof(index, LEAVES[:size])
        assert verify_inclusion(index, size, leaf, proof, tree_root)
        assert not verify_inclusion(index, size, _flip(leaf), proof, tree_root)
        assert not verify_inclusion(index, size, leaf, proof, _flip(tree_root))
        for other_index in _nearby(index, size):
            assert not verify_inclusion(other_index, size, leaf, proof, tree_root)
        for other_size in _nearby(size, 2 * size):
            if index >= other_size or _path_length(index, other_size) != len(proof):
                assert not verify_inclusion(index, other_size, leaf, proof, tree_root)
        for altered in _altered_proofs(proof):
            assert not verify_inclusion(index, size, leaf, altered, tree_root)


@pytest.mark.parametrize("second_size", range(1, MAX_SIZE + 1))
def test_every_consistency_proof_verifies_and_fails_once_altered(second_size: int) -> None:
    """As with inclusion, an altered second size must fail wherever its proof has another
    length; every other alteration, the first size included, must fail outright."""
    second_root = _root(second_size)
    for first_size in range(1, second_size + 1):
        first_root = _root(first_size)
        proof = consistency_proof(first_size, LEAVES[:second_size])
        assert verify_consistency(first_size, second_size, first_root, second_root, proof)
        assert not verify_consistency(first_size, second_size, _flip(first_root), second_root, proof)
        assert not verify_consistency(first_size, second_size, first_root, _flip(second_root), proof)
        if first_size != second_size:
            assert not verify_consistency(first_size, second_size, second_root, first_root, proof)
        for other_first in _nearby(first_size, second_size + 1):
            assert not verify_consistency(other_first, second_size, first_root, second_root, proof)
        for other_second in _nearby(second_size, 2 * second_size):
            if other_second < first_size or _subproof_length(first_size, other_second, True) != len(proof):
                assert not verify_consistency(first_size, other_second, first_root, second_root, proof)
        for altered in _altered_proofs(proof):
            assert not verify_consistency(first_size, second_size, first_root, second_root, altered)


# --- Edges and malformed input -------------------------------------------------------------


def test_consistency_from_the_empty_tree_or_backwards_is_not_provable() -> None:
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 3, EMPTY_ROOT, _root(3), [])
    assert not verify_consistency(3, 2, _root(3), _root(2), consistency_proof(2, LEAVES[:3]))
    assert not verify_consistency(3, 3, _root(3), _root(2), [])
    with pytest.raises(ValueError):
        consistency_proof(0, LEAVES[:3])
    with pytest.raises(ValueError):
        consistency_proof(4, LEAVES[:3])


@pytest.mark.parametrize(("index", "size"), [(-1, 3), (3, 3), (0, 0)])
def test_inclusion_proofs_exist_only_for_leaves_in_the_tree(index: int, size: int) -> None:
    with pytest.raises(ValueError):
        inclusion_proof(index, LEAVES[:size])


_GOOD_INCLUSION: dict[str, Any] = {
    "index": 2,
    "size": 5,
    "leaf_hash": LEAVES[2],
    "proof": _path(2, LEAVES[:5]),
    "root_hash": _mth(LEAVES[:5]),
}
_GOOD_CONSISTENCY: dict[str, Any] = {
    "first_size": 2,
    "second_size": 5,
    "first_root": _mth(LEAVES[:2]),
    "second_root": _mth(LEAVES[:5]),
    "proof": _subproof(2, LEAVES[:5], True),
}
_PROOF = _GOOD_INCLUSION["proof"]
_MALFORMED: list[tuple[str, Any]] = [
    ("proof", None),
    ("proof", b"".join(_PROOF)),
    ("proof", iter(_PROOF)),
    ("proof", [node.hex() for node in _PROOF]),
    ("proof", [*_PROOF[:-1], _PROOF[-1][:31]]),
    ("proof", [*_PROOF[:-1], bytearray(_PROOF[-1])]),
]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("index", -1),
        ("index", 2.0),
        ("index", "2"),
        ("size", True),
        ("size", None),
        ("leaf_hash", LEAVES[2][:31]),
        ("leaf_hash", LEAVES[2].hex()),
        ("root_hash", b""),
        ("root_hash", None),
        *_MALFORMED,
    ],
)
def test_malformed_inclusion_input_is_refused_without_raising(name: str, value: Any) -> None:
    assert verify_inclusion(**_GOOD_INCLUSION)
    assert verify_inclusion(**{**_GOOD_INCLUSION, name: value}) is False


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("first_size", -2),
        ("first_size", 2.0),
        ("second_size", "5"),
        ("second_size", None),
        ("first_root", b"WrongRoot"),
        ("second_root", _mth(LEAVES[:5]).hex()),
        *_MALFORMED,
    ],
)
def test_malformed_consistency_input_is_refused_without_raising(name: str, value: Any) -> None:
    assert verify_consistency(**_GOOD_CONSISTENCY)
    assert verify_consistency(**{**_GOOD_CONSISTENCY, name: value}) is False


# --- Frontier ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 5, 8, 31])
def test_a_frontier_survives_a_database_row(size: int) -> None:
    frontier = Frontier()
    frontier.extend(LEAVES[:size])
    stored = json.loads(json.dumps(frontier.to_json()))
    assert len(stored["hashes"]) == size.bit_count()

    loaded = Frontier.from_json(stored)
    assert (loaded.size, loaded.root()) == (size, frontier.root())
    loaded.extend(LEAVES[size:])
    assert loaded.root() == _root(MAX_SIZE)


_HASH = LEAVES[0].hex()


@pytest.mark.parametrize(
    "row",
    [
        {"size": 5, "hashes": [_HASH]},
        {"size": 4, "hashes": [_HASH, _HASH]},
        {"size": 0, "hashes": [_HASH]},
        {"size": -1, "hashes": []},
        {"size": True, "hashes": [_HASH]},
        {"size": "1", "hashes": [_HASH]},
        {"hashes": []},
        {"size": 0},
        {"size": 1, "hashes": _HASH},
        {"size": 1, "hashes": [None]},
        {"size": 1, "hashes": ["zz" * 32]},
        {"size": 1, "hashes": [_HASH[:-2]]},
        {"size": 1, "hashes": [_HASH + "00"]},
        {"size": 1, "hashes": [_HASH.upper()]},
        {"size": 1, "hashes": [" " + _HASH[1:]]},
        [1, [_HASH]],
    ],
)
def test_a_corrupt_frontier_is_refused(row: Any) -> None:
    with pytest.raises(ValueError):
        Frontier.from_json(row)


@pytest.mark.parametrize("leaf", [b"", LEAVES[0][:31], LEAVES[0] + b"\x00", LEAVES[0].hex()])
def test_a_frontier_takes_only_leaf_hashes(leaf: Any) -> None:
    frontier = Frontier()
    with pytest.raises(ValueError):
        frontier.append(leaf)
    assert (frontier.size, frontier.root()) == (0, EMPTY_ROOT)


# --- What generation needs, and what the module may import ---------------------------------


class _SlicedLeaves:
    """Leaves a store loads a slice at a time: it has a length and slices, nothing else."""

    def __init__(self, leaves: list[bytes]) -> None:
        self._leaves = leaves
        self.read = 0

    def __len__(self) -> int:
        return len(self._leaves)

    def __getitem__(self, key: slice) -> list[bytes]:
        if not isinstance(key, slice):
            raise TypeError("leaves are read a slice at a time")
        self.read += len(self._leaves[key])
        return self._leaves[key]


@pytest.mark.parametrize(
    ("generate", "argument"),
    [(inclusion_proof, 0), (inclusion_proof, 29), (consistency_proof, 1), (consistency_proof, 23)],
)
def test_proofs_need_only_a_length_and_slices_and_read_each_leaf_once_at_most(
    generate: Callable[[int, Any], list[bytes]], argument: int
) -> None:
    leaves = _SlicedLeaves(LEAVES[:37])
    assert generate(argument, leaves) == generate(argument, LEAVES[:37])
    assert leaves.read <= 37


def test_the_module_imports_only_the_standard_library() -> None:
    """The offline verifier vendors merkle.py as it is, so nothing else may come along."""
    tree = ast.parse(Path(merkle.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {"." * node.level + (node.module or "") for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {name.split(".")[0] for name in imported} <= sys.stdlib_module_names
