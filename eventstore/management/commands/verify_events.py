"""Verify the event log: chains, leaves, seals, the witness and the unsealed tail."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from eventstore import integrity, sealing


class Command(BaseCommand):
    help = (
        "Verify every stream's hash chain, every leaf against its event, every seal's signature "
        "and root, the witness against the database, and the age of the unsealed tail. Exits 0 "
        "when all verifies, 1 when something was tampered with (one line per problem, first "
        "problem first), 2 when nothing was but unsealed events are older than SEAL_STALE_SECONDS. "
        "With --seal, also seals the new events when all is well."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seal", action="store_true", help="seal the events no seal covers yet, after verifying")
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, seal: bool, database: str, **options: Any) -> None:
        report = integrity.verify(using=database)
        if report.problems:
            self.stderr.write(report.summary())
            for problem in report.problems[1:]:
                self.stderr.write(f"  also {problem}")
            if report.more_problems:
                self.stderr.write(f"  and {report.more_problems} more")
            sys.exit(report.exit_code)
        if seal:
            made = sealing.seal(using=database)
            if made is not None:
                self.stdout.write(f"Sealed the log at tree size {made.tree_size}.")
                report = integrity.verify(using=database)
        if report.exit_code:
            self.stderr.write(report.summary())
            sys.exit(report.exit_code)
        self.stdout.write(report.summary())
