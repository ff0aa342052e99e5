"""Feed cursors: opaque strings that name a place in the feed of one log.

Inside, a cursor is (log epoch, transaction id, position): the feed is ordered by
(transaction id, position) on PostgreSQL and by position on SQLite (transaction id 0).
The epoch changes when a log is restored, so a cursor from before a restore is refused
instead of silently skipping or repeating events. Followers keep cursors, never positions.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from .exceptions import CursorExpired, InvalidCursor

MAX_POSITION = 2**63 - 1
_FORMAT = "1"
_RAW = re.compile(r"1:([0-9a-f]{32}):(\d{1,19}):(\d{1,19})")
_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}")


@dataclass(frozen=True, order=True, slots=True)
class FeedKey:
    transaction_id: int
    position: int


START = FeedKey(0, 0)
# After every event there will ever be.
END = FeedKey(MAX_POSITION, MAX_POSITION)


def encode(epoch: str, key: FeedKey) -> str:
    raw = f"{_FORMAT}:{epoch}:{key.transaction_id}:{key.position}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, epoch: str) -> FeedKey:
    """The feed key of a cursor from this log; None or "" is the start of the feed."""
    if not cursor:
        return START
    if not isinstance(cursor, str) or not _TEXT.fullmatch(cursor):
        raise InvalidCursor("malformed cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidCursor("malformed cursor") from None
    match = _RAW.fullmatch(raw)
    if match is None:
        raise InvalidCursor("malformed cursor")
    cursor_epoch, tx, position = match.group(1), int(match.group(2)), int(match.group(3))
    if tx > MAX_POSITION or position > MAX_POSITION:
        raise InvalidCursor("malformed cursor")
    if cursor_epoch != epoch:
        raise CursorExpired("cursor belongs to an earlier copy of the log (it was restored)")
    return FeedKey(tx, position)
