"""The Ed25519 seal keys: signing, the public keyring, rotation, the development key file,
the settings that refuse to start, and ``manage.py seal_key``. No database needed."""

import base64
import io
import json
import logging
import stat
import threading

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from eventstore import sealkeys
from eventstore.exceptions import UnknownSigningKey
from tests.support import run_threads
from tests.test_settings import PRODUCTION, manage

MESSAGE = b"tree head: size 42, root 9f86d081"


@pytest.fixture
def current(settings):
    """A configured key, id k2, and no retired ones; returns its public key (base64)."""
    private, public = sealkeys.generate_key()
    settings.SEAL_SIGNING_KEY, settings.SEAL_SIGNING_KEY_ID = private, "k2"
    settings.SEAL_OLD_PUBLIC_KEYS = {}
    return public


@pytest.fixture
def key_file(settings, tmp_path):
    """No configured key: a development key file of the test's own, not there yet."""
    settings.SEAL_SIGNING_KEY, settings.SEAL_SIGNING_KEY_ID = None, "dev"
    settings.SEAL_KEY_FILE = tmp_path / "var" / "seal-signing-key"
    return settings.SEAL_KEY_FILE


def seal_warnings(caplog):
    return [r for r in caplog.records if r.name == "chronicle.seals" and r.levelno == logging.WARNING]


def test_a_signature_verifies_under_the_key_id_it_names(current):
    key_id, signature = sealkeys.sign(MESSAGE)
    assert key_id == "k2"
    assert len(base64.b64decode(signature)) == 64
    assert sealkeys.verify_signature(key_id, MESSAGE, signature)


def test_a_changed_message_or_signature_does_not_verify(current):
    key_id, signature = sealkeys.sign(MESSAGE)
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    assert not sealkeys.verify_signature(key_id, MESSAGE + b".", signature)
    assert not sealkeys.verify_signature(key_id, MESSAGE, base64.b64encode(raw).decode())
    assert not sealkeys.verify_signature(key_id, MESSAGE, signature[:-4])
    assert not sealkeys.verify_signature(key_id, MESSAGE, "not base64!")
    assert not sealkeys.verify_signature(key_id, MESSAGE, "signé")


def test_after_a_rotation_the_retired_public_key_still_verifies_old_signatures(settings, current):
    old_public = current
    key_id, signature = sealkeys.sign(MESSAGE)

    new_private, new_public = sealkeys.generate_key()
    settings.SEAL_SIGNING_KEY, settings.SEAL_SIGNING_KEY_ID = new_private, "k3"
    settings.SEAL_OLD_PUBLIC_KEYS = {"k2": old_public}

    assert sealkeys.verify_signature(key_id, MESSAGE, signature)
    assert sealkeys.sign(MESSAGE)[0] == "k3"
    assert sealkeys.public_keyring() == {"k3": new_public, "k2": old_public}
    assert list(sealkeys.public_keyring()) == ["k3", "k2"]

    settings.SEAL_OLD_PUBLIC_KEYS = {}
    with pytest.raises(UnknownSigningKey):
        sealkeys.verify_signature(key_id, MESSAGE, signature)


def test_the_public_half_matches_the_signing_key(current):
    key_id, private = sealkeys.signing_key()
    assert sealkeys.public_keyring() == {"k2": current}
    assert sealkeys.public_key(key_id).public_bytes_raw() == private.public_key().public_bytes_raw()


def test_an_unknown_key_id_is_refused(current):
    _, signature = sealkeys.sign(MESSAGE)
    with pytest.raises(UnknownSigningKey, match="'k9'"):
        sealkeys.verify_signature("k9", MESSAGE, signature)
    with pytest.raises(UnknownSigningKey):
        sealkeys.public_key("k9")


def test_development_generates_a_private_key_file_once_and_keeps_using_it(key_file, caplog):
    key_id, key = sealkeys.signing_key()
    assert key_id == "dev"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    written = key_file.read_text()
    assert base64.b64decode(written) == key.private_bytes_raw()
    [warning] = seal_warnings(caplog)
    assert str(key_file) in warning.getMessage() and "SEAL_SIGNING_KEY" in warning.getMessage()

    assert sealkeys.signing_key()[1].private_bytes_raw() == key.private_bytes_raw()
    assert key_file.read_text() == written
    assert len(seal_warnings(caplog)) == 1
    assert [p.name for p in key_file.parent.iterdir()] == ["seal-signing-key"]  # no temporary left


def test_development_uses_a_key_file_another_process_made(key_file, caplog):
    private, public = sealkeys.generate_key()
    key_file.parent.mkdir()
    key_file.write_text(private + "\n")
    assert sealkeys.public_keyring() == {"dev": public}
    assert seal_warnings(caplog) == []


def test_a_damaged_key_file_is_reported_not_replaced(key_file):
    key_file.parent.mkdir()
    key_file.write_text("half a key")
    with pytest.raises(ImproperlyConfigured, match="remove it to generate a new one"):
        sealkeys.signing_key()
    assert key_file.read_text() == "half a key"


def test_concurrent_first_uses_agree_on_one_key(key_file, monkeypatch, caplog):
    """Every thread finds no key file and generates a key of its own; exactly one of them
    gets to create the file, and all sign with the key in it."""
    threads = 8
    everyone_generated = threading.Barrier(threads)
    generate_key = sealkeys.generate_key

    def generate_together():
        key = generate_key()
        everyone_generated.wait(timeout=30)
        return key

    monkeypatch.setattr(sealkeys, "generate_key", generate_together)
    keys = run_threads(lambda _: sealkeys.signing_key()[1].private_bytes_raw(), threads)

    assert set(keys) == {base64.b64decode(key_file.read_text())}
    assert len(seal_warnings(caplog)) == 1
    assert [p.name for p in key_file.parent.iterdir()] == ["seal-signing-key"]


def without(name):
    return {k: v for k, v in PRODUCTION.items() if k != name}


@pytest.mark.parametrize(
    ("env", "error"),
    [
        (without("SEAL_SIGNING_KEY"), "SEAL_SIGNING_KEY must be set when DJANGO_ENV=production"),
        (without("SEAL_SIGNING_KEY_ID"), "SEAL_SIGNING_KEY_ID must be set when DJANGO_ENV=production"),
        (
            {**PRODUCTION, "SEAL_SIGNING_KEY": "c2hvcnQgYW5kIHNlY3JldA=="},
            "SEAL_SIGNING_KEY must be the base64 of a 32-byte Ed25519 key",
        ),
        ({"SEAL_SIGNING_KEY": "not base64 at all"}, "SEAL_SIGNING_KEY must be the base64 of a 32-byte Ed25519 key"),
    ],
    ids=["production-without-key", "production-without-key-id", "short-key", "not-base64"],
)
def test_a_missing_or_malformed_signing_key_refuses_to_start(env, error):
    result = manage("check", **env)
    assert result.returncode != 0
    assert error in result.stderr
    key = env.get("SEAL_SIGNING_KEY")
    assert key is None or key not in result.stderr  # a private key is never repeated


PUBLIC = sealkeys.generate_key()[1]


@pytest.mark.parametrize(
    ("old_keys", "error"),
    [
        (
            f"k1:{PUBLIC},k0",
            "SEAL_OLD_PUBLIC_KEYS entries must look like 'key_id:base64_public_key' (entry 2 does not)",
        ),
        (f":{PUBLIC}", "entry 1 does not"),
        ("k1:c2hvcnQ=", "SEAL_OLD_PUBLIC_KEYS entry 'k1' must be the base64 of a 32-byte Ed25519 key"),
        ("k1:not base64!", "SEAL_OLD_PUBLIC_KEYS entry 'k1' must be the base64"),
        (f"k1:{PUBLIC},k1:{PUBLIC}", "SEAL_OLD_PUBLIC_KEYS: key id 'k1' is taken"),
        (f"dev:{PUBLIC}", "SEAL_OLD_PUBLIC_KEYS: key id 'dev' is taken (by the current key or an earlier entry)"),
    ],
    ids=["no-colon", "no-id", "short", "not-base64", "twice", "current-id"],
)
def test_malformed_old_public_keys_refuse_to_start(old_keys, error):
    result = manage("check", SEAL_OLD_PUBLIC_KEYS=old_keys)
    assert result.returncode != 0
    assert error in result.stderr


def test_well_formed_old_public_keys_start():
    result = manage("check", SEAL_OLD_PUBLIC_KEYS=f"k1:{PUBLIC}, k0:{PUBLIC}")
    assert result.returncode == 0, result.stderr


def test_seal_key_public_prints_the_keyring_current_key_first(settings, current):
    settings.SEAL_OLD_PUBLIC_KEYS = {"k1": PUBLIC}
    out = io.StringIO()
    call_command("seal_key", "--public", stdout=out)
    assert json.loads(out.getvalue()) == {
        "keys": [{"key_id": "k2", "public_key": current}, {"key_id": "k1", "public_key": PUBLIC}]
    }


def test_seal_key_generate_prints_a_new_pair_and_touches_nothing(key_file):
    out = io.StringIO()
    call_command("seal_key", "--generate", stdout=out)
    setting, comment = out.getvalue().splitlines()
    name, _, private = setting.partition("=")
    assert name == "SEAL_SIGNING_KEY"
    assert comment.startswith("# public key: ")
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(private, validate=True))
    assert base64.b64encode(key.public_key().public_bytes_raw()).decode() == comment.removeprefix("# public key: ")
    assert not key_file.parent.exists()


def test_seal_key_without_an_option_says_which_to_choose():
    with pytest.raises(CommandError, match=r"choose --public .* or --generate"):
        call_command("seal_key")
    result = manage("seal_key")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()  # no traceback
    assert line.startswith("CommandError: ") and "--public" in line and "--generate" in line
