"""The event store's errors. Callers catch these, never database errors."""

from __future__ import annotations

from uuid import UUID


class EventStoreError(Exception):
    """Base class of every error the event store raises on purpose."""


class ConcurrencyError(EventStoreError):
    """The stream is not at the version the append expected."""

    def __init__(self, stream_id: UUID, expected_version: int, actual_version: int) -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(f"stream {stream_id} is at version {actual_version}, not {expected_version} as expected")


class TransactionOrderConflict(ConcurrencyError):
    """The stream's last event was committed by a transaction that started writing after
    this one did. Appending now would put this event before its predecessor in the feed,
    so the whole unit of work must be retried in a new transaction.

    Only on PostgreSQL, and only when a transaction wrote something before appending to a
    stream that another transaction appended to meanwhile; a retry always succeeds.
    """

    def __init__(self, stream_id: UUID, version: int) -> None:
        super().__init__(stream_id, version, version)
        self.args = (f"stream {stream_id}: retry in a new transaction to keep the feed in version order",)


class StreamTypeMismatch(EventStoreError):
    """An append named a different stream type than the stream's events carry."""


class DuplicateEventError(EventStoreError):
    """An event id is already stored with different content."""


class InvalidEvent(EventStoreError, ValueError):
    """An event cannot be stored as given (floats, NUL characters, bad metadata...)."""


class InvalidCursor(EventStoreError, ValueError):
    """A feed cursor that this store did not hand out."""


class CursorExpired(InvalidCursor):
    """A feed cursor handed out by this store before its log was restored."""


class AppendOnlyError(EventStoreError):
    """Events are appended through ``eventstore.store``; stored rows never change."""


class UnknownSigningKey(EventStoreError):
    """An event or a seal names a signing key id that the settings do not hold."""
