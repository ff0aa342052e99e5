"""Rebuild read models from the whole log without downtime, here and now, as a job the
projections page shows (and can cancel)."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, OutputWrapper

from projections import rebuild_jobs
from projections.models import RebuildJob
from projections.rebuild import RebuildError
from projections.subscribers import Kind, UnknownSubscriber, all_subscribers, select


class Command(BaseCommand):
    help = (
        "Replay the log into fresh copies of the named projections' read models (or all with "
        "--all) while readers keep the current ones, then swap them in atomically; each "
        "projection goes on from where its rebuild stopped. Process managers are never rebuilt. "
        "The projections page shows its progress and can cancel it; a projection already being "
        "rebuilt is refused."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="projections to rebuild")
        parser.add_argument("--all", action="store_true", help="rebuild every projection")

    def handle(self, *args: Any, names: list[str], all: bool, **options: Any) -> None:
        classes = _projections(names, all)
        started = perf_counter()
        try:
            jobs = rebuild_jobs.request([cls.name for cls in classes], requested_by="command-line")
        except RebuildError as error:
            raise CommandError(str(error)) from None
        try:
            jobs = rebuild_jobs.run([job.pk for job in jobs], echo=ProgressBar(self.stderr))
        finally:
            self.stderr.write("")
        for job in jobs:
            if job.state == RebuildJob.DONE:
                self.stdout.write(f"Rebuilt {job.projection} from {job.events_done:,} events.")
        unfinished = [job for job in jobs if job.state != RebuildJob.DONE]
        if unfinished:
            job = unfinished[0]
            verb = "was cancelled" if job.state == RebuildJob.CANCELLED else "failed"
            raise CommandError(f"rebuild {verb}, the read models are unchanged: {job.error}")
        self.stdout.write(f"Done in {perf_counter() - started:.1f} s.")


def _projections(names: list[str], all: bool) -> list[Any]:
    projections = [name for name, cls in all_subscribers().items() if cls.kind is Kind.PROJECTION]
    if all == bool(names):
        raise CommandError(f"name the projections to rebuild, or use --all; choose from {', '.join(projections)}")
    for name in names:
        cls = all_subscribers().get(name)
        if cls is not None and cls.kind is not Kind.PROJECTION:
            raise CommandError(f"{name} is a {cls.kind}: only projections are rebuilt")
    try:
        return select(names, kind=Kind.PROJECTION)
    except UnknownSubscriber as error:
        raise CommandError(str(error)) from None


class ProgressBar:
    """Events replayed and events per second, redrawn on one line."""

    WIDTH = 30

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = stream
        self.started = perf_counter()

    def __call__(self, done: int, total: int) -> None:
        filled = self.WIDTH * done // total if total else self.WIDTH
        rate = done / max(perf_counter() - self.started, 1e-9)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        self.stream.write(f"\r[{bar}] {done:,}/{total:,} events  {rate:,.0f} events/s", ending="")
        self.stream.flush()
