"""What the write side derives from the log, rebuilt after a restore."""

from __future__ import annotations

from typing import Any

from django.db import connections, transaction

from eventstore import store

from .domain.values import clean_email, clean_sku, email_key
from .models import OrderNumberCounter, UniqueClaim


def rebuild_claims(*, using: str = "default") -> int:
    """Recreate the SKU and e-mail claims from the events that introduced them."""
    emails: dict[Any, str] = {}
    skus: dict[Any, str] = {}
    event_types = ["CustomerRegistered", "CustomerEmailChanged", "ProductCreated"]
    for event, _ in store.iter_feed(event_types=event_types, using=using):
        if event.event_type == "ProductCreated":
            skus[event.stream_id] = clean_sku(event.data["sku"])
        else:
            emails[event.stream_id] = email_key(clean_email(event.data["email"]))
    claims = [UniqueClaim(kind="email", value=v, owner_id=k) for k, v in emails.items()]
    claims += [UniqueClaim(kind="sku", value=v, owner_id=k) for k, v in skus.items()]
    with transaction.atomic(using=using):
        UniqueClaim.objects.using(using).all().delete()
        UniqueClaim.objects.using(using).bulk_create(claims, batch_size=1000)
    return len(claims)


def reset_order_numbers(*, using: str = "default") -> int:
    """Move the order-number sequence past the highest number in the log."""
    highest = 0
    for event, _ in store.iter_feed(event_types=["OrderCreated"], using=using):
        highest = max(highest, int(event.data["number"].removeprefix("CH-")))
    if highest:
        connection = connections[using]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT setval('chronicle_order_number', %s)", [highest])
        else:
            OrderNumberCounter.objects.using(using).get_or_create(id=highest)
    return highest


def after_restore(sender: Any, using: str, **kwargs: Any) -> None:
    rebuild_claims(using=using)
    reset_order_numbers(using=using)
