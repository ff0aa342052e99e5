"""What the development commands refuse to do to a production database unasked."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError


def refuse_in_production(command: str, does: str, *, force: bool) -> None:
    """Stop ``command`` with one line when ``DJANGO_ENV=production`` and ``--force`` is absent:
    ``make run``'s conveniences must not quietly make superusers or demo orders in a real shop."""
    if settings.DJANGO_ENV == "production" and not force:
        raise CommandError(f"DJANGO_ENV=production: {command} {does}; pass --force if you mean that")
