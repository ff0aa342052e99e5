"""The HTTP around the API's JSON: the body parser, the request headers a command reads
(If-Match, Idempotency-Key, X-Request-ID), ETags and ``next`` links."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any, Final

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from .errors import InvalidHeader, RequestTooLarge

# A command body is a few short fields; the longest text (a reason) is 2,000 characters.
MAX_BODY_BYTES: Final = 64 * 1024

# Anchored, so the OpenAPI schema can state them as they are.
IF_MATCH_PATTERN: Final = re.compile(r'^(\*|"(\d{1,18})")$')
KEY_PATTERN: Final = re.compile(r"^[\x21-\x7e]{1,255}$")


class JsonParser(JSONParser):
    """DRF's JSON parser, minus two ways a client could cause a 500 or exhaust memory: it
    reads the request stream whatever its length, and a deeply nested document raises
    RecursionError, which it does not catch."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"The body may be at most {MAX_BODY_BYTES} bytes.")
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


def if_match(request: Request) -> int | None:
    """The version the client saw, from ``If-Match: "7"`` (None without the header, or
    with ``*``: any version). Only a single strong tag makes sense for one stream."""
    value = request.headers.get("If-Match")
    if value is None:
        return None
    match = IF_MATCH_PATTERN.fullmatch(value.strip())
    if match is None:
        raise InvalidHeader("If-Match", 'Send the version you saw as one quoted number, e.g. If-Match: "7".')
    return int(match.group(2)) if match.group(2) else None


def idempotency_key(request: Request) -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if not KEY_PATTERN.fullmatch(value):
        raise InvalidHeader("Idempotency-Key", "Use 1 to 255 visible ASCII characters, e.g. a UUID.")
    return value


def etag(version: int) -> str:
    """An entity's version as an entity tag: what a client sends back in If-Match."""
    return f'"{version}"'


def next_link(request: Request, **params: object) -> str:
    """This request's absolute URL with ``params`` replaced: the ``next`` of a page."""
    url = request.build_absolute_uri()
    for name, value in params.items():
        url = replace_query_param(url, name, value)
    return url
