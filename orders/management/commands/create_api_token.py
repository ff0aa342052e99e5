"""Print a user's API token, creating it if the user has none."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


def api_token(username: str) -> str:
    """The token key of an active user; what it may do is what the user may do."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"There is no user named {username!r}.")
    if not user.is_active:
        raise CommandError(f"The user {username!r} is inactive; activate them first.")
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


class Command(BaseCommand):
    help = (
        "Print the API token of a user (created on first use), for the header "
        "'Authorization: Token <key>'. The token may do what the user may: Operators command, "
        "Auditors read."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        self.stdout.write(api_token(username))
