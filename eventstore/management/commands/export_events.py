"""Write the event log to stdout as JSON lines, with a signed seal at the end."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from eventstore.backup import ExportIncomplete, export_events
from eventstore.exceptions import InvalidCursor


class Command(BaseCommand):
    help = "Stream the event log (in feed order, as stored) to stdout: python manage.py export_events > events.jsonl"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--after", metavar="CURSOR", help="only events after this feed cursor")
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--wait",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="how long to wait for transactions older than the export to end (default 60)",
        )

    def handle(self, *args: Any, after: str | None, database: str, wait: float, **options: Any) -> None:
        try:
            export_events(self.stdout, after=after, using=database, progress=self.stderr, wait_seconds=wait)
        except InvalidCursor as exc:
            raise CommandError(f"--after: {exc}") from None
        except ExportIncomplete as exc:
            raise CommandError(f"export incomplete, no seal written: {exc}") from None
