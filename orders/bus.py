"""The command bus: the one place where a command is authorised, made idempotent, run in a
transaction of its own and retried on conflicts.

``dispatch(command, context)`` checks permission before anything is loaded, then runs the
command's handler in ``transaction.atomic()``. A ``ConcurrencyError`` re-runs the whole
unit (idempotency check, load, decide, append, claims, idempotency record) a bounded number
of times, unless the caller pinned the version it saw (``expected_version``), in which case
it is reported as a ``VersionConflict`` with the current version. A command that lost a
race retries inside its turn for the stream (``store.writers_turn``), so under heavy
contention the losers take turns instead of losing again.

With an ``idempotency_key``, the first outcome (success or domain refusal) is stored in the
same transaction as the events and replayed for the same key and command; the same key
with a different command is refused. Two concurrent duplicates meet at a unique index: one
wins, the other is rolled back and gets the stored outcome.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import random
import time
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from eventstore import store
from eventstore.context import bound
from eventstore.exceptions import ConcurrencyError, TransactionOrderConflict
from eventstore.seams import PausePoint
from eventstore.serialization import canonical_json, to_json_value

from . import metrics
from .context import CommandContext
from .domain import DomainError
from .domain.commands import Command
from .errors import Busy, CommandRefused, IdempotencyInProgress, IdempotencyKeyReused, VersionConflict
from .handlers import HANDLERS
from .models import IdempotencyRecord
from .permissions import authorize
from .repository import CommandResult, UnitOfWork

MAX_ATTEMPTS = 10
QUEUE_WAIT_MS = 5000  # how long a command that lost a race waits for its turn before Busy
log = logging.getLogger("chronicle.commands")

# Where a test opens the idempotency race: a duplicate that commits here makes the domain
# refuse a command that in fact succeeded (see ``_IdempotencyKey.settle_refusal``).
key_checked: PausePoint[[Command]] = PausePoint(
    "a command's idempotency key (if any) was found unused; its handler has not loaded yet"
)


def _back_off(attempt: int) -> None:
    """Jittered exponential back-off (1 ms, 2 ms, 4 ms... up to 100 ms) so writers that
    collided do not collide again in lockstep."""
    time.sleep(random.uniform(0, min(0.1, 0.001 * 2**attempt)))


class StoredRefusal(DomainError):
    """A domain refusal replayed from an idempotency record, with its original code."""

    code = "replayed_refusal"
    template = "This request was refused the first time it was sent."

    def __init__(
        self, message: str | None = None, *, fields: dict[str, str] | None = None, code: str | None = None
    ) -> None:
        super().__init__(message, fields=fields)
        if code:
            self.code = code  # type: ignore[misc]  # code is a ClassVar; a replayed refusal carries the first one's


class _LostRace(Exception):
    """A concurrent duplicate stored its outcome first; the next attempt replays it."""


def dispatch(command: Command, context: CommandContext, *, command_id: UUID | None = None) -> CommandResult:
    name = type(command).__name__
    with bound(correlation_id=context.correlation_id, actor=context.actor, command=name):
        started = time.perf_counter()
        outcome = "error"
        try:
            result = _dispatch(command, context, command_id or uuid4())
            outcome = "ok"
        except (DomainError, CommandRefused) as refusal:
            outcome = "refused"
            log.info("%s refused: %s (%s)", name, refusal.code, refusal.message)
            raise
        finally:
            metrics.COMMAND_SECONDS.labels(name, outcome).observe(time.perf_counter() - started)
        log.info(
            "%s: %s at version %s (%.1f ms)", name, result.id, result.version, (time.perf_counter() - started) * 1000
        )
        return result


def _dispatch(command: Command, context: CommandContext, command_id: UUID) -> CommandResult:
    handler = HANDLERS[type(command)]
    authorize(context, type(command))
    if connection.in_atomic_block:
        raise RuntimeError("commands commit in a transaction of their own: do not dispatch inside atomic()")
    key = _IdempotencyKey(command, context) if command.idempotency_key else None
    with contextlib.ExitStack() as turn:
        queued = False
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                _back_off(attempt)
            try:
                with transaction.atomic():
                    if key and (stored := key.lookup()):
                        metrics.IDEMPOTENT_REPLAYS.labels(type(command).__name__).inc()
                        return stored
                    key_checked(command)
                    uow = UnitOfWork(context, command_id, command.occurred_at)
                    result = handler(command, uow)
                    if key:
                        key.store({"result": result.to_json()})
                    return result
            except (_LostRace, TransactionOrderConflict):
                continue
            except ConcurrencyError as exc:
                metrics.VERSION_CONFLICTS.labels(type(command).__name__).inc()
                if command.expected_version is not None:
                    raise VersionConflict(exc.actual_version, command.expected_version) from None
                if not queued:
                    try:
                        turn.enter_context(store.writers_turn(exc.stream_id, timeout_ms=QUEUE_WAIT_MS))
                    except OperationalError:
                        raise Busy() from None
                    queued = True
                continue
            except DomainError as refusal:
                if key and (first := key.settle_refusal(refusal)) is not None:
                    return first
                raise
    raise Busy()


class _IdempotencyKey:
    """An idempotency key in its scope (actor, command name, key) with the command's
    fingerprint (its canonical JSON without the key)."""

    def __init__(self, command: Command, context: CommandContext) -> None:
        name = type(command).__name__
        self.scope = f"{context.actor}:{name}:{command.idempotency_key}"
        fields = {f: getattr(command, f) for f in command.__dataclass_fields__ if f != "idempotency_key"}
        text = canonical_json(to_json_value({"command": name, **fields}))
        self.fingerprint = hashlib.sha256(text.encode()).hexdigest()

    def lookup(self) -> CommandResult | None:
        """The stored outcome: a result to return, or a refusal raised again."""
        record = IdempotencyRecord.objects.filter(scope=self.scope).first()
        if record is None:
            return None
        if record.expires_at <= timezone.now():
            record.delete()
            return None
        if record.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        if "error" in record.outcome:
            error = record.outcome["error"]
            raise StoredRefusal(error["message"], fields=error["fields"], code=error["code"])
        return CommandResult.from_json(record.outcome["result"])

    def store(self, outcome: dict[str, Any]) -> None:
        """Write the outcome in the current transaction; a duplicate that got there first
        makes this attempt roll back (``_LostRace``) and the next one replay its outcome."""
        expires = timezone.now() + dt.timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL lock_timeout = %s", [f"{settings.IDEMPOTENCY_WAIT_MS}ms"])
                IdempotencyRecord.objects.create(
                    scope=self.scope, fingerprint=self.fingerprint, outcome=outcome, expires_at=expires
                )
        except IntegrityError:
            raise _LostRace() from None
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
                raise IdempotencyInProgress() from None
            raise

    def settle_refusal(self, refusal: DomainError) -> CommandResult | None:
        """Store a refusal as the key's outcome, unless a duplicate stored one first: then
        that outcome is the answer (returned, or its refusal raised). A duplicate that
        committed between this attempt's lookup and its load makes the command look
        refused (the customer it registered exists now) when it in fact succeeded."""
        outcome = {"error": {"code": refusal.code, "message": refusal.message, "fields": refusal.fields}}
        try:
            with transaction.atomic():
                if (first := self.lookup()) is not None:
                    return first
                self.store(outcome)
        except _LostRace:
            with transaction.atomic():
                return self.lookup()
        return None
