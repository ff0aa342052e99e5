"""A live database from before the back office joined the orders app: its proxies' content
types belonged to the ``backoffice`` app, and staff were granted their view permissions.
Migrating it keeps every permission id and every grant."""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.management import create_contenttypes
from django.contrib.contenttypes.models import ContentType
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

PROXIES = ("order", "product", "customer")
BEFORE = ("orders", "0002_order_number_sequence")


def migrate(alias: str, *, to_old_layout: bool) -> None:
    executor = MigrationExecutor(connections[alias])
    leaves = executor.loader.graph.leaf_nodes()
    if to_old_layout:
        leaves = [leaf for leaf in leaves if leaf[0] != "orders"] + [BEFORE]
    executor.loader.build_graph()
    executor.migrate(leaves)


def grant_the_old_way(db: str) -> tuple[dict[str, int], int, int]:
    """What the backoffice app's migration and Django's post_migrate had left, and the
    grants made since: the Auditors group may view all three, a user may view orders."""
    permission_ids = {}
    for model in PROXIES:
        content_type = ContentType.objects.using(db).create(app_label="backoffice", model=model)
        permission = Permission.objects.using(db).create(
            codename=f"view_{model}", name=f"Can view {model}", content_type=content_type
        )
        permission_ids[model] = permission.pk
    MigrationRecorder(connections[db]).record_applied("backoffice", "0001_initial")
    # Through the join tables: related managers would write to the default database.
    auditors = Group.objects.using(db).create(name="Auditors")
    Group.permissions.through.objects.using(db).bulk_create(
        [Group.permissions.through(group_id=auditors.pk, permission_id=pk) for pk in permission_ids.values()]
    )
    user = User.objects.db_manager(db).create_user("clerk", password="pw", is_staff=True)
    User.user_permissions.through.objects.using(db).create(user_id=user.pk, permission_id=permission_ids["order"])
    return permission_ids, auditors.pk, user.pk


def granted(db: str, **owner: int) -> set[tuple[str, str, int]]:
    return set(Permission.objects.using(db).filter(**owner).values_list("content_type__app_label", "codename", "pk"))


def test_migrating_an_old_database_keeps_every_grant_of_the_back_office(old_database):
    db = old_database
    migrate(db, to_old_layout=True)
    ids, auditors, user = grant_the_old_way(db)

    migrate(db, to_old_layout=False)
    create_contenttypes(_orders_config(), verbosity=0, using=db)
    create_permissions(_orders_config(), verbosity=0, using=db)

    assert granted(db, group__pk=auditors) == {("orders", f"view_{model}", ids[model]) for model in PROXIES}
    assert granted(db, user__pk=user) == {("orders", "view_order", ids["order"])}
    assert not ContentType.objects.using(db).filter(app_label="backoffice").exists()
    for model in PROXIES:
        assert (
            Permission.objects.using(db).filter(content_type__app_label="orders", codename=f"view_{model}").count() == 1
        )
    assert not MigrationRecorder(connections[db]).migration_qs.filter(app="backoffice").exists()


def test_a_grant_made_under_the_new_label_before_the_migration_moves_to_the_old_permission(old_database):
    db = old_database
    migrate(db, to_old_layout=True)
    ids, _, user = grant_the_old_way(db)
    early = ContentType.objects.using(db).create(app_label="orders", model="order")
    early_view = Permission.objects.using(db).create(codename="view_order", name="Can view order", content_type=early)
    other = User.objects.db_manager(db).create_user("early-bird", password="pw", is_staff=True)
    grants = User.user_permissions.through.objects.using(db)
    grants.bulk_create([grants.model(user_id=uid, permission_id=early_view.pk) for uid in (user, other.pk)])

    migrate(db, to_old_layout=False)

    assert ContentType.objects.using(db).filter(app_label="orders", model="order").count() == 1
    assert not Permission.objects.using(db).filter(pk=early_view.pk).exists()
    assert granted(db, user__pk=user) == {("orders", "view_order", ids["order"])}
    assert granted(db, user__pk=other.pk) == {("orders", "view_order", ids["order"])}


def test_migrating_back_returns_the_proxies_to_the_old_app_with_their_grants(old_database):
    db = old_database
    migrate(db, to_old_layout=True)
    ids, auditors, user = grant_the_old_way(db)
    migrate(db, to_old_layout=False)

    migrate(db, to_old_layout=True)

    assert granted(db, group__pk=auditors) == {("backoffice", f"view_{model}", ids[model]) for model in PROXIES}
    assert granted(db, user__pk=user) == {("backoffice", "view_order", ids["order"])}


def test_a_new_database_gets_the_proxies_permissions_in_the_orders_app(old_database):
    db = old_database
    migrate(db, to_old_layout=False)
    create_contenttypes(_orders_config(), verbosity=0, using=db)
    create_permissions(_orders_config(), verbosity=0, using=db)
    assert {codename for _, codename, _ in granted(db, content_type__app_label="orders")} >= {
        f"view_{model}" for model in PROXIES
    }


def _orders_config():
    from django.apps import apps

    return apps.get_app_config("orders")
