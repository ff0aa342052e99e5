"""Which commands staff can issue from each entity page, when the entity's status offers
them, and the form each takes. Each command's help is its own docstring
(``orders.domain.commands``), which documents its API endpoint too.

``offered`` only decides which buttons an entity page shows, from the read model the staff
member is looking at (for an order, by the domain's own ``Order.status_allows``); the domain
still decides, and refuses in its own words, when the command runs.
"""

from __future__ import annotations

import inspect
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
    condition: Callable[[Any], bool] = always

    def offered(self, row: Any) -> bool:
        """Whether the entity page shows the button, for the entity as its read model has it."""
        return self.condition(row)

    @property
    def command(self) -> type[c.Command]:
        return self.form.command

    @property
    def help(self) -> str:
        return inspect.getdoc(self.command) or ""

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


REGISTER_CUSTOMER = Action("register", "Register customer", f.RegisterCustomerForm)
CUSTOMER_ACTIONS = (
    Action("change-email", "Change e-mail", f.ChangeCustomerEmailForm),
    Action("change-address", "Change address", f.ChangeCustomerAddressForm),
)

CREATE_PRODUCT = Action("create", "New product", f.CreateProductForm)
PRODUCT_ACTIONS = (
    Action("change-price", "Change price", f.ChangeProductPriceForm, on_sale),
    Action("receive-stock", "Receive stock", f.ReceiveStockForm),
    Action("adjust-stock", "Adjust stock", f.AdjustStockForm),
    Action("discontinue", "Discontinue", f.DiscontinueProductForm, on_sale),
)

CREATE_ORDER = Action("create", "New order", f.CreateOrderForm)
ORDER_ACTIONS = (
    OrderAction("add-line", "Add line", f.AddOrderLineForm),
    OrderAction("change-quantity", "Change quantity", f.ChangeOrderLineQuantityForm, has_lines),
    OrderAction("remove-line", "Remove line", f.RemoveOrderLineForm, has_lines),
    OrderAction("set-shipping-address", "Set shipping address", f.SetShippingAddressForm),
    OrderAction("place", "Place", f.PlaceOrderForm, has_lines),
    OrderAction("pay", "Record payment", f.RecordPaymentForm),
    OrderAction("ship", "Ship", f.ShipOrderForm),
    OrderAction("deliver", "Mark delivered", f.DeliverOrderForm),
    OrderAction("cancel", "Cancel", f.CancelOrderForm),
    OrderAction("refund", "Refund", f.RefundOrderForm, has_refundable),
)
