"""A database where DRF's authtoken kept tokens in plain text: migrating moves each one to
a digest that still authenticates its key for 30 days, and leaves no key behind."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import ApiToken

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("orders", "0003_backoffice_proxies")
DRF_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"


def migrate(alias: str, *, before_tokens: bool = False, to: tuple[str, str] | None = None) -> None:
    executor = MigrationExecutor(connections[alias])
    leaves = executor.loader.graph.leaf_nodes()
    if before_tokens or to:
        leaves = [leaf for leaf in leaves if leaf[0] != "orders"] + [to or BEFORE]
    executor.loader.build_graph()
    executor.migrate(leaves)


def drf_token_of(db: str, user: User) -> None:
    """What ``rest_framework.authtoken`` had left: its table, a user's key in it."""
    with connections[db].cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamp NOT NULL,"
            " user_id integer NOT NULL UNIQUE)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token (key, created, user_id) VALUES (%s, %s, %s)",
            [DRF_KEY, timezone.now().replace(tzinfo=None), user.pk],
        )


def test_a_drf_token_becomes_a_digest_valid_for_30_days_and_its_key_leaves_the_database(old_database):
    db = old_database
    migrate(db, before_tokens=True)
    owner = User.objects.db_manager(db).create_user("integrator", password="pw")
    drf_token_of(db, owner)

    migrate(db, before_tokens=False)

    migrated = ApiToken.objects.using(db).get()
    assert (migrated.user_id, migrated.prefix, migrated.name) == (owner.pk, DRF_KEY[:8], "migrated DRF token")
    assert migrated.digest == hashlib.sha256(DRF_KEY.encode()).hexdigest()
    assert migrated.expires_at - migrated.created_at == timedelta(days=30)
    assert abs(migrated.created_at - timezone.now()) < timedelta(minutes=1)
    assert "authtoken_token" not in connections[db].introspection.table_names()

    # The row as migrated, in the suite's database, authenticates the old header.
    user = User.objects.create_user("integrator", password="pw", is_superuser=True)
    fields = {f.attname: getattr(migrated, f.attname) for f in ApiToken._meta.concrete_fields if f.attname != "id"}
    ApiToken.objects.create(**{**fields, "user_id": user.pk})
    client = APIClient(headers={"Authorization": f"Token {DRF_KEY}"})
    assert client.get("/api/v1/events/").status_code == 200


def test_a_database_that_never_had_drf_tokens_migrates_with_none(old_database):
    migrate(old_database, before_tokens=False)
    assert not ApiToken.objects.using(old_database).exists()


def test_a_drf_token_left_after_the_move_is_moved_too_and_drf_s_table_and_permissions_go(old_database):
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType

    db = old_database
    migrate(db, to=("orders", "0004_api_token"))
    owner = User.objects.db_manager(db).create_user("latecomer", password="pw")
    drf_token_of(db, owner)
    token_type = ContentType.objects.db_manager(db).create(app_label="authtoken", model="token")
    view_token = Permission.objects.db_manager(db).create(codename="view_token", name="x", content_type=token_type)
    Group.objects.db_manager(db).create(name="Auditors").permissions.add(view_token)

    migrate(db)

    assert ApiToken.objects.using(db).get().digest == hashlib.sha256(DRF_KEY.encode()).hexdigest()
    assert "authtoken_token" not in connections[db].introspection.table_names()
    assert not Permission.objects.using(db).filter(content_type__app_label="authtoken").exists()
    assert not Group.objects.using(db).get(name="Auditors").permissions.exists()
