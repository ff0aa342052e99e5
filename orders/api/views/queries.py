"""What every query of the read models shares: a list page or one entity, as fresh as asked.

A query reads only the read models (``projections.selectors``), rows already shaped as its
answer, and renders them straight to JSON (``json_answer``); its ``OutputSerializer``
describes that answer in the OpenAPI schema, and a test holds the two to the same bytes.
Each names the projections that keep what it reads; its answer says, in
``X-Chronicle-Position``, the position of the log it reflects (every event up to it
handled by those projections), read before the read models so the answer is at least that
fresh. With ``?min_position=P`` it first waits, at most ``API_MIN_POSITION_WAIT_SECONDS``,
until that is P or more; if time runs out it answers all the same, with the lower position.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from orders import errors
from projections import freshness
from projections.selectors import InvalidKey, Page

from ..errors import InvalidPageCursor
from ..http import POSITION_HEADER, etag, if_none_match, json_answer, matches, next_link, page_cursor, page_key
from ..openapi import ETAG_OF_ENTITY, IF_NONE_MATCH, POSITION, QUERY_ERRORS
from ..serializers import DetailQuerySerializer, ListQuerySerializer


class QueryApi(APIView):
    """A GET answered from the read models. Subclasses name the ``projections`` behind it."""

    QuerySerializer: ClassVar[type[serializers.Serializer]]
    OutputSerializer: ClassVar[type[serializers.Serializer]]
    projections: ClassVar[tuple[str, ...]]
    read_headers: ClassVar[list[OpenApiParameter]] = [POSITION]
    read_errors: ClassVar[dict[int, str]] = QUERY_ERRORS

    def query(self, request: Request) -> dict[str, Any]:
        serializer = self.QuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def position(self, min_position: int | None) -> int:
        """The position the read models reflect now, after waiting for ``min_position``."""
        if min_position is None:
            return freshness.reflected_position(*self.projections)
        timeout = settings.API_MIN_POSITION_WAIT_SECONDS
        return freshness.wait_for_position(self.projections, min_position, timeout=timeout)


class ListApi(QueryApi):
    """``GET <collection>/``: a page in the list's one stable order, and the ``next`` link
    (null on the last page). ``scope`` keeps one list's cursors out of another."""

    QuerySerializer = ListQuerySerializer
    scope: ClassVar[str]

    def get(self, request: Request) -> HttpResponse:
        query = self.query(request)
        cursor = query.pop("cursor", None)
        after = page_key(self.scope, cursor) if cursor else None
        position = self.position(query.pop("min_position", None))
        try:
            page = self.select(after=after, **query)
        except InvalidKey:
            raise InvalidPageCursor() from None
        next_page = next_link(request, cursor=page_cursor(self.scope, page.after)) if page.after else None
        return json_answer({"results": page.items, "next": next_page}, headers={POSITION_HEADER: str(position)})

    def select(self, *, after: list[str] | None, limit: int, **filters: Any) -> Page[Any]:
        raise NotImplementedError


class DetailApi(QueryApi):
    """``GET <collection>/{id}/``: one entity, with its version as ``ETag``; 304 when
    ``If-None-Match`` names it. ``stream_type`` names the entity in a 404."""

    QuerySerializer = DetailQuerySerializer
    read_headers = [IF_NONE_MATCH, ETAG_OF_ENTITY, POSITION]
    stream_type: ClassVar[str]
    # Whether the version covers everything the answer shows (see CustomerApi).
    conditional: ClassVar[bool] = True

    def get(self, request: Request, id: UUID) -> HttpResponse:
        query = self.query(request)
        tags = if_none_match(request)
        position = self.position(query.get("min_position"))
        item = self.select(id)
        if item is None:
            raise errors.NotFound(self.stream_type, id)
        headers = {"ETag": etag(item["version"]), POSITION_HEADER: str(position)}
        if self.conditional and matches(tags, item["version"]):
            return Response(status=304, headers=headers)
        return json_answer(item, headers=headers)

    def select(self, id: UUID) -> Any:
        """The entity as answered, or None if the read model has no such row."""
        raise NotImplementedError
