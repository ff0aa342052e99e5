"""Refusals of the application layer, beside the domain's own (``orders.domain.exceptions``).

Like DRF's exceptions, each states its HTTP status and default message as class attributes,
so the API and the admin translate every error in one place. A domain refusal
(``DomainError``) is always 422 there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class CommandRefused(Exception):
    code: ClassVar[str] = "command_refused"
    status_code: ClassVar[int] = 400
    default_message: ClassVar[str] = "The command was refused."

    def __init__(self, message: str | None = None, *, fields: Mapping[str, str] | None = None) -> None:
        self.message = message or self.default_message
        self.fields = dict(fields or {})
        super().__init__(self.message)


class NotPermitted(CommandRefused):
    code = "not_permitted"
    status_code = 403
    default_message = "You may not do this."


class NotFound(CommandRefused):
    code = "not_found"
    status_code = 404
    default_message = "No such record."

    def __init__(self, stream_type: str, id: object, *, field: str | None = None) -> None:
        message = f"There is no {stream_type} with id {id}."
        super().__init__(message, fields={field: message} if field else None)
        self.stream_type = stream_type


class VersionConflict(CommandRefused):
    code = "version_conflict"
    status_code = 409
    default_message = "Someone else changed this meanwhile."

    def __init__(self, current_version: int, expected_version: int) -> None:
        super().__init__(
            f"Someone else changed this meanwhile: it is at version {current_version}, "
            f"not {expected_version}. Reload and try again; nothing was changed."
        )
        self.current_version = current_version
        self.expected_version = expected_version


class IdempotencyKeyReused(CommandRefused):
    code = "idempotency_key_reused"
    status_code = 422
    default_message = "This idempotency key was already used for a different request."


class IdempotencyInProgress(CommandRefused):
    code = "idempotency_in_progress"
    status_code = 409
    default_message = "A request with this idempotency key is still being processed."


class Busy(CommandRefused):
    """Conflicts kept coming back after every retry; the caller may simply try again."""

    code = "busy"
    status_code = 409
    default_message = "Too many simultaneous changes to this record; please try again."
