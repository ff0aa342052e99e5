from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


def _install_sqlite_functions(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """SQLite's append-only triggers ask this function whether a purge is allowed.

    Only a connection flagged ``chronicle_purge_allowed`` (the test suite's clean-up sets
    it) answers yes; any other session, including the sqlite3 shell, which lacks the
    function altogether, is refused.
    """
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            "chronicle_purge_allowed", 0, lambda: int(getattr(connection, "chronicle_purge_allowed", False))
        )


class EventstoreConfig(AppConfig):
    name = "eventstore"
    verbose_name = "Event log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .metrics import count_appended
        from .privileges import check_log_privileges
        from .sealing import on_events_appended
        from .store import events_appended

        checks.register(check_log_privileges, checks.Tags.database)
        connection_created.connect(_install_sqlite_functions, dispatch_uid="chronicle_sqlite_functions")
        events_appended.connect(count_appended, dispatch_uid="chronicle_count_appended")
        events_appended.connect(on_events_appended, dispatch_uid="chronicle_seal_after_commit")
