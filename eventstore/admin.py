"""The event log in the admin: a read-only browser with filters and exports, and the seals.

Each event links to its stream's history where a face has registered pages for the stream
type (``admin_widgets.register_stream_pages``); the history and time-travel pages
themselves belong to the app that owns the entities. An event's page says whether it is
sealed and whether its inclusion proof checks; the seals' page (``SealAdmin``) shows the
log's newest seal, unsealed tail and witness, each seal's consistency with the one before,
and runs the full verification on demand (``seal_status`` computes what these pages show).
"""

from __future__ import annotations

import csv
import functools
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import BadRequest, PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, StreamingHttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString

from . import integrity, proofs, seal_status
from .admin_widgets import InputFilter, RangeFilter, ReadOnlyAdmin, parse_moment, stream_page_url
from .export import TABLE_COLUMNS, table_row
from .models import Event, Seal
from .records import SOURCES
from .sealing import SignedSeal

EXPORT_CHUNK = 2000
# A tree size typed into a page: digits, small enough for a bigint column.
TREE_SIZE_DIGITS = re.compile(r"[0-9]{1,18}")


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


class LogReaderAdmin(ReadOnlyAdmin):
    """Read-only, for everyone who may read the log: Django's view permission on the model,
    or any of ``EVENT_LOG_READ_PERMISSIONS`` (the shop's permission to read histories,
    which covers the log too)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        granted = user.is_active and any(user.has_perm(p) for p in settings.EVENT_LOG_READ_PERMISSIONS)
        return granted or super().has_view_permission(request, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


@admin.register(Event)
class EventAdmin(LogReaderAdmin):
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
    readonly_fields = [*(f.name for f in Event._meta.fields), "seal"]
    fieldsets = [
        (None, {"fields": [f.name for f in Event._meta.fields]}),
        ("Seal", {"fields": ["seal"]}),
    ]

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
        actor: str = event.metadata.get("actor", "")
        return actor

    @admin.display(description="source")
    def source(self, event: Event) -> str:
        source: str = event.metadata.get("source", "")
        return source

    @admin.display(description="correlation id")
    def correlation(self, event: Event) -> str:
        correlation_id = event.metadata.get("correlation_id")
        if not correlation_id:
            return ""
        url = reverse("admin:eventstore_event_changelist") + "?" + urlencode({"correlation_id": correlation_id})
        return format_html('<a href="{}">{}</a>', url, correlation_id[:12])

    @admin.display(description="seal")
    def seal(self, event: Event) -> SafeString:
        """Whether the event is sealed and its proof checks: computed for this page, never
        for the list (a proof reads the leaves up to the newest seal)."""
        try:
            status = seal_status.event_seal(event.event_id)
        except proofs.NoSuchEvent:  # gone since the page's own query: itself worth showing
            status = seal_status.EventSeal(problems=["the event is no longer in the log"])
        proof_json = json.dumps(status.proof.to_json(), indent=2) if status.proof else ""
        return render_to_string("admin/chronicle/event_seal.html", {"status": status, "proof_json": proof_json})

    # --- Extra pages -----------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_csv), name="chronicle_export_csv"),
            path("export.jsonl", view(self.export_jsonl), name="chronicle_export_jsonl"),
            path("history/<str:stream_type>/<uuid:stream_id>/", self.moved("history")),
            path("state/<str:stream_type>/<uuid:stream_id>/", self.moved("state")),
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

    def export_csv(self, request: HttpRequest) -> StreamingHttpResponse:
        writer = csv.writer(_Echo())
        rows = self._rows(request)

        def lines() -> Iterator[str]:
            yield writer.writerow(TABLE_COLUMNS)
            for row in rows:
                yield writer.writerow([_csv_cell(row[column]) for column in TABLE_COLUMNS])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="events.csv"'
        return response

    def export_jsonl(self, request: HttpRequest) -> StreamingHttpResponse:
        rows = self._rows(request)
        response = StreamingHttpResponse(
            (json.dumps(row, ensure_ascii=False) + "\n" for row in rows), content_type="application/x-ndjson"
        )
        response["Content-Disposition"] = 'attachment; filename="events.jsonl"'
        return response

    @staticmethod
    def moved(page: str) -> Callable[[HttpRequest, str, UUID], HttpResponse]:
        """The history and time-travel pages lived here once: old links answer 301."""

        def redirect(request: HttpRequest, stream_type: str, stream_id: UUID) -> HttpResponse:
            url = stream_page_url(stream_type, stream_id, page)
            if url is None:
                raise Http404(f"No pages for streams of type {stream_type!r}.")
            query = request.META.get("QUERY_STRING")
            return HttpResponsePermanentRedirect(f"{url}?{query}" if query else url)

        return redirect


def _tree_size(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if TREE_SIZE_DIGITS.fullmatch(raw) else None


@admin.register(Seal)
class SealAdmin(LogReaderAdmin):
    """The seals, newest first, under the log's state: its newest seal and age, the unsealed
    tail and the witness (``seal_status.log_status``, cheap on any log). Each seal links to
    its consistency with the one before; the full verification is a page of its own, run
    on demand. Nothing here can change a seal."""

    list_display = ("tree_size", "sealed_at", "key_id", "epoch", "root", "last_event", "consistency_link")
    list_display_links = ("tree_size",)
    ordering = ("-tree_size",)
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/chronicle/seal_change_list.html"
    readonly_fields = [*(f.name for f in Seal._meta.fields), "signature_checks", "consistency_link"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Seal]:
        """Each seal with the tree size of the one before it (None for the first)."""
        before = Seal.objects.filter(tree_size__lt=OuterRef("tree_size")).order_by("-tree_size")
        seals: QuerySet[Seal] = (
            super().get_queryset(request).annotate(previous_size=Subquery(before.values("tree_size")[:1]))
        )
        return seals

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied  # before the status is computed
        context = {
            "title": "Seals and log integrity",
            "log": seal_status.log_status(),
            "stale_after": settings.SEAL_STALE_SECONDS,
            "tail_limit": seal_status.TAIL_LIMIT,
            **(extra_context or {}),
        }
        return super().changelist_view(request, context)

    # --- Columns -------------------------------------------------------------------------

    @admin.display(description="root hash")
    def root(self, seal: Seal) -> str:
        return format_html('<code title="{}">{}…</code>', seal.root_hash, seal.root_hash[:16])

    @admin.display(description="last event")
    def last_event(self, seal: Seal) -> str:
        url = reverse("admin:eventstore_event_change", args=[seal.last_position])
        return format_html('<a href="{}">position {}</a>', url, seal.last_position)

    @admin.display(description="consistency with the seal before")
    def consistency_link(self, seal: Seal) -> str:
        previous = seal.previous_size  # type: ignore[attr-defined]  # get_queryset's
        if previous is None:
            return "the first seal"
        url = self._consistency_url(previous, seal.tree_size)
        return format_html('<a href="{}">{} → {}</a>', url, previous, seal.tree_size)

    @admin.display(description="signature verifies", boolean=True)
    def signature_checks(self, seal: Seal) -> bool:
        return SignedSeal.of(seal).signature_checks()

    # --- Extra pages ---------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("consistency/", view(self.consistency_view), name="chronicle_seal_consistency"),
            path("verify/", view(self.verify_view), name="chronicle_log_verify"),
            *super().get_urls(),
        ]

    @staticmethod
    def _consistency_url(first: int, second: int) -> str:
        return reverse("admin:chronicle_seal_consistency") + "?" + urlencode({"first": first, "second": second})

    def _page(self, request: HttpRequest, template: str, title: str, status: int = 200, **extra: Any) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "seals_url": reverse("admin:eventstore_seal_changelist"),
            **extra,
        }
        return TemplateResponse(request, f"admin/chronicle/{template}", context, status=status)

    def consistency_view(self, request: HttpRequest) -> HttpResponse:
        """The consistency proof between the seals of tree sizes ``first`` and ``second``
        (query parameters), checked against both signed roots, with both signatures."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        raw = {name: request.GET.get(name, "") for name in ("first", "second")}
        first, second = _tree_size(raw["first"]), _tree_size(raw["second"])
        page = functools.partial(self._page, request, "seal_consistency.html", "Consistency of two seals", raw=raw)
        if not any(raw.values()):
            return page()  # the form alone
        if first is None or second is None:
            return page(status=400, error="Give two tree sizes, each a whole number.")
        try:
            result = seal_status.consistency(first, second)
        except proofs.NoSuchSeal as missing:
            return page(status=404, error=f"No seal has tree size {missing.tree_size}.")
        except proofs.ProofRefused as refused:
            return page(status=400, error=f"No consistency proof. {refused}")
        return page(result=result)

    def verify_view(self, request: HttpRequest) -> HttpResponse:
        """The full verification (``integrity.verify``, what ``manage.py verify_events``
        runs): explained on GET, run on POST, in the request; it reads the whole log."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = integrity.verify() if request.method == "POST" else None
        return self._page(request, "log_verify.html", "Verify the whole log", report=report)
