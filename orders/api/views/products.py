"""Products: list and read them; create, change the price, receive and adjust stock,
discontinue."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from orders.domain import Money, Product
from orders.domain import commands as c
from projections import selectors

from ..serializers import (
    ProductPageSerializer,
    ProductSerializer,
    adjustment_field,
    amount_field,
    currency_field,
    name_field,
    quantity_field,
    reason_field,
    sku_field,
)
from .base import CommandApi, CreateApi, existing
from .queries import DetailApi, ListApi


class ProductListApi(ListApi):
    """Products by SKU, a page at a time, with price and stock.

    Follow `next` (null on the last page).
    """

    OutputSerializer = ProductPageSerializer
    projections = selectors.PRODUCT_PROJECTIONS
    scope = "products"

    def select(self, **query: Any) -> selectors.Page[selectors.Product]:
        return selectors.product_list(**query)


class ProductApi(DetailApi):
    """A product: price, stock on hand, reserved and available."""

    OutputSerializer = ProductSerializer
    projections = selectors.PRODUCT_PROJECTIONS
    stream_type = Product.STREAM_TYPE

    def select(self, id: UUID) -> selectors.Product | None:
        return selectors.product_get(product_id=id)


class CreateProductApi(CreateApi):
    """A SKU another product has is 422 `sku_taken`."""

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


# `products/`: GET lists, POST creates. (each documented from its own side)
class ProductsApi(ProductListApi, CreateProductApi):
    pass


class ChangeProductPriceApi(CommandApi):
    """A discontinued product is 422 `product_discontinued`."""

    command = c.ChangeProductPrice

    class InputSerializer(serializers.Serializer):
        price = amount_field()

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> c.Command:
        price = Money(data["price"], existing(Product, id).price.currency)
        return c.ChangeProductPrice(id, price, **options)


class ReceiveStockApi(CommandApi):
    command = c.ReceiveStock

    class InputSerializer(serializers.Serializer):
        quantity = quantity_field()


class AdjustStockApi(CommandApi):
    """Less on hand than is reserved is 422 `stock_below_reserved`."""

    command = c.AdjustStock

    class InputSerializer(serializers.Serializer):
        quantity = adjustment_field()
        reason = reason_field()


class DiscontinueProductApi(CommandApi):
    command = c.DiscontinueProduct
