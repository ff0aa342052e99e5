"""The restore drill: from the exported log alone into a new database, nothing lost."""

import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from eventstore import store
from eventstore.records import NewEvent
from tests.projections.support import catch_up_all
from tests.restore_probe import read_models_json
from tests.support import META, new_stream, owner_conninfo, run_threads, separate_owner

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


def interleaved_writers() -> list[str]:
    """Events whose feed order differs from their position order: one transaction appends,
    another appends and commits, then the first appends again and commits. Their ids in
    feed order (the first transaction's two, then the other's)."""
    first, second = new_stream(), new_stream()
    written, resume = threading.Event(), threading.Event()
    ids = [uuid.uuid4() for _ in range(3)]

    def holder(_):
        with transaction.atomic():
            store.append(
                "audit", first, [NewEvent("Noted", {"n": 1}, event_id=ids[0])], expected_version=0, metadata=META
            )
            written.set()
            assert resume.wait(30)
            store.append(
                "audit", first, [NewEvent("Noted", {"n": 3}, event_id=ids[2])], expected_version=1, metadata=META
            )

    thread = threading.Thread(target=run_threads, args=(holder, 1))
    thread.start()
    assert written.wait(30)
    store.append("audit", second, [NewEvent("Noted", {"n": 2}, event_id=ids[1])], expected_version=0, metadata=META)
    resume.set()
    thread.join(30)
    positions = {e.event_id: e.position for e in store.read_stream(first) + store.read_stream(second)}
    assert positions[ids[0]] < positions[ids[1]] < positions[ids[2]]
    return [str(ids[0]), str(ids[2]), str(ids[1])]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    interleaved = interleaved_writers()
    catch_up_all()
    original = json.loads(read_models_json())
    original_feed = [str(event.event_id) for event, _ in store.iter_feed()]
    assert [e for e in original_feed if e in interleaved] == interleaved  # feed order, not position order
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
    again = tmp_path / "again.jsonl"
    again.write_text(manage(env, "manage.py", "export_events"))
    assert digest(again) == digest(dump)  # events, leaves, seals and their order: the same file
    probe = json.loads(manage(env, "-m", "tests.restore_probe"))

    assert probe["read_models"] == original  # every read model, row for row
    assert probe["feed"] == original_feed  # the same events in the same order
    assert probe["before"] == exported and probe["prefix_kept"]
    assert probe["after"] == [probe["new"]]  # the new command comes after every imported event
