"""The restore drill: from the exported log alone into a new database, nothing lost."""

import io
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from tests.projections.support import catch_up_all
from tests.restore_probe import read_models_json
from tests.support import owner_conninfo, separate_owner

pytestmark = [
    pytest.mark.postgres(reason="the drill restores into a new PostgreSQL database"),
    pytest.mark.django_db(transaction=True),
    pytest.mark.fulfilment,
]
ROOT = Path(__file__).resolve().parent.parent


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def new_database():
    """An empty database on the same server, created by the owner and dropped afterwards;
    the environment of a release (the owner's URL beside the app's)."""
    params, owner = connection.settings_dict, owner_conninfo()
    name = f"chronicle_restore_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(**{**owner, "dbname": "postgres"}, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{params['USER']}@{params['HOST']}:{params['PORT']}/{name}",
        "DATABASE_OWNER_URL": f"postgres://{owner['user']}@{params['HOST']}:{params['PORT']}/{name}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    try:
        yield env
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_seed_export_import_rebuild_verify_and_carry_on(tmp_path, new_database):
    call_command(
        "seed_demo",
        "--customers",
        "6",
        "--products",
        "5",
        "--orders",
        "40",
        "--days",
        "7",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    catch_up_all()
    original = json.loads(read_models_json())
    dump = tmp_path / "events.jsonl"
    with dump.open("w") as out:
        call_command("export_events", stdout=out, stderr=io.StringIO())
    exported = sum(1 for line in dump.read_text().splitlines() if '"stream_id"' in line)

    env = new_database
    manage(env, "manage.py", "migrate", "--database", "owner", "--noinput")  # the release step, as the owner
    if separate_owner():
        manage(env, "manage.py", "setup_database_roles")
    # From here on, the app role: the import, the rebuild, the check, a new command.
    assert f"Restored {exported} events" in manage(env, "manage.py", "import_events", str(dump))
    manage(env, "manage.py", "rebuild_projections", "--all")
    assert manage(env, "manage.py", "verify_events").startswith(f"OK: {exported} events")
    probe = json.loads(manage(env, "-m", "tests.restore_probe"))

    assert probe["read_models"] == original  # every read model, row for row
    assert probe["before"] == exported and probe["prefix_kept"]
    assert probe["after"] == [probe["new"]]  # the new command comes after every imported event
