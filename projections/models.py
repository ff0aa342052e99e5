"""Checkpoints and read models.

Read models are ordinary tables that only projections write (see ``projections.subscribers``);
everything in them can be thrown away and rebuilt from the event log. They carry no database
foreign keys (``db_constraint=False``): a rebuild swaps each projection's tables on their
own, and a constraint would tie them to tables another projection owns. Money is a
``DecimalField`` in the currency named beside it; times are the events' ``occurred_at``
(business time).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

from django.db import models
from django.utils import timezone


# Sized for what the log may already hold, not only for today's limits (orders.domain's
# MAX_*): an order written before them (10^16 and more) still replays into these columns.
class _Money(TypedDict):
    max_digits: int
    decimal_places: int


MONEY: _Money = {"max_digits": 20, "decimal_places": 2}
ZERO = Decimal("0.00")


class Checkpoint(models.Model):
    """Where one subscriber is in the feed, advanced with the read-model writes it covers."""

    RUNNING = "running"
    FAILED = "failed"

    # The subscriber's name, e.g. "orders".
    name = models.CharField(max_length=100, primary_key=True)
    # "projection" or "process manager".
    kind = models.CharField(max_length=32)
    # Opaque feed cursor just past the last event handled; "" is the start of the log.
    cursor = models.CharField(max_length=200, blank=True)
    # Position of the last event handled, for people (resuming uses the cursor).
    last_position = models.BigIntegerField(default=0)
    # RUNNING, or FAILED until someone retries it.
    state = models.CharField(max_length=16, default=RUNNING)
    # The failing handler's exception and traceback.
    last_error = models.TextField(blank=True)
    # Position, id and type of the event whose handler failed (null when writing the batch failed).
    failed_position = models.BigIntegerField(null=True, blank=True)
    failed_event_id = models.UUIDField(null=True, blank=True)
    failed_event_type = models.CharField(max_length=128, blank=True)
    # When it failed.
    failed_at = models.DateTimeField(null=True, blank=True)
    # Events handled since the checkpoint was created or its read models were rebuilt.
    events_processed = models.BigIntegerField(default=0)
    # When a rebuild last replaced the read models.
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    # Last change of this row.
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "projection_checkpoint"
        ordering = ["name"]
        # The admin lists these as its projections page.
        verbose_name = "projection"

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"


class RebuildJob(models.Model):
    """One rebuild of a projection, as any process sees it: who asked, how far its replay
    is, whether someone asked to cancel it, and how it ended (``projections.rebuild_jobs``).
    Not a read model: rebuilds never replace this table."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ACTIVE = (QUEUED, RUNNING)

    # The projection rebuilt, e.g. "orders".
    projection = models.CharField(max_length=100)
    # QUEUED (waiting for a worker), RUNNING, then DONE, FAILED or CANCELLED.
    state = models.CharField(max_length=16, default=QUEUED)
    # The user who asked, or "command-line".
    requested_by = models.CharField(max_length=150, blank=True)
    # Events replayed so far, and to replay in all as counted when the replay began (more
    # may arrive meanwhile). When done: the events its read models were rebuilt from.
    events_done = models.BigIntegerField(default=0)
    events_total = models.BigIntegerField(null=True, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    # When a process took it up, and last wrote its progress (its heartbeat).
    started_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set by whoever cancels it; the rebuild stops at its next progress write.
    cancel_requested = models.BooleanField(default=False)
    # Why it failed or stopped.
    error = models.TextField(blank=True)

    class Meta:
        db_table = "projection_rebuild"
        ordering = ["-requested_at", "-id"]
        constraints = [
            # A second rebuild of a projection is refused while one waits or runs.
            models.UniqueConstraint(
                fields=["projection"],
                condition=models.Q(state__in=("queued", "running")),
                name="projection_rebuild_one_active",
            )
        ]

    def __str__(self) -> str:
        return f"rebuild of {self.projection} ({self.state})"

    @property
    def active(self) -> bool:
        return self.state in self.ACTIVE

    @property
    def elapsed_seconds(self) -> float:
        """From its start to its last progress write (or its end)."""
        if self.started_at is None:
            return 0.0
        return max(0.0, ((self.finished_at or self.updated_at) - self.started_at).total_seconds())

    @property
    def percent(self) -> int:
        if not self.events_total:
            return 100 if self.events_total == 0 else 0
        return min(100, 100 * self.events_done // self.events_total)

    @property
    def rate(self) -> float | None:
        """Events replayed a second, on average since it started."""
        elapsed = self.elapsed_seconds
        return self.events_done / elapsed if self.events_done and elapsed > 0 else None

    @property
    def eta_seconds(self) -> float | None:
        """Seconds until its replay is through, at its average rate (0 once through: it is
        swapping its tables in)."""
        rate = self.rate
        if self.events_total is None or rate is None:
            return None
        return max(0, self.events_total - self.events_done) / rate


# --- Orders (OrdersProjection) ------------------------------------------------------------


class OrderSummary(models.Model):
    """One row per order, as the order lists and the order API show it."""

    # The order's stream id.
    id = models.UUIDField(primary_key=True)
    # The shop's order number, e.g. CH-000123.
    number = models.CharField(max_length=64)
    # Who ordered, with name and e-mail copied in so lists can search them.
    customer_id = models.UUIDField()
    customer_name = models.CharField(max_length=200, blank=True)
    customer_email = models.CharField(max_length=254, blank=True)
    # draft, placed, confirmed, rejected, paid, shipped, delivered or cancelled.
    status = models.CharField(max_length=16)
    # Why it was rejected or cancelled.
    status_reason = models.TextField(blank=True)
    # ISO 4217 code of every amount on the order.
    currency = models.CharField(max_length=3)
    # Number of items over all lines.
    item_count = models.BigIntegerField(default=0)
    # Sum of the line totals.
    total = models.DecimalField(**MONEY, default=ZERO)
    # Payments recorded so far.
    amount_paid = models.DecimalField(**MONEY, default=ZERO)
    # Refunds issued so far.
    amount_refunded = models.DecimalField(**MONEY, default=ZERO)
    # Where it ships: line1, line2, postal_code, city, country (null until known).
    shipping_address = models.JSONField(null=True, blank=True)
    # Carrier and tracking number once shipped.
    carrier = models.CharField(max_length=200, blank=True)
    tracking_number = models.CharField(max_length=200, blank=True)
    # When each step happened (business time).
    created_at = models.DateTimeField()
    placed_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The stream version and feed position of the last event folded in.
    version = models.IntegerField()
    last_position = models.BigIntegerField()

    class Meta:
        db_table = "projection_order"
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-placed_at"], name="projection_order_status_idx"),
            models.Index(fields=["-placed_at"], name="projection_order_placed_idx"),
            models.Index(fields=["customer_id", "-placed_at"], name="projection_order_customer_idx"),
            models.Index(fields=["total"], name="projection_order_total_idx"),
            models.Index(fields=["number"], name="projection_order_number_idx"),
            models.Index(fields=["customer_email"], name="projection_order_email_idx"),
            # The API's order list: newest first, also per status and per customer.
            models.Index(fields=["-created_at", "-id"], name="projection_order_recent_idx"),
            models.Index(fields=["status", "-created_at", "-id"], name="projection_order_st_recent_idx"),
            models.Index(fields=["customer_id", "-created_at", "-id"], name="projection_order_cu_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderSummaryLine(models.Model):
    """One line of an order: one product, its quantity and the price copied at the time."""

    # uuid5 of order and product: an order has at most one line per product.
    id = models.UUIDField(primary_key=True)
    # The order this line belongs to.
    order = models.ForeignKey(OrderSummary, on_delete=models.DO_NOTHING, db_constraint=False, related_name="lines")
    # The product ordered and its SKU.
    product_id = models.UUIDField()
    sku = models.CharField(max_length=64)
    quantity = models.BigIntegerField()
    # Price per item, in the order's currency.
    unit_price = models.DecimalField(**MONEY)
    # quantity x unit_price.
    line_total = models.DecimalField(**MONEY)
    # The order's version when the line was added, to list lines in the order they came.
    added_in_version = models.IntegerField()

    class Meta:
        db_table = "projection_order_line"
        ordering = ["added_in_version"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku}"


class OrderCustomer(models.Model):
    """What the orders projection knows of a customer: the name and e-mail it copies onto
    orders, and the orders to update when they change. Private to that projection."""

    # The customer's stream id.
    id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # Ids (strings) of the customer's orders.
    order_ids = models.JSONField(default=list)

    class Meta:
        db_table = "projection_order_customer"


# --- Stock (StockProjection) --------------------------------------------------------------


class ProductStock(models.Model):
    """A product's price and stock: what the catalogue and stock lists show."""

    # The product's stream id.
    id = models.UUIDField(primary_key=True)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    # Current price, in `currency`.
    price = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    # Items in the warehouse.
    on_hand = models.BigIntegerField(default=0)
    # Items held for orders not yet shipped.
    reserved = models.BigIntegerField(default=0)
    # on_hand - reserved: what new orders can still get.
    available = models.BigIntegerField(default=0)
    discontinued = models.BooleanField(default=False)
    # The stream version and feed position of the last event folded in.
    version = models.IntegerField()
    last_position = models.BigIntegerField()

    class Meta:
        db_table = "projection_stock"
        ordering = ["sku"]
        indexes = [
            # The product list pages by (sku, id).
            models.Index(fields=["sku", "id"], name="projection_stock_sku_id_idx"),
            models.Index(fields=["name"], name="projection_stock_name_idx"),
            models.Index(fields=["available"], name="projection_stock_available_idx"),
        ]

    def __str__(self) -> str:
        return self.sku


# --- Customers (CustomersProjection) ------------------------------------------------------


class CustomerSummary(models.Model):
    """A customer as the customer lists show them; order count and lifetime value per
    currency are in ``values`` (CustomerValue, kept by the sales projection)."""

    # The customer's stream id.
    id = models.UUIDField(primary_key=True)
    name = models.CharField(max_length=200)
    email = models.CharField(max_length=254)
    # Default shipping address: line1, line2, postal_code, city, country (or null).
    shipping_address = models.JSONField(null=True, blank=True)
    # When they registered (business time).
    registered_at = models.DateTimeField()
    # The stream version and feed position of the last event folded in.
    version = models.IntegerField()
    last_position = models.BigIntegerField()

    class Meta:
        db_table = "projection_customer"
        ordering = ["name"]
        indexes = [
            # The customer list pages by (name, id).
            models.Index(fields=["name", "id"], name="projection_customer_nm_id_idx"),
            models.Index(fields=["email"], name="projection_customer_email_idx"),
        ]

    def __str__(self) -> str:
        return self.name


# --- Sales analytics (SalesProjection) ----------------------------------------------------


class CustomerValue(models.Model):
    """A customer's orders and lifetime value in one currency (never converted)."""

    # "<customer id>:<currency>".
    id = models.CharField(max_length=64, primary_key=True)
    customer = models.ForeignKey(
        CustomerSummary, on_delete=models.DO_NOTHING, db_constraint=False, related_name="values"
    )
    currency = models.CharField(max_length=3)
    # Orders that count as sales (see projections.sales).
    orders = models.BigIntegerField(default=0)
    # Their totals less refunds.
    lifetime_value = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        db_table = "projection_customer_value"
        ordering = ["currency"]


class SalesFigures(models.Model):
    """What a row of sales counts, in one currency (see projections.sales)."""

    currency = models.CharField(max_length=3)
    # Orders that count as sales, and their items.
    orders = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)
    # Per day: their totals less refunds; per product: its line totals.
    revenue = models.DecimalField(**MONEY, default=ZERO)

    class Meta:
        abstract = True


class SalesDay(SalesFigures):
    """Sales of the orders placed on one day in the shop's time zone."""

    # "<YYYY-MM-DD>:<currency>".
    id = models.CharField(max_length=16, primary_key=True)
    day = models.DateField()

    class Meta:
        db_table = "projection_sales_day"
        ordering = ["-day", "currency"]
        indexes = [models.Index(fields=["-day", "currency"], name="projection_sales_day_idx")]


class SalesProduct(SalesFigures):
    """Sales of one product: the counted orders with it, its items and line totals."""

    # "<product id>:<currency>".
    id = models.CharField(max_length=64, primary_key=True)
    product_id = models.UUIDField()
    sku = models.CharField(max_length=64)

    class Meta:
        db_table = "projection_sales_product"
        ordering = ["sku"]
        indexes = [models.Index(fields=["currency", "-revenue"], name="projection_sales_product_idx")]


class StatusCount(models.Model):
    """The order funnel: orders now in a status, and orders that ever reached it."""

    # draft, placed, confirmed, rejected, paid, shipped, delivered or cancelled.
    status = models.CharField(max_length=16, primary_key=True)
    current = models.BigIntegerField(default=0)
    reached = models.BigIntegerField(default=0)

    class Meta:
        db_table = "projection_sales_status"


class SalesOrder(models.Model):
    """What the sales projection remembers of an order to take it back out later.
    Private to that projection."""

    # The order's stream id.
    id = models.UUIDField(primary_key=True)
    customer_id = models.UUIDField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16)
    # Lines while a draft, then as placed: {product id: [sku, quantity, unit price]}.
    lines = models.JSONField(default=dict)
    # The day (shop time zone) it was placed; null for drafts.
    placed_day = models.DateField(null=True, blank=True)
    # Its total as placed and the refunds issued since.
    total = models.DecimalField(**MONEY, default=ZERO)
    refunded = models.DecimalField(**MONEY, default=ZERO)
    # Whether it counts as a sale now (placed, and neither rejected nor cancelled).
    counted = models.BooleanField(default=False)

    class Meta:
        db_table = "projection_sales_order"
