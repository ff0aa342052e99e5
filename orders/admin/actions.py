"""Which commands staff can issue from each entity page, when the entity's status offers
them, and the form each takes.

``offered`` only decides which buttons an entity page shows, from the read model the staff
member is looking at (for an order, by the domain's own ``Order.status_allows``); the domain
still decides, and refuses in its own words, when the command runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..domain import Order
from ..domain import commands as c

from . import forms as f


def always(row: Any) -> bool:
    return True


@dataclass(frozen=True)
class Action:
    """One command as the admin offers it: ``slug`` is its URL segment (and, with
    underscores, the end of its URL name), ``label`` its button."""

    slug: str
    label: str
    form: type[f.CommandForm]
    help: str
    condition: Callable[[Any], bool] = always

    def offered(self, row: Any) -> bool:
        """Whether the entity page shows the button, for the entity as its read model has it."""
        return self.condition(row)

    @property
    def command(self) -> type[c.Command]:
        return self.form.command

    @property
    def creates(self) -> bool:
        return not self.form.pins_version

    @property
    def url_suffix(self) -> str:
        return self.slug.replace("-", "_")


class OrderAction(Action):
    """Offered when the order's status allows the command, and its ``condition`` holds."""

    def offered(self, row: Any) -> bool:
        return Order.status_allows(row.status, self.command) and self.condition(row)


def has_lines(order: Any) -> bool:
    return order.item_count > 0


def has_refundable(order: Any) -> bool:
    return order.amount_paid > order.amount_refunded


def on_sale(product: Any) -> bool:
    return not product.discontinued

REGISTER_CUSTOMER = Action(
    "register", "Register customer", f.RegisterCustomerForm,
    "The e-mail address must not belong to another customer. The address is optional.",
)  # fmt: skip
CUSTOMER_ACTIONS = (
    Action("change-email", "Change e-mail", f.ChangeCustomerEmailForm, "Orders show the new address from now on."),
    Action("change-address", "Change address", f.ChangeCustomerAddressForm, "Used for the customer's new orders."),
)

CREATE_PRODUCT = Action(
    "create", "New product", f.CreateProductForm, "The SKU must be unique; the price's currency is the product's for good."
)
PRODUCT_ACTIONS = (
    Action("change-price", "Change price", f.ChangeProductPriceForm, "A discontinued product's price cannot change.", on_sale),
    Action("receive-stock", "Receive stock", f.ReceiveStockForm, "Stock arrived: it adds to what is on hand."),
    Action("adjust-stock", "Adjust stock", f.AdjustStockForm, "Correct the count on hand after a recount or breakage."),
    Action("discontinue", "Discontinue", f.DiscontinueProductForm, "It can no longer be added to orders.", on_sale),
)

CREATE_ORDER = Action(
    "create", "New order", f.CreateOrderForm, "A draft order; it takes the customer's address for now."
)
ORDER_ACTIONS = (
    OrderAction("add-line", "Add line", f.AddOrderLineForm, "One line per product, at its current price."),
    OrderAction("change-quantity", "Change quantity", f.ChangeOrderLineQuantityForm, "Change how many of a line's product.",
                has_lines),
    OrderAction("remove-line", "Remove line", f.RemoveOrderLineForm, "Take a line off the draft.", has_lines),
    OrderAction("set-shipping-address", "Set shipping address", f.SetShippingAddressForm, "Possible until the order ships."),
    OrderAction("place", "Place", f.PlaceOrderForm, "Fulfilment then reserves the stock and confirms or rejects the order.",
                has_lines),
    OrderAction("pay", "Record payment", f.RecordPaymentForm, "The payment that completes the total makes the order paid."),
    OrderAction("ship", "Ship", f.ShipOrderForm, "Hand a paid order to the carrier."),
    OrderAction("deliver", "Mark delivered", f.DeliverOrderForm, "The carrier delivered it."),
    OrderAction("cancel", "Cancel", f.CancelOrderForm, "Money paid stays paid: refund it afterwards."),
    OrderAction("refund", "Refund", f.RefundOrderForm, "Give back money that was paid.", has_refundable),
)  # fmt: skip
