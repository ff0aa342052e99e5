"""Run the whole stack under load for a bounded time and print its figures."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orders.loadtest.stack import Run, StackError, run


def _interrupt(signum: int, frame: Any) -> None:
    """SIGTERM stops the run as Ctrl-C does: everything started is stopped, the database dropped."""
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = (
        "On a throwaway PostgreSQL database (created and migrated as the owner, used as the app role), "
        "seed a shop, start gunicorn (2 workers x 4 threads), 2 Celery workers and beat on 127.0.0.1, "
        "run Locust headless against them for --duration seconds (80 %% queries, 20 %% commands), "
        "print throughput, latency by request type, answers by status, version conflicts and "
        "projection lag, then stop everything and drop the database. Needs DATABASE_URL, REDIS_URL "
        "and Locust (requirements-load.txt); `make loadtest` installs it. Exits 1 on any error."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
        parser.add_argument("--users", type=int, default=20, help="simulated API clients (default 20)")
        parser.add_argument("--spawn-rate", type=float, default=10, help="users started per second (default 10)")
        parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (kept anyway on errors)")
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="also print the figures as JSON, on the last line"
        )

    def _progress(self, line: str) -> None:
        self.stderr.write(f"[loadtest {time.strftime('%H:%M:%S')}] {line}")

    def handle(
        self, *args: Any, duration: int, users: int, spawn_rate: float, keep_logs: bool, as_json: bool, **options: Any
    ) -> None:
        if not 1 <= duration <= 3600:
            raise CommandError("--duration must be between 1 and 3600 seconds")
        if not 1 <= users <= 1000:
            raise CommandError("--users must be between 1 and 1000")
        if spawn_rate <= 0:
            raise CommandError("--spawn-rate must be above 0")
        signal.signal(signal.SIGTERM, _interrupt)
        spec = Run(duration, users, spawn_rate, progress=self._progress, keep_logs=keep_logs)
        try:
            report, logs = run(spec)
        except StackError as error:
            raise CommandError(str(error)) from None
        except KeyboardInterrupt:
            raise CommandError("interrupted: what it started is stopped and its database dropped") from None
        self.stdout.write("\n".join(report.lines()))
        if as_json:
            self.stdout.write(json.dumps(report.as_json()))
        if report.error_count:
            raise CommandError(f"{report.error_count} error(s): see the logs in {logs}")
