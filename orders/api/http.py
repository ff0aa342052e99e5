"""The HTTP around the API's JSON: the body parser, the request headers a command reads
(If-Match, Idempotency-Key, X-Request-ID) and a query reads (If-None-Match), ETags, list
cursors and ``next`` links, and the queries' JSON answers."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import orjson
from django.core import signing
from django.http import HttpResponse
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

from orders.ids import KEY_PATTERN

from .errors import InvalidHeader, InvalidPageCursor, RequestTooLarge

# A command body is a few short fields; the longest text (a reason) is 2,000 characters.
MAX_BODY_BYTES: Final = 64 * 1024

# Anchored, so the OpenAPI schema can state them as they are.
IF_MATCH_PATTERN: Final = re.compile(r'^(\*|"(\d{1,18})")$')
_TAG = r'(?:W/)?"[\x21\x23-\x7e]{0,64}"'
IF_NONE_MATCH_PATTERN: Final = re.compile(rf"^(\*|{_TAG}(?: *, *{_TAG}){{0,49}})$")
# The response header telling which position of the log a query's answer reflects.
POSITION_HEADER: Final = "X-Chronicle-Position"


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


def if_none_match(request: Request) -> frozenset[str] | None:
    """The entity tags of ``If-None-Match`` without their quotes and weakness marks
    (compared weakly, as for a GET), ``{"*"}`` for any, or None without the header."""
    value = request.headers.get("If-None-Match")
    if value is None:
        return None
    value = value.strip()
    if not IF_NONE_MATCH_PATTERN.fullmatch(value):
        raise InvalidHeader("If-None-Match", 'Send the ETag you have, e.g. If-None-Match: "7".')
    if value == "*":
        return frozenset({"*"})
    return frozenset(re.findall(r'"([^"]*)"', value))


def matches(tags: frozenset[str] | None, version: int) -> bool:
    """Whether ``If-None-Match`` names the representation at ``version``."""
    return tags is not None and ("*" in tags or str(version) in tags)


def page_cursor(scope: str, key: list[str]) -> str:
    """The opaque cursor of a list page that continues after ``key``, signed, so that a
    client can neither forge one nor pass one list's cursor to another."""
    return signing.dumps(key, salt=f"chronicle.api.cursor.{scope}")


def page_key(scope: str, cursor: str) -> list[str]:
    try:
        key = signing.loads(cursor, salt=f"chronicle.api.cursor.{scope}")
    except signing.BadSignature:
        raise InvalidPageCursor() from None
    if not isinstance(key, list):
        raise InvalidPageCursor()
    return key


def etag(version: int) -> str:
    """An entity's version as an entity tag: what a client sends back in If-Match."""
    return f'"{version}"'


def next_link(request: Request, **params: object) -> str:
    """This request's absolute URL with ``params`` replaced: the ``next`` of a page."""
    url = request.build_absolute_uri()
    for name, value in params.items():
        url = replace_query_param(url, name, value)
    return url


_CENTS: Final = Decimal("0.01")


def _amount(value: Any) -> str:
    """An amount as the schema's money fields give it: a string with two decimals."""
    if isinstance(value, Decimal):
        return format(value.quantize(_CENTS), "f")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_answer(data: Any, *, headers: Mapping[str, str]) -> HttpResponse:
    """``data`` (plain dicts and lists of str, int, bool, None, UUID, UTC datetimes and
    amounts) as the bytes DRF's JSON renderer would give for it through the serializers,
    without their per-field cost: compact, UTF-8, times in ISO 8601 with ``Z``, and U+2028
    and U+2029 escaped (so the answer is valid JavaScript too, as DRF's)."""
    body = orjson.dumps(data, default=_amount, option=orjson.OPT_UTC_Z)
    if b"\xe2\x80\xa8" in body or b"\xe2\x80\xa9" in body:
        body = body.replace(b"\xe2\x80\xa8", b"\\u2028").replace(b"\xe2\x80\xa9", b"\\u2029")
    return HttpResponse(body, content_type="application/json", headers=headers)
