"""The API's fields: inputs checked by the domain's own rules, and the shapes it answers in.

An input that the body alone shows to be wrong is refused with 400 before the command is
sent, in the domain's words: the fields below run the domain's ``clean_*`` functions (and
value objects) as validators, so the API and the domain cannot drift apart. What only the
current state can refuse (stock, status, a SKU in use) is the domain's 422.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from rest_framework import serializers

from eventstore.cursor import MAX_POSITION
from eventstore.proofs import MAX_TREE_SIZE
from eventstore.store import MAX_FEED_PAGE
from orders.domain import (
    MAX_EMAIL,
    MAX_QUANTITY,
    MAX_REASON,
    MAX_TEXT,
    Address,
    DomainError,
    OrderStatus,
    clean_adjustment,
    clean_currency,
    clean_email,
    clean_name,
    clean_reason,
    clean_sku,
    clean_texts,
)
from orders.history import MAX_PAGE

# PostgreSQL integers; larger versions cannot exist.
MAX_VERSION: Final = 2**31 - 1
# Amounts: at most 10 digits before the decimal point.
MAX_AMOUNT_DIGITS: Final = 12


def domain_rule(clean: Callable[[Any], object]) -> Callable[[Any], None]:
    """A validator applying one of the domain's input rules, with its message and code."""

    def validate(value: Any) -> None:
        try:
            clean(value)
        except DomainError as error:
            message = next(iter(error.fields.values()), error.message)
            raise serializers.ValidationError(message, code=error.code) from None

    return validate


def _one_line(value: Any) -> object:
    return clean_texts(DomainError, {"text": value})


# --- Input fields -----------------------------------------------------------------------------


def name_field() -> serializers.CharField:
    return serializers.CharField(max_length=MAX_TEXT, validators=[domain_rule(clean_name)])


def text_field(*, required: bool = True) -> serializers.CharField:
    """One line of text (a carrier, a payment method...); optional ones default to ""."""
    optional: dict[str, Any] = {} if required else {"required": False, "allow_blank": True, "default": ""}
    return serializers.CharField(max_length=MAX_TEXT, validators=[domain_rule(_one_line)], **optional)


def reason_field() -> serializers.CharField:
    return serializers.CharField(max_length=MAX_REASON, validators=[domain_rule(clean_reason)])


def email_field() -> serializers.CharField:
    return serializers.CharField(max_length=MAX_EMAIL, validators=[domain_rule(clean_email)])


def sku_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=64, validators=[domain_rule(clean_sku)], help_text="Letters, digits, '-' and '_'."
    )


def currency_field() -> serializers.CharField:
    return serializers.CharField(
        min_length=3, max_length=3, validators=[domain_rule(clean_currency)], help_text="ISO 4217, e.g. EUR."
    )


def quantity_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)


def adjustment_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        validators=[domain_rule(clean_adjustment)],
        help_text="Signed: negative removes stock. Not 0.",
    )


def amount_field() -> serializers.DecimalField:
    """A positive amount with at most 2 decimals, as a string ("12.50"), in the currency of
    the product or order it is for."""
    return serializers.DecimalField(max_digits=MAX_AMOUNT_DIGITS, decimal_places=2, min_value=Decimal("0.01"))


class AddressSerializer(serializers.Serializer):
    """A postal address; becomes an ``Address`` value, which checks itself."""

    line1 = serializers.CharField(max_length=MAX_TEXT)
    line2 = serializers.CharField(max_length=MAX_TEXT, required=False, allow_blank=True, default="")
    postal_code = serializers.CharField(max_length=MAX_TEXT)
    city = serializers.CharField(max_length=MAX_TEXT)
    country = serializers.CharField(max_length=2, min_length=2, help_text="ISO 3166-1 alpha-2, e.g. NL.")

    def validate(self, attrs: dict[str, str]) -> Address:
        try:
            return Address(**attrs)
        except DomainError as error:
            raise serializers.ValidationError(error.fields or error.message, code=error.code) from None


# --- Query parameters -------------------------------------------------------------------------


def limit_field(maximum: int) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=maximum, default=100, help_text=f"1 to {maximum}.")


class HistoryQuerySerializer(serializers.Serializer):
    after_version = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, default=0, help_text="Start after this version (0: from the first)."
    )
    limit = limit_field(MAX_PAGE)


class StateQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=0, max_value=MAX_VERSION, required=False, help_text="The state after this version."
    )
    at = serializers.DateTimeField(
        required=False,
        default_timezone=dt.UTC,
        help_text="The state at this recorded time (ISO 8601; without an offset, UTC).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "version" in attrs and "at" in attrs:
            raise serializers.ValidationError("Give either version or at, not both.")
        return attrs


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="A cursor from a `next` link; none: the start."
    )
    limit = limit_field(MAX_FEED_PAGE)
    stream_type = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=10, help_text="Only these stream types."
    )
    event_type = serializers.ListField(
        child=serializers.CharField(max_length=128), required=False, max_length=50, help_text="Only these event types."
    )


# Lists of the read models: a page of 50 unless asked, at most 500.
DEFAULT_QUERY_PAGE: Final = 50
MAX_QUERY_PAGE: Final = 500


class DetailQuerySerializer(serializers.Serializer):
    min_position = serializers.IntegerField(
        min_value=0,
        max_value=MAX_POSITION,
        required=False,
        help_text="Read-your-writes: the `position` a command answered with. The answer waits (a few seconds "
        "at most) until it reflects that position; see the `X-Chronicle-Position` header.",
    )


class PageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False, max_length=1000, help_text="From a `next` link; none: the first page."
    )
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_QUERY_PAGE, default=DEFAULT_QUERY_PAGE, help_text=f"1 to {MAX_QUERY_PAGE}."
    )


class ListQuerySerializer(DetailQuerySerializer, PageQuerySerializer):
    pass


class OrderListQuerySerializer(ListQuerySerializer):
    status = serializers.ChoiceField(choices=[s.value for s in OrderStatus], required=False)
    customer_id = serializers.UUIDField(required=False)
    placed_after = serializers.DateTimeField(
        required=False, default_timezone=dt.UTC, help_text="Placed at or after this time (ISO 8601); no drafts."
    )
    placed_before = serializers.DateTimeField(
        required=False, default_timezone=dt.UTC, help_text="Placed before this time (ISO 8601); no drafts."
    )


def tree_size_field(**options: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_TREE_SIZE, **options)


class ProofQuerySerializer(serializers.Serializer):
    tree_size = tree_size_field(required=False, help_text="Against the seal of this tree size; none: the newest.")


class ConsistencyQuerySerializer(serializers.Serializer):
    first = tree_size_field(help_text="The tree size of the older seal.")
    second = tree_size_field(help_text="The tree size of the newer seal (or the same).")


# --- Output -----------------------------------------------------------------------------------


def utc_datetime(**options: Any) -> serializers.DateTimeField:
    return serializers.DateTimeField(default_timezone=dt.UTC, **options)


class CommandResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(help_text="The entity (stream) the command was for.")
    version = serializers.IntegerField(help_text="Its version afterwards: send it as If-Match next time.")
    position = serializers.IntegerField(help_text="Global position of the last event appended (or of its last event).")


class OrderResultSerializer(CommandResultSerializer):
    number = serializers.CharField(help_text="The order number, e.g. CH-000123.")


class EventSerializer(serializers.Serializer):
    event_id = serializers.UUIDField()
    position = serializers.IntegerField(help_text="Global position; feed order is not position order.")
    stream_type = serializers.CharField()
    stream_id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="The stream's version after this event.")
    event_type = serializers.CharField()
    schema_version = serializers.IntegerField()
    occurred_at = utc_datetime(help_text="Business time.")
    recorded_at = utc_datetime(help_text="When the database recorded it.")
    data = serializers.DictField(help_text="The payload, upcast to the current shape.")  # type: ignore[assignment]  # a field, not Serializer.data
    metadata = serializers.DictField(help_text="actor, source, correlation_id, causation_id, command_id.")


class HistoryPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="The next page; null on the last.")


class FeedPageSerializer(serializers.Serializer):
    results = EventSerializer(many=True)
    next = serializers.URLField(help_text="Where to continue: never null. Keep it, not a position.")
    caught_up = serializers.BooleanField(help_text="This page reached everything committed so far.")


class StateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    version = serializers.IntegerField(help_text="0 when the entity did not exist yet then.")
    as_of = utc_datetime(allow_null=True, help_text="Recorded time of the event at `version`.")
    state = serializers.DictField(allow_null=True, help_text="The entity's fields; null at version 0.")


def money_field(**options: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=20, decimal_places=2, **options)


class ProductSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    sku = serializers.CharField()
    name = serializers.CharField()
    price = money_field(help_text="In `currency`, as a string.")
    currency = serializers.CharField()
    on_hand = serializers.IntegerField(help_text="Items in the warehouse.")
    reserved = serializers.IntegerField(help_text="Items held for orders not yet shipped.")
    available = serializers.IntegerField(help_text="on_hand - reserved: what new orders can still get.")
    discontinued = serializers.BooleanField()
    version = serializers.IntegerField(help_text="The product's version: what ETag says and If-Match takes.")


class CustomerSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    email = serializers.CharField()
    shipping_address = AddressSerializer(allow_null=True, help_text="Their default address, if any.")
    order_count = serializers.IntegerField(help_text="Orders that count as sales (placed, not rejected or cancelled).")
    lifetime_value = serializers.DictField(
        child=money_field(), help_text="Per currency (never converted): those orders' totals less refunds."
    )
    version = serializers.IntegerField(help_text="The customer's version: what ETag says and If-Match takes.")


class OrderedLineSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = money_field(help_text="As it was when the line was added.")
    line_total = money_field()


class OrderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    number = serializers.CharField(help_text="e.g. CH-000123.")
    customer_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=[s.value for s in OrderStatus])
    currency = serializers.CharField(help_text="Of every amount on the order.")
    total = money_field(help_text="Sum of the line totals.")
    amount_paid = money_field()
    amount_refunded = money_field()
    shipping_address = AddressSerializer(allow_null=True)
    created_at = utc_datetime(help_text="Business time; lists are ordered by it, newest first.")
    placed_at = utc_datetime(allow_null=True)
    paid_at = utc_datetime(allow_null=True)
    shipped_at = utc_datetime(allow_null=True)
    lines = OrderedLineSerializer(many=True)
    version = serializers.IntegerField(help_text="The order's version: what ETag says and If-Match takes.")


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer of a list page of ``item``s: ``{"results", "next"}``."""
    fields = {
        "results": item(many=True),
        "next": serializers.URLField(allow_null=True, help_text="The next page; null on the last."),
    }
    return type(f"{item.__name__.removesuffix('Serializer')}PageSerializer", (serializers.Serializer,), fields)


ProductPageSerializer = page_of(ProductSerializer)
CustomerPageSerializer = page_of(CustomerSerializer)
OrderPageSerializer = page_of(OrderSerializer)


# --- The log's seals and proofs ---------------------------------------------------------------


class PublicKeySerializer(serializers.Serializer):
    key_id = serializers.CharField(help_text="What a seal's `key_id` names.")
    public_key = serializers.CharField(help_text="Ed25519: the raw 32-byte public key, in base64.")


class KeyringSerializer(serializers.Serializer):
    keys = PublicKeySerializer(many=True, help_text="The key signing new seals first, then retired ones.")


class SealSerializer(serializers.Serializer):
    """A signed tree head, as signed: the signature covers the canonical JSON (keys sorted,
    no whitespace, UTF-8) of the other fields but ``signature``, and ``"format":
    "chronicle-seal/1"``."""

    tree_size = serializers.IntegerField(help_text="Leaves in the sealed tree: one per event, in feed order.")
    root_hash = serializers.CharField(help_text="RFC 9162 Merkle tree hash (SHA-256) of those leaves, hex.")
    last_position = serializers.IntegerField(help_text="Position of the event of the last leaf.")
    epoch = serializers.CharField(help_text="The log's epoch when sealed.")
    sealed_at = serializers.CharField(help_text="When, as signed: UTC, ISO 8601 with microseconds and `Z`.")
    key_id = serializers.CharField(help_text="The key that signed it; see `log/keys/`.")
    signature = serializers.CharField(help_text="Ed25519 signature, base64.")


SealPageSerializer = page_of(SealSerializer)


def _hashes(help_text: str) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(), help_text=help_text)


class InclusionProofSerializer(serializers.Serializer):
    leaf_index = serializers.IntegerField(help_text="The event's leaf, 0-based, in the order the events were sealed.")
    leaf_hash = serializers.CharField(help_text="SHA-256 of 0x00 and the event's line in an export, hex.")
    tree_size = serializers.IntegerField(help_text="The seal's.")
    audit_path = _hashes("RFC 9162 inclusion proof (2.1.3): sibling subtree roots, hex, from the leaf up.")
    seal = SealSerializer()


class ConsistencyProofSerializer(serializers.Serializer):
    first = serializers.IntegerField(help_text="The older seal's tree size.")
    second = serializers.IntegerField(help_text="The newer seal's tree size.")
    first_root = serializers.CharField(help_text="The older seal's root hash.")
    second_root = serializers.CharField(help_text="The newer seal's root hash.")
    proof = _hashes("RFC 9162 consistency proof (2.1.4), hex; empty for equal sizes.")
