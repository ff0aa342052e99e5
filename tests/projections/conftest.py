"""Fixtures for the tests that need real worker processes and a real broker."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis

from projections import gate, wakeup
from projections.worker_process import WorkerProcess, forget_queue


@pytest.fixture
def queue(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A queue of this test's own: wake-ups published here reach only its workers. It is
    removed from Redis afterwards, with its wake-up gate."""
    name = f"chronicle-test-{uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    monkeypatch.setattr(wakeup, "_broker_down_until", 0.0)  # no back-off left by an earlier test
    yield name
    if os.environ.get("REDIS_URL"):
        forget_queue(os.environ["REDIS_URL"], name)
        redis.Redis.from_url(os.environ["REDIS_URL"]).delete(gate.gate_key())


@pytest.fixture
def start_worker(transactional_db: None, queue: str, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start ``celery worker`` processes on the test database and this test's queue; they
    are stopped before the database is emptied."""
    workers: list[WorkerProcess] = []

    def start(*, broker_url: str | None = None, ready: bool = True, **environment: str) -> WorkerProcess:
        url = broker_url or os.environ["REDIS_URL"]
        worker = WorkerProcess(broker_url=url, queue=queue, log=tmp_path / f"worker-{len(workers)}.log", **environment)
        workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    yield start
    for worker in workers:
        worker.stop()
