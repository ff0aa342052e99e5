"""A command endpoint is documented by its command.

Each command's docstring (``orders.domain.commands``) is the one account of what it does,
which the admin shows as its help too; the OpenAPI schema reads a view's docstring, so a
command view's docstring becomes its command's, followed by what only HTTP adds (status
codes, where an input comes from).
"""

from __future__ import annotations

import inspect
from typing import TypeVar

from .base import CommandApi

V = TypeVar("V", bound=type[CommandApi])


def described(view: V) -> V:
    """Class decorator: the view's docstring is its command's, then the view's own, if any."""
    parts = (inspect.getdoc(view.command), inspect.cleandoc(view.__doc__ or ""))
    view.__doc__ = "\n\n".join(part for part in parts if part)
    return view
