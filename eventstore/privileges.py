"""Whether the database role this process connects as could change the event log.

The triggers refuse UPDATE, DELETE and TRUNCATE to every session, but a role that owns a
log table can disable or drop them, and a superuser can do anything: only a role limited
to SELECT and INSERT on the log tables makes the log immutable by privilege. A system
check (tagged ``database``, so ``migrate`` and ``check --database default`` run it) warns
when the role can do more, and ``/readyz`` reports ``log_privileges``. The ``owner`` alias
is the owner by design (``eventstore.roles``), and the replica is read-only; neither is checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from django.core import checks
from django.db import connections

LOG_TABLES: Final = ("chronicle_event", "chronicle_leaf", "chronicle_seal", "chronicle_log_identity")
CHANGES: Final = ("UPDATE", "DELETE", "TRUNCATE")

_TABLE_RIGHTS = (
    "SELECT c.relname, pg_has_role(current_user, c.relowner, 'MEMBER'), "
    + ", ".join(f"has_table_privilege(c.oid, '{change}')" for change in CHANGES)
    + " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = ANY(%s) AND n.nspname = current_schema() ORDER BY c.relname"
)


def log_privilege_problems(using: str = "default") -> list[str] | None:
    """What lets this connection's role change the log, one phrase each (empty: it may
    only read and insert); None on an engine without privileges (SQLite)."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        role, superuser = cursor.fetchone()
        if superuser:
            return [f"{role} is a superuser"]
        cursor.execute(_TABLE_RIGHTS, [list(LOG_TABLES)])
        problems = []
        for table, owns, *rights in cursor.fetchall():
            granted = [change for change, right in zip(CHANGES, rights, strict=True) if right]
            if owns:
                problems.append(f"{role} owns {table}")
            elif granted:
                problems.append(f"{role} may {', '.join(granted)} {table}")
        return problems


def health() -> dict[str, Any]:
    """``/readyz``'s ``log_privileges``: insert-only, unsafe, or unchecked (SQLite)."""
    problems = log_privilege_problems()
    return {"log_privileges": "unchecked" if problems is None else "unsafe" if problems else "insert-only"}


def check_log_privileges(
    app_configs: Any, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.Warning]:
    warnings = []
    for alias in [name for name in databases or [] if name not in ("replica", "owner")]:
        problems = log_privilege_problems(alias)
        if problems:
            warnings.append(
                checks.Warning(
                    f"The database role of {alias!r} can change the event log: {'; '.join(problems)}.",
                    hint="Connect web and workers as a role that may only SELECT and INSERT the log "
                    "tables, with another role owning them and running migrations.",
                    id="eventstore.W001",
                )
            )
    return warnings
