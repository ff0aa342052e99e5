"""The back office's proxies (orders, products, customers) move from the ``backoffice``
app, which is gone, to ``orders``.

On a database that had the old app, its content types are relabelled in place, so the view
permissions keep their ids and every grant to the Operators, the Auditors or a user
survives; the old app's migration records are removed. Should the new label exist already
(a process of the new release asked for it before this migration ran), the grants of its
permissions move to the old ones and it goes. On a new database there is nothing to
relabel. Migrating back relabels them to ``backoffice``, for the release before.
"""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

OLD_APP = "backoffice"
NEW_APP = "orders"
PROXIES = ("order", "product", "customer")


def _move_grants(apps, db, source, target):
    """Give every group and user granted a permission of ``source`` the permission of the
    same codename of ``target`` instead."""
    Permission = apps.get_model("auth", "Permission")
    group_grants = apps.get_model("auth", "Group").permissions.through
    user_grants = apps.get_model("auth", "User").user_permissions.through
    for grants, owner in ((group_grants, "group_id"), (user_grants, "user_id")):
        for old in Permission.objects.using(db).filter(content_type=source):
            new = Permission.objects.using(db).filter(content_type=target, codename=old.codename).first()
            if new is None:
                continue
            holders = grants.objects.using(db).filter(permission_id=new.pk).values_list(owner, flat=True)
            grants.objects.using(db).filter(permission_id=old.pk).exclude(**{f"{owner}__in": holders}).update(
                permission_id=new.pk
            )


def _relabel(apps, schema_editor, old_app, new_app):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in PROXIES:
        moving = ContentType.objects.using(db).filter(app_label=old_app, model=model).first()
        if moving is None:
            continue
        early = ContentType.objects.using(db).filter(app_label=new_app, model=model).first()
        if early is not None:
            _move_grants(apps, db, early, moving)
            early.delete(using=db)
        moving.app_label = new_app
        moving.save(using=db)


def adopt_backoffice_content_types(apps, schema_editor):
    _relabel(apps, schema_editor, OLD_APP, NEW_APP)
    MigrationRecorder(schema_editor.connection).migration_qs.filter(app=OLD_APP).delete()


def return_backoffice_content_types(apps, schema_editor):
    _relabel(apps, schema_editor, NEW_APP, OLD_APP)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_order_number_sequence"),
        ("projections", "0003_checkpoint_label"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(adopt_backoffice_content_types, return_backoffice_content_types, elidable=False),
        migrations.CreateModel(
            name="Customer",
            fields=[],
            options={
                "verbose_name": "customer",
                "ordering": ["name"],
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("projections.customersummary",),
        ),
        migrations.CreateModel(
            name="Order",
            fields=[],
            options={
                "verbose_name": "order",
                "ordering": ["-created_at"],
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("projections.ordersummary",),
        ),
        migrations.CreateModel(
            name="Product",
            fields=[],
            options={
                "verbose_name": "product",
                "ordering": ["sku"],
                "proxy": True,
                "default_permissions": ("view",),
                "indexes": [],
                "constraints": [],
            },
            bases=("projections.productstock",),
        ),
    ]
