"""Ids of the entities that creating commands make, and the idempotency keys that name a
request, the same from every edge (API, admin)."""

from __future__ import annotations

import re
from typing import Any, Final
from uuid import UUID, uuid4, uuid5

from .domain.commands import Command

# What an idempotency key may be: 1 to 255 visible ASCII characters (anchored, so the
# OpenAPI schema can state it as it is).
KEY_PATTERN: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
# Namespace of the ids derived from idempotency keys (see new_id).
NEW_IDS: Final = UUID("5d9f6c1e-8f0b-4f7e-9a55-0c6f2b7e4a31")


def new_id(user: Any, command: type[Command], key: str | None) -> UUID:
    """The id of the entity a creating command makes. With an idempotency key it is derived
    from (user, command, key), so a retry names the same new stream and carries the same
    fingerprint, and is recognised as a retry; without one it is simply new."""
    return uuid5(NEW_IDS, f"{user.pk}:{command.__name__}:{key}") if key else uuid4()
