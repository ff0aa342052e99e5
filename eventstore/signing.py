"""The HMAC that chains each stream's events and signs seals.

An event's hash is HMAC-SHA256, keyed with a secret from settings, over the canonical JSON
(see ``serialization.canonical_json``) of this object::

    {"data", "event_id", "event_type", "metadata", "occurred_at", "previous_hash",
     "schema_version", "stream_id", "stream_type", "version"}

``previous_hash`` is the hash of the event before it in its stream ("" for version 1), and
``occurred_at`` is written as ``format_datetime`` writes it. What the database assigns
(position, transaction id, recorded time) is not signed. Someone with only database access
cannot recompute a hash after changing a row, because the key never reaches the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings

from .exceptions import UnknownSigningKey


def _quote(text: str) -> str:
    """A JSON string; names, ids and timestamps need no escaping, which skips json.dumps."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return json.dumps(text, ensure_ascii=False)


def current_key() -> tuple[str, bytes]:
    """(key id, key) that signs new events and seals."""
    key_id = settings.EVENT_SIGNING_KEY_ID
    return key_id, settings.EVENT_SIGNING_KEYS[key_id].encode()


def key_for(key_id: str) -> bytes:
    try:
        return settings.EVENT_SIGNING_KEYS[key_id].encode()
    except KeyError:
        raise UnknownSigningKey(f"no signing key with id {key_id!r} is configured") from None


def event_hash(
    key: bytes,
    *,
    event_id: str,
    stream_type: str,
    stream_id: str,
    version: int,
    event_type: str,
    schema_version: int,
    data_json: str,
    metadata_json: str,
    occurred_at: str,
    previous_hash: str,
) -> str:
    """The chained hash. ``data_json`` and ``metadata_json`` are canonical JSON already, so
    the signed text is assembled around them rather than encoding the payload twice."""
    text = (
        f'{{"data":{data_json},"event_id":{_quote(event_id)},"event_type":{_quote(event_type)},'
        f'"metadata":{metadata_json},"occurred_at":{_quote(occurred_at)},'
        f'"previous_hash":{_quote(previous_hash)},"schema_version":{int(schema_version)},'
        f'"stream_id":{_quote(stream_id)},"stream_type":{_quote(stream_type)},"version":{int(version)}}}'
    )
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def sign_text(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
