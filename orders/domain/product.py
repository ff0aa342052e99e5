"""The product: its price and its stock, split into what is on hand and what orders hold.

``available = on_hand - reserved``. A reservation belongs to one order; reserving, releasing
and committing are idempotent per order (repeating them records nothing), so the
fulfilment process can retry them safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

from .aggregate import Aggregate, JSONDict, applies
from .events import (
    ProductCreated,
    ProductDiscontinued,
    ProductPriceChanged,
    StockAdjusted,
    StockReceived,
    StockReservationCommitted,
    StockReservationReleased,
    StockReserved,
)
from .exceptions import InsufficientStock, ProductIsDiscontinued, StockBelowReserved, StockTooLarge
from .values import (
    MAX_STOCK,
    Money,
    check_positive,
    check_same_currency,
    clean_adjustment,
    clean_name,
    clean_quantity,
    clean_reason,
    clean_sku,
)


class Product(Aggregate):
    STREAM_TYPE = "product"

    sku: str
    name: str
    price: Money
    on_hand: int
    discontinued: bool
    _reservations: dict[UUID, int]

    @property
    def reservations(self) -> dict[UUID, int]:
        return dict(self._reservations)

    @property
    def reserved(self) -> int:
        return sum(self._reservations.values())

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved

    # --- Commands ---------------------------------------------------------------------------

    def create(self, sku: str, name: str, price: Money) -> None:
        self.check_new()
        sku, name = clean_sku(sku), clean_name(name)
        check_positive(price)
        self._record(ProductCreated(sku=sku, name=name, price=price.amount, currency=price.currency))

    def change_price(self, price: Money) -> None:
        """Setting the current price again records nothing."""
        self.check_exists()
        self.check_not_discontinued()
        check_same_currency(self.price.currency, price.currency)
        check_positive(price)
        if price != self.price:
            self._record(ProductPriceChanged(price=price.amount))

    def receive_stock(self, quantity: int) -> None:
        self.check_exists()
        quantity = clean_quantity(quantity)
        self.check_stock_within(self.on_hand + quantity)
        self._record(StockReceived(quantity=quantity))

    def adjust_stock(self, quantity: int, reason: str) -> None:
        """Correct the count on hand (a recount, breakage); reserved items cannot vanish."""
        self.check_exists()
        quantity, reason = clean_adjustment(quantity), clean_reason(reason)
        self.check_covers_reservations(self.on_hand + quantity)
        self.check_stock_within(self.on_hand + quantity)
        self._record(StockAdjusted(quantity=quantity, reason=reason))

    def reserve(self, order_id: UUID, quantity: int) -> None:
        """Hold stock for an order; an order that already holds a reservation keeps it as is."""
        self.check_exists()
        quantity = clean_quantity(quantity)
        if order_id in self._reservations:
            return
        self.check_not_discontinued()
        self.check_available(quantity)
        self._record(StockReserved(order_id=order_id, quantity=quantity))

    def release(self, order_id: UUID) -> None:
        """Give an order's reservation back to available stock (none held: nothing to do)."""
        self.check_exists()
        if order_id in self._reservations:
            self._record(StockReservationReleased(order_id=order_id, quantity=self._reservations[order_id]))

    def commit(self, order_id: UUID) -> None:
        """Ship an order's reservation: it leaves on hand and reserved (none held: nothing to do)."""
        self.check_exists()
        if order_id in self._reservations:
            self._record(StockReservationCommitted(order_id=order_id, quantity=self._reservations[order_id]))

    def discontinue(self) -> None:
        self.check_exists()
        if not self.discontinued:
            self._record(ProductDiscontinued())

    # --- Guards -----------------------------------------------------------------------------

    def check_not_discontinued(self) -> None:
        if self.discontinued:
            raise ProductIsDiscontinued(sku=self.sku)

    def check_available(self, quantity: int) -> None:
        if quantity > self.available:
            raise InsufficientStock(available=self.available, requested=quantity)

    def check_covers_reservations(self, on_hand: int) -> None:
        if on_hand < self.reserved:
            raise StockBelowReserved(on_hand=on_hand, reserved=self.reserved)

    def check_stock_within(self, on_hand: int) -> None:
        if on_hand > MAX_STOCK:
            raise StockTooLarge(on_hand=on_hand, maximum=MAX_STOCK)

    # --- State changes ----------------------------------------------------------------------

    @applies(ProductCreated)
    def _created(self, event: ProductCreated) -> None:
        self.sku = event.sku
        self.name = event.name
        self.price = Money(event.price, event.currency)
        self.on_hand = 0
        self.discontinued = False
        self._reservations = {}

    @applies(ProductPriceChanged)
    def _price_changed(self, event: ProductPriceChanged) -> None:
        self.price = Money(event.price, self.price.currency)

    @applies(StockReceived)
    def _stock_received(self, event: StockReceived) -> None:
        self.on_hand += event.quantity

    @applies(StockAdjusted)
    def _stock_adjusted(self, event: StockAdjusted) -> None:
        self.on_hand += event.quantity

    @applies(StockReserved)
    def _stock_reserved(self, event: StockReserved) -> None:
        self._reservations[event.order_id] = event.quantity

    @applies(StockReservationReleased)
    def _reservation_released(self, event: StockReservationReleased) -> None:
        del self._reservations[event.order_id]

    @applies(StockReservationCommitted)
    def _reservation_committed(self, event: StockReservationCommitted) -> None:
        del self._reservations[event.order_id]
        self.on_hand -= event.quantity

    @applies(ProductDiscontinued)
    def _discontinued(self, event: ProductDiscontinued) -> None:
        self.discontinued = True

    # --- Snapshots --------------------------------------------------------------------------

    def to_snapshot(self) -> JSONDict:
        return {
            "sku": self.sku,
            "name": self.name,
            "price": str(self.price.amount),
            "currency": self.price.currency,
            "on_hand": self.on_hand,
            "discontinued": self.discontinued,
            "reservations": {str(order_id): quantity for order_id, quantity in self._reservations.items()},
        }

    def _restore(self, state: Mapping[str, Any]) -> None:
        self.sku = state["sku"]
        self.name = state["name"]
        self.price = Money(Decimal(state["price"]), state["currency"])
        self.on_hand = state["on_hand"]
        self.discontinued = state["discontinued"]
        reservations = state["reservations"].items()
        self._reservations = {UUID(order_id): quantity for order_id, quantity in reservations}

    def state_dict(self) -> JSONDict:
        return {**self.to_snapshot(), "reserved": self.reserved, "available": self.available}
