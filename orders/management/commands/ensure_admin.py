"""Create the local admin user and print its login. Used by `make run`."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from orders.management.production import refuse_in_production


class Command(BaseCommand):
    help = (
        "Create a superuser with a fresh password and print its login. An existing user is left "
        "as it is unless --reset-password is given (then: a new password, staff and superuser)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--reset-password",
            action="store_true",
            help="give an existing user a new password and make it a superuser (make run passes it)",
        )
        parser.add_argument("--force", action="store_true", help="run even when DJANGO_ENV=production")

    def handle(self, *args: Any, username: str, reset_password: bool, force: bool, **options: Any) -> None:
        refuse_in_production("ensure_admin", "would create or reset a superuser", force=force)
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        if not created and not reset_password:
            self.stdout.write(
                f"User {username} exists; its password and rights are unchanged "
                "(--reset-password gives it a new password and makes it a superuser)."
            )
            return
        password = secrets.token_urlsafe(12)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"Admin login at http://127.0.0.1:8000/admin/  username: {username}  password: {password}")
