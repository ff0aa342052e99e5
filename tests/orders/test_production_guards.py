"""make run's conveniences refuse a production database unless forced, and ensure_admin
never changes an existing user unasked."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from eventstore.models import Event

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def password_in(output: str) -> str:
    return output.rsplit("password: ", 1)[1].strip()


def test_ensure_admin_creates_a_superuser_and_prints_a_login_that_works(client):
    password = password_in(run("ensure_admin"))
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff
    assert client.login(username="admin", password=password)


def test_ensure_admin_leaves_an_existing_user_s_password_and_rights_alone():
    user = User.objects.create_user("shopkeeper", password="her own password")
    output = run("ensure_admin", "--username", "shopkeeper")
    user.refresh_from_db()
    assert user.check_password("her own password") and not user.is_superuser and not user.is_staff
    assert "password: " not in output and "unchanged" in output


def test_ensure_admin_resets_an_existing_user_only_when_asked(client):
    User.objects.create_user("admin", password="forgotten")
    password = password_in(run("ensure_admin", "--reset-password"))
    assert client.login(username="admin", password=password)
    assert User.objects.get(username="admin").is_superuser


@pytest.mark.parametrize(
    ("command", "args", "says"),
    [
        ("ensure_admin", (), "would create or reset a superuser"),
        ("ensure_admin", ("--reset-password",), "would create or reset a superuser"),
        ("seed_demo", ("--customers", "1", "--products", "1", "--orders", "1"), "would write demo"),
    ],
)
def test_on_a_production_database_they_refuse_without_force(settings, command, args, says):
    settings.DJANGO_ENV = "production"
    User.objects.create_user("admin", password="the real one")
    with pytest.raises(
        CommandError, match=rf"^DJANGO_ENV=production: {command} {says}.*; pass --force if you mean that$"
    ):
        run(command, *args)
    assert User.objects.get(username="admin").check_password("the real one")
    assert User.objects.count() == 1 and not Event.objects.exists()


def test_with_force_ensure_admin_runs_on_a_production_database(settings):
    settings.DJANGO_ENV = "production"
    assert "password: " in run("ensure_admin", "--username", "ops", "--force")
    assert User.objects.get(username="ops").is_superuser


@pytest.mark.django_db(transaction=True)
def test_with_force_seed_demo_runs_on_a_production_database(settings):
    settings.DJANGO_ENV = "production"
    assert "Seeded 1 customers, 1 products and 0 orders" in run(
        "seed_demo", "--customers", "1", "--products", "1", "--orders", "0", "--force"
    )
