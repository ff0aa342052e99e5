"""The back office's proxies (orders, products, customers) move from the ``backoffice``
app, which is gone, to ``orders``.

On a database that had the old app, its content types are renamed in place, so the view
permissions keep their ids and every grant to the Operators, the Auditors or a user
survives; the old app's migration records are removed. On a new database there is nothing
to rename.
"""

from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

OLD_APP = "backoffice"
PROXIES = ("order", "product", "customer")


def adopt_backoffice_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for model in PROXIES:
        if not ContentType.objects.using(db).filter(app_label="orders", model=model).exists():
            ContentType.objects.using(db).filter(app_label=OLD_APP, model=model).update(app_label="orders")
    MigrationRecorder(schema_editor.connection).migration_qs.filter(app=OLD_APP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_order_number_sequence"),
        ("projections", "0003_checkpoint_label"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(adopt_backoffice_content_types, migrations.RunPython.noop, elidable=False),
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
