"""``{% chronicle_dashboard as dashboard %}``: the admin index's figures (see
projections.dashboard), for staff who may view the read models; None for others."""

from __future__ import annotations

from typing import Any

from django import template

from projections.dashboard import Dashboard, dashboard

register = template.Library()


@register.simple_tag(takes_context=True)
def chronicle_dashboard(context: dict[str, Any]) -> Dashboard | None:
    user = context["request"].user
    return dashboard() if user.has_module_perms("projections") else None
