"""The app role: what web and workers connect as, set up by the role that owns the log.

Run as the owner (``DATABASE_OWNER_URL``) in the release step, after ``migrate``:

- the log's tables (``LOG_TABLES``) stay the owner's; the app may SELECT and INSERT them,
  nothing more;
- the tables the app hands over (the read models, which rebuilds create, drop and rename
  as shadow tables) become the app's own; the owner is a member of the app role, so later
  migrations run as the owner can still alter them;
- every other table (snapshots, idempotency keys, claims, users, sessions...) the app may
  read, insert, update and delete, but not truncate;
- sequences: USAGE and SELECT, and UPDATE, which ``setval`` needs when an import moves
  them past the imported events (moving one backwards makes inserts fail; it cannot
  change what is stored);
- the schema: USAGE, and CREATE for the rebuilds' shadow tables (PostgreSQL 15 grants no
  CREATE on ``public`` to others);
- default privileges, so a table a later migration adds is readable and insertable at once
  (the next run of this grants the rest).

Every step looks before it acts, so running it again changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connections
from psycopg import sql

from .privileges import LOG_TABLES

LOG_RIGHTS = ("SELECT", "INSERT")
TABLE_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
ALL_TABLE_RIGHTS = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_RIGHTS = ("USAGE", "SELECT", "UPDATE")


class RoleSetupError(Exception):
    """The roles cannot be set up as asked; the message says why, in one line."""


def setup_app_role(
    app_role: str, *, password: str | None = None, handed_over: Iterable[str] = (), using: str = "owner"
) -> list[str]:
    """Create or update ``app_role`` and its grants in the current schema of ``using``'s
    database, connected as the owner. Returns what it changed, one line each."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RoleSetupError("database roles are PostgreSQL's: the embedded SQLite database has none")
    handed_over = set(handed_over)
    changes: list[str] = []
    role = sql.Identifier(app_role)
    with connection.cursor() as cursor:

        def run(statement: sql.Composable, change: str) -> None:
            cursor.execute(statement.as_string(connection.connection))
            changes.append(change)

        cursor.execute("SELECT current_user, current_schema(), rolsuper FROM pg_roles WHERE rolname = current_user")
        owner, schema, owner_is_superuser = cursor.fetchone()
        if owner == app_role:
            raise RoleSetupError(
                f"the owner and the app connect as the same role ({owner}): "
                "set DATABASE_OWNER_URL to the owner's credentials and DATABASE_URL to the app role's"
            )
        cursor.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", [app_role])
        found = cursor.fetchone()
        if found is None:
            statement = sql.SQL("CREATE ROLE {} LOGIN").format(role)
            if password:
                statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
            run(statement, f"created role {app_role}")
        else:
            if found[0]:
                raise RoleSetupError(f"{app_role} is a superuser: the app role must not be one")
            if found[1] or found[2]:
                run(
                    sql.SQL("ALTER ROLE {} NOCREATEROLE NOCREATEDB").format(role),
                    f"{app_role} may no longer create roles or databases",
                )
        if not owner_is_superuser:
            cursor.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [app_role])
            if not cursor.fetchone()[0]:
                run(sql.SQL("GRANT {} TO {}").format(role, sql.Identifier(owner)), f"{owner} is a member of {app_role}")

        for right in ("USAGE", "CREATE"):
            cursor.execute("SELECT has_schema_privilege(%s, %s, %s)", [app_role, schema, right])
            if not cursor.fetchone()[0]:
                run(
                    sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(sql.SQL(right), sql.Identifier(schema), role),
                    f"{app_role} may {right} schema {schema}",
                )

        cursor.execute(
            "SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'S') ORDER BY c.relkind, c.relname",
            [schema],
        )
        for name, kind, table_owner in cursor.fetchall():
            table = sql.Identifier(name)
            if kind == "S":
                for right in SEQUENCE_RIGHTS:
                    cursor.execute("SELECT has_sequence_privilege(%s, %s, %s)", [app_role, name, right])
                    if not cursor.fetchone()[0]:
                        run(
                            sql.SQL("GRANT {} ON SEQUENCE {} TO {}").format(sql.SQL(right), table, role),
                            f"{app_role} may {right} sequence {name}",
                        )
                continue
            if name in handed_over:
                if table_owner != app_role:
                    run(sql.SQL("ALTER TABLE {} OWNER TO {}").format(table, role), f"{app_role} owns {name}")
                continue
            if name in LOG_TABLES and table_owner == app_role:
                run(
                    sql.SQL("ALTER TABLE {} OWNER TO {}").format(table, sql.Identifier(owner)),
                    f"{owner} owns {name} again",
                )
            wanted = LOG_RIGHTS if name in LOG_TABLES else TABLE_RIGHTS
            for right in ALL_TABLE_RIGHTS:
                cursor.execute("SELECT has_table_privilege(%s, %s, %s)", [app_role, name, right])
                held = cursor.fetchone()[0]
                if right in wanted and not held:
                    run(
                        sql.SQL("GRANT {} ON {} TO {}").format(sql.SQL(right), table, role),
                        f"{app_role} may {right} {name}",
                    )
                elif right not in wanted and held:
                    run(
                        sql.SQL("REVOKE {} ON {} FROM {}").format(sql.SQL(right), table, role),
                        f"{app_role} may no longer {right} {name}",
                    )

        for kind, rights, what in (("r", LOG_RIGHTS, "TABLES"), ("S", SEQUENCE_RIGHTS, "SEQUENCES")):
            cursor.execute(
                "SELECT a.privilege_type FROM pg_default_acl d"
                " JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a"
                " WHERE d.defaclrole = current_user::regrole AND n.nspname = %s AND d.defaclobjtype = %s"
                " AND a.grantee = %s::regrole",
                [schema, kind, app_role],
            )
            held = {row[0] for row in cursor.fetchall()}
            missing = [right for right in rights if right not in held]
            if missing:
                run(
                    sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT {} ON {} TO {}").format(
                        sql.Identifier(schema), sql.SQL(", ").join(map(sql.SQL, missing)), sql.SQL(what), role
                    ),
                    f"new {what.lower()} in {schema}: {app_role} may {', '.join(missing)}",
                )
    return changes
