"""Measure Chronicle's hot paths on a throwaway database of the configured engine."""

from __future__ import annotations

import json
import os
import platform
import statistics
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.test import override_settings
from django.utils.module_loading import autodiscover_modules

from eventstore.benchmark import WORKLOADS, Skipped, log


class Command(BaseCommand):
    help = (
        "Create a throwaway database like the test runner does, migrate it, run each workload "
        "three times, drop it, and print the medians (one JSON object on the last line with --json)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--json", action="store_true", help="print only the JSON object")
        parser.add_argument("--runs", type=int, default=3)
        parser.add_argument("--only", nargs="+", metavar="WORKLOAD", help="run only these workloads")
        parser.add_argument(
            "--interleave",
            action="store_true",
            help="run the workloads round-robin (A B A B A B) rather than each in turn, so drift "
            "on a shared machine falls on all of them alike",
        )

    def handle(
        self, *args: Any, json: bool, runs: int, only: list[str] | None, interleave: bool, **options: Any
    ) -> None:
        autodiscover_modules("benchmarks")
        unknown = sorted(set(only or []) - set(WORKLOADS))
        if unknown:
            raise CommandError(f"unknown workload {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
        if runs < 1:
            raise CommandError("--runs must be at least 1")
        selected = [name for name in WORKLOADS if not only or name in only]
        results = self._measure(selected, runs, interleave)
        if not json:
            width = max(map(len, results))
            for name, value in results.items():
                self.stdout.write(f"{name.ljust(width)}  {value}")
        self.stdout.write(_json_line(results))

    def _measure(self, selected: list[str], runs: int, interleave: bool) -> dict[str, Any]:
        connection = connections["default"]
        if "owner" in settings.DATABASES:
            # The throwaway database is the owner's to create, fill and drop; the run uses it
            # as the owner (a role's privileges cost nothing measurable).
            from django.db.backends.postgresql.base import DatabaseWrapper as PostgreSQLWrapper

            assert isinstance(connection, PostgreSQLWrapper), "an owner alias is PostgreSQL's"
            connection.close()
            connection.close_pool()
            owner = settings.DATABASES["owner"]
            connection.settings_dict.update(USER=owner["USER"], PASSWORD=owner["PASSWORD"])
        old_name = connection.settings_dict["NAME"]
        bench_name = f"chronicle_bench_{os.getpid()}"
        if connection.vendor == "sqlite":
            bench_name = f"/tmp/{bench_name}.sqlite3"
        connection.settings_dict["TEST"] = {**connection.settings_dict.get("TEST", {}), "NAME": bench_name}
        log(f"creating {bench_name} on {connection.vendor}")
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        results: dict[str, Any] = {"engine": _engine(connection), "tasks": _tasks_mode()}
        try:
            state: dict[str, Any] = {}
            # The workloads measure what they name alone, with a broker or without: no sealing
            # and no projection wake-up after each commit (without a broker a wake-up would run
            # the projections inside the append). A workload that wants wake-ups (the lag) turns
            # them on for itself.
            with override_settings(SEAL_AFTER_COMMIT=False, PROJECTIONS_WAKE_ON_COMMIT=False):
                rounds = [selected] * runs if interleave else [[name] * runs for name in selected]
                values: dict[str, list[float]] = {}
                for names in rounds:
                    for name in names:
                        if name in results.get("skipped", {}):
                            continue
                        try:
                            values.setdefault(name, []).append(WORKLOADS[name](state))
                        except Skipped as reason:
                            log(f"{name} skipped: {reason}")
                            results.setdefault("skipped", {})[name] = str(reason)
                            continue
                        log(f"{name} run {len(values[name])}: {values[name][-1]:.3f}")
                for name in selected:
                    if name in values and name not in results.get("skipped", {}):
                        results[name] = round(statistics.median(values[name]), 3 if name.endswith("_ms") else 1)
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        results.update({"runs": runs, "python": platform.python_version(), "cpus": os.cpu_count()})
        return results


def _engine(connection: Any) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]}"


def _tasks_mode() -> str:
    """How Celery tasks run here: the lag workload needs a broker; the rest measure the same
    either way."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (no broker)"
    return f"broker {settings.CELERY_BROKER_URL.split('://', 1)[0]}"


def _json_line(results: dict[str, Any]) -> str:
    return json.dumps(results)
