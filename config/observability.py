"""One id finds everything a request did: in the logs, in Celery tasks, in the event log.

Each request gets a correlation id (its ``X-Request-ID`` header when it sends a sensible
one, else a new one), kept in a context variable for the request's duration, returned in
the response's ``X-Request-ID`` header, written into the metadata of every event its
commands append, handed to the Celery tasks it publishes (a task header) and restored in
the worker. Commands add the actor and the command name. Every log record carries all
three; with ``LOG_FORMAT=json`` each log line is one JSON object.

The context itself (the variables and ``bound``) is ``eventstore.context``, within reach of
the layers below; this module is the process's edges: the request middleware, the Celery
hooks, the log filter and formatter.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from eventstore.context import CORRELATION_ID_PATTERN, actor, bound, command, correlation_id, new_id

HEADER = "X-Request-ID"
TASK_HEADER = "chronicle_correlation_id"


class RequestContextMiddleware:
    """Give every request a correlation id and name it in the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request.correlation_id = given if CORRELATION_ID_PATTERN.fullmatch(given) else new_id()  # type: ignore[attr-defined]  # set here, on Django's request
        with bound(correlation_id=request.correlation_id):  # type: ignore[attr-defined]  # set just above
            response = self.get_response(request)
        response[HEADER] = request.correlation_id  # type: ignore[attr-defined]  # set just above
        return response


class ContextFilter(logging.Filter):
    """Stamp each log record with the correlation id, actor and command in effect."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        record.actor = actor.get()
        record.command = command.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
            "actor": getattr(record, "actor", None),
            "command": getattr(record, "command", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def install_celery_propagation() -> None:
    """Carry the correlation id from the publisher to the task, in a message header."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    def publish(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if headers is not None and correlation_id.get():
            headers.setdefault(TASK_HEADER, correlation_id.get())

    def start(task: Any = None, **kwargs: Any) -> None:
        # Celery's own request.correlation_id is the task id; ours travels as TASK_HEADER.
        given = getattr(task.request, TASK_HEADER, None) if task else None
        task.request.chronicle_token = correlation_id.set(given or correlation_id.get() or new_id())

    def finish(task: Any = None, **kwargs: Any) -> None:
        token = getattr(task.request, "chronicle_token", None) if task else None
        if token is not None:
            correlation_id.reset(token)

    before_task_publish.connect(publish, weak=False, dispatch_uid="chronicle_publish_correlation")
    task_prerun.connect(start, weak=False, dispatch_uid="chronicle_task_correlation")
    task_postrun.connect(finish, weak=False, dispatch_uid="chronicle_task_correlation_end")
