"""Who may call which endpoint, decided by ``orders.permissions`` so the API, the admin and
the command bus cannot disagree. Checked before anything is loaded, so a refusal (403)
says nothing about whether the entity exists."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from orders.permissions import may_issue, may_read_history


class ChronicleAccess(BasePermission):
    """Reads (GET) need the right to read history and the event log: Operators, Auditors
    and superusers. A command (POST) needs the right to issue the view's ``command``.
    Methods an endpoint lacks are checked as reads, then refused with 405.
    Anonymous requests are refused before either, with 401."""

    code = "not_permitted"
    message = "You may not read the shop's data (Operators and Auditors may)."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        command = getattr(view, "command", None)
        if request.method in SAFE_METHODS or command is None:  # other methods of a read: 405
            return may_read_history(user)
        self.message = f"You may not issue {command.__name__}."
        return may_issue(user, command)


class DocsAccess(BasePermission):
    """The OpenAPI schema and docs: anyone while ``API_DOCS_PUBLIC`` (development's default),
    else a signed-in user (an API token or a staff session)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if settings.API_DOCS_PUBLIC:
            return True
        user = request.user
        return bool(user and user.is_authenticated)
