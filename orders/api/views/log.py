"""The log's seals and the proofs against them (``eventstore.proofs``): the public keyring,
the seals, an event's inclusion proof and the consistency of two seals. Whoever holds the
keyring can check every answer here without trusting Chronicle: a proof leads to a seal's
root, and the seal's signature is its key's."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from eventstore import proofs, sealkeys
from eventstore.sealing import SignedSeal

from ..errors import InvalidPageCursor
from ..http import next_link, page_cursor, page_key
from ..openapi import CONSISTENCY_ERRORS, KEYRING_ERRORS, PROOF_ERRORS, SEAL_ERRORS, SEAL_LIST_ERRORS
from ..serializers import (
    ConsistencyProofSerializer,
    ConsistencyQuerySerializer,
    InclusionProofSerializer,
    KeyringSerializer,
    PageQuerySerializer,
    ProofQuerySerializer,
    SealPageSerializer,
    SealSerializer,
)
from .events import ReadApi


class KeyringApi(ReadApi):
    """The public keys that check the seals' signatures.

    The key signing new seals first, then retired ones (older seals name them). Keep a copy:
    with it, a seal and a proof can be checked without asking Chronicle anything else.
    """

    OutputSerializer = KeyringSerializer
    read_errors = KEYRING_ERRORS

    def get(self, request: Request) -> Response:
        return self.answer(sealkeys.published_keyring())


class SealListApi(ReadApi):
    """The seals (signed tree heads), newest first, a page at a time.

    Follow `next` (null on the last page).
    """

    QuerySerializer = PageQuerySerializer
    OutputSerializer = SealPageSerializer
    read_errors = SEAL_LIST_ERRORS
    scope = "seals"

    def get(self, request: Request) -> Response:
        query = self.query(request)
        below = _tree_size(page_key(self.scope, query["cursor"])) if "cursor" in query else None
        seals, after = proofs.seal_page(below=below, limit=query["limit"])
        next_page = next_link(request, cursor=page_cursor(self.scope, [str(after)])) if after is not None else None
        return self.answer({"results": seals, "next": next_page})


def _tree_size(key: list[Any]) -> int:
    """The tree size a seal list's cursor continues below."""
    if len(key) != 1 or not isinstance(key[0], str) or not key[0].isdecimal():
        raise InvalidPageCursor()
    return int(key[0])


class SealApi(ReadApi):
    """The seal of a tree size."""

    OutputSerializer = SealSerializer
    read_errors = SEAL_ERRORS

    def get(self, request: Request, tree_size: int) -> Response:
        seal = proofs.find_seal(tree_size)
        if seal is None:
            raise NotFound(f"No seal has tree size {tree_size}.")
        return self.answer(SignedSeal.of(seal))


class EventProofApi(ReadApi):
    """An event's inclusion proof: its leaf, the audit path to a seal's root, and the seal.

    Against the newest seal, or the seal of `tree_size`. To check it: hash the audit path
    from `leaf_hash` up as RFC 9162 2.1.3.2 says, compare with the seal's `root_hash`, and
    check the seal's signature with its key from `log/keys/`. An event is sealed seconds
    after it is recorded; until then the answer is 409 `not_yet_sealed`.
    """

    QuerySerializer = ProofQuerySerializer
    OutputSerializer = InclusionProofSerializer
    read_errors = PROOF_ERRORS

    def get(self, request: Request, event_id: UUID) -> Response:
        return self.answer(proofs.inclusion(event_id, self.query(request).get("tree_size")))


class ConsistencyApi(ReadApi):
    """The consistency proof between two seals: the older one's log starts the newer one's.

    So nothing the first seal covers was changed, removed or reordered by the time of the
    second. The RFC 9162 proof from the tree of seal `first` to that of seal `second`: check
    it as 2.1.4.2 says against both seals' roots, and their signatures.
    """

    QuerySerializer = ConsistencyQuerySerializer
    OutputSerializer = ConsistencyProofSerializer
    read_errors = CONSISTENCY_ERRORS

    def get(self, request: Request) -> Response:
        query = self.query(request)
        return self.answer(proofs.consistency_proof(query["first"], query["second"]).to_json())
