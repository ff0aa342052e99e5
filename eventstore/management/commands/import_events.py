"""Restore an empty database's event log from an export_events file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from eventstore.backup import RestoreRefused, import_events


class Command(BaseCommand):
    help = (
        "Load an export_events file into an empty database, after verifying every hash chain and "
        "the file's seal; then rebuild what derives from the log. Run rebuild_projections next."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--database", default="default")

    def handle(self, *args: Any, path: Path, database: str, **options: Any) -> None:
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        try:
            loaded = import_events(path, using=database, progress=self.stderr)
        except RestoreRefused as exc:
            raise CommandError(f"refused, nothing was written: {exc}") from None
        self.stdout.write(f"Restored {loaded} events. Now run: python manage.py rebuild_projections --all")
