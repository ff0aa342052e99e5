"""Issue, list and revoke a user's API tokens; a new secret is printed once and kept nowhere."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from orders.models import ApiToken
from orders.tokens import TokenError, token_issue, token_list, token_revoke


def active_user(username: str) -> User:
    """The user a token is for: what it may do is what the user may do."""
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"There is no user named {username!r}.")
    if not user.is_active:
        raise CommandError(f"The user {username!r} is inactive; activate them first.")
    return user


def token_line(token: ApiToken) -> str:
    """One token as ``--list`` shows it: prefix, name, created, expires, last used, revoked."""
    stamps = (token.created_at, token.expires_at, token.last_used_at, token.revoked_at)
    when = ("-" if at is None else at.strftime("%Y-%m-%d %H:%M") for at in stamps)
    return "\t".join([token.prefix, token.name or "-", *when])


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print its secret (shown once), for the header "
        "'Authorization: Token <secret>'; or --list or --revoke a user's tokens. The token "
        "may do what the user may: Operators command, Auditors read."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for, e.g. 'warehouse sync'.")
        parser.add_argument("--days", type=int, help="Days until it expires (default: API_TOKEN_DAYS).")
        manage = parser.add_mutually_exclusive_group()
        manage.add_argument("--list", action="store_true", help="List the user's tokens, never their secrets.")
        manage.add_argument("--revoke", metavar="PREFIX", help="Revoke the user's token with this prefix.")

    def handle(self, *args: Any, username: str, name: str, days: int | None, **options: Any) -> None:
        user = active_user(username)
        try:
            if options["list"]:
                lines = [token_line(token) for token in token_list(user=user)]
                self.stdout.write("\n".join(["prefix\tname\tcreated\texpires\tlast used\trevoked", *lines]))
            elif options["revoke"] is not None:
                token = token_revoke(user=user, prefix=options["revoke"])
                self.stdout.write(f"Revoked {token.prefix}.")
            else:
                self.stdout.write(token_issue(user=user, name=name, days=days)[1])
        except TokenError as refusal:
            raise CommandError(str(refusal)) from None
