"""The correlation id (with the actor and command) in effect in this thread or task.

It lives here, in the lowest layer, because both sides above need it and neither may
import the other's: the write side (``orders``) stamps it into the metadata of the events
its commands append, the read side (``projections``) restores it from an event's metadata
while handling it and hands it on to the wake-up it publishes. ``config.observability``
sets it per request and per Celery task and writes it into every log line. Plain Python:
context variables need no Django.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
actor: contextvars.ContextVar[str | None] = contextvars.ContextVar("actor", default=None)
command: contextvars.ContextVar[str | None] = contextvars.ContextVar("command", default=None)

# A correlation id given from outside (a request's X-Request-ID) is kept only in this shape.
CORRELATION_ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def new_id() -> str:
    return uuid.uuid4().hex


def current_correlation_id() -> str:
    """The id of the request or task being served; a new one outside of both."""
    return correlation_id.get() or new_id()


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    """Set context variables (correlation_id, actor, command) for the duration of a block."""
    variables = {"correlation_id": correlation_id, "actor": actor, "command": command}
    tokens = [(variables[name], variables[name].set(value)) for name, value in values.items()]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)
