"""Reading the log: an entity's history, its state at a version or moment, the global feed."""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from eventstore import store
from orders import history

from ..http import next_link
from ..serializers import (
    FeedPageSerializer,
    FeedQuerySerializer,
    HistoryPageSerializer,
    HistoryQuerySerializer,
    StateQuerySerializer,
    StateSerializer,
)


class ReadApi(APIView):
    """A GET answered from the event log: its ``QuerySerializer`` checks the query
    parameters (None: it takes none), its ``OutputSerializer`` shapes the answer."""

    QuerySerializer: ClassVar[type[serializers.Serializer] | None] = None
    OutputSerializer: ClassVar[type[serializers.Serializer]]

    def query(self, request: Request) -> dict[str, Any]:
        if self.QuerySerializer is None:
            return {}
        serializer = self.QuerySerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def answer(self, data: object) -> Response:
        return Response(self.OutputSerializer(data).data)


class EntityReadApi(ReadApi):
    # The stream type, given per route: customer, product or order.
    stream_type = ""


class HistoryApi(EntityReadApi):
    """An entity's events, oldest first, a page at a time.

    Follow `next` (null on the last page) to read on.
    """

    QuerySerializer = HistoryQuerySerializer
    OutputSerializer = HistoryPageSerializer

    def get(self, request: Request, id: UUID) -> Response:
        query = self.query(request)
        after = query["after_version"]
        events = store.read_stream(id, from_version=after + 1, to_version=after + query["limit"])
        # Read after the page, so a page that is not the last always says so.
        current = history.current_version(self.stream_type, id)
        more = bool(events) and events[-1].version < current
        next_page = next_link(request, after_version=events[-1].version) if more else None
        return self.answer({"results": events, "next": next_page})


class StateApi(EntityReadApi):
    """An entity as it was after a version, or at a moment, rebuilt from its events.

    With neither `version` nor `at`, as it is now. Before it existed: version 0, state null.
    """

    QuerySerializer = StateQuerySerializer
    OutputSerializer = StateSerializer

    def get(self, request: Request, id: UUID) -> Response:
        return self.answer(history.state_at(self.stream_type, id, **self.query(request)))


class EventFeedApi(ReadApi):
    """Every event of every stream, in feed order, a page at a time.

    Start without `after` and follow `next`, which is never null: each event comes exactly
    once, even while others write. When `caught_up` is true, come back later to the same
    `next`. Filters may give empty pages while the cursor still moves on.
    """

    QuerySerializer = FeedQuerySerializer
    OutputSerializer = FeedPageSerializer

    def get(self, request: Request) -> Response:
        query = self.query(request)
        page = store.read_feed(
            query.get("after") or None,
            limit=query["limit"],
            stream_types=query.get("stream_type"),
            event_types=query.get("event_type"),
        )
        next_page = next_link(request, after=page.next_cursor)
        return self.answer({"results": page.events, "next": next_page, "caught_up": page.caught_up})
