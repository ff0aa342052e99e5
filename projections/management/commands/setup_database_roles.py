"""Create or update the app role and its grants, as the owner: part of ``make release``."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from eventstore.roles import RoleSetupError, setup_app_role


def read_model_tables() -> list[str]:
    """The tables rebuilds replace with shadow copies: the read side's, which the app owns."""
    models = apps.get_app_config("projections").get_models(include_auto_created=True)
    return sorted({model._meta.db_table for model in models if model._meta.managed and not model._meta.proxy})


class Command(BaseCommand):
    help = (
        "Connected as the owner (DATABASE_OWNER_URL), create or update the role in DATABASE_URL "
        "that web and workers use: SELECT and INSERT on the event log, the read models its own, "
        "ordinary rights elsewhere. Idempotent; prints what it changed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--database", default="owner", help="the owner's alias (default: owner)")

    def handle(self, *args: Any, database: str, **options: Any) -> None:
        if database not in settings.DATABASES:
            raise CommandError("database roles are PostgreSQL's: set DATABASE_URL and DATABASE_OWNER_URL")
        app = settings.DATABASES["default"]
        try:
            changes = setup_app_role(
                app["USER"], password=app.get("PASSWORD") or None, handed_over=read_model_tables(), using=database
            )
        except (RoleSetupError, DatabaseError) as error:
            raise CommandError(str(error).strip().splitlines()[0]) from None
        for change in changes:
            self.stdout.write(change)
        self.stdout.write(
            f"{app['USER']}: {len(changes)} change(s)" if changes else f"{app['USER']}: nothing to change"
        )
