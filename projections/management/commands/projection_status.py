"""Every subscriber's checkpoint, lag and state, as a table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projections.runner import LAG_LIMIT, Status, status

HEADINGS = ("NAME", "KIND", "POSITION", "PROCESSED", "BEHIND", "SECONDS", "STATE", "LAST ERROR")


class Command(BaseCommand):
    help = (
        "Show each subscriber's position, events handled, lag (events and seconds behind the "
        "log) and state. Exits non-zero when any has failed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        statuses = status()
        for line in table([HEADINGS, *(_row(s) for s in statuses)]):
            self.stdout.write(line)
        failed = [s.name for s in statuses if s.failed]
        if failed:
            raise CommandError(f"failed: {', '.join(failed)} (retry_projection NAME resumes)")


def _row(s: Status) -> tuple[str, ...]:
    if s.events_behind is None:
        behind = "?"
    else:
        behind = f"{s.events_behind}+" if s.events_behind >= LAG_LIMIT else str(s.events_behind)
    seconds = f"{s.seconds_behind:.1f}"
    return (s.name, s.kind, str(s.position), str(s.events_processed), behind, seconds, s.state, s.last_error)


def table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
