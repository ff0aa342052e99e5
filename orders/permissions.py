"""Who may issue which command, decided here so the admin and the API cannot disagree.

Two groups, created (and kept up to date) after every migration: **Operators** may issue
every command and read everything; **Auditors** may read everything (read models, the
event log, histories and past states) and issue nothing. Superusers may do everything.
Trusted system callers (process managers, demo data) carry no user and are not checked.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db.backends.base.base import BaseDatabaseWrapper

from .context import CommandContext
from .domain.commands import ALL_COMMANDS
from .errors import NotPermitted
from .models import command_codename

OPERATORS = "Operators"
AUDITORS = "Auditors"
READ_APPS = ("eventstore", "orders", "projections")


def command_permission(command_type: type) -> str:
    return f"orders.{command_codename(command_type)}"


def may_issue(user: Any, command_type: type) -> bool:
    return bool(user and user.is_active and user.has_perm(command_permission(command_type)))


def may_read_history(user: Any) -> bool:
    return bool(user and user.is_active and user.has_perm("orders.view_history"))


def authorize(context: CommandContext, command_type: type) -> None:
    """Raise NotPermitted unless the context may issue this command. Checked before
    anything is loaded, so a refusal reveals nothing about the target."""
    if context.is_system:
        return
    if not may_issue(context.user, command_type):
        raise NotPermitted(f"You may not issue {command_type.__name__}.")


class PermissionsBackend(ModelBackend):
    """Django's model backend (``AUTHENTICATION_BACKENDS``), reading a user's permissions,
    their own and their groups', in one query instead of two. Like Django's, it keeps them
    on the user object, which lives for one request: one lookup per request, however many
    checks (the API's, then the command bus's)."""

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in _permissions_of(user_obj)}
        return user_obj._perm_cache


def permissions_column(user_id_column: str, connection: BaseDatabaseWrapper) -> str:
    """SQL for the permissions of the user whose id is in ``user_id_column`` of the outer
    query, their own and their groups', as a JSON array (text) of "app.codename", or null
    for none: for a query that reads the user anyway (an API token's), so that with
    ``remember_permissions`` the request's permission checks need no query of their own."""
    quote = connection.ops.quote_name
    table = {
        "permission": Permission._meta.db_table,
        "content_type": ContentType._meta.db_table,
        "user_permission": User.user_permissions.through._meta.db_table,
        "group_permission": Group.permissions.through._meta.db_table,
        "user_group": User.groups.through._meta.db_table,
    }
    t = {name: quote(db_table) for name, db_table in table.items()}
    aggregate = "json_group_array" if connection.vendor == "sqlite" else "jsonb_agg"
    return (
        f"(SELECT {aggregate}(ct.app_label || '.' || p.codename) FROM {t['permission']} p "
        f"JOIN {t['content_type']} ct ON ct.id = p.content_type_id WHERE p.id IN ("
        f"SELECT permission_id FROM {t['user_permission']} WHERE user_id = {user_id_column} UNION "
        f"SELECT gp.permission_id FROM {t['group_permission']} gp JOIN {t['user_group']} ug "
        f"ON ug.group_id = gp.group_id WHERE ug.user_id = {user_id_column}))"
    )


def remember_permissions(user: Any, names: str | None) -> None:
    """Keep ``names`` (the JSON of ``permissions_column``) as ``user``'s permissions for the
    rest of the request. A superuser's are all there are, which that column does not list."""
    if not user.is_superuser:
        user._perm_cache = set(orjson.loads(names)) if names else set()


def _permissions_of(user: Any) -> Any:
    names = ("content_type__app_label", "codename")
    if user.is_superuser:
        return Permission.objects.values_list(*names)
    own = Permission.objects.filter(user=user).order_by().values_list(*names)
    return own.union(Permission.objects.filter(group__user=user).order_by().values_list(*names))


def ensure_groups(using: str = "default", **kwargs: Any) -> None:
    """post_migrate: (re)create both groups with the permissions that exist now, in the
    database just migrated (the owner's alias in a release)."""
    permissions = Permission.objects.using(using)
    readable = permissions.filter(content_type__app_label__in=READ_APPS, codename__startswith="view_")
    commands = permissions.filter(
        content_type__app_label="orders", codename__in=[command_codename(c) for c in ALL_COMMANDS]
    )
    auditors, _ = Group.objects.using(using).get_or_create(name=AUDITORS)
    auditors.permissions.set(readable)
    operators, _ = Group.objects.using(using).get_or_create(name=OPERATORS)
    operators.permissions.set([*readable, *commands])
