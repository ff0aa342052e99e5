"""Building state the way the shop does: through commands, never rows (users excepted)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from django.contrib.auth.models import Group, User

from orders import bus
from orders.context import CommandContext
from orders.domain import Address, Money
from orders.domain import commands as c
from orders.repository import CommandResult

SYSTEM = CommandContext.system(source="system", correlation_id="tests")


def address(**changes: str) -> Address:
    fields = {"line1": "Keizersgracht 1", "line2": "", "postal_code": "1015 CJ", "city": "Amsterdam", "country": "NL"}
    return Address(**{**fields, **changes})


def run(command: Any, context: CommandContext = SYSTEM) -> CommandResult:
    return bus.dispatch(command, context)


def customer(name: str = "Ada Lovelace", email: str | None = None, **options: Any) -> UUID:
    customer_id = uuid4()
    run(c.RegisterCustomer(customer_id, name, email or f"{customer_id.hex[:10]}@example.com", address(), **options))
    return customer_id


def product(sku: str | None = None, price: str = "10.00", stock: int = 0, currency: str = "EUR") -> UUID:
    product_id = uuid4()
    run(c.CreateProduct(product_id, sku or f"SKU-{product_id.hex[:8]}", "A product", Money(Decimal(price), currency)))
    if stock:
        run(c.ReceiveStock(product_id, stock))
    return product_id


def order(customer_id: UUID | None = None, lines: list[tuple[UUID, int]] = (), currency: str = "EUR") -> UUID:
    order_id = uuid4()
    run(c.CreateOrder(order_id, customer_id or customer(), currency))
    for product_id, quantity in lines:
        run(c.AddOrderLine(order_id, product_id, quantity))
    return order_id


def order_at(status: str) -> UUID:
    """An order of one line (2 x 10.00 EUR) taken up to ``status``: draft, placed,
    confirmed, paid or shipped."""
    order_id = order(lines=[(product(stock=10), 2)])
    steps = [
        c.PlaceOrder(order_id),
        c.ConfirmOrder(order_id),
        c.RecordPayment(order_id, Money(Decimal("20.00"), "EUR"), "card"),
        c.ShipOrder(order_id, "PostNL", "3SABC123"),
    ]
    for command in steps[: ("draft", "placed", "confirmed", "paid", "shipped").index(status)]:
        run(command)
    return order_id


def member_of(group: str | None) -> User:
    """A user in ``group`` (None: in no group), loaded fresh, without cached permissions."""
    user = User.objects.create_user(f"{(group or 'nobody').lower()}-{uuid4().hex[:6]}", password="pw")
    if group:
        user.groups.add(Group.objects.get(name=group))
    return User.objects.get(pk=user.pk)
