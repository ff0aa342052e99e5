"""Verify the event log's hash chains and seals; optionally append a new seal."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from eventstore import integrity


class Command(BaseCommand):
    help = (
        "Verify every stream's hash chain and the seals of stream heads. Exits non-zero "
        "naming the first broken link. With --seal, also seals the current heads if all is well."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seal", action="store_true", help="append a seal of the stream heads after verifying")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, seal: bool, database: str, **options: Any) -> None:
        report = integrity.verify(using=database)
        if not report.ok:
            for problem in report.problems[1:]:
                self.stderr.write(f"  also {problem}")
            if report.more_problems:
                self.stderr.write(f"  and {report.more_problems} more")
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
        if seal:
            new = integrity.seal(using=database)
            self.stdout.write(
                f"Sealed {new.head_count} changed stream heads and {new.event_count} events (seal {new.id})."
            )
