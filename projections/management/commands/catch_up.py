"""Run subscribers now, in this process: for operators and the embedded default."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projections.runner import Outcome, RunResult, catch_up
from projections.subscribers import UnknownSubscriber


class Command(BaseCommand):
    help = (
        "Run the named subscribers (all by default) here, without Celery, each until it has "
        "caught up with the log, failed, or is being run by a worker. Exits non-zero if one failed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("names", nargs="*", metavar="NAME", help="subscribers to run (default: all)")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        try:
            results = catch_up(names)
        except UnknownSubscriber as error:
            raise CommandError(str(error)) from None
        report(self, results)


def report(command: BaseCommand, results: list[RunResult]) -> None:
    """One line per subscriber run; a CommandError naming those that failed."""
    for result in results:
        command.stdout.write(str(result))
    failed = [result.name for result in results if result.outcome is Outcome.FAILED]
    if failed:
        raise CommandError(f"failed: {', '.join(failed)} (see projection_status; retry_projection NAME resumes)")
