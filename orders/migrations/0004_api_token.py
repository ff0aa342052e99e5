"""API tokens stored as SHA-256 digests (``orders.tokens``), and DRF's plain-text tokens
moved over.

Each row of DRF's ``authtoken_token``, where that table exists (it outlives
``rest_framework.authtoken`` leaving INSTALLED_APPS), becomes an ``ApiToken`` named
"migrated DRF token" with the digest of its key, so the integrator's header keeps working
for ``MIGRATED_DAYS`` after this migration runs; then the plain-text row is deleted. Read
with SQL: the app's models are gone. Migrating back drops the new table; the DRF secrets
cannot be given back.
"""

import hashlib
from datetime import timedelta

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from django.utils import timezone

MIGRATED_DAYS = 30
DRF_TABLE = "authtoken_token"


def move_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("orders", "ApiToken")
    moved = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {DRF_TABLE}")
        rows = cursor.fetchall()
        ApiToken.objects.using(connection.alias).bulk_create(
            ApiToken(
                user_id=user_id,
                name="migrated DRF token",
                prefix=key[:8],
                digest=hashlib.sha256(key.encode()).hexdigest(),
                created_at=moved,
                expires_at=moved + timedelta(days=MIGRATED_DAYS),
            )
            for key, user_id in rows
        )
        cursor.execute(f"DELETE FROM {DRF_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0003_backoffice_proxies"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(blank=True, max_length=100)),
                ("prefix", models.CharField(db_index=True, max_length=12)),
                ("digest", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField()),
                ("expires_at", models.DateTimeField()),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "API token",
                "db_table": "chronicle_api_token",
            },
        ),
        migrations.RunPython(move_drf_tokens, migrations.RunPython.noop),
    ]
