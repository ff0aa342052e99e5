"""The event log in the admin: a read-only browser with filters and exports.

Each event links to its stream's history where a face has registered pages for the stream
type (``admin_widgets.register_stream_pages``); the history and time-travel pages
themselves belong to the app that owns the entities."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from .admin_widgets import InputFilter, RangeFilter, ReadOnlyAdmin, parse_moment, stream_page_url
from .export import TABLE_COLUMNS, table_row
from .models import Event
from .records import SOURCES

EXPORT_CHUNK = 2000


def _parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value.strip())
    except ValueError:
        return None


class ActorFilter(InputFilter):
    title = "actor (user id or system)"
    parameter_name = "actor"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(metadata__actor=self.value()) if self.value() else queryset


class CorrelationFilter(InputFilter):
    title = "correlation id"
    parameter_name = "correlation_id"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(metadata__correlation_id=self.value()) if self.value() else queryset


class CauseFilter(InputFilter):
    """The event, or the events of the command, with this id: where a causation id leads."""

    title = "event or command id"
    parameter_name = "cause"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        matches = Q(metadata__command_id=value)
        if (event_id := _parse_uuid(value)) is not None:
            matches |= Q(event_id=event_id)
        return queryset.filter(matches)


class SourceFilter(admin.SimpleListFilter):
    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(source, source) for source in sorted(SOURCES)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Event]) -> QuerySet[Event]:
        return queryset.filter(metadata__source=self.value()) if self.value() else queryset


class RecordedBetweenFilter(RangeFilter):
    """Recorded time from/to, as date-times (naive ones in the shop's time zone)."""

    title = "recorded between"
    field = "recorded_at"
    parameters = ("recorded_from", "recorded_to")
    input_type = "datetime-local"
    input_attrs = {"step": "1"}

    parse = staticmethod(parse_moment)


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet shows as text: a leading =, +, -, @, tab or CR would make a
    formula out of it (CSV injection), so such cells start with an apostrophe."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The global event log, newest first. Nothing here can change an event."""

    list_display = ("position", "recorded_at", "event_type", "stream", "version", "actor", "source", "correlation")
    list_filter = (
        "stream_type",
        "event_type",
        SourceFilter,
        ActorFilter,
        CorrelationFilter,
        CauseFilter,
        RecordedBetweenFilter,
    )
    search_fields = ("stream_id",)
    search_help_text = "Search by stream id (the entity's id)."
    ordering = ("-position",)
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/chronicle/event_change_list.html"
    readonly_fields = [f.name for f in Event._meta.fields]

    # --- Read-only, for everyone who may read the log -------------------------------------

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Django's view permission on events, or any of ``EVENT_LOG_READ_PERMISSIONS`` (the
        shop's permission to read histories, which covers the log too)."""
        user = request.user
        granted = user.is_active and any(user.has_perm(p) for p in settings.EVENT_LOG_READ_PERMISSIONS)
        return granted or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Event], search_term: str) -> Any:
        term = search_term.strip()
        if not term:
            return queryset, False
        stream_id = _parse_uuid(term)
        return (queryset.filter(stream_id=stream_id) if stream_id else queryset.none()), False

    # --- Columns ---------------------------------------------------------------------------

    @admin.display(description="stream")
    def stream(self, event: Event) -> str:
        url = stream_page_url(event.stream_type, event.stream_id)
        if url is None:
            return format_html("{} {}", event.stream_type, str(event.stream_id)[:8])
        return format_html('{} <a href="{}">{}</a>', event.stream_type, url, str(event.stream_id)[:8])

    @admin.display(description="actor")
    def actor(self, event: Event) -> str:
        return event.metadata.get("actor", "")

    @admin.display(description="source")
    def source(self, event: Event) -> str:
        return event.metadata.get("source", "")

    @admin.display(description="correlation id")
    def correlation(self, event: Event) -> str:
        correlation_id = event.metadata.get("correlation_id")
        if not correlation_id:
            return ""
        url = reverse("admin:eventstore_event_changelist") + "?" + urlencode({"correlation_id": correlation_id})
        return format_html('<a href="{}">{}</a>', url, correlation_id[:12])

    # --- Extra pages -----------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_csv), name="chronicle_export_csv"),
            path("export.jsonl", view(self.export_jsonl), name="chronicle_export_jsonl"),
            path("history/<str:kind>/<uuid:stream_id>/", self.moved("history")),
            path("state/<str:kind>/<uuid:stream_id>/", self.moved("state")),
            *super().get_urls(),
        ]

    def _filtered(self, request: HttpRequest) -> QuerySet[Event]:
        """The events the changelist shows for the same query string, oldest first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
            return changelist.get_queryset(request).order_by("position")
        except IncorrectLookupParameters as exc:
            raise BadRequest(f"Cannot filter the events by this: {exc}") from None

    def _rows(self, request: HttpRequest) -> Iterator[dict[str, Any]]:
        """The export's rows, streamed; permission and filters are checked before the
        first row is asked for."""
        events = self._filtered(request)
        return (table_row(event) for event in events.iterator(chunk_size=EXPORT_CHUNK))

    def export_csv(self, request: HttpRequest) -> HttpResponse:
        writer = csv.writer(_Echo())
        rows = self._rows(request)

        def lines() -> Iterator[str]:
            yield writer.writerow(TABLE_COLUMNS)
            for row in rows:
                yield writer.writerow([_csv_cell(row[column]) for column in TABLE_COLUMNS])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="events.csv"'
        return response

    def export_jsonl(self, request: HttpRequest) -> HttpResponse:
        rows = self._rows(request)
        response = StreamingHttpResponse(
            (json.dumps(row, ensure_ascii=False) + "\n" for row in rows), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="events.jsonl"'
        return response

    @staticmethod
    def moved(page: str) -> Callable[[HttpRequest, str, UUID], HttpResponse]:
        """The history and time-travel pages lived here once: old links answer 301."""

        def redirect(request: HttpRequest, kind: str, stream_id: UUID) -> HttpResponse:
            url = stream_page_url(kind, stream_id, page)
            if url is None:
                raise Http404(f"No pages for streams of type {kind!r}.")
            query = request.META.get("QUERY_STRING")
            return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)

        return redirect
