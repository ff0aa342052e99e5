"""The OpenAPI description of every endpoint, built from what its view declares.

A command view (POST) declares its ``InputSerializer``, ``result_serializer``,
``success_status`` and ``documented_headers``; a read view (GET) its ``QuerySerializer``,
``OutputSerializer`` and, for queries of the read models, ``read_headers``, ``read_errors``
and whether it is ``conditional`` (may answer 304). ``ApiSchema`` adds the error responses
every endpoint of its kind can give, so no endpoint can forget one (schemathesis checks
each answer against this). A collection view serves a query (GET) and a creating command
(POST); each method is documented from its own side's docstring.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from eventstore.context import CORRELATION_ID_PATTERN
from orders.models import command_codename

from .errors import ErrorSerializer
from .http import IF_MATCH_PATTERN, IF_NONE_MATCH_PATTERN, KEY_PATTERN, POSITION_HEADER

_HEADER = OpenApiParameter.HEADER

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


class ApiSchema(AutoSchema):
    def get_request_serializer(self) -> Any:
        return getattr(self.view, "InputSerializer", None) if self.method == "POST" else None

    def get_response_serializers(self) -> Any:
        if self.method == "POST":
            result = OpenApiResponse(self.view.result_serializer, description="What the command did.")
            success, errors = {self.view.success_status: result}, COMMAND_ERRORS
        else:
            success, errors = {200: self.view.OutputSerializer}, getattr(self.view, "read_errors", READ_ERRORS)
            if getattr(self.view, "conditional", False):
                success[304] = OpenApiResponse(description="Not modified: the entity is at the version you named.")
        failures = {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in sorted(errors.items())}
        return {**success, **failures}

    def get_override_parameters(self) -> list[Any]:
        if self.method == "POST":
            return [*self.view.documented_headers, RETRY_AFTER]
        return [self.view.QuerySerializer, *getattr(self.view, "read_headers", []), RETRY_AFTER]

    def get_operation_id(self) -> str:
        """A command is named after its command (``RegisterCustomer``: ``register_customer``),
        which stays so when its path gets a GET too; reads, where one view serves several
        paths, after their path: ``customers_list`` for a list of the read models,
        ``customers_retrieve`` for one of its entities."""
        from .views.queries import ListApi

        if self.method != "POST":
            operation = super().get_operation_id()
            return operation.removesuffix("_retrieve") + "_list" if isinstance(self.view, ListApi) else operation
        return command_codename(self.view.command)

    def _get_serializer_name(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> str:
        """A view's nested ``InputSerializer`` is named after the view: ``RegisterCustomerInput``."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super()._get_serializer_name(serializer, direction, bypass_extensions)

    def get_summary(self) -> str | None:
        return self._docstring()[0] or None

    def get_description(self) -> str:
        return self._docstring()[1]

    def _docstring(self) -> tuple[str, str]:
        """The docstring of the view's side serving this method (its command for POST, its
        read for GET): its first line is the summary, the rest the description."""
        from .views.base import CommandApi

        command = self.method == "POST"
        side = next(
            (
                cls
                for cls in type(self.view).__mro__
                if cls.__doc__ and issubclass(cls, CommandApi) == command and cls.__module__.startswith("orders.")
            ),
            None,
        )
        summary, _, description = inspect.cleandoc(side.__doc__ if side else "").partition("\n")
        return summary, description.strip()
