"""Write-side tables beside the event log: idempotency records, uniqueness claims, order
numbers, and the permissions to issue commands. None of them is a source of truth about
the shop; claims and numbers can be rebuilt from the log.

Also the shop's entities as staff see them in the back office (``orders.admin``): proxies
of the read models, so the admin lists them as "Orders", "Products" and "Customers" with a
view permission of their own. No table of their own and nothing to edit: every change is a
command."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from projections.models import CustomerSummary, OrderSummary, ProductStock

from .domain.commands import ALL_COMMANDS


def command_codename(command: type) -> str:
    """``RegisterCustomer`` -> ``register_customer``: the permission to issue it."""
    name = command.__name__
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class IdempotencyRecord(models.Model):
    """The first outcome of a command sent with an idempotency key, replayed on retries."""

    # actor + command name + key, e.g. "42:RegisterCustomer:7f3c...".
    scope = models.CharField(max_length=400, unique=True)
    # SHA-256 of the command's canonical JSON (without its key).
    fingerprint = models.CharField(max_length=64)
    # {"result": {...}} for a success, {"error": {"code", "message", "fields"}} for a refusal.
    outcome = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    # After this the key may be used again.
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "chronicle_idempotency"


class UniqueClaim(models.Model):
    """A value that must be unique across streams (a SKU, an e-mail), claimed by one stream
    in the same transaction that appends the event introducing it."""

    # "sku" or "email".
    kind = models.CharField(max_length=16)
    # The normalised value: SKU upper-cased, e-mail case-folded.
    value = models.CharField(max_length=320)
    # The stream that holds it.
    owner_id = models.UUIDField()

    class Meta:
        db_table = "chronicle_unique_claim"
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="chronicle_claim_uniq")]
        indexes = [models.Index(fields=["owner_id"], name="chronicle_claim_owner_idx")]


class OrderNumberCounter(models.Model):
    """SQLite's stand-in for PostgreSQL's ``chronicle_order_number`` sequence."""

    id = models.BigAutoField(primary_key=True)

    class Meta:
        db_table = "chronicle_order_number_counter"


class ApiToken(models.Model):
    """A credential for ``Authorization: Token <secret>``; the secret itself is never stored
    (``orders.tokens``)."""

    # Whose requests these are: the token may do what the user may.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # What the owner calls it, e.g. "warehouse sync".
    name = models.CharField(max_length=100, blank=True)
    # The secret's first characters, to tell tokens apart in lists and logs.
    prefix = models.CharField(max_length=12, db_index=True)
    # SHA-256 (hex) of the secret: a lookup key, useless as a credential.
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    # After this the token is refused.
    expires_at = models.DateTimeField()
    # Last request it authenticated, written at most once a minute.
    last_used_at = models.DateTimeField(null=True, blank=True)
    # When it was revoked; a revoked token is refused.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "chronicle_api_token"
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"


class Command(models.Model):
    """Not a table: the holder of one permission per command, plus ``view_history``."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_history", "Can view event history, past states and the event log"),
            *[(command_codename(c), f"Can issue {c.__name__}") for c in ALL_COMMANDS],
        ]


class Order(OrderSummary):
    class Meta:
        proxy = True
        verbose_name = "order"
        ordering = ["-created_at"]
        default_permissions = ("view",)


class Product(ProductStock):
    class Meta:
        proxy = True
        verbose_name = "product"
        ordering = ["sku"]
        default_permissions = ("view",)


class Customer(CustomerSummary):
    class Meta:
        proxy = True
        verbose_name = "customer"
        ordering = ["name"]
        default_permissions = ("view",)
