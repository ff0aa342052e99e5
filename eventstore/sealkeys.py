"""The Ed25519 keys that sign seals, and the public keyring that checks them.

A seal is signed with the current private key (``SEAL_SIGNING_KEY``) and names its key id
(``SEAL_SIGNING_KEY_ID``), so anyone holding the public keyring (``public_keyring()``,
printed by ``manage.py seal_key --public``) can check it without the app's secrets. The
public keys of retired keys (``SEAL_OLD_PUBLIC_KEYS``) keep seals made before a rotation
verifiable; a retired private key is needed nowhere. The private key never reaches the
database.

Without ``SEAL_SIGNING_KEY`` (development only: production refuses to start), the first
use generates a key into ``SEAL_KEY_FILE``, and every process using that file (web, Celery
workers, test threads) signs with the same key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .exceptions import UnknownSigningKey

log = logging.getLogger("chronicle.seals")


@dataclass(frozen=True)
class _Keys:
    key_id: str
    private: Ed25519PrivateKey
    public: dict[str, Ed25519PublicKey]  # by key id, the current key first


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def generate_key() -> tuple[str, str]:
    """A new key pair: (base64 private key, base64 public key). Stores nothing."""
    key = Ed25519PrivateKey.generate()
    return _b64(key.private_bytes_raw()), _b64(key.public_key().public_bytes_raw())


def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) that signs new seals."""
    keys = _current_keys()
    return keys.key_id, keys.private


def public_keyring() -> dict[str, str]:
    """Key id -> base64 raw public key: the current key first, then the retired ones."""
    return {key_id: _b64(key.public_bytes_raw()) for key_id, key in _current_keys().public.items()}


def published_keyring() -> dict[str, list[dict[str, str]]]:
    """The public keyring as auditors get it (``seal_key --public``, the API):
    ``{"keys": [{"key_id", "public_key"}]}``, the current key first."""
    return {"keys": [{"key_id": key_id, "public_key": key} for key_id, key in public_keyring().items()]}


def public_key(key_id: str) -> Ed25519PublicKey:
    try:
        return _current_keys().public[key_id]
    except KeyError:
        raise UnknownSigningKey(f"no seal key with id {key_id!r} is configured") from None


def sign(message: bytes) -> tuple[str, str]:
    """(key id, base64 signature) of ``message`` under the current key."""
    key_id, key = signing_key()
    return key_id, _b64(key.sign(message))


def verify_signature(key_id: str, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` signs ``message`` under the key ``key_id``; False for a
    malformed signature too. An id the keyring does not hold raises ``UnknownSigningKey``."""
    key = public_key(key_id)
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (ValueError, InvalidSignature):  # binascii.Error is a ValueError, as is non-ASCII text
        return False
    return True


def _current_keys() -> _Keys:
    """The keys the settings name now. Parsed once per combination of settings values, so a
    test that changes them gets keys that match."""
    return _keys(
        settings.SEAL_SIGNING_KEY,
        settings.SEAL_SIGNING_KEY_ID,
        tuple(settings.SEAL_OLD_PUBLIC_KEYS.items()),
        Path(settings.SEAL_KEY_FILE),
    )


@functools.lru_cache(maxsize=16)
def _keys(private_b64: str | None, key_id: str, old_public: tuple[tuple[str, str], ...], key_file: Path) -> _Keys:
    raw = base64.b64decode(private_b64) if private_b64 is not None else _development_key(key_file)
    private = Ed25519PrivateKey.from_private_bytes(raw)
    public = {key_id: private.public_key()}
    public.update((old_id, Ed25519PublicKey.from_public_bytes(base64.b64decode(b64))) for old_id, b64 in old_public)
    return _Keys(key_id, private, public)


def _development_key(path: Path) -> bytes:
    """The raw key in ``path``, generated there first if there is none yet.

    The file is written under a temporary name (``mkstemp``: O_CREAT|O_EXCL, mode 0600) and
    then hard-linked to ``path``, which fails if the path exists. So the key file appears
    whole or not at all, even if the process dies while writing, and when processes race
    to create it exactly one wins and the others read the winner's key.
    """
    try:
        return _read_key_file(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    private_b64, _ = generate_key()
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(private_b64 + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_key_file(path)
    finally:
        os.unlink(temporary)
    log.warning(
        "Generated a development seal signing key in %s. Production must set SEAL_SIGNING_KEY "
        "(python manage.py seal_key --generate).",
        path,
    )
    return base64.b64decode(private_b64)


def _read_key_file(path: Path) -> bytes:
    raw = path.read_bytes().strip()
    try:
        key = base64.b64decode(raw, validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 32:
        raise ImproperlyConfigured(
            f"{path} does not hold a seal signing key (base64 of 32 bytes); remove it to generate a new one"
        )
    return key
