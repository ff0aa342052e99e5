"""Run inside a restored database (``python -m tests.restore_probe``): print its read
models, and what happens to a new command there, as one JSON object."""

from __future__ import annotations

import json
import os
import sys
from uuid import uuid4

import django
from django.core.serializers.json import DjangoJSONEncoder


def read_models_json() -> str:
    from tests.projections.support import snapshot

    return json.dumps(snapshot(), cls=DjangoJSONEncoder, sort_keys=True)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from eventstore import store
    from orders import bus
    from orders.context import CommandContext
    from orders.domain import commands as c

    models = json.loads(read_models_json())
    feed = [event for event, _ in store.iter_feed()]
    before = [event.stream_id for event in feed]
    new = bus.dispatch(c.RegisterCustomer(uuid4(), "After Restore", "after@restore.example"), CommandContext.system())
    after = [event.stream_id for event, _ in store.iter_feed()]
    json.dump(
        {
            "read_models": models,
            "before": len(before),
            "feed": [str(event.event_id) for event in feed],
            "after": [str(s) for s in after[len(before) :]],
            "new": str(new.id),
            "prefix_kept": after[: len(before)] == before,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
