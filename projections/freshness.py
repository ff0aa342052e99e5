"""Read-your-writes: has a projection got as far as a given event?

A command answers with the global position of the last event it appended. The admin page
it redirects to, and an API query carrying ``?min_position=``, wait (briefly) until the
projections behind them have handled that event. Positions are not in feed order on
PostgreSQL, so the event is looked up by its position and compared by its place in the
feed, (transaction id, position), with each projection's checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from eventstore import store
from eventstore.cursor import FeedKey
from eventstore.exceptions import InvalidCursor

from .models import Checkpoint

POLL_SECONDS = 0.02


def feed_key_of(position: int) -> FeedKey | None:
    """Where the event at ``position`` sits in the feed; None if there is none (yet)."""
    event = store.event_at_position(position)
    return FeedKey(*event.feed_key) if event is not None else None


def reached(names: Iterable[str], position: int) -> bool:
    """True when every named projection has handled the event at ``position``."""
    key = feed_key_of(position)
    if key is None:
        return False
    cursors = dict(Checkpoint.objects.filter(name__in=list(names)).values_list("name", "cursor"))
    for name in names:
        try:
            if store.cursor_key(cursors.get(name) or None) < key:
                return False
        except InvalidCursor:
            return False
    return True


def wait_until(names: Iterable[str], position: int, *, timeout: float) -> bool:
    """Poll until ``reached`` or ``timeout`` seconds pass; returns whether it was reached."""
    names = list(names)
    deadline = time.monotonic() + timeout
    while not reached(names, position):
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def reflected_position(name: str) -> int:
    """The position of the last event a projection handled (for X-Chronicle-Position)."""
    return Checkpoint.objects.filter(name=name).values_list("last_position", flat=True).first() or 0
