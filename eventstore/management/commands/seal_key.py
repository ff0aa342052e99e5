"""Print the seal keys' public keyring, or a new key pair for setting up production."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from eventstore import sealkeys


class Command(BaseCommand):
    help = (
        "Seal keys (Ed25519). --public prints the public keyring that checks seals as JSON, "
        "the current key first; --generate prints a new private key for SEAL_SIGNING_KEY and "
        "its public key, and changes nothing."
    )

    def add_arguments(self, parser: Any) -> None:
        choice = parser.add_mutually_exclusive_group()
        choice.add_argument("--public", action="store_true", help="print the public keyring as JSON")
        choice.add_argument("--generate", action="store_true", help="print a new key pair; stores nothing")

    def handle(self, *args: Any, public: bool, generate: bool, **options: Any) -> None:
        if public:
            self.stdout.write(json.dumps(sealkeys.published_keyring(), indent=2))
        elif generate:
            private_b64, public_b64 = sealkeys.generate_key()
            self.stdout.write(f"SEAL_SIGNING_KEY={private_b64}\n# public key: {public_b64}")
        else:
            raise CommandError("choose --public (print the public keyring) or --generate (print a new key pair)")
