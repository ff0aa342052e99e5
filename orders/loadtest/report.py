"""The load test's figures, from what Locust's users recorded and what the lag sampler saw.

Plain functions over plain data, so they are tested without Locust or a server.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

BY_DESIGN: Final = frozenset({409, 422})
VERSION_CONFLICT: Final = "version_conflict"


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class RequestType:
    name: str
    count: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Lag:
    """Seconds: the age of the oldest event a subscriber has still to handle, sampled."""

    samples: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Lag:
        return cls(len(seconds), percentile(seconds, 50), percentile(seconds, 95), max(seconds, default=0.0))


@dataclass(frozen=True)
class Report:
    # What ran where (versions, cores) and the machine's 1-minute load average before and after.
    setting: str
    load_average: tuple[float, float]
    seconds: float
    users: int
    requests: int
    queries: int
    types: list[RequestType]
    # "409 version_conflict" -> count, for the 409/422 the mix provokes, and for the rest.
    by_design: dict[str, int]
    errors: dict[str, int]
    version_conflicts: int
    hot_writes: int
    # The read models (every projection's worst, per sample) and each subscriber alone.
    projection_lag: Lag
    subscriber_lag: dict[str, Lag]
    caught_up_seconds: float | None
    failed_subscribers: list[str] = field(default_factory=list)
    # CPU seconds during the load by part of the stack, and the machine's (see orders.loadtest.cpu).
    cpu: dict[str, float] | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values()) + len(self.failed_subscribers)

    def as_json(self) -> dict[str, Any]:
        return {
            "setting": self.setting,
            "load_average": [round(load, 2) for load in self.load_average],
            "seconds": round(self.seconds, 1),
            "users": self.users,
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "queries_share": round(self.queries / self.requests, 3) if self.requests else 0.0,
            "latency_ms": {
                t.name: {
                    "count": t.count,
                    "p50": round(t.p50_ms, 1),
                    "p95": round(t.p95_ms, 1),
                    "p99": round(t.p99_ms, 1),
                }
                for t in self.types
            },
            "by_design": self.by_design,
            "errors": self.errors,
            "version_conflicts": self.version_conflicts,
            "projection_lag_p95_ms": round(self.projection_lag.p95 * 1000),
            "caught_up_seconds": None if self.caught_up_seconds is None else round(self.caught_up_seconds, 1),
            "failed_subscribers": self.failed_subscribers,
            "cpu_seconds": {part: round(seconds, 1) for part, seconds in (self.cpu or {}).items()},
        }

    def lines(self) -> list[str]:
        share = 100 * self.queries / self.requests if self.requests else 0.0
        lines = [
            self.setting,
            f"load average (1 min) {self.load_average[0]:.1f} at the start, {self.load_average[1]:.1f} at the end",
            f"{self.requests:,} requests in {self.seconds:.1f} s from {self.users} users: {self.rps:.1f} requests/s "
            f"({share:.1f} % queries, {100 - share:.1f} % commands)",
            "",
            f"{'request type':<36}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}",
            *(
                f"{t.name:<36}{t.count:>8,}{t.rps:>8.1f}{t.p50_ms:>9.0f}{t.p95_ms:>9.0f}{t.p99_ms:>9.0f}"
                for t in self.types
            ),
            "",
            f"answers provoked by design (409, 422): {_counts(self.by_design)}",
            f"errors (any other answer not 2xx): {_counts(self.errors)}",
            f"version conflicts: {self.version_conflicts:,} (of {self.hot_writes:,} changes to the shared hot orders)",
            f"projection lag (age of the oldest event a projection has still to handle, {self.projection_lag.samples} "
            f"samples): p50 {_ms(self.projection_lag.p50)}, p95 {_ms(self.projection_lag.p95)}, "
            f"max {_ms(self.projection_lag.max)}",
            *(
                f"  {name:<34}p50 {_ms(lag.p50)}, p95 {_ms(lag.p95)}, max {_ms(lag.max)}"
                for name, lag in self.subscriber_lag.items()
            ),
            "read models caught up "
            + (
                f"{self.caught_up_seconds:.1f} s after the load stopped"
                if self.caught_up_seconds is not None
                else "NOT within the wait after the load stopped"
            ),
        ]
        lines.append(_cpu_line(self.cpu))
        if self.failed_subscribers:
            lines.append(f"FAILED subscribers: {', '.join(self.failed_subscribers)}")
        return lines


def _cpu_line(cpu: dict[str, float] | None) -> str:
    if cpu is None:
        return "CPU: not measured (no /proc here)"
    parts = ", ".join(f"{part} {seconds:.1f}" for part, seconds in cpu.items() if part not in ("busy", "total"))
    return (
        f"CPU seconds while Locust ran ({cpu['total']:.1f} on all cores): {parts}; "
        f"the machine was busy {cpu['busy']:.1f} (any other work on it included)"
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def _counts(counts: dict[str, Any]) -> str:
    return (
        ", ".join(f"{key}: {count:,}" if isinstance(count, int) else f"{key}: {count}" for key, count in counts.items())
        or "none"
    )


def build(
    outcomes: dict[str, Any],
    *,
    setting: str,
    load_average: tuple[float, float],
    cpu: dict[str, float] | None,
    users: int,
    lag_samples: list[tuple[float, dict[str, float]]],
    projections: list[str],
    caught_up_seconds: float | None,
    failed_subscribers: list[str],
) -> Report:
    """The report from the users' ``outcomes`` (see the locustfile's ``Outcomes.as_json``) and
    the sampler's readings, (time.time(), lag by subscriber) each, of which those taken
    while the load ran count (``projections`` name the read models' subscribers)."""
    seconds = outcomes["seconds"]
    during = [lags for at, lags in lag_samples if outcomes["started_at"] <= at <= outcomes["stopped_at"]]
    latencies: dict[str, list[float]] = outcomes["latencies_ms"]
    by_design: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    conflicts = 0
    for _name, status, code, count in outcomes["answers"]:
        label = f"{status} {code}".strip() if status else "no answer"
        if status in BY_DESIGN:
            by_design[label] += count
            conflicts += count if code == VERSION_CONFLICT else 0
        elif not 200 <= status < 300:
            errors[label] += count
    types = [
        RequestType(
            name,
            len(values),
            len(values) / seconds if seconds else 0.0,
            percentile(values, 50),
            percentile(values, 95),
            percentile(values, 99),
        )
        for name, values in sorted(latencies.items(), key=lambda item: (not item[0].startswith("GET"), item[0]))
    ]
    worst = [max(lags[name] for name in projections) for lags in during]
    return Report(
        setting=setting,
        load_average=load_average,
        cpu=cpu,
        seconds=seconds,
        users=users,
        requests=sum(t.count for t in types),
        queries=sum(t.count for t in types if t.name.startswith("GET")),
        types=types,
        by_design=dict(by_design.most_common()),
        errors=dict(errors.most_common()),
        version_conflicts=conflicts,
        hot_writes=len(latencies.get("POST orders/{id}/change-quantity/", [])),
        projection_lag=Lag.of(worst),
        subscriber_lag={name: Lag.of([lags[name] for lags in during]) for name in during[0]} if during else {},
        caught_up_seconds=caught_up_seconds,
        failed_subscribers=failed_subscribers,
    )
