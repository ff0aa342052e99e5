"""The stock projection: each product's price, stock on hand, reserved and available."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from eventstore.records import RecordedEvent
from orders.domain import (
    ProductCreated,
    ProductDiscontinued,
    ProductPriceChanged,
    StockAdjusted,
    StockReceived,
    StockReservationCommitted,
    StockReservationReleased,
    StockReserved,
)

from .models import ProductStock
from .subscribers import Projection, Table, handles


class StockProjection(Projection):
    name = "stock"
    products = Table(ProductStock)

    def prefetch(self, events: Sequence[RecordedEvent]) -> None:
        self.products.fetch(event.stream_id for event in events)

    @handles(ProductCreated)
    def product_created(self, event: RecordedEvent) -> None:
        data = event.data
        product = self.products.new(
            id=event.stream_id,
            sku=data["sku"],
            name=data["name"],
            price=Decimal(data["price"]),
            currency=data["currency"],
        )
        self.stamped(product, event)

    @handles(ProductPriceChanged)
    def product_price_changed(self, event: RecordedEvent) -> None:
        self._product(event).price = Decimal(event.data["price"])

    @handles(ProductDiscontinued)
    def product_discontinued(self, event: RecordedEvent) -> None:
        self._product(event).discontinued = True

    @handles(StockReceived, StockAdjusted)
    def stock_counted(self, event: RecordedEvent) -> None:
        self._move(event, on_hand=event.data["quantity"])

    @handles(StockReserved)
    def stock_reserved(self, event: RecordedEvent) -> None:
        self._move(event, reserved=event.data["quantity"])

    @handles(StockReservationReleased)
    def stock_reservation_released(self, event: RecordedEvent) -> None:
        self._move(event, reserved=-event.data["quantity"])

    @handles(StockReservationCommitted)
    def stock_reservation_committed(self, event: RecordedEvent) -> None:
        quantity = event.data["quantity"]
        self._move(event, on_hand=-quantity, reserved=-quantity)

    def _move(self, event: RecordedEvent, *, on_hand: int = 0, reserved: int = 0) -> None:
        product = self._product(event)
        product.on_hand += on_hand
        product.reserved += reserved
        product.available = product.on_hand - product.reserved

    def _product(self, event: RecordedEvent) -> ProductStock:
        return self.stamped(self.products[event.stream_id], event)
