"""Clear a failed subscriber's error and run it again from the event that failed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from projections.runner import retry
from projections.subscribers import UnknownSubscriber

from .catch_up import report


class Command(BaseCommand):
    help = (
        "Clear a failed subscriber's error and run it from where it stopped (after fixing "
        "what made it fail). Exits non-zero if it fails again."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", metavar="NAME")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        try:
            result = retry(name)
        except UnknownSubscriber as error:
            raise CommandError(str(error)) from None
        report(self, [result])
