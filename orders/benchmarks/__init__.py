"""``manage.py benchmark`` workloads that need more than the event store: the REST API's
(``api``) and the read side's (``read_side``), which write their histories with
``orders.history_builder`` and so live above ``projections``.

The command reports workloads in the order they register, and they share one benchmark
database: the read side's come last, so the API's run before its 100,000-event history.
"""

from . import api, read_side  # noqa: F401 - importing registers the workloads, in this order
