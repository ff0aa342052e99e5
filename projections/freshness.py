"""Read-your-writes: has a projection got as far as a given event?

A command answers with the global position of the last event it appended. The admin page
it redirects to, and an API query carrying ``?min_position=``, wait (briefly) until the
projections behind them have handled that event. Positions are not in feed order on
PostgreSQL, so the event is looked up by its position and compared by its place in the
feed, (transaction id, position), with each projection's checkpoint.

What a projection *reflects*, as one position (the API's ``X-Chronicle-Position``), is
the highest P such that it has handled every committed event at or below P: not the
position of the last event it handled, which on PostgreSQL can be above an event it has
still to take (``eventstore.store.covered_position``).

With a read replica a staff member's session also remembers its last command
(``remember_write``): until the replica shows it, the session's pages read the primary
(``config.routers``), so what a command did never seems undone by a lagging replica.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from django.conf import settings
from django.db import connection, router

from eventstore import cursor as feed_cursor
from eventstore import store
from eventstore.cursor import END, START, FeedKey
from eventstore.exceptions import CursorExpired, InvalidCursor
from eventstore.models import LogIdentity
from eventstore.sql import rows

from .models import Checkpoint

POLL_SECONDS = 0.02
# Where a session keeps its last command: {"names": projections, "position": P}.
LAST_WRITE = "chronicle_last_write"


def feed_key_of(position: int) -> FeedKey | None:
    """Where the event at ``position`` sits in the feed; None if there is none (yet)."""
    event = store.event_at_position(position)
    return FeedKey(*event.feed_key) if event is not None else None


def reached(names: Iterable[str], position: int) -> bool:
    """True when every named projection has handled the event at ``position``."""
    names = list(names)
    key = feed_key_of(position)
    if key is None:
        return False
    return all(cursor >= key for cursor in _cursor_keys(names).values())


def wait_until(names: Iterable[str], position: int, *, timeout: float) -> bool:
    """Poll until ``reached`` or ``timeout`` seconds pass; returns whether it was reached."""
    names = list(names)
    return _poll(lambda: reached(names, position), timeout)


def reflected_position(*names: str) -> int:
    """The highest position P such that every named projection has handled every event at
    or below P (0: none yet). Read it before the read models, so that what is read is at
    least that fresh."""
    return store.covered_position(min(_cursor_keys(names).values(), default=START))


def wait_for_position(names: Iterable[str], position: int, *, timeout: float) -> int:
    """Poll until the named projections reflect ``position`` (every event up to it, so the
    one at it too), or ``timeout`` seconds pass; returns the position they reflect then,
    which is below ``position`` only if the time ran out.

    A position past every committed event is answered at once: no command answered it, so
    nobody is waiting to read it, and a made-up one must not hold a request for long."""
    names = list(names)
    if position > store.covered_position(END):
        return reflected_position(*names)
    reflected = [0]

    def caught_up() -> bool:
        reflected[0] = reflected_position(*names)
        return reflected[0] >= position

    _poll(caught_up, timeout)
    return reflected[0]


def _poll(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_SECONDS)
    return True


def _cursor_keys(names: list[str] | tuple[str, ...]) -> dict[str, FeedKey]:
    """Each projection's place in the feed; the start for one with no checkpoint yet, or
    with a cursor from before the log was restored. The checkpoints and the log's epoch
    come in one query, written out (``eventstore.sql``): every query of the API asks this."""
    quote = connection.ops.quote_name
    query = (
        f"SELECT name, cursor, (SELECT epoch FROM {quote(LogIdentity._meta.db_table)} ORDER BY id DESC LIMIT 1) "
        f"FROM {quote(Checkpoint._meta.db_table)} WHERE name IN ({', '.join(['%s'] * len(names))})"
    )
    cursors = {
        name: (cursor, epoch) for name, cursor, epoch in rows(router.db_for_read(Checkpoint), query, list(names))
    }
    keys = {}
    for name in names:
        cursor, epoch = cursors.get(name, ("", None))
        try:
            # A log without an epoch yet has no cursors of it either: store.current_epoch records one.
            keys[name] = feed_cursor.decode(cursor, epoch or store.current_epoch()) if cursor else START
        except (InvalidCursor, CursorExpired):
            keys[name] = START
    return keys


def remember_write(session: MutableMapping[str, Any], names: Iterable[str], position: int) -> None:
    """Keep in the session that its reads wait for ``position`` in the named projections
    (and those of its earlier commands not yet shown). Only a replica can lag behind what
    the session has seen, so without one nothing is kept."""
    if "replica" not in settings.DATABASES:
        return
    earlier = session.get(LAST_WRITE) or {"names": [], "position": 0}
    session[LAST_WRITE] = {
        "names": sorted({*earlier["names"], *names}),
        "position": max(position, earlier["position"]),
    }


def shows_last_write(session: MutableMapping[str, Any]) -> bool:
    """Whether the read models, where this request reads them, show the session's last
    command (true if it has none); once they do it is forgotten, so the check costs a
    session only while it is pending."""
    write = session.get(LAST_WRITE)
    if write is None:
        return True
    if not reached(write["names"], write["position"]):
        return False
    del session[LAST_WRITE]
    return True
