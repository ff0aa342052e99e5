"""The shop's entities as staff see them in the admin: proxies of the read models, so they
are listed as "Orders", "Products" and "Customers" and carry a view permission of their own.
No table of their own and nothing to edit: every change is a command (``backoffice.commands``)."""

from __future__ import annotations

from projections.models import CustomerSummary, OrderSummary, ProductStock


class Order(OrderSummary):
    class Meta:
        proxy = True
        verbose_name = "order"
        ordering = ["-created_at"]
        default_permissions = ("view",)


class Product(ProductStock):
    class Meta:
        proxy = True
        verbose_name = "product"
        ordering = ["sku"]
        default_permissions = ("view",)


class Customer(CustomerSummary):
    class Meta:
        proxy = True
        verbose_name = "customer"
        ordering = ["name"]
        default_permissions = ("view",)
