"""Queries from a real streaming replica, over HTTP.

The module starts a PostgreSQL primary and a streaming replica of its own (the machine's
server accepts no replication connections), runs the release step against them as the owner
and gunicorn and a Celery worker as the app role, as production would. It cannot use the
test database: the test runner mirrors the ``replica`` alias onto the default one, so
nothing in this process could ever lag. Pausing the replica's replay
(``pg_wal_replay_pause()``) makes it lag on demand.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from projections.worker_process import WorkerProcess, forget_queue, wait_until
from tests.projections.processes import free_port

pytestmark = [
    pytest.mark.postgres(reason="it starts a PostgreSQL primary and a streaming replica"),
    pytest.mark.timeout(90),
]

ROOT = Path(__file__).resolve().parent.parent
# How long a query with ?min_position= waits for the replica here (the web's setting).
MIN_POSITION_WAIT = 3.0
HBA = """\
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
"""
# A throwaway pair: nothing needs to survive a crash.
SERVER_SETTINGS = """
listen_addresses = '127.0.0.1'
unix_socket_directories = '{sockets}'
fsync = off
full_page_writes = off
synchronous_commit = off
"""
# What the module sets for its processes itself, never inherited from the suite's run.
OWN_VARIABLES = (
    "DATABASE_URL",
    "DATABASE_OWNER_URL",
    "REPLICA_DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "TEST_DATABASE_NAME",
    "PROJECTIONS_SUBSCRIBERS",
)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory that can make a base backup."""
    found = [path for path in Path("/usr/lib/postgresql").glob("*/bin") if (path / "pg_basebackup").exists()]
    return max(found, key=lambda path: int(path.parent.name), default=None)


def missing_prerequisite() -> str | None:
    if os.geteuid() != 0:
        return "it runs initdb and pg_ctl as the postgres system user through runuser: run as root, as .ci/run does"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "there is no postgres system user to run the pair"
    if shutil.which("runuser") is None:
        return "runuser is not installed"
    if server_binaries() is None:
        return "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    if not os.environ.get("REDIS_URL"):
        return "the Celery worker needs Redis: set REDIS_URL"
    return None


class Pair:
    """A primary and its streaming replica on free ports, in a directory the postgres user
    owns; ``stop`` leaves nothing running."""

    def __init__(self, directory: Path, binaries: Path) -> None:
        self.directory, self.binaries = directory, binaries
        self.primary_port, self.replica_port = free_port(), free_port()
        self.running: list[Path] = []

    def start(self) -> None:
        primary, replica = self.directory / "primary", self.directory / "replica"
        self._run("initdb", "-D", primary, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        (primary / "pg_hba.conf").write_text(HBA)
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_SETTINGS.format(sockets=self.directory))
        self._start(primary, self.primary_port)
        self._run(
            "pg_basebackup",
            *("-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"),
            *("-D", replica, "-R", "-X", "stream", "-c", "fast"),
        )
        self._start(replica, self.replica_port)

    def stop(self) -> None:
        for data in reversed(self.running):
            self._run("pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        self.running = []

    def url(self, role: str, *, replica: bool = False) -> str:
        return f"postgres://{role}@127.0.0.1:{self.replica_port if replica else self.primary_port}/chronicle"

    def connect(self, *, replica: bool = False, dbname: str = "chronicle") -> psycopg.Connection[Any]:
        """A superuser's session, for what no app may do: pause replay, look underneath."""
        port = self.replica_port if replica else self.primary_port
        return psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname, autocommit=True)

    def _start(self, data: Path, port: int) -> None:
        self.running.append(data)
        self._run("pg_ctl", "-D", data, "-l", data.with_suffix(".log"), "-w", "-t", "30", "-o", f"-p {port}", "start")

    def _run(self, program: str, *args: str | Path, check: bool = True) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.binaries / program), *map(str, args)]
        done = subprocess.run(command, cwd=self.directory, capture_output=True, text=True, timeout=40)
        if check and done.returncode != 0:
            raise RuntimeError(f"{program} failed:\n{done.stdout}{done.stderr}")


@dataclass
class Stack:
    """The web's base URL, a superuser's API token and admin password, and superuser
    sessions on the primary and on the replica."""

    web: str
    token: str
    admin_password: str
    primary: psycopg.Connection[Any]
    replica: psycopg.Connection[Any]


def environment(pair: Pair, queue: str, **extra: str) -> dict[str, str]:
    """Production's configuration, pointed at the pair: the app role on the primary, the
    replica for queries, the suite's Redis with a queue of the module's own."""
    inherited = {name: value for name, value in os.environ.items() if name not in OWN_VARIABLES}
    return inherited | {
        "DATABASE_URL": pair.url("chronicle_app"),
        "REPLICA_DATABASE_URL": pair.url("chronicle_app", replica=True),
        "CELERY_QUEUE": queue,
        "PROJECTIONS_SUBSCRIBERS": "",  # unset: every subscriber, as in production
        "PYTHONUNBUFFERED": "1",
        # The rate limit counts per user id in the suite's Redis, where the suite's other
        # databases have users with the same ids: not what this module is about.
        "API_THROTTLE_RATE": "1000000/minute",
        **extra,
    }


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def release(pair: Pair, env: dict[str, str]) -> None:
    """``make release`` on a database the owner owns: migrate as the owner, then the app
    role and its grants (``setup_database_roles``), as README "Two database roles" says."""
    with pair.connect(dbname="postgres") as server:
        server.execute("CREATE ROLE chronicle_owner LOGIN CREATEROLE")
        server.execute("CREATE DATABASE chronicle OWNER chronicle_owner")
    owner = {**env, "DATABASE_OWNER_URL": pair.url("chronicle_owner")}
    manage(owner, "migrate", "--database", "owner", "--noinput")
    manage(owner, "setup_database_roles")


def staff_member(env: dict[str, str]) -> tuple[str, str]:
    """A superuser's password and API token, made as ``make run`` and the README do."""
    made = manage(
        env,
        "shell",
        "-c",
        "from django.core.management import call_command as run;"
        "run('ensure_admin', username='boss'); run('create_api_token', 'boss')",
    )
    password = re.search(r"password: (\S+)", made).group(1)
    return password, made.strip().splitlines()[-1]


@contextmanager
def web_server(env: dict[str, str], log: Path) -> Iterator[Callable[[], str]]:
    """gunicorn as ``make web`` runs it (one worker is enough); yields what waits until it
    serves and answers its base URL. Stopped without grace: nothing it does needs to finish."""
    port = free_port()
    # gunicorn.conf.py empties the metrics directory on start: one of the module's own.
    metrics = log.parent / "metrics"
    settings = {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py", "--no-control-socket"]
    with log.open("ab") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env | settings, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def serving() -> str:
        wait_until(lambda: server.poll() is not None or answers(f"{url}/healthz"), timeout=30, what="gunicorn")
        assert server.poll() is None, log.read_text(errors="replace")
        return url

    try:
        yield serving
    finally:
        server.send_signal(signal.SIGQUIT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    if reason := missing_prerequisite():
        pytest.skip(reason)
    directory = Path(tempfile.mkdtemp(prefix="chronicle-replica-"))
    postgres = pwd.getpwnam("postgres")
    os.chown(directory, postgres.pw_uid, postgres.pw_gid)
    pair = Pair(directory, server_binaries())
    queue = f"chronicle-replica-{uuid.uuid4().hex[:8]}"
    broker = os.environ["REDIS_URL"]
    worker = None
    try:
        pair.start()
        env = environment(pair, queue, API_MIN_POSITION_WAIT_SECONDS=str(MIN_POSITION_WAIT))
        release(pair, env)
        worker = WorkerProcess(broker_url=broker, queue=queue, log=directory / "worker.log", **env)
        with web_server(env, directory / "web.log") as starting, pair.connect() as primary:
            password, token = staff_member(env)  # while the web and the worker start
            with pair.connect(replica=True) as replica:
                web = starting()
                worker.wait_ready()
                yield Stack(web, token, password, primary, replica)
    finally:
        if worker is not None:
            worker.stop()
        pair.stop()
        forget_queue(broker, queue)
        shutil.rmtree(directory, ignore_errors=True)


# --- Talking to the stack -----------------------------------------------------------------


def api(stack: Stack, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Token {stack.token}"}
    return requests.request(method, f"{stack.web}/api/v1/{path}", headers=headers, timeout=30, **kwargs)


def create_product(stack: Stack, price: str) -> tuple[str, str, int]:
    """A new product, once the replica shows it: (id, SKU, position)."""
    sku = f"R-{uuid.uuid4().hex[:8]}"
    created = api(
        stack, "POST", "products/", json={"sku": sku, "name": "Replicated", "price": price, "currency": "EUR"}
    )
    assert created.status_code == 201, created.text
    pid, position = created.json()["id"], created.json()["position"]
    assert product(stack, pid, min_position=position) == (price, position)
    return pid, sku, position


def change_price(stack: Stack, pid: str, price: str) -> int:
    changed = api(stack, "POST", f"products/{pid}/change-price/", json={"price": price})
    assert changed.status_code == 200, changed.text
    return changed.json()["position"]


def product(stack: Stack, pid: str, **params: Any) -> tuple[str, int]:
    """The product's price as the API answers it, and the X-Chronicle-Position."""
    answer = api(stack, "GET", f"products/{pid}/", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["price"], int(answer.headers["X-Chronicle-Position"])


def listed_price(stack: Stack, pid: str) -> tuple[str, int]:
    answer = api(stack, "GET", "products/", params={"limit": 500})
    assert answer.status_code == 200, answer.text
    [price] = [row["price"] for row in answer.json()["results"] if row["id"] == pid]
    return price, int(answer.headers["X-Chronicle-Position"])


def projected_on_the_primary(stack: Stack, pid: str, price: str) -> None:
    """Wait until the worker has projected the price on the primary: from then on, a query
    that does not show it read somewhere else."""
    query = "SELECT price FROM projection_stock WHERE id = %s"
    wait_until(
        lambda: (row := stack.primary.execute(query, [pid]).fetchone()) and row[0] == Decimal(price),
        timeout=20,
        what=f"the primary's read model to show {price}",
    )


def event_type_at(connection: psycopg.Connection[Any], position: int) -> str | None:
    row = connection.execute("SELECT event_type FROM chronicle_event WHERE position = %s", [position]).fetchone()
    return row[0] if row else None


@contextmanager
def replica_lagging(stack: Stack) -> Iterator[None]:
    """The replica receives WAL but replays none of it until the block ends."""
    stack.replica.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        stack.replica.execute("SELECT pg_wal_replay_resume()")


# --- The tests ----------------------------------------------------------------------------


def test_commands_write_to_the_primary_and_queries_read_the_replica(stack):
    assert stack.replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]
    assert stack.primary.execute("SELECT state FROM pg_stat_replication").fetchall() == [("streaming",)]
    ready = requests.get(f"{stack.web}/readyz", timeout=30).json()
    assert (ready["status"], ready["log_privileges"]) == ("ok", "insert-only")  # the web is the app role
    pid, _, created = create_product(stack, "1.50")

    with replica_lagging(stack):
        changed = change_price(stack, pid, "2.25")
        assert event_type_at(stack.primary, changed) == "ProductPriceChanged"
        assert event_type_at(stack.replica, changed) is None
        projected_on_the_primary(stack, pid, "2.25")

        # The replica's own checkpoint, at the creation, not the primary's, past the change.
        assert product(stack, pid) == ("1.50", created)
        assert listed_price(stack, pid) == ("1.50", created)

    assert product(stack, pid, min_position=changed) == ("2.25", changed)
    assert listed_price(stack, pid) == ("2.25", changed)


def test_min_position_waits_for_the_replica_to_replay(stack):
    pid, _, _ = create_product(stack, "3.00")
    answered: dict[str, Any] = {}

    def ask(position: int) -> None:
        answered["answer"] = product(stack, pid, min_position=position)
        answered["at"] = time.monotonic()

    with replica_lagging(stack):
        changed = change_price(stack, pid, "3.50")
        projected_on_the_primary(stack, pid, "3.50")
        asking = threading.Thread(target=ask, args=[changed])
        asking.start()
        asking.join(MIN_POSITION_WAIT / 3)
        assert asking.is_alive(), answered
        resumed = time.monotonic()
    asking.join(MIN_POSITION_WAIT + 10)

    assert answered["answer"] == ("3.50", changed)
    assert answered["at"] >= resumed


def test_a_wait_for_a_paused_replica_runs_out_with_the_lower_position_then_succeeds(stack):
    pid, _, created = create_product(stack, "4.00")

    with replica_lagging(stack):
        changed = change_price(stack, pid, "4.50")
        projected_on_the_primary(stack, pid, "4.50")
        started = time.monotonic()
        assert product(stack, pid, min_position=changed) == ("4.00", created)
        assert time.monotonic() - started >= MIN_POSITION_WAIT

    assert product(stack, pid, min_position=changed) == ("4.50", changed)


def test_the_admin_shows_a_commands_result_while_the_replica_lags(stack):
    pid, sku, _ = create_product(stack, "5.00")
    listing = f"{stack.web}/admin/orders/product/"

    with admin_session(stack) as staff:
        with replica_lagging(stack):
            page = issue_in_admin(staff, f"{stack.web}/admin/orders/product/{pid}/change-price/", price="5.75")
            assert "Still updating" not in page.text
            assert "Version 2 ·" in page.text
            assert "5.75 EUR" in staff.get(listing, params={"q": sku}).text
            assert product(stack, pid)[0] == "5.00"  # without the session: the lagging replica

        assert product(stack, pid, min_position=change_price(stack, pid, "5.80"))[0] == "5.80"
        assert "5.80 EUR" in staff.get(listing, params={"q": sku}).text  # the replica has caught up

        # Caught up, the session reads the replica again: a change it did not make waits there.
        with replica_lagging(stack):
            change_price(stack, pid, "6.00")
            projected_on_the_primary(stack, pid, "6.00")
            assert "5.80 EUR" in staff.get(listing, params={"q": sku}).text


@contextmanager
def admin_session(stack: Stack) -> Iterator[requests.Session]:
    with requests.Session() as staff:
        log_in(stack, staff)
        yield staff


def log_in(stack: Stack, staff: requests.Session) -> None:
    login = f"{stack.web}/admin/login/"
    form = {"csrfmiddlewaretoken": csrf_token(staff.get(login).text), "username": "boss"}
    done = staff.post(f"{login}?next=/admin/", data={**form, "password": stack.admin_password})
    assert done.url == f"{stack.web}/admin/", done.text[-2000:]


def issue_in_admin(staff: requests.Session, url: str, **fields: str) -> requests.Response:
    """Open the command's form, submit it with its hidden fields, follow to the entity page."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', staff.get(url).text))
    posted = staff.post(url, data={**hidden, **fields}, allow_redirects=False)
    assert posted.status_code == 302, posted.text[-2000:]
    assert "?after=" in posted.headers["Location"]
    page = staff.get(f"{url.split('/admin/')[0]}{posted.headers['Location']}")
    assert page.status_code == 200
    return page


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
