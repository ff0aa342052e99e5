"""DRF's ``authtoken_token`` table, emptied by 0004, is dropped, with its content types
(and so its permissions and any group's grants of them): nothing reads it since
``rest_framework.authtoken`` left INSTALLED_APPS. A row that reached the table after 0004
ran is moved to a digest first, as 0004 moves them. Migrating back leaves it dropped."""

import importlib

from django.db import migrations

DRF_TABLE = "authtoken_token"


def drop_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE in connection.introspection.table_names():
        importlib.import_module("orders.migrations.0004_api_token").move_drf_tokens(apps, schema_editor)
        schema_editor.execute(f"DROP TABLE {DRF_TABLE}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(connection.alias).filter(app_label="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0004_api_token"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(drop_drf_tokens, migrations.RunPython.noop)]
