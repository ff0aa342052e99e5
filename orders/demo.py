"""Demo data, made the way the shop makes its data: through commands, never rows.

Customers with addresses, a catalogue with stock (some of it scarce, one product
discontinued), and orders spread over the last days in every status a shop sees at rest:
drafts, confirmed, paid, shipped, delivered, cancelled (refunded when paid) and rejected
for want of stock. Business time (``occurred_at``) is set in the past, so the analytics
and time travel have a history to show, and follows each order's life in order: created,
placed, confirmed, paid, shipped, delivered (never in the future). Orders are confirmed or
rejected by the real fulfilment process, run synchronously after each placement at the
business time of the step that woke it (``business_time``), so its reactions fall between
that step and the next.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Final
from uuid import UUID, uuid4

from django.test.utils import override_settings

from projections.runner import catch_up

from . import bus, repository
from .context import CommandContext, business_time
from .domain import Address, DomainError, Money, Order, OrderStatus, Product
from .domain import commands as c
from .models import UniqueClaim

FIRST_NAMES: Final = (
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Niklaus",
    "Radia",
    "Tim",
    "Hedy",
    "John",
    "Katherine",
    "Linus",
    "Anita",
    "Dennis",
)
LAST_NAMES: Final = (
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Berners-Lee",
    "Lamarr",
    "McCarthy",
    "Johnson",
    "Borg",
)
CITIES: Final = (
    ("Amsterdam", "1015 CJ", "NL"),
    ("Utrecht", "3511 AB", "NL"),
    ("Rotterdam", "3011 AD", "NL"),
    ("Antwerpen", "2000", "BE"),
    ("Berlin", "10117", "DE"),
    ("Köln", "50667", "DE"),
    ("Lyon", "69002", "FR"),
)
CATALOGUE: Final = (
    ("MUG-BLUE", "Blue enamel mug", "12.50"),
    ("MUG-RED", "Red enamel mug", "12.50"),
    ("TEA-EARLGREY", "Earl Grey, 100 g", "6.95"),
    ("TEA-SENCHA", "Sencha, 100 g", "8.40"),
    ("COF-BEANS-1KG", "Espresso beans, 1 kg", "24.00"),
    ("POT-CAST-IRON", "Cast-iron teapot", "59.00"),
    ("FILTER-V60", "Pour-over dripper", "21.50"),
    ("KETTLE-GOOSE", "Gooseneck kettle", "74.90"),
    ("SPOON-SET", "Tea spoons, set of 4", "9.99"),
    ("TIN-TEA", "Tea tin", "7.25"),
    ("GRINDER-HAND", "Hand grinder", "89.00"),
    ("CUP-ESPRESSO", "Espresso cups, pair", "16.00"),
    ("TRAY-OAK", "Oak serving tray", "34.50"),
    ("SCALE-COFFEE", "Coffee scale", "29.95"),
    ("COASTER-CORK", "Cork coasters, 6", "5.50"),
    ("JAR-HONEY", "Wildflower honey", "9.40"),
)
# What happens to an order after it is drafted, with how often.
FATES: Final = {"draft": 6, "confirmed": 10, "paid": 14, "shipped": 18, "delivered": 40, "cancelled": 8, "refunded": 4}
# Longest wait for the feed to hand the fulfilment process what was just written.
FULFIL_PATIENCE_SECONDS: Final = 10.0


@dataclass
class Seeded:
    customers: int = 0
    products: int = 0
    orders: int = 0


class DemoShop:
    def __init__(self, *, seed: int, days: int, now: dt.datetime, progress: Callable[[str], None]) -> None:
        self.rng = random.Random(seed)
        self.days = days
        self.now = now
        self.progress = progress
        self.context = CommandContext.system(source="command-line")
        self.customers: list[UUID] = []
        self.products: list[UUID] = []

    def send(self, command: c.Command, at: dt.datetime) -> Any:
        return bus.dispatch(replace(command, occurred_at=min(at, self.now)), self.context)

    def customer(self, index: int) -> UUID:
        first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
        city, postcode, country = self.rng.choice(CITIES)
        address = Address(
            line1=f"{self.rng.choice(['Main', 'Canal', 'Station', 'Market'])} Street {index + 1}",
            line2="",
            postal_code=postcode,
            city=city,
            country=country,
        )
        customer_id = uuid4()
        email = f"{first}.{last}.{index + 1}@example.com".lower()
        self.send(c.RegisterCustomer(customer_id, f"{first} {last}", email, address), self.started())
        self.customers.append(customer_id)
        return customer_id

    def product(self, index: int) -> UUID:
        sku, name, price = CATALOGUE[index % len(CATALOGUE)]
        if index >= len(CATALOGUE):
            sku, name = f"{sku}-{index // len(CATALOGUE) + 1}", f"{name} ({index // len(CATALOGUE) + 1})"
        product_id = uuid4()
        self.send(c.CreateProduct(product_id, sku, name, Money(Decimal(price), "EUR")), self.started())
        scarce = index % 5 == 4  # a few products run out, so some orders are rejected
        self.send(
            c.ReceiveStock(product_id, self.rng.randint(2, 4) if scarce else self.rng.randint(40, 120)), self.started()
        )
        self.products.append(product_id)
        return product_id

    def started(self) -> dt.datetime:
        return self.now - dt.timedelta(days=self.days + 1)

    def order(self, placed_at: dt.datetime) -> None:
        order_id = uuid4()
        self.send(c.CreateOrder(order_id, self.rng.choice(self.customers), "EUR"), placed_at - dt.timedelta(minutes=9))
        for product_id in self.rng.sample(self.products, min(len(self.products), self.rng.randint(1, 3))):
            try:
                self.send(
                    c.AddOrderLine(order_id, product_id, self.rng.randint(1, 3)), placed_at - dt.timedelta(minutes=5)
                )
            except DomainError:
                continue  # discontinued meanwhile: the customer picks something else
        fate = self.rng.choices(list(FATES), weights=list(FATES.values()))[0]
        if fate == "draft" or not repository.load(Order, order_id).lines:
            return
        self.send(c.PlaceOrder(order_id), placed_at)
        self.fulfil(placed_at + dt.timedelta(minutes=1))
        order = repository.load(Order, order_id)
        if order.status != OrderStatus.CONFIRMED:
            return  # rejected: not enough stock
        self.follow(order_id, order, fate, placed_at)

    def follow(self, order_id: UUID, order: Order, fate: str, placed_at: dt.datetime) -> None:
        if fate == "cancelled":
            self.send(c.CancelOrder(order_id, "The customer changed their mind."), placed_at + dt.timedelta(hours=2))
            self.fulfil(placed_at + dt.timedelta(hours=2))
            return
        if fate == "confirmed":
            return
        self.send(
            c.RecordPayment(order_id, order.total, "card", f"PSP-{order_id.hex[:10]}"),
            placed_at + dt.timedelta(hours=1),
        )
        if fate == "refunded":
            self.send(c.CancelOrder(order_id, "Out of the delivery area."), placed_at + dt.timedelta(hours=6))
            self.fulfil(placed_at + dt.timedelta(hours=6))  # refunds what was paid and releases the stock
            return
        if fate == "paid":
            return
        self.send(
            c.ShipOrder(order_id, self.rng.choice(["PostNL", "DHL", "DPD"]), f"3S{self.rng.randint(10**9, 10**10)}"),
            placed_at + dt.timedelta(days=1),
        )
        self.fulfil(placed_at + dt.timedelta(days=1))  # commits the reservations
        if fate == "delivered":
            self.send(c.DeliverOrder(order_id), placed_at + dt.timedelta(days=3))

    def restock(self, at: dt.datetime) -> None:
        """Top up what ran low by ``at``, as the warehouse would."""
        for product_id in self.products:
            product = repository.load(Product, product_id)
            if not product.discontinued and product.available < 10 and self.rng.random() < 0.5:
                self.send(c.ReceiveStock(product_id, 50), at)

    def fulfil(self, at: dt.datetime) -> None:
        """Run the fulfilment process now (demo data is written in one go, without workers),
        its reactions dated ``at`` as they would have been then. Events the feed still holds
        back (another transaction on the server is open) are waited for: a reaction left to
        a later call would take that call's time."""
        with business_time(min(at, self.now)):
            catch_up(["fulfilment"], patience=FULFIL_PATIENCE_SECONDS)


def already_seeded() -> bool:
    return UniqueClaim.objects.filter(kind="email", value__endswith="@example.com").exists()


def seed(
    *,
    customers: int,
    products: int,
    orders: int,
    days: int,
    seed: int = 42,
    progress: Callable[[str], None] = lambda line: None,
) -> Seeded:
    """Write the demo shop; projections are caught up at the end."""
    now = dt.datetime.now(dt.UTC)
    shop = DemoShop(seed=seed, days=days, now=now, progress=progress)
    with override_settings(PROJECTIONS_WAKE_ON_COMMIT=False):  # caught up once, at the end
        for i in range(customers):
            shop.customer(i)
        for i in range(products):
            shop.product(i)
        moments = sorted(
            now - dt.timedelta(days=days * shop.rng.random() ** 1.3, minutes=shop.rng.randint(0, 59))
            for _ in range(orders)
        )
        for done, moment in enumerate(moments, start=1):
            shop.order(moment)
            if done % 25 == 0:
                shop.restock(moment)
                progress(f"{done}/{orders} orders")
        if shop.products:
            shop.send(c.DiscontinueProduct(shop.products[-1]), now - dt.timedelta(days=1))
    catch_up()
    return Seeded(customers, products, orders)
