"""Pause points: the marked moments inside a unit of work where a test may step in.

A test of a race or a crash must sometimes act at one exact moment inside a transaction:
commit a duplicate command between a check and the load after it, or let the process die
after a batch's writes and before its checkpoint. The code marks such a moment with a
``PausePoint`` and calls it there with what a test needs to know. It does nothing (one
attribute test) until a test gives it an action for the length of a with-block::

    with runner.batch_written.runs(crash):
        ...

The action runs in whichever thread reaches the point, inside that thread's transaction,
each time the point is reached: it may wait for another thread, raise, or work on a
connection of its own. Nothing outside the tests sets one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, ParamSpec

P = ParamSpec("P")


class PausePoint(Generic[P]):
    def __init__(self, moment: str) -> None:
        self.moment = moment
        self._action: Callable[P, object] | None = None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        if self._action is not None:
            self._action(*args, **kwargs)

    @contextmanager
    def runs(self, action: Callable[P, object]) -> Iterator[None]:
        """Run ``action`` at this point, in any thread that reaches it, until the block ends."""
        if self._action is not None:
            raise RuntimeError(f"something already runs at {self.moment}")
        self._action = action
        try:
            yield
        finally:
            self._action = None

    def __repr__(self) -> str:
        return f"<PausePoint: {self.moment}>"
