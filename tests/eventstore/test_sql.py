"""Reads written out in SQL: logged as Django's own queries, prepared on PostgreSQL once they
have run twice on a connection, their values as the ORM gives them."""

from __future__ import annotations

from uuid import uuid4

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from eventstore import sql
from eventstore.models import LogIdentity

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "SELECT id, epoch, created_at FROM chronicle_log_identity WHERE epoch = %s"


def test_a_read_is_logged_and_its_values_converted_as_the_orms():
    identity = LogIdentity.objects.create(epoch=uuid4().hex)
    with CaptureQueriesContext(connection) as queries:
        found = sql.rows("default", QUERY, [identity.epoch])
    assert len(queries.captured_queries) == 1
    fields = [LogIdentity._meta.get_field(name) for name in ("id", "epoch", "created_at")]
    [row] = sql.converted("default", fields, found)
    assert row == list(LogIdentity.objects.filter(pk=identity.pk).values_list("id", "epoch", "created_at").get())
    assert sql.instance(LogIdentity, "default", row) == identity


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_read_is_prepared_on_postgresql_once_it_has_run_twice():
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        pytest.skip("DB_PREPARE_THRESHOLD=off")

    def prepared() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", [f"%{QUERY[:40]}%"])
            return cursor.fetchone()[0] > 0

    runs = []
    for _ in range(3):
        sql.rows("default", QUERY, ["none"])
        runs.append(prepared())
    assert runs[-1] and not runs[0]
