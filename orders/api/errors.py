"""Every refusal, from whichever layer, in one shape: ``{"error": {"code", "message", "fields"}}``.

``handle_exception`` is DRF's ``EXCEPTION_HANDLER`` and the only place errors are turned
into responses. The domain's refusals (``DomainError``) are 422 with their own code and
fields; the application's (``orders.errors.CommandRefused``) state their status; DRF's own
(validation, authentication, throttling, 405, 415...) keep their status and code, so a
client needs one parser for every 4xx. Anything else is a bug: a 500, logged with its
traceback, whose body says only ``server_error`` (``server_error`` below). Django's own
error pages (an unknown host, a bug) answer in the same shape under
/api/, and every error names the request's id.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any

from django.core.exceptions import DisallowedHost, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings

from eventstore.context import correlation_id
from eventstore.exceptions import CursorExpired, InvalidCursor
from eventstore.proofs import LogDamaged, NoSuchEvent, NoSuchSeal, NotYetSealed, ProofRefused
from orders.domain import DomainError
from orders.errors import CommandRefused, VersionConflict


@dataclass(frozen=True)
class ApiError:
    status: int
    code: str
    message: str
    fields: Mapping[str, str] = field(default_factory=dict)
    # Further members of the error object, e.g. current_version for version_conflict.
    extra: Mapping[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        """The error object, with the request's id (its X-Request-ID) to quote when asking
        what happened."""
        error = {"code": self.code, "message": self.message, "fields": dict(self.fields), **self.extra}
        return {"error": {**error, "request_id": correlation_id.get()}}

    def response(self) -> Response:
        return Response(self.body(), status=self.status, headers=dict(self.headers))

    def json_response(self) -> JsonResponse:
        """The same answer where no DRF view is at work (Django's error pages)."""
        return JsonResponse(self.body(), status=self.status, headers=dict(self.headers))


class InvalidHeader(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_header"

    def __init__(self, header: str, message: str) -> None:
        super().__init__(f"{header}: {message}")
        self.fields = {header: message}


class InvalidPageCursor(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_cursor"
    default_detail = "This cursor was not handed out by this list; start from a `next` link."

    def __init__(self) -> None:
        super().__init__()
        self.fields = {"cursor": self.default_detail}


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


def handle_exception(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler: the error's response, or None (a 500) for a bug."""
    error = to_error(exc)
    return error.response() if error is not None else None


@singledispatch
def to_error(exc: Exception) -> ApiError | None:
    return None


@to_error.register
def _domain_refusal(exc: DomainError) -> ApiError:
    return ApiError(status.HTTP_422_UNPROCESSABLE_ENTITY, exc.code, exc.message, exc.fields)


@to_error.register
def _command_refused(exc: CommandRefused) -> ApiError:
    return ApiError(exc.status_code, exc.code, exc.message, exc.fields)


@to_error.register
def _version_conflict(exc: VersionConflict) -> ApiError:
    return replace(_command_refused(exc), extra={"current_version": exc.current_version})


@to_error.register
def _invalid_cursor(exc: InvalidCursor) -> ApiError:
    message = "This cursor was not handed out by this feed; start from a `next` link."
    return ApiError(status.HTTP_400_BAD_REQUEST, "invalid_cursor", message, {"after": message})


@to_error.register
def _cursor_expired(exc: CursorExpired) -> ApiError:
    message = "The event log was restored since this cursor was handed out; follow the feed again from the start."
    return ApiError(status.HTTP_400_BAD_REQUEST, "cursor_expired", message, {"after": message})


@to_error.register
def _no_such_event(exc: NoSuchEvent) -> ApiError:
    return ApiError(status.HTTP_404_NOT_FOUND, "not_found", f"There is no event with id {exc.event_id}.")


@to_error.register
def _not_yet_sealed(exc: NotYetSealed) -> ApiError:
    """The wait is in ``fields`` as the shape has it, a string: ``{"wait_seconds": "10"}``."""
    message = f"No seal covers this event yet; the next seal is due in about {exc.wait_seconds} s."
    return ApiError(status.HTTP_409_CONFLICT, "not_yet_sealed", message, {"wait_seconds": str(exc.wait_seconds)})


@to_error.register
def _no_such_seal(exc: NoSuchSeal) -> ApiError:
    message = f"No seal has tree size {exc.tree_size}; the seals are listed at /api/v1/log/seals/."
    return ApiError(status.HTTP_400_BAD_REQUEST, "no_such_seal", message, {exc.argument: "No seal has this tree size."})


@to_error.register
def _log_damaged(exc: LogDamaged) -> ApiError:
    """No proof can be made from a damaged leaf table: the server's fault, said plainly."""
    return ApiError(status.HTTP_500_INTERNAL_SERVER_ERROR, "log_damaged", f"The event log is damaged: {exc}.")


@to_error.register
def _proof_refused(exc: ProofRefused) -> ApiError:
    return ApiError(status.HTTP_400_BAD_REQUEST, "proof_refused", str(exc), {exc.argument: str(exc)})


@to_error.register
def _invalid_input(exc: exceptions.ValidationError) -> ApiError:
    fields = dict(_flatten(exc.detail))
    general = fields.pop("", None)
    message = general or f"Some fields are invalid: {', '.join(fields)}."
    return ApiError(status.HTTP_400_BAD_REQUEST, "invalid", message, fields)


@to_error.register
def _drf_error(exc: exceptions.APIException) -> ApiError:
    headers = {}
    # Both set by DRF (auth_header by APIView on a 401); its stubs declare neither.
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
    if wait is not None:
        headers["Retry-After"] = str(int(wait))
    # One code for every "not permitted", whether DRF or the command bus refused.
    code = "not_permitted" if isinstance(exc, exceptions.PermissionDenied) else exc.default_code
    return ApiError(exc.status_code, code, str(exc.detail), getattr(exc, "fields", {}), headers=headers)


@to_error.register
def _unknown_host(exc: DisallowedHost) -> ApiError:
    return ApiError(status.HTTP_400_BAD_REQUEST, "unknown_host", "This server does not answer to that host name.")


BAD_REQUEST = ApiError(status.HTTP_400_BAD_REQUEST, "bad_request", "The request is malformed.")


@to_error.register
def _suspicious(exc: SuspiciousOperation) -> ApiError:
    """E.g. more query parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS."""
    return BAD_REQUEST


# --- Django's error pages, in the API's shape under /api/ ----------------------------------
# Answers given before or outside any API view (an unknown host, a bug) would otherwise be
# Django's HTML. ``config.urls`` names these as its handler400 and handler500 (an unknown
# path under /api/ reaches ``NoSuchPathApi``).

API_PREFIX = "/api/"
SERVER_ERROR = ApiError(
    status.HTTP_500_INTERNAL_SERVER_ERROR,
    "server_error",
    "Something went wrong on our side; it has been logged. Quote the request id when you report it.",
)


def _for_api(request: HttpRequest) -> bool:
    # The path, never the host: for a DisallowedHost, asking for the host raises again.
    return request.path.startswith(API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """E.g. an unknown host (DisallowedHost) or a malformed request Django itself refused."""
    if _for_api(request):
        return (to_error(exception) or BAD_REQUEST).json_response()
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug: Django has logged the traceback (``django.request``); the client gets only the
    request id to quote."""
    if _for_api(request):
        return SERVER_ERROR.json_response()
    return defaults.server_error(request)


def _flatten(detail: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """DRF's nested error detail as dotted paths (``shipping_address.city``) -> one message.
    Errors about the whole body or a whole nested object go to the path of that object."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == api_settings.NON_FIELD_ERRORS_KEY else str(key)
            yield from _flatten(value, ".".join(part for part in (prefix, name) if part))
    elif isinstance(detail, list) and all(not isinstance(item, dict | list) for item in detail):
        yield prefix, " ".join(str(item) for item in detail)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            yield from _flatten(item, f"{prefix}.{index}" if prefix else str(index))
    else:
        yield prefix, str(detail)


# --- For the OpenAPI schema -------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable and machine-readable: `invalid`, `version_conflict`, `sku_taken`...")
    message = serializers.CharField(help_text="For people.")
    request_id = serializers.CharField(
        allow_null=True, help_text="The request's X-Request-ID: quote it when asking what happened."
    )
    current_version = serializers.IntegerField(
        required=False, help_text="Only with `version_conflict`: the entity's version now."
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        """``fields`` cannot be declared as an attribute: it is the serializer's own."""
        return {
            **super().get_fields(),
            "fields": serializers.DictField(
                child=serializers.CharField(),
                help_text="Input at fault (dotted path) -> what is wrong with it. With `not_yet_sealed`: "
                "`wait_seconds` -> seconds until the next seal is due.",
            ),
        }


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
