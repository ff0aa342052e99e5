"""One short function per command: load, decide, save. Routing is the ``HANDLERS`` table.

Handlers run inside the transaction the command bus (``orders.bus``) opens for them, and
never retry themselves: conflicts, idempotency and permissions are the bus's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from .domain import Customer, EmailTaken, Order, Product, ProductIsDiscontinued, SkuTaken
from .domain import commands as c
from .domain.values import clean_email, clean_sku, email_key
from .repository import CommandResult, UnitOfWork

Handler = Callable[[Any, UnitOfWork], CommandResult]


# --- Customers ----------------------------------------------------------------------------


def register_customer(cmd: c.RegisterCustomer, uow: UnitOfWork) -> CommandResult:
    customer = uow.load(Customer, cmd.customer_id, must_exist=False)
    customer.register(cmd.name, cmd.email, cmd.shipping_address)
    uow.save(customer)
    _claim_email(uow, customer)
    return uow.result(customer)


def change_customer_email(cmd: c.ChangeCustomerEmail, uow: UnitOfWork) -> CommandResult:
    customer = uow.load(Customer, cmd.customer_id, expected_version=cmd.expected_version)
    customer.change_email(cmd.email)
    uow.save(customer)
    _claim_email(uow, customer)
    return uow.result(customer)


def _claim_email(uow: UnitOfWork, customer: Customer) -> None:
    email = clean_email(customer.email)
    uow.claim("email", email_key(email), customer.id, EmailTaken(email=email))


def change_customer_address(cmd: c.ChangeCustomerAddress, uow: UnitOfWork) -> CommandResult:
    customer = uow.load(Customer, cmd.customer_id, expected_version=cmd.expected_version)
    customer.change_address(cmd.shipping_address)
    uow.save(customer)
    return uow.result(customer)


# --- Products -----------------------------------------------------------------------------


def create_product(cmd: c.CreateProduct, uow: UnitOfWork) -> CommandResult:
    product = uow.load(Product, cmd.product_id, must_exist=False)
    product.create(cmd.sku, cmd.name, cmd.price)
    uow.save(product)
    uow.claim("sku", clean_sku(product.sku), product.id, SkuTaken(sku=product.sku))
    return uow.result(product)


def _on_product(action: Callable[[Product, Any], None]) -> Handler:
    """A handler that loads the product, applies ``action`` and saves it."""

    def handle(cmd: Any, uow: UnitOfWork) -> CommandResult:
        product = uow.load(Product, cmd.product_id, expected_version=cmd.expected_version)
        action(product, cmd)
        uow.save(product)
        return uow.result(product)

    return handle


change_product_price = _on_product(lambda p, cmd: p.change_price(cmd.price))
receive_stock = _on_product(lambda p, cmd: p.receive_stock(cmd.quantity))
adjust_stock = _on_product(lambda p, cmd: p.adjust_stock(cmd.quantity, cmd.reason))
reserve_stock = _on_product(lambda p, cmd: p.reserve(cmd.order_id, cmd.quantity))
release_stock = _on_product(lambda p, cmd: p.release(cmd.order_id))
commit_stock = _on_product(lambda p, cmd: p.commit(cmd.order_id))
discontinue_product = _on_product(lambda p, cmd: p.discontinue())


# --- Orders -------------------------------------------------------------------------------


def create_order(cmd: c.CreateOrder, uow: UnitOfWork) -> CommandResult:
    order = uow.load(Order, cmd.order_id, must_exist=False)
    customer = uow.load(Customer, cmd.customer_id, field="customer_id")
    order.check_new()
    number = uow.next_order_number()
    order.create(number, customer.id, cmd.currency, customer.shipping_address)
    uow.save(order)
    return uow.result(order, number=number)


def add_order_line(cmd: c.AddOrderLine, uow: UnitOfWork) -> CommandResult:
    order = uow.load(Order, cmd.order_id, expected_version=cmd.expected_version)
    product = uow.load(Product, cmd.product_id, field="product_id")
    if product.discontinued:
        raise ProductIsDiscontinued(sku=product.sku)
    order.add_line(product.id, product.sku, cmd.quantity, product.price)
    uow.save(order)
    return uow.result(order, number=order.number)


def _on_order(action: Callable[[Order, Any], None]) -> Handler:
    """A handler that loads the order, applies ``action`` and saves it."""

    def handle(cmd: Any, uow: UnitOfWork) -> CommandResult:
        order = uow.load(Order, cmd.order_id, expected_version=cmd.expected_version)
        action(order, cmd)
        uow.save(order)
        return uow.result(order, number=order.number)

    return handle


change_order_line_quantity = _on_order(lambda o, cmd: o.change_quantity(cmd.product_id, cmd.quantity))
remove_order_line = _on_order(lambda o, cmd: o.remove_line(cmd.product_id))
set_shipping_address = _on_order(lambda o, cmd: o.set_shipping_address(cmd.shipping_address))
place_order = _on_order(lambda o, cmd: o.place())
confirm_order = _on_order(lambda o, cmd: o.confirm())
reject_order = _on_order(lambda o, cmd: o.reject(cmd.reason))
record_payment = _on_order(lambda o, cmd: o.record_payment(cmd.amount, cmd.method, cmd.reference))
ship_order = _on_order(lambda o, cmd: o.ship(cmd.carrier, cmd.tracking_number))
deliver_order = _on_order(lambda o, cmd: o.deliver())
cancel_order = _on_order(lambda o, cmd: o.cancel(cmd.reason))
refund_order = _on_order(lambda o, cmd: o.refund(cmd.amount, cmd.reason))


HANDLERS: Final[dict[type, Handler]] = {
    c.RegisterCustomer: register_customer,
    c.ChangeCustomerEmail: change_customer_email,
    c.ChangeCustomerAddress: change_customer_address,
    c.CreateProduct: create_product,
    c.ChangeProductPrice: change_product_price,
    c.ReceiveStock: receive_stock,
    c.AdjustStock: adjust_stock,
    c.ReserveStock: reserve_stock,
    c.ReleaseStock: release_stock,
    c.CommitStock: commit_stock,
    c.DiscontinueProduct: discontinue_product,
    c.CreateOrder: create_order,
    c.AddOrderLine: add_order_line,
    c.ChangeOrderLineQuantity: change_order_line_quantity,
    c.RemoveOrderLine: remove_order_line,
    c.SetShippingAddress: set_shipping_address,
    c.PlaceOrder: place_order,
    c.ConfirmOrder: confirm_order,
    c.RejectOrder: reject_order,
    c.RecordPayment: record_payment,
    c.ShipOrder: ship_order,
    c.DeliverOrder: deliver_order,
    c.CancelOrder: cancel_order,
    c.RefundOrder: refund_order,
}
