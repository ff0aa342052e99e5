"""Real processes for the wake-up tests: Celery workers, a Redis server of the test's own,
and pointing this process's Celery app at a broker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
from celery import current_app
from django.db import connection

from tests.projections.support import wait_until

ROOT = Path(__file__).resolve().parents[2]

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs Redis: set REDIS_URL (the embedded default has no broker)"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def current_database_url() -> str:
    """The URL of the database this test runs on, for processes the test starts."""
    db = connection.settings_dict
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def use_broker(url: str) -> Iterator[None]:
    """Publish from this process to the broker at ``url`` (no eager tasks) for the block.
    Celery keeps its connection pools; ``_after_fork`` is its own way to drop them."""
    conf = current_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = url, False
    current_app._after_fork()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        current_app._after_fork()


class RedisServer:
    """A throwaway redis-server on a port of its own, never the machine's shared one."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._answers, timeout=10, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as client:
                client.sendall(b"PING\r\n")
                return client.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class Worker:
    """``celery -A config worker`` in a process of its own, on the test's database."""

    def __init__(self, *, broker_url: str, queue: str, log: Path, **environment: str) -> None:
        self.log = log
        env = {key: value for key, value in os.environ.items() if key != "CELERY_BROKER_URL"}
        env |= {
            "DATABASE_URL": current_database_url(), "REDIS_URL": broker_url, "CELERY_QUEUE": queue,
            "PYTHONUNBUFFERED": "1", **environment,
        }  # fmt: skip
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--concurrency=1",
            "-Q", queue, "-n", f"{log.stem}@%h", "-l", "info", "--without-gossip", "--without-mingle",
            "--without-heartbeat",
        ]  # fmt: skip
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_until(lambda: " ready." in self.output() or self.process.poll() is not None, timeout=60, what="the worker")
        assert self.process.poll() is None, self.output()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
