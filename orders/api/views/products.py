"""Products: create, change the price, receive and adjust stock, discontinue."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from orders.domain import Money, Product
from orders.domain import commands as c

from ..serializers import (
    adjustment_field,
    amount_field,
    currency_field,
    name_field,
    quantity_field,
    reason_field,
    sku_field,
)
from .base import CommandApi, CreateApi, existing


class CreateProductApi(CreateApi):
    """Create a product.

    The SKU must not be used by another product (422 `sku_taken`). The price's currency is
    the product's for good.
    """

    command = c.CreateProduct
    collection = "api:products"

    class InputSerializer(serializers.Serializer):
        sku = sku_field()
        name = name_field()
        price = amount_field()
        currency = currency_field()

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            currency = attrs.pop("currency")
            return {**attrs, "price": Money(attrs["price"], currency)}


class ChangeProductPriceApi(CommandApi):
    """Change a product's price, in the product's currency.

    Lines already on orders keep the price they were added at. A discontinued product's price
    cannot change (422 `product_discontinued`).
    """

    command = c.ChangeProductPrice

    class InputSerializer(serializers.Serializer):
        price = amount_field()

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        price = Money(data["price"], existing(Product, id).price.currency)
        return c.ChangeProductPrice(id, price, **options)


class ReceiveStockApi(CommandApi):
    """Stock arrived: it adds to what is on hand."""

    command = c.ReceiveStock

    class InputSerializer(serializers.Serializer):
        quantity = quantity_field()


class AdjustStockApi(CommandApi):
    """Correct the count on hand (a recount, breakage), with a reason.

    Stock reserved for orders cannot be adjusted away (422 `stock_below_reserved`).
    """

    command = c.AdjustStock

    class InputSerializer(serializers.Serializer):
        quantity = adjustment_field()
        reason = reason_field()


class DiscontinueProductApi(CommandApi):
    """Stop selling a product: it can no longer be added to orders. Again changes nothing."""

    command = c.DiscontinueProduct
