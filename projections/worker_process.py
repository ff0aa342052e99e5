"""A Celery worker in a process of its own, on the current database: for the tests that
need a real worker and for the lag benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


def wait_until(condition: Callable[[], T], *, timeout: float = 30.0, what: str = "the condition") -> T:
    """Poll ``condition`` until it returns something truthy, for at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.005)
    return value


def forget_queue(broker_url: str, queue: str) -> None:
    """Remove a throwaway queue from a Redis broker: kombu keeps its messages under its
    name, its bindings under ``_kombu.binding*.<queue>``, and the messages a killed worker
    had taken in ``unacked`` as [message, exchange, queue] (to put back one day)."""
    client = redis.Redis.from_url(broker_url)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    for tag, entry in client.hgetall("unacked").items():
        if json.loads(entry)[2] == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def database_environment() -> dict[str, str]:
    """The settings' environment variables naming the database this process is using."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return {"DATABASE_URL": "", "SQLITE_PATH": str(db["NAME"])}
    login = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return {"DATABASE_URL": f"postgres://{login}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}


class WorkerProcess:
    """``celery -A config worker`` (solo pool: the task runs in the process that is killed)."""

    def __init__(self, *, broker_url: str, queue: str, log: Path, **environment: str) -> None:
        self.log = log
        # A worker connects as the app role only: the owner's credentials stay out of it.
        env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DATABASE_OWNER_URL")}
        env |= {
            **database_environment(),
            "REDIS_URL": broker_url,
            "CELERY_QUEUE": queue,
            "PYTHONUNBUFFERED": "1",
            "PROJECTIONS_SUBSCRIBERS": ",".join(settings.PROJECTIONS_SUBSCRIBERS),  # the same as this process
            **environment,
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "-n",
            f"{log.stem}@%h",
            "-l",
            "info",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_until(lambda: " ready." in self.output() or self.process.poll() is not None, timeout=60, what="the worker")
        if self.process.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{self.output()}")

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
