"""Queries from a read replica: set ``REPLICA_DATABASE_URL`` and reads of the read models
go there, while every write (and every read of the event log and the write side) stays on
the primary. Read-your-writes still holds: the read-your-writes wait checks the replica's
own copy of the projection checkpoints, so a page or ``?min_position=`` waits until the
replica has caught up with the write, not just the primary."""

from __future__ import annotations

from typing import Any

from django.conf import settings

REPLICATED_APPS = frozenset({"projections"})


class ReadReplicaRouter:
    def db_for_read(self, model: type, **hints: Any) -> str | None:
        if "replica" in settings.DATABASES and model._meta.app_label in REPLICATED_APPS:
            return "replica"
        return None

    def db_for_write(self, model: type, **hints: Any) -> str:
        return "default"

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == "default"
