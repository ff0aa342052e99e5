"""The domain's events in the event store's codec (``eventstore.serialization.registry``).

The domain stays plain Python: each event only declares its ``EVENT_TYPE`` and
``SCHEMA_VERSION``, and the write side, which knows both the domain and the store, registers
them here. ``OrdersConfig.ready()`` calls this, so every process that sets Django up (web,
workers, management commands, tests) can encode and decode them before it touches the log,
including the read side, which decodes events it does not register itself.
"""

from __future__ import annotations

from eventstore.serialization import registry

from .domain import ALL_EVENTS


def register_events() -> None:
    for event_class in ALL_EVENTS:
        registry.register(event_class, name=event_class.EVENT_TYPE, version=event_class.SCHEMA_VERSION)
