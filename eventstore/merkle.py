"""The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1, over SHA-256.

A leaf is hashed as SHA-256(0x00 || data) and an interior node as SHA-256(0x01 || left ||
right): the two prefixes keep a leaf from passing for a node. The tree over n leaves
splits at the largest power of two smaller than n, so every left subtree is perfect, and
an append-only log can grow and compute its root from the roots of its perfect subtrees
alone (``Frontier``), without reading old leaves.

Leaves are addressed by their index in the tree, 0 to size - 1, in the order they were
appended. Proofs are over these indexes, never over event positions, which have gaps.

Standard library only, and nothing of Chronicle: the offline verifier that auditors run
vendors this file as it is. The verifiers return False for anything malformed instead of
raising, so an auditor's tool can treat every bad input alike.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeGuard

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# MTH(D[start:end]) for a node of the tree: (start, end) -> root.
SubtreeRoot = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root(leaf_hashes: Iterable[bytes]) -> bytes:
    """MTH (RFC 9162 2.1.1) of the tree over these leaf hashes, in one pass and
    O(log n) memory, so a lazily loaded sequence is never held whole."""
    frontier = Frontier()
    frontier.extend(leaf_hashes)
    return frontier.root()


class Frontier:
    """The compact state of an append-only tree: its size and the roots of the perfect
    subtrees that size decomposes into, one per set bit, largest (leftmost) first.

    Appending merges equal-sized subtrees like carries in a binary counter, so both
    ``append`` and ``root`` cost O(log n) hashes.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf_hash: bytes) -> None:
        if not _is_hash(leaf_hash):
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {leaf_hash!r}")
        node = leaf_hash
        carry = self._size
        while carry & 1:
            node = node_hash(self._hashes.pop(), node)
            carry >>= 1
        self._hashes.append(node)
        self._size += 1

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        for leaf in leaf_hashes:
            self.append(leaf)

    def root(self) -> bytes:
        """The tree's MTH: at every split the left part is the largest perfect subtree,
        so the subtree roots fold together from the right."""
        if not self._hashes:
            return EMPTY_ROOT
        node = self._hashes[-1]
        for left in reversed(self._hashes[:-1]):
            node = node_hash(left, node)
        return node

    def to_json(self) -> dict[str, Any]:
        return {"size": self._size, "hashes": [node.hex() for node in self._hashes]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Frontier:
        """The frontier ``to_json`` wrote; ValueError if the row cannot be one."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a frontier is a JSON object, not {data!r}")
        size = data.get("size")
        hashes = data.get("hashes")
        if not _is_count(size):
            raise ValueError(f"a frontier's size is a non-negative integer, not {size!r}")
        if not isinstance(hashes, list):
            raise ValueError(f"a frontier's hashes are a list, not {hashes!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a frontier of size {size} holds {size.bit_count()} hashes, not {len(hashes)}")
        frontier = cls()
        frontier._size = size
        frontier._hashes = [_from_hex(text) for text in hashes]
        return frontier


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(index, D[n]) of RFC 9162 2.1.3.1, n = len(leaf_hashes): the sibling subtree
    roots from the leaf up to the root.

    Hashes each sibling subtree from one slice, so generation reads each leaf at most once
    and needs only len() and slicing.
    """
    return inclusion_path(index, len(leaf_hashes), _slice_roots(leaf_hashes))


def inclusion_path(index: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PATH(index, D[size]) with ``subtree_root(start, end)`` giving MTH(D[start:end]),
    asked only for nodes of the tree (so a caller may build them from cached parts).

    Walks down from the root instead of recursing.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split(end - start)
        if index < middle:
            path.append(subtree_root(middle, end))
            end = middle
        else:
            path.append(subtree_root(start, middle))
            start = middle
    path.reverse()
    return path


def consistency_proof(first_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(first_size, D[n]) of RFC 9162 2.1.4.1, n = len(leaf_hashes): the nodes that
    show the tree of the first ``first_size`` leaves is a prefix of this one. Empty when
    the sizes are equal; the RFC defines no proof from the empty tree, hence 0 < first_size.
    """
    return consistency_path(first_size, len(leaf_hashes), _slice_roots(leaf_hashes))


def consistency_path(first_size: int, size: int, subtree_root: SubtreeRoot) -> list[bytes]:
    """PROOF(first_size, D[size]) with ``subtree_root`` as for ``inclusion_path``."""
    if not 0 < first_size <= size:
        raise ValueError(f"no consistency proof from size {first_size} to size {size}")
    proof: list[bytes] = []
    start, end, first = 0, size, first_size
    first_root_known = True  # SUBPROOF's b: the verifier holds this subtree's root already
    while first < end - start:
        middle = start + _split(end - start)
        if first <= middle - start:
            proof.append(subtree_root(middle, end))
            end = middle
        else:
            proof.append(subtree_root(start, middle))
            first -= middle - start
            start = middle
            first_root_known = False
    if not first_root_known:
        proof.append(subtree_root(start, end))
    proof.reverse()
    return proof


def _slice_roots(leaf_hashes: Sequence[bytes]) -> SubtreeRoot:
    return lambda start, end: root(leaf_hashes[start:end])


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root_hash: bytes) -> bool:
    """Whether ``proof`` shows the leaf ``leaf_hash`` at ``index`` in the tree of ``size``
    leaves whose MTH is ``root_hash``: RFC 9162 2.1.3.2, step by step.

    The proof does not bind the size: sizes whose paths have the same shape accept the
    same proof (leaf 0 of 3 and of 4, say). The signed tree head ties a root to its size.
    """
    path = _hashes(proof)
    if path is None or not (_is_count(index) and _is_count(size) and _is_hash(leaf_hash) and _is_hash(root_hash)):
        return False
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first_size: int, second_size: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of ``first_size`` leaves with MTH ``first_root``
    is a prefix of the tree of ``second_size`` leaves with MTH ``second_root``: RFC 9162
    2.1.4.2, step by step, for 0 < first_size < second_size.

    Equal sizes need an empty proof and equal roots. A first size of 0 is refused: the
    RFC defines no proof from the empty tree, and its head commits to nothing.
    """
    path = _hashes(proof)
    if path is None or not (
        _is_count(first_size) and _is_count(second_size) and _is_hash(first_root) and _is_hash(second_root)
    ):
        return False
    if not 0 < first_size <= second_size:
        return False
    if first_size == second_size:
        return not path and first_root == second_root
    if not path:
        return False
    if first_size & (first_size - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (at least 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    return type(value) is bytes and len(value) == HASH_SIZE


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _hashes(proof: object) -> list[bytes] | None:
    """The proof as a new list, or None unless it is a sequence of hashes."""
    if not isinstance(proof, Sequence) or isinstance(proof, str | bytes):
        return None
    path = list(proof)
    return path if all(map(_is_hash, path)) else None


def _from_hex(text: object) -> bytes:
    try:
        node = bytes.fromhex(text) if isinstance(text, str) else b""
    except ValueError:
        node = b""
    if len(node) != HASH_SIZE or node.hex() != text:
        raise ValueError(f"a frontier hash is {HASH_SIZE} bytes in lowercase hexadecimal, not {text!r}")
    return node
