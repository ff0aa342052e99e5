"""The projections page: every subscriber's checkpoint, lag, state and last failure, the
rebuilds running and their progress, with "Retry", "Rebuild" and "Cancel rebuild" for
superusers.

It is the Checkpoint model's changelist, replaced by a page of its own (checkpoints are
never edited by hand), so the admin index and app list link to it and Django's view
permission on checkpoints decides who sees it: Operators and Auditors. Each operation shows
a confirmation on GET and acts on POST; all are refused (403) to anyone but a superuser.

With a broker, Rebuild and Retry hand their work to a Celery task and the page follows it:
a rebuild's progress and cancel flag live in ``projection_rebuild``
(``projections.rebuild_jobs``), so any web process shows and cancels it, and the page
refreshes itself while one runs. With none (the embedded default) both run inside the
request, as the page says.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from eventstore.admin_widgets import ReadOnlyAdmin

from . import rebuild_jobs, tasks
from .health import condition
from .models import Checkpoint, RebuildJob
from .rebuild import RebuildError
from .runner import LAG_LIMIT, Outcome, Status, clear_failure, ensure_checkpoint, retry, status
from .subscribers import Kind, Subscriber, all_subscribers

# How often the page reloads itself while a rebuild is queued or running, in seconds.
REFRESH_SECONDS = 2


@dataclass(frozen=True)
class Row:
    """One subscriber as the page shows it."""

    status: Status
    # None until it has run once.
    checkpoint: Checkpoint | None
    # Its rebuild queued or running, if any.
    rebuild: Job | None = None

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


@dataclass(frozen=True)
class Job:
    """A rebuild as the page shows it: progress, rate and time left in words."""

    job: RebuildJob

    @property
    def progress(self) -> str:
        job = self.job
        if job.events_total is None:
            return "counting the events to replay" if job.state == RebuildJob.RUNNING else "waiting for a worker"
        return f"{job.events_done:,} of {job.events_total:,} events ({job.percent}%)"

    @property
    def rate(self) -> str:
        rate = self.job.rate
        return "measuring" if rate is None else f"{rate:,.0f} events/s"

    @property
    def eta(self) -> str:
        job = self.job
        if job.events_total is not None and job.events_done >= job.events_total and job.started_at:
            return "replayed: swapping in"
        eta = job.eta_seconds
        return "measuring" if eta is None else duration(eta)

    @property
    def seconds_since_update(self) -> float:
        return (timezone.now() - self.job.updated_at).total_seconds()


def duration(seconds: float) -> str:
    """12 s, 3 min 4 s, 2 h 5 min."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@admin.register(Checkpoint)
class ProjectionsAdmin(ReadOnlyAdmin):
    """Read-only apart from the operations; no add, change or delete pages."""

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.changelist_view), name=f"{self.opts.app_label}_{self.opts.model_name}_changelist"),
            path("<str:name>/retry/", view(self.retry_view), name="chronicle_projection_retry"),
            path("<str:name>/rebuild/", view(self.rebuild_view), name="chronicle_projection_rebuild"),
            path("<str:name>/rebuild/cancel/", view(self.cancel_view), name="chronicle_projection_cancel"),
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
        running = {job.projection: Job(job) for job in rebuild_jobs.active()}
        rows = [Row(state, checkpoints.get(state.name), running.get(state.name)) for state in status()]
        context = self._context(
            request,
            "Projections",
            rows=rows,
            rebuilds=list(running.values()),
            recent_rebuilds=[Job(job) for job in rebuild_jobs.recent()],
            in_background=tasks.in_background(),
            refresh_seconds=REFRESH_SECONDS,
            may_operate=request.user.is_superuser,
            lag_limit=LAG_LIMIT,
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
        (``projections.runner.retry``): on a worker with a broker, in this request without."""
        cls, checkpoint = self._subscriber(request, name)
        if checkpoint is None or checkpoint.state != Checkpoint.FAILED:
            self.message_user(request, f"{name} has not failed: there is nothing to retry.", messages.WARNING)
            return self._back()
        if request.method != "POST":
            where = "by a worker" if tasks.in_background() else "here and now, in this request"
            return self._confirm(
                request,
                "Retry",
                name,
                f"{name} stopped at position {checkpoint.failed_position} ({checkpoint.failed_event_type}). "
                f"Its error is cleared and it runs again from that event, {where}; if the cause is "
                "not fixed it fails again at the same event. Nothing is skipped.",
            )
        if tasks.in_background():
            return self._retry_in_background(request, cls, checkpoint)
        result = retry(cls.name)
        self.log_change(request, checkpoint, f"Retried: {result}")
        if result.outcome is Outcome.FAILED:
            self.message_user(request, f"{name} failed again: {result}. See its last error.", messages.ERROR)
        else:
            self.message_user(request, f"Retried {result}.", messages.SUCCESS)
        return self._back()

    def _retry_in_background(self, request: HttpRequest, cls: type[Subscriber], checkpoint: Checkpoint) -> HttpResponse:
        clear_failure(cls.name)
        self.log_change(request, checkpoint, "Retry started on a worker")
        try:
            tasks.retry.apply_async(args=(cls.name,), queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=False)
        except Exception as error:  # the broker is away: the sweep runs it once it is back
            self.message_user(
                request,
                f"{cls.name}'s error is cleared, but the workers could not be reached ({error}): "
                "the next sweep runs it.",
                messages.WARNING,
            )
            return self._back()
        self.message_user(
            request,
            f"Retry of {cls.name} started on a worker, from position {checkpoint.failed_position}: "
            "this page shows it catching up, or failing again.",
            messages.SUCCESS,
        )
        return self._back()

    def rebuild_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """Rebuild a projection's read models from the whole log (``projections.rebuild``),
        as a job (``projections.rebuild_jobs``): on a worker with a broker, followed on
        this page; in this request without one."""
        cls, _ = self._subscriber(request, name)
        if cls.kind is not Kind.PROJECTION:
            self.message_user(request, f"{name} is a {cls.kind}: only projections are rebuilt.", messages.WARNING)
            return self._back()
        if request.method != "POST":
            where = (
                "It runs on a worker: this page shows its progress and can cancel it."
                if tasks.in_background()
                else "It runs in this request (no broker is configured): on a long log the page takes as "
                "long as the replay."
            )
            return self._confirm(
                request,
                "Rebuild",
                name,
                f"The read models of {name} are replayed from the whole log into fresh tables and swapped "
                f"in when complete; readers keep the current ones until then. {where}",
            )
        ensure_checkpoint(cls)
        checkpoint = Checkpoint.objects.get(pk=name)
        try:
            (job,) = rebuild_jobs.request([name], requested_by=request.user.get_username())
        except RebuildError as error:
            self.message_user(request, f"Rebuild of {name} refused: {error}.", messages.ERROR)
            return self._back()
        if tasks.in_background():
            return self._rebuild_in_background(request, job, checkpoint)
        (job,) = rebuild_jobs.run([job.pk])
        if job.state != RebuildJob.DONE:
            self.message_user(
                request, f"Rebuild of {name} {job.state}, its read models are unchanged: {job.error}", messages.ERROR
            )
            return self._back()
        self.log_change(request, checkpoint, f"Rebuilt from {job.events_done} events")
        self.message_user(
            request,
            f"Rebuilt {name} from {job.events_done:,} events in {job.elapsed_seconds:.1f} s.",
            messages.SUCCESS,
        )
        return self._back()

    def _rebuild_in_background(self, request: HttpRequest, job: RebuildJob, checkpoint: Checkpoint) -> HttpResponse:
        try:
            tasks.rebuild.apply_async(args=([job.pk],), queue=settings.CELERY_TASK_DEFAULT_QUEUE, retry=False)
        except Exception as error:
            rebuild_jobs.give_up([job.pk], f"the workers could not be reached: {error}")
            self.message_user(
                request,
                f"Rebuild of {job.projection} not started: the workers could not be reached ({error}).",
                messages.ERROR,
            )
            return self._back()
        self.log_change(request, checkpoint, "Rebuild started on a worker")
        self.message_user(
            request,
            f"Rebuild of {job.projection} started on a worker: this page shows its progress and can cancel it.",
            messages.SUCCESS,
        )
        return self._back()

    def cancel_view(self, request: HttpRequest, name: str) -> HttpResponse:
        """Ask the rebuild of a projection to stop (``projections.rebuild_jobs.cancel``):
        it drops what it replayed; the read models stay as they are."""
        self._subscriber(request, name)
        running = RebuildJob.objects.filter(projection=name, state__in=RebuildJob.ACTIVE).exists()
        if not running:
            self.message_user(request, f"No rebuild of {name} is running.", messages.WARNING)
            return self._back()
        if request.method != "POST":
            return self._confirm(
                request,
                "Cancel the rebuild of",
                name,
                f"The rebuild of {name} stops at its next progress report and drops what it replayed; "
                "the read models stay as they are now.",
            )
        job = rebuild_jobs.cancel(name)
        if job is None:
            self.message_user(request, f"No rebuild of {name} is running.", messages.WARNING)
        elif job.active:
            self.message_user(
                request, f"Cancel of the rebuild of {name} requested: it stops shortly.", messages.SUCCESS
            )
        else:
            self.message_user(request, f"Rebuild of {name} {job.state}: {job.error}.", messages.SUCCESS)
        checkpoint = Checkpoint.objects.filter(pk=name).first()
        if checkpoint is not None:
            self.log_change(request, checkpoint, "Rebuild cancelled")
        return self._back()
