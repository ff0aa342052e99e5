"""The event log in the admin: a read-only browser with filters and exports, and every
entity's history and time-travel pages (linked from the shop's own admin pages)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any, ClassVar
from uuid import UUID

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.http import urlencode

from orders import history
from orders.errors import CommandRefused, NotFound
from orders.permissions import may_read_history

from .models import Event
from .records import SOURCES

EXPORT_CHUNK = 2000


def _parse_uuid(value: str) -> UUID | None:
    try:
        return UUID(value.strip())
    except ValueError:
        return None


def _other_params(changelist: Any, mine: tuple[str, ...]) -> list[tuple[str, str]]:
    """The changelist's other filter parameters, as hidden inputs of a filter's form."""
    pairs = []
    for name, values in changelist.get_filters_params().items():
        if name not in mine:
            pairs += [(name, value) for value in (values if isinstance(values, list) else [values])]
    return pairs


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box (ids, actors) rather than picked from a list."""

    template = "admin/chronicle/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # a list filter must offer something to be shown

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "others": _other_params(changelist, (self.parameter_name,)),
        }


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


class RangeFilter(admin.ListFilter):
    """From/to on one field, each bound optional. Subclasses name the ``field``, the two
    query parameters, the inputs' type and how a value is read (``parse`` returns None
    when it cannot)."""

    template = "admin/chronicle/range_filter.html"
    field: ClassVar[str]
    parameters: ClassVar[tuple[str, str]]
    input_type: ClassVar[str] = "text"
    # Extra attributes of the two inputs, e.g. {"step": "0.01", "min": "0"}.
    input_attrs: ClassVar[dict[str, str]] = {}

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                raw = params.pop(name)
                self.values[name] = (raw[-1] if isinstance(raw, list) else raw).strip()

    @staticmethod
    def parse(raw: str) -> Any:
        raise NotImplementedError

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str]:
        return list(self.parameters)

    def bounds(self) -> Iterator[tuple[str, Any]]:
        for lookup, name in zip(("gte", "lte"), self.parameters, strict=True):
            raw = self.values.get(name, "")
            if raw:
                value = self.parse(raw)
                if value is None:
                    raise admin.options.IncorrectLookupParameters(f"{name}: {raw!r} is not a valid value")
                yield f"{self.field}__{lookup}", value

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(**dict(self.bounds()))

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "inputs": [(name, label, self.values.get(name, "")) for name, label in zip(self.parameters, ("from", "to"), strict=True)],
            "input_type": self.input_type,
            "input_attrs": self.input_attrs.items(),
            "others": _other_params(changelist, self.parameters),
        }


class RecordedBetweenFilter(RangeFilter):
    """Recorded time from/to, as date-times (naive ones in the shop's time zone)."""

    title = "recorded between"
    field = "recorded_at"
    parameters = ("recorded_from", "recorded_to")
    input_type = "datetime-local"
    input_attrs = {"step": "1"}

    @staticmethod
    def parse(raw: str) -> dt.datetime | None:
        try:
            moment = parse_datetime(raw)
        except ValueError:
            return None
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment


def _csv_cell(value: Any) -> str:
    """Text a spreadsheet shows as text: a leading =, +, -, @, tab or CR would make a
    formula out of it (CSV injection), so such cells start with an apostrophe."""
    text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value: str) -> str:
        return value


EXPORT_COLUMNS = (
    "position", "event_id", "stream_type", "stream_id", "version", "event_type", "schema_version",
    "occurred_at", "recorded_at", "actor", "source", "correlation_id", "causation_id", "command_id", "data",
)  # fmt: skip


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin with no add, change or delete: what it lists changes only through commands
    (or, for the log itself, never)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """The global event log, newest first. Nothing here can change an event."""

    list_display = ("position", "recorded_at", "event_type", "stream", "version", "actor", "source", "correlation")
    list_filter = (
        "stream_type", "event_type", SourceFilter, ActorFilter, CorrelationFilter, CauseFilter, RecordedBetweenFilter,
    )  # fmt: skip
    search_fields = ("stream_id",)
    search_help_text = "Search by stream id (the entity's id)."
    ordering = ("-position",)
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/chronicle/event_change_list.html"
    readonly_fields = [f.name for f in Event._meta.fields]

    # --- Read-only, for everyone who may read the log -------------------------------------

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_read_history(request.user) or super().has_view_permission(request, obj)

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
        url = reverse("admin:chronicle_history", args=[event.stream_type, event.stream_id])
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
            path("history/<str:kind>/<uuid:stream_id>/", view(self.history_view), name="chronicle_history"),
            path("state/<str:kind>/<uuid:stream_id>/", view(self.state_view), name="chronicle_state"),
            *super().get_urls(),
        ]

    def _filtered(self, request: HttpRequest) -> QuerySet[Event]:
        """The events the changelist shows for the same query string, oldest first."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return changelist.get_queryset(request).order_by("position")

    def _rows(self, request: HttpRequest) -> Iterator[dict[str, Any]]:
        """The export's rows, streamed; permission and filters are checked before the
        first row is asked for."""
        events = self._filtered(request)
        return (self._row(event) for event in events.iterator(chunk_size=EXPORT_CHUNK))

    @staticmethod
    def _row(event: Event) -> dict[str, Any]:
        return {
            "position": event.position,
            "event_id": str(event.event_id),
            "stream_type": event.stream_type,
            "stream_id": str(event.stream_id),
            "version": event.version,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "occurred_at": event.occurred_at.isoformat(),
            "recorded_at": event.recorded_at.isoformat(),
            **{key: event.metadata.get(key) or "" for key in EXPORT_COLUMNS[9:14]},
            "data": event.data,
        }

    def export_csv(self, request: HttpRequest) -> HttpResponse:
        writer = csv.writer(_Echo())
        rows = self._rows(request)

        def lines() -> Iterator[str]:
            yield writer.writerow(EXPORT_COLUMNS)
            for row in rows:
                yield writer.writerow([_csv_cell(row[column]) for column in EXPORT_COLUMNS])

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

    def _entity_context(self, request: HttpRequest, kind: str, stream_id: UUID, title: str) -> dict[str, Any]:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
            "kind": kind,
            "stream_id": stream_id,
            "history_url": reverse("admin:chronicle_history", args=[kind, stream_id]),
            "state_url": reverse("admin:chronicle_state", args=[kind, stream_id]),
            "events_url": reverse("admin:eventstore_event_changelist"),
        }

    def history_view(self, request: HttpRequest, kind: str, stream_id: UUID) -> HttpResponse:
        """The entity's events, a page at a time, each with its payload and what it changed."""
        context = self._entity_context(request, kind, stream_id, f"History of {kind} {stream_id}")
        after = _int(request.GET.get("after_version"), 0)
        limit = min(_int(request.GET.get("limit"), 50), 200)
        try:
            current = history.current_version(kind, stream_id)
            entries = history.history(kind, stream_id, after_version=after, limit=limit)
        except NotFound as exc:
            return self._not_found(request, context, exc)
        context.update(
            entries=entries,
            current_version=current,
            previous_after=max(after - limit, 0) if after else None,
            next_after=entries[-1].event.version if entries and entries[-1].event.version < current else None,
            limit=limit,
        )
        return TemplateResponse(request, "admin/chronicle/history.html", context)

    def state_view(self, request: HttpRequest, kind: str, stream_id: UUID) -> HttpResponse:
        """The entity as of a version or a moment, and how it differs from now."""
        context = self._entity_context(request, kind, stream_id, f"Time travel: {kind} {stream_id}")
        at_text = request.GET.get("at", "").strip()
        at = parse_datetime(at_text) if at_text else None
        if at is not None and timezone.is_naive(at):
            at = timezone.make_aware(at)
        try:
            now = history.state_at(kind, stream_id)
            version = _int(request.GET.get("version"), now.version)
            then = history.state_at(kind, stream_id, at=at) if at else history.state_at(kind, stream_id, version=version)
        except CommandRefused as exc:
            return self._not_found(request, context, exc)
        context.update(
            now=now,
            then=then,
            at=at_text,
            bad_moment=bool(at_text) and at is None,
            changes_since=history.diff(then.state, now.state),
            state_fields=history.fields(then.state),
            state_json=json.dumps(then.state, indent=2, ensure_ascii=False),
        )
        return TemplateResponse(request, "admin/chronicle/state.html", context)

    def _not_found(self, request: HttpRequest, context: dict[str, Any], error: CommandRefused) -> HttpResponse:
        context.update(error=error.message)
        return TemplateResponse(request, "admin/chronicle/not_found.html", context, status=error.status_code)


def _int(value: str | None, default: int) -> int:
    try:
        return max(int(value), 0) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
