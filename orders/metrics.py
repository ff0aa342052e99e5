"""The command bus's metrics for ``/metrics``, defined in the layer that records them.

prometheus_client registers a metric when it is defined, so this module (imported once per
process, by ``orders.bus``) is their only definition; ``config.metrics`` serves what the
default registry holds.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

COMMAND_SECONDS = Histogram(
    "chronicle_command_duration_seconds",
    "Time to handle a command, retries included",
    ["command", "outcome"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
VERSION_CONFLICTS = Counter("chronicle_version_conflicts", "Concurrency conflicts met by commands", ["command"])
IDEMPOTENT_REPLAYS = Counter(
    "chronicle_idempotent_replays", "Commands answered from an idempotency record", ["command"]
)
