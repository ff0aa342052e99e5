"""The event log's tables.

Rows are written by ``eventstore.store`` only (through prepared SQL) and are never changed:
the model refuses save and delete, its queryset refuses bulk update and delete, and
database triggers (migrations 0003 and 0004) refuse UPDATE, DELETE and TRUNCATE underneath.
The ORM is for reading: the admin, the event browser, integrity checks.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn, TypeVar

from django.db import models

from .exceptions import AppendOnlyError


class DatabaseClock(models.Func):
    """The database's own clock at the moment of the insert."""

    output_field = models.DateTimeField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]  # Django 5.2: params are a list
        if connection.vendor == "postgresql":
            return "clock_timestamp()", []
        return "(STRFTIME('%%Y-%%m-%%d %%H:%%M:%%f', 'NOW'))", []


class CurrentTransactionId(models.Func):
    """The writing transaction's id on PostgreSQL (the feed orders by it); NULL elsewhere."""

    output_field = models.BigIntegerField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]  # Django 5.2: params are a list
        if connection.vendor == "postgresql":
            return "(pg_current_xact_id()::text::bigint)", []
        return "NULL", []


def _refuse(*args: Any, **kwargs: Any) -> NoReturn:
    raise AppendOnlyError("this table is append-only: rows are never updated or deleted")


_M = TypeVar("_M", bound=models.Model)


class AppendOnlyQuerySet(models.QuerySet[_M]):
    update = _refuse
    delete = _refuse
    bulk_update = _refuse
    update_or_create = _refuse


class AppendOnlyModel(models.Model):
    """Rows may be inserted, never changed or deleted."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse()
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse()


class EventQuerySet(AppendOnlyQuerySet["Event"]):
    def _written_by_the_store(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are written by eventstore.store.append only")

    create = bulk_create = get_or_create = _written_by_the_store


class Event(AppendOnlyModel):
    # Global position: unique and increasing in insert order (not commit order on PostgreSQL).
    position = models.BigAutoField(primary_key=True)
    # Identity of the event itself; appending the same id twice is idempotent.
    event_id = models.UUIDField()
    # Category of the stream, e.g. "order".
    stream_type = models.CharField(max_length=64)
    # The entity whose history this event belongs to.
    stream_id = models.UUIDField()
    # 1, 2, 3... within the stream, without gaps.
    version = models.PositiveIntegerField()
    # Past-tense name, e.g. "OrderPlaced".
    event_type = models.CharField(max_length=128)
    # Version of the payload's shape; upcasters bring old shapes up to date on read.
    schema_version = models.PositiveSmallIntegerField()
    # The payload.
    data = models.JSONField()
    # actor, source, correlation_id, causation_id, command_id.
    metadata = models.JSONField()
    # Business time: when it happened in the shop.
    occurred_at = models.DateTimeField()
    # Database time: when it was written.
    recorded_at = models.DateTimeField(db_default=DatabaseClock())
    # PostgreSQL's id of the writing transaction; the feed's order is (transaction_id, position).
    transaction_id = models.BigIntegerField(null=True, db_default=CurrentTransactionId())
    # Which signing key made `hash`.
    key_id = models.CharField(max_length=32)
    # HMAC-SHA256 (hex) over the event's content and the previous event's hash in its stream.
    hash = models.CharField(max_length=64)

    objects: ClassVar = EventQuerySet.as_manager()

    class Meta:
        db_table = "chronicle_event"
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="chronicle_event_id_uniq"),
            models.UniqueConstraint(fields=["stream_id", "version"], name="chronicle_event_stream_version_uniq"),
            models.CheckConstraint(condition=models.Q(version__gte=1), name="chronicle_event_version_gte_1"),
        ]
        indexes = [
            models.Index(fields=["transaction_id", "position"], name="chronicle_event_feed_idx"),
            models.Index(fields=["event_type", "position"], name="chronicle_event_type_idx"),
            models.Index(fields=["recorded_at"], name="chronicle_event_recorded_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.position} ({self.stream_type} {self.stream_id} v{self.version})"

    def save(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("events are written by eventstore.store.append only")


class Snapshot(models.Model):
    """A cache of an entity's state at a version. Deleting any of them changes no result."""

    stream_id = models.UUIDField()
    stream_type = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    # Version of the state's own shape; a snapshot of another shape is ignored.
    state_schema = models.PositiveSmallIntegerField()
    state = models.JSONField()
    created_at = models.DateTimeField(db_default=DatabaseClock())

    class Meta:
        db_table = "chronicle_snapshot"
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version", "state_schema"], name="chronicle_snapshot_uniq")
        ]


class Leaf(AppendOnlyModel):
    """One leaf of the log's Merkle tree per sealed event, in the order the sealer read the
    feed (``eventstore.sealing``). Proofs name a leaf by its index, never by the event's
    position: positions have gaps, leaf indexes run 0, 1, 2... without them."""

    index = models.BigIntegerField(primary_key=True, db_column="leaf_index")
    position = models.BigIntegerField(unique=True)
    # RFC 9162 leaf hash (hex) of the event's leaf bytes (``sealing.leaf_bytes``).
    hash = models.CharField(max_length=64)

    class Meta:
        db_table = "chronicle_leaf"
        ordering = ["index"]


class Seal(AppendOnlyModel):
    """A signed tree head: the Merkle root of the first ``tree_size`` leaves, signed with
    Ed25519 so that anyone holding the public key can check it (``sealing.seal_message``).

    The last two columns are the sealer's own place, not part of what is signed: the feed
    key it read up to and the tree's frontier, so the next seal costs only the events since
    this one (plus log n hashes).
    """

    id = models.BigAutoField(primary_key=True)
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    last_position = models.BigIntegerField()
    epoch = models.CharField(max_length=32)
    sealed_at = models.DateTimeField()
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)
    feed_transaction_id = models.BigIntegerField()
    frontier = models.JSONField()

    class Meta:
        db_table = "chronicle_seal"
        ordering = ["tree_size"]

    def __str__(self) -> str:
        return f"Seal of tree size {self.tree_size}"


class LogIdentity(models.Model):
    """This log's epochs, one row each, never changed: the newest is the current one. A
    restore records a new epoch, expiring cursors handed out before it."""

    id = models.BigAutoField(primary_key=True)
    epoch = models.CharField(max_length=32)
    created_at = models.DateTimeField(db_default=DatabaseClock())

    class Meta:
        db_table = "chronicle_log_identity"
