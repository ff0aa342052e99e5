"""One Django form per command staff can issue: the command's inputs, and, hidden, the
version the staff member saw and a one-time idempotency key.

Forms check only what a form can (a number is a number, a required field is filled); the
shop's rules are the domain's, which refuses with its own words when the command runs, and
the admin shows those words beside the fields they name. ``to_command`` turns the cleaned
inputs into the command, as the API's ``to_command`` does with a request body.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID, uuid4

from django import forms
from django.core.validators import RegexValidator

from projections.models import CustomerSummary, OrderSummary, ProductStock

from ..domain import MAX_EMAIL, MAX_QUANTITY, MAX_REASON, MAX_TEXT, Address, Money
from ..domain import commands as c
from ..ids import KEY_PATTERN

KEY_VALIDATOR = RegexValidator(KEY_PATTERN, "This form has expired; reload the page.")
ADDRESS_FIELDS = ("line1", "line2", "postal_code", "city", "country")


def fresh_key() -> str:
    """A one-time idempotency key for one rendering of a form."""
    return uuid4().hex


def text(label: str, *, required: bool = True, max_length: int = MAX_TEXT, **options: Any) -> forms.CharField:
    return forms.CharField(label=label, required=required, max_length=max_length, **options)


def amount(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=12, decimal_places=2, help_text=help_text)


def quantity(label: str = "Quantity", help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY, help_text=help_text)


def reason() -> forms.CharField:
    return text("Reason", max_length=MAX_REASON, widget=forms.Textarea(attrs={"rows": 3, "cols": 60}))


class CommandForm(forms.Form):
    """Subclasses name their ``command`` and declare its inputs as fields named like the
    command's own (override ``inputs`` otherwise). ``row`` is the read model the staff
    member is looking at (None for a creating command)."""

    command: ClassVar[type[c.Command]]
    # Whether the command acts on an existing entity, whose version the form pins.
    pins_version: ClassVar[bool] = True

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=255, validators=[KEY_VALIDATOR])

    def __init__(self, *args: Any, row: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.row = row
        if not self.pins_version:
            del self.fields["version"]

    @classmethod
    def initial_for(cls, row: Any, query: Any) -> dict[str, Any]:
        """What a new form shows: the pinned version, a fresh key and the inputs' defaults
        (taken from the entity, or from the query string for creating commands)."""
        initial: dict[str, Any] = {"idempotency_key": fresh_key()}
        if cls.pins_version:
            initial["version"] = row.version
        return {**initial, **cls.defaults(row, query)}

    @classmethod
    def defaults(cls, row: Any, query: Any) -> dict[str, Any]:
        return {}

    def inputs(self) -> dict[str, Any]:
        """The command's own arguments from the cleaned data."""
        return {name: value for name, value in self.cleaned_data.items() if name not in ("version", "idempotency_key")}

    def options(self) -> dict[str, Any]:
        return {
            "expected_version": self.cleaned_data.get("version") if self.pins_version else None,
            "idempotency_key": self.cleaned_data["idempotency_key"],
        }

    def to_command(self, target: UUID) -> c.Command:
        """The command for entity ``target``; may raise the domain's refusal of a value
        (an address, an amount)."""
        return c.for_target(self.command, target, **self.inputs(), **self.options())


class AddressForm(CommandForm):
    """A postal address in five fields; the ``Address`` value checks it."""

    line1 = text("Address line 1")
    line2 = text("Address line 2", required=False)
    postal_code = text("Postal code")
    city = text("City")
    country = text("Country", help_text="Two-letter code, such as NL.")
    address_optional: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.address_optional:
            for name in ADDRESS_FIELDS:
                self.fields[name].required = False

    @staticmethod
    def address_defaults(address: dict[str, str] | None) -> dict[str, str]:
        return dict(address or {})

    def address(self) -> Address | None:
        values = {name: self.cleaned_data.get(name) or "" for name in ADDRESS_FIELDS}
        if self.address_optional and not any(values.values()):
            return None
        return Address(**values)

    def inputs(self) -> dict[str, Any]:
        others = {k: v for k, v in super().inputs().items() if k not in ADDRESS_FIELDS}
        return {**others, "shipping_address": self.address()}


# --- Customers ------------------------------------------------------------------------------


class RegisterCustomerForm(AddressForm):
    command = c.RegisterCustomer
    pins_version = False
    address_optional = True
    field_order = ["name", "email"]

    name = text("Name")
    email = text("E-mail", max_length=MAX_EMAIL, widget=forms.EmailInput)


class ChangeCustomerEmailForm(CommandForm):
    command = c.ChangeCustomerEmail

    email = text("New e-mail", max_length=MAX_EMAIL, widget=forms.EmailInput)

    @classmethod
    def defaults(cls, row: CustomerSummary, query: Any) -> dict[str, Any]:
        return {"email": row.email}


class ChangeCustomerAddressForm(AddressForm):
    command = c.ChangeCustomerAddress

    @classmethod
    def defaults(cls, row: CustomerSummary, query: Any) -> dict[str, Any]:
        return cls.address_defaults(row.shipping_address)


# --- Products -------------------------------------------------------------------------------


class CreateProductForm(CommandForm):
    command = c.CreateProduct
    pins_version = False

    sku = text("SKU", max_length=64, help_text="Letters, digits, '-' and '_'; unique.")
    name = text("Name")
    price = amount("Price")
    currency = text("Currency", max_length=3, initial="EUR", help_text="ISO 4217, such as EUR. The product keeps it.")

    def inputs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"sku": data["sku"], "name": data["name"], "price": Money(data["price"], data["currency"])}


class ChangeProductPriceForm(CommandForm):
    command = c.ChangeProductPrice

    price = amount("New price", help_text="In the product's currency. Lines already on orders keep their price.")

    @classmethod
    def defaults(cls, row: ProductStock, query: Any) -> dict[str, Any]:
        return {"price": row.price}

    def inputs(self) -> dict[str, Any]:
        return {"price": Money(self.cleaned_data["price"], self.row.currency)}


class ReceiveStockForm(CommandForm):
    command = c.ReceiveStock

    quantity = quantity(help_text="Items that arrived; they add to what is on hand.")


class AdjustStockForm(CommandForm):
    command = c.AdjustStock
    field_order = ["quantity", "reason"]

    quantity = quantity("Adjustment", help_text="Signed: -2 removes two items. Reserved items cannot be adjusted away.")
    reason = reason()


class DiscontinueProductForm(CommandForm):
    command = c.DiscontinueProduct


# --- Orders ---------------------------------------------------------------------------------


class CustomerChoice(forms.ModelChoiceField):
    def label_from_instance(self, customer: CustomerSummary) -> str:
        return f"{customer.name} <{customer.email}>"


class ProductChoice(forms.ModelChoiceField):
    def label_from_instance(self, product: ProductStock) -> str:
        return f"{product.sku} — {product.name} ({product.price} {product.currency}, {product.available} available)"


class CreateOrderForm(CommandForm):
    command = c.CreateOrder
    pins_version = False

    customer = CustomerChoice(CustomerSummary.objects.order_by("name"), label="Customer")
    currency = text("Currency", max_length=3, initial="EUR", help_text="Every amount on the order is in it.")

    @classmethod
    def defaults(cls, row: None, query: Any) -> dict[str, Any]:
        return {"customer": query.get("customer")} if query.get("customer") else {}

    def inputs(self) -> dict[str, Any]:
        return {"customer_id": self.cleaned_data["customer"].id, "currency": self.cleaned_data["currency"]}


class OrderLineForm(CommandForm):
    """A line of the order, picked from its lines."""

    product = forms.TypedChoiceField(label="Line", coerce=UUID)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lines = self.row.lines.all() if self.row is not None else []
        product = self.fields["product"]
        assert isinstance(product, forms.TypedChoiceField)
        product.choices = [(str(line.product_id), f"{line.sku} (quantity {line.quantity})") for line in lines]

    def inputs(self) -> dict[str, Any]:
        data = super().inputs()
        return {"product_id": data.pop("product"), **data}


class AddOrderLineForm(CommandForm):
    command = c.AddOrderLine

    product = ProductChoice(ProductStock.objects.none(), label="Product", help_text="At its current price.")
    quantity = quantity()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        currency = self.row.currency if self.row is not None else None
        product = self.fields["product"]
        assert isinstance(product, ProductChoice)
        product.queryset = ProductStock.objects.filter(discontinued=False, currency=currency).order_by("sku")

    @classmethod
    def defaults(cls, row: OrderSummary, query: Any) -> dict[str, Any]:
        return {"quantity": 1}

    def inputs(self) -> dict[str, Any]:
        return {"product_id": self.cleaned_data["product"].id, "quantity": self.cleaned_data["quantity"]}


class ChangeOrderLineQuantityForm(OrderLineForm):
    command = c.ChangeOrderLineQuantity

    quantity = quantity("New quantity")


class RemoveOrderLineForm(OrderLineForm):
    command = c.RemoveOrderLine


class SetShippingAddressForm(AddressForm):
    command = c.SetShippingAddress

    @classmethod
    def defaults(cls, row: OrderSummary, query: Any) -> dict[str, Any]:
        return cls.address_defaults(row.shipping_address)


class PlaceOrderForm(CommandForm):
    command = c.PlaceOrder


class OrderAmountForm(CommandForm):
    """An amount in the order's currency."""

    def inputs(self) -> dict[str, Any]:
        return {**super().inputs(), "amount": Money(self.cleaned_data["amount"], self.row.currency)}


class RecordPaymentForm(OrderAmountForm):
    command = c.RecordPayment

    amount = amount("Amount", help_text="In the order's currency; partial payments add up.")
    method = text("Method", help_text="Card, bank transfer...")
    reference = text("Reference", required=False)

    @classmethod
    def defaults(cls, row: OrderSummary, query: Any) -> dict[str, Any]:
        return {"amount": max(row.total - row.amount_paid, Decimal("0.00")), "method": "card"}


class ShipOrderForm(CommandForm):
    command = c.ShipOrder

    carrier = text("Carrier")
    tracking_number = text("Tracking number")


class DeliverOrderForm(CommandForm):
    command = c.DeliverOrder


class CancelOrderForm(CommandForm):
    command = c.CancelOrder

    reason = reason()


class RefundOrderForm(OrderAmountForm):
    command = c.RefundOrder
    field_order = ["amount", "reason"]

    amount = amount("Amount", help_text="At most what was paid and not yet refunded.")
    reason = reason()

    @classmethod
    def defaults(cls, row: OrderSummary, query: Any) -> dict[str, Any]:
        return {"amount": row.amount_paid - row.amount_refunded}
