"""The projections page: every subscriber's checkpoint, lag, state and last failure, with
"Retry" and "Rebuild" for superusers.

It is the Checkpoint model's changelist, replaced by a page of its own (checkpoints are
never edited by hand), so the admin index and app list link to it and Django's view
permission on checkpoints decides who sees it: Operators and Auditors. Retry and rebuild
each show a confirmation on GET and act on POST; both are refused (403) to anyone but a
superuser.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import perf_counter
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from eventstore.admin_widgets import ReadOnlyAdmin

from .health import condition
from .models import Checkpoint
from .rebuild import RebuildError, rebuild
from .runner import LAG_LIMIT, Outcome, Status, retry, status
from .subscribers import Kind, Subscriber, SubscriberFailed, all_subscribers


@dataclass(frozen=True)
class Row:
    """One subscriber as the page shows it."""

    status: Status
    # None until it has run once.
    checkpoint: Checkpoint | None

    @property
    def state(self) -> str:
        """failed, caught up (nothing left to handle) or running (events waiting)."""
        if self.status.failed:
            return "failed"
        return "caught up" if self.status.events_behind == 0 else "running"

    @property
    def condition(self) -> str:
        return condition(self.status)

    @property
    def behind(self) -> str:
        behind = self.status.events_behind
        if behind is None:
            return "? (cursor invalid)"
        return f"{behind}+" if behind >= LAG_LIMIT else str(behind)

    @property
    def rebuildable(self) -> bool:
        return self.status.kind == Kind.PROJECTION.value

    @property
    def failed_event_url(self) -> str | None:
        if self.checkpoint is None or self.checkpoint.failed_position is None:
            return None
        return reverse("admin:eventstore_event_change", args=[self.checkpoint.failed_position])


@admin.register(Checkpoint)
class ProjectionsAdmin(ReadOnlyAdmin):
    """Read-only apart from the two operations; no add, change or delete pages."""

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name=f"{self.opts.app_label}_{self.opts.model_name}_changelist"),
            path("<str:name>/retry/", view(self.retry_view), name="chronicle_projection_retry"),
            path("<str:name>/rebuild/", view(self.rebuild_view), name="chronicle_projection_rebuild"),
        ]

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "projections_url": reverse("admin:projections_checkpoint_changelist"),
            **extra,
        }

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        checkpoints = Checkpoint.objects.in_bulk()
        rows = [Row(state, checkpoints.get(state.name)) for state in status()]
        context = self._context(
            request, "Projections", rows=rows, may_operate=request.user.is_superuser, lag_limit=LAG_LIMIT
        )
        return TemplateResponse(request, "admin/chronicle/projections.html", context)

    # --- Operations: superusers only, confirmed on GET, done on POST -------------------------

    def _subscriber(self, request: HttpRequest, name: str) -> tuple[type[Subscriber], Checkpoint | None]:
        if not request.user.is_superuser:
            raise PermissionDenied
        cls = all_subscribers().get(name)
        if cls is None:
            raise Http404(f"No subscriber called {name}.")
        return cls, Checkpoint.objects.filter(pk=name).first()

    def _confirm(self, request: HttpRequest, action: str, name: str, consequences: str) -> HttpResponse:
        context = self._context(request, f"{action} {name}?", action=action, name=name, consequences=consequences)
        return TemplateResponse(request, "admin/chronicle/projection_confirm.html", context)

    def _back(self) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:projections_checkpoint_changelist"))

    def retry_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """Clear a failed subscriber's error and run it again from the event that failed
        (``projections.runner.retry``), in this request."""
        cls, checkpoint = self._subscriber(request, name)
        if checkpoint is None or checkpoint.state != Checkpoint.FAILED:
            self.message_user(request, f"{name} has not failed: there is nothing to retry.", messages.WARNING)
            return self._back()
        if request.method != "POST":
            return self._confirm(
                request,
                "Retry",
                name,
                f"{name} stopped at position {checkpoint.failed_position} ({checkpoint.failed_event_type}). "
                "Its error is cleared and it runs again from that event, here and now; if the cause is "
                "not fixed it fails again at the same event. Nothing is skipped.",
            )
        result = retry(cls.name)
        self.log_change(request, checkpoint, f"Retried: {result}")
        if result.outcome is Outcome.FAILED:
            self.message_user(request, f"{name} failed again: {result}. See its last error.", messages.ERROR)
        else:
            self.message_user(request, f"Retried {result}.", messages.SUCCESS)
        return self._back()

    def rebuild_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """Rebuild a projection's read models from the whole log (``projections.rebuild``).

        It runs synchronously, in this request: readers keep the current read models until
        the new ones are swapped in, but the page answers only when the rebuild is done, so
        on a long log prefer ``manage.py rebuild_projections`` (it shows progress).
        """
        cls, _ = self._subscriber(request, name)
        if cls.kind is not Kind.PROJECTION:
            self.message_user(request, f"{name} is a {cls.kind}: only projections are rebuilt.", messages.WARNING)
            return self._back()
        if request.method != "POST":
            return self._confirm(
                request,
                "Rebuild",
                name,
                f"The read models of {name} are replayed from the whole log into fresh tables and swapped "
                "in when complete; readers keep the current ones until then. It runs in this request: "
                "on a long log the page takes as long as the replay.",
            )
        started = perf_counter()
        try:
            (rebuilt,) = rebuild([cls])
        except (RebuildError, SubscriberFailed) as error:
            self.message_user(
                request, f"Rebuild of {name} failed, its read models are unchanged: {error}", messages.ERROR
            )
            return self._back()
        self.log_change(request, Checkpoint.objects.get(pk=name), f"Rebuilt from {rebuilt.events} events")
        self.message_user(
            request,
            f"Rebuilt {name} from {rebuilt.events:,} events in {perf_counter() - started:.1f} s.",
            messages.SUCCESS,
        )
        return self._back()
