"""The OpenAPI pieces views declare and ``ApiSchema`` adds: headers, and the error responses
of each kind of endpoint.

A module of its own, importing no view, so that the views (which declare these) and
``orders.api.schema`` (which reads the views) both import it without a circle.
"""

from __future__ import annotations

from typing import Final

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from eventstore.context import CORRELATION_ID_PATTERN

from .http import IF_MATCH_PATTERN, IF_NONE_MATCH_PATTERN, KEY_PATTERN, POSITION_HEADER

_HEADER: Final = OpenApiParameter.HEADER

IF_MATCH: Final = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    _HEADER,
    pattern=IF_MATCH_PATTERN.pattern,
    description='The version you saw, quoted: `"7"`. If the entity has moved on, nothing is changed and '
    "the answer is 409 `version_conflict` with `current_version`.",
)
IDEMPOTENCY_KEY: Final = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    _HEADER,
    pattern=KEY_PATTERN.pattern,
    description="Any unique string (a UUID) to make retries safe: the same key with the same body returns the "
    "first response and changes nothing; with another body, 422 `idempotency_key_reused`; while the first "
    "is still running, 409 `idempotency_in_progress`. Keys are remembered for 24 hours, per user.",
)
REQUEST_ID: Final = OpenApiParameter(
    "X-Request-ID",
    OpenApiTypes.STR,
    _HEADER,
    pattern=CORRELATION_ID_PATTERN.pattern,
    description="Your id for this request (up to 100 of `A-Za-z0-9._:-`), stored as the correlation id of "
    "the events it causes.",
)
ETAG: Final = OpenApiParameter(
    "ETag", OpenApiTypes.STR, _HEADER, response=[200, 201], description='The version afterwards, quoted: `"8"`.'
)
LOCATION: Final = OpenApiParameter(
    "Location", OpenApiTypes.URI, _HEADER, response=[201], required=True, description="The new entity's URL."
)
IF_NONE_MATCH: Final = OpenApiParameter(
    "If-None-Match",
    OpenApiTypes.STR,
    _HEADER,
    pattern=IF_NONE_MATCH_PATTERN.pattern,
    description='The ETag you have, e.g. `"7"` (or several, or `*`): if the entity is still at that version the '
    "answer is 304 without a body. A malformed value is 400 `invalid_header`.",
)
ETAG_OF_ENTITY: Final = OpenApiParameter(
    "ETag",
    OpenApiTypes.STR,
    _HEADER,
    response=[200, 304],
    required=True,
    description='The entity\'s version as the read model has it, quoted: `"7"` (send it as If-Match).',
)
POSITION: Final = OpenApiParameter(
    POSITION_HEADER,
    OpenApiTypes.INT,
    _HEADER,
    response=[200, 304],
    required=True,
    description="The position of the log this answer reflects: the read models behind it have handled every "
    "event at this position or below. Below `min_position` only if the wait for it ran out.",
)
RETRY_AFTER: Final = OpenApiParameter(
    "Retry-After", OpenApiTypes.INT, _HEADER, response=[429], description="Seconds to wait."
)

_COMMON_ERRORS: Final = {
    401: "No credentials, or an unknown token (`not_authenticated`, `authentication_failed`).",
    429: "Too many requests (`throttled`); see Retry-After.",
}
COMMAND_ERRORS: Final = {
    400: "The body or a header is wrong in itself (`invalid`, `invalid_header`, `parse_error`); "
    "`fields` names each input at fault.",
    **_COMMON_ERRORS,
    403: "You may not issue this command (`not_permitted`). Checked before anything is looked up.",
    404: "No such entity, in the path or in the body (`not_found`; `fields` names the body's).",
    409: "Nothing was changed: `version_conflict` (If-Match; with `current_version`), "
    "`idempotency_in_progress`, or `busy` (try again).",
    413: "The body is too large (`request_too_large`).",
    415: "Send `Content-Type: application/json` (`unsupported_media_type`).",
    422: "Refused given the current state, with the rule's code (`insufficient_stock`, `order_not_paid`, "
    "`sku_taken`...), or `idempotency_key_reused`.",
}
READ_ERRORS: Final = {
    400: "A query parameter is wrong (`invalid`, `invalid_cursor`, `cursor_expired`, `version_out_of_range`).",
    **_COMMON_ERRORS,
    403: "You may not read histories and the event log (`not_permitted`).",
    404: "No such entity (`not_found`).",
}

QUERY_ERRORS: Final = {
    400: "A query parameter or header is wrong (`invalid` with `fields`, `invalid_cursor`, `invalid_header`).",
    **_COMMON_ERRORS,
    403: "You may not read (`not_permitted`). Checked before anything is looked up.",
    404: "No such entity (`not_found`).",
}

# The log's seals and proofs (``views.log``): the event log, readable by Operators and Auditors.
_LOG_REFUSALS: Final = {
    **_COMMON_ERRORS,
    403: "You may not read the event log (`not_permitted`).",
}
KEYRING_ERRORS: Final = _LOG_REFUSALS
SEAL_LIST_ERRORS: Final = {
    400: "A query parameter is wrong (`invalid` with `fields`, `invalid_cursor`).",
    **_LOG_REFUSALS,
}
SEAL_ERRORS: Final = {**_LOG_REFUSALS, 404: "No seal has this tree size (`not_found`)."}
PROOF_ERRORS: Final = {
    400: "`tree_size` is malformed (`invalid`), no seal has it (`no_such_seal`) or its seal is older than "
    "the event (`proof_refused`); `fields` names `tree_size`.",
    **_LOG_REFUSALS,
    404: "No such event (`not_found`).",
    409: "No seal covers the event yet (`not_yet_sealed`): `fields.wait_seconds` says in how many seconds "
    "the next seal is due.",
}
CONSISTENCY_ERRORS: Final = {
    400: "`first` or `second` is malformed (`invalid`) or no seal's tree size (`no_such_seal`), or `first` "
    "is larger than `second` (`proof_refused`); `fields` names which.",
    **_LOG_REFUSALS,
}
