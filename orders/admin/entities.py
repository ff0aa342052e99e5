"""The staff back office: orders, products and customers, read from the read models and
changed only through commands.

Each list is read-only and each row's page is an entity page: the current state, the
commands its status offers (to those who may issue them), and links to its history
(``<id>/history/``, in place of the admin's log of edits) and time travel (``<id>/state/``).
Each command is a small view of its own (``<id>/<command>/``, or
``<command>/`` for creating ones) with a form that pins the version the staff member saw
and carries a one-time idempotency key; after it runs, the entity page waits briefly for
the projection to show the change (read-your-writes), and with a read replica the staff
member's session reads the primary until the replica shows it (``freshness.remember_write``).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Final
from uuid import UUID

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.datastructures import MultiValueDict
from django.utils.dateparse import parse_date
from django.utils.html import format_html

from eventstore.admin_widgets import InputFilter, RangeFilter, ReadOnlyAdmin, parse_moment, register_stream_pages
from eventstore.cursor import MAX_POSITION
from eventstore.models import Event
from eventstore.records import MAX_VERSION
from projections import freshness
from projections.models import CustomerValue, OrderSummary

from .. import bus, domain, history, history_labels
from ..context import CommandContext
from ..domain import DomainError, OrderStatus
from ..errors import CommandRefused, NotFound, VersionConflict
from ..ids import new_id
from ..models import Customer, Order, Product
from ..permissions import may_issue
from ..templatetags.backoffice import money
from . import actions as commands
from .actions import Action
from .forms import CommandForm, fresh_key

# How the pages of an entity's past are titled, by page, given "order CH-000042".
PAGE_TITLES: Final = {"History": "History of {}", "Time travel": "Time travel: {}"}

# --- List filters -----------------------------------------------------------------------------


class CreatedBetweenFilter(RangeFilter):
    """Days in the shop's time zone, both included."""

    title = "created between"
    field = "created_at__date"
    parameters = ("created_from", "created_to")
    input_type = "date"

    @staticmethod
    def parse(raw: str) -> Any:
        try:
            return parse_date(raw)
        except ValueError:
            return None


class TotalBetweenFilter(RangeFilter):
    title = "total between"
    field = "total"
    parameters = ("total_min", "total_max")
    input_type = "number"
    input_attrs = {"step": "0.01", "min": "0"}

    @staticmethod
    def parse(raw: str) -> Decimal | None:
        try:
            value = Decimal(raw)
        except InvalidOperation:
            return None
        return value if value.is_finite() else None


class StatusFilter(admin.SimpleListFilter):
    """Every status in the order of an order's life (not only those present)."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(status.value, status.value.capitalize()) for status in OrderStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(status=self.value()) if self.value() else queryset


class CustomerFilter(InputFilter):
    title = "customer (e-mail or id)"
    parameter_name = "customer"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = (self.value() or "").strip()
        if not value:
            return queryset
        try:
            return queryset.filter(customer_id=UUID(value))
        except ValueError:
            return queryset.filter(customer_email__iexact=value)


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("low", f"Low (under {settings.LOW_STOCK_BELOW} available)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "low":
            return queryset.filter(available__lt=settings.LOW_STOCK_BELOW)
        return queryset


# --- Entity admins ----------------------------------------------------------------------------


class EntityAdmin(ReadOnlyAdmin):
    """A read-only list whose rows open entity pages, plus one view per command.

    Subclasses name their ``stream_type``, the ``projections`` their pages read (waited for
    after a command), the ``create`` action and the ``actions_on_entity``.
    """

    stream_type: ClassVar[str]
    projections: ClassVar[tuple[str, ...]]
    create: ClassVar[Action]
    actions_on_entity: ClassVar[tuple[Action, ...]]
    entity_template: ClassVar[str]
    change_list_template = "admin/orders/change_list.html"
    actions = None
    list_per_page = 50
    show_full_result_count = False

    def __init__(self, model: type, admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        register_stream_pages(self.stream_type, f"{self.opts.app_label}_{self.opts.model_name}")

    def may_issue(self, request: HttpRequest, action: Action) -> bool:
        """The admin's own check (may see these entities) and the command's permission."""
        return self.has_view_permission(request) and may_issue(request.user, action.command)

    # --- URLs --------------------------------------------------------------------------------

    def url_name(self, suffix: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"

    def entity_url(self, id: Any) -> str:
        return reverse(f"admin:{self.url_name('change')}", args=[id])

    def action_url(self, action: Action, id: Any = None) -> str:
        return reverse(f"admin:{self.url_name(action.url_suffix)}", args=[] if action.creates else [id])

    def get_urls(self) -> list[Any]:
        view = self.admin_site.admin_view

        def command_view(action: Action) -> Any:
            def run(request: HttpRequest, object_id: UUID | None = None) -> HttpResponse:
                return self.command_view(request, action, object_id)

            return view(run)

        urls = [path(f"{self.create.slug}/", command_view(self.create), name=self.url_name(self.create.url_suffix))]
        urls += [
            path(f"<uuid:object_id>/{action.slug}/", command_view(action), name=self.url_name(action.url_suffix))
            for action in self.actions_on_entity
        ]
        urls += [
            path("<uuid:object_id>/history/", view(self.history_view), name=self.url_name("history")),
            path("<uuid:object_id>/state/", view(self.state_view), name=self.url_name("state")),
        ]
        return urls + super().get_urls()

    # --- Lists -------------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        create = (self.create.label, self.action_url(self.create)) if self.may_issue(request, self.create) else None
        return super().changelist_view(request, {**(extra_context or {}), "create": create})

    # --- Entity pages ------------------------------------------------------------------------

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Django's own answer to an id with no row: a message, and the list."""
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]  # not in the stubs

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The entity page. After a command (``?after=<position>``) it first waits, up to
        ADMIN_FRESHNESS_WAIT_SECONDS, for its projections to show that event."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        updating = not self._caught_up(request)
        row = self.get_object(request, object_id)
        if row is None and not updating:
            return self._missing(request, object_id)
        context = {
            **self.admin_site.each_context(request),
            **self.entity_context(request, row),
            "opts": self.opts,
            "title": f"{str(self.opts.verbose_name).capitalize()} {row}" if row else f"New {self.opts.verbose_name}",
            "subtitle": None,
            "object": row,
            "object_id": object_id,
            "stream_type": self.stream_type,
            "updating": updating,
            "commands": [
                (action.label, self.action_url(action, row.pk))
                for action in self.actions_on_entity
                if row is not None and action.offered(row) and self.may_issue(request, action)
            ],
            "history_url": self.page_url("history", row.pk) if row else None,
            "state_url": self.page_url("state", row.pk) if row else None,
            "changelist_url": reverse(f"admin:{self.url_name('changelist')}"),
        }
        return TemplateResponse(request, self.entity_template, context)

    def entity_context(self, request: HttpRequest, row: Any) -> dict[str, Any]:
        """What else an entity page shows besides the row itself."""
        return {}

    def _caught_up(self, request: HttpRequest) -> bool:
        try:
            position = int(request.GET.get("after", ""))
        except ValueError:
            return True
        if not 0 < position <= MAX_POSITION:
            return True
        timeout = settings.ADMIN_FRESHNESS_WAIT_SECONDS
        return freshness.wait_until(self.projections, position, timeout=timeout)

    # --- Commands ----------------------------------------------------------------------------

    def command_view(self, request: HttpRequest, action: Action, object_id: UUID | None) -> HttpResponse:
        """A command's form; on a valid POST the command runs and the entity page follows."""
        if not self.may_issue(request, action):
            raise PermissionDenied
        row = None
        if object_id is not None:
            row = self.get_object(request, str(object_id))
            if row is None:
                return self._missing(request, str(object_id))
        if request.method == "POST":
            form = action.form(request.POST, row=row)
            if form.is_valid():
                done = self._issue(request, action, form, row)
                if isinstance(done, HttpResponse):
                    return done
                form, row = done
        else:
            form = action.form(initial=action.form.initial_for(row, request.GET), row=row)
        return self._render_command(request, action, form, row)

    def _issue(
        self, request: HttpRequest, action: Action, form: CommandForm, row: Any
    ) -> HttpResponse | tuple[CommandForm, Any]:
        """Run the form's command as the staff member. Success: to the entity page, with
        the position to wait for. A refusal: the form again, with the reason, a new key
        (the old one is spent on this outcome) and, after a conflict, the version now shown."""
        key = form.cleaned_data["idempotency_key"]
        target = new_id(request.user, action.command, key) if action.creates else row.pk
        context = CommandContext.for_user(request.user, source="admin")
        try:
            result = bus.dispatch(form.to_command(target), context)
        except VersionConflict as conflict:
            row = self.get_object(request, str(row.pk))
            messages.error(
                request,
                f"Someone else changed this {self.stream_type} meanwhile (now version {conflict.current_version}); "
                "review and try again. Nothing was changed.",
            )
            return self._form_again(action, form, row, version=row.version), row
        except (DomainError, CommandRefused) as refusal:
            messages.error(request, refusal.message)
            again = self._form_again(action, form, row)
            for name, message in refusal.fields.items():
                if name in again.fields and name not in again.errors:
                    again.add_error(name, message)
            return again, row
        messages.success(request, f"{action.label}: done. The {self.stream_type} is now at version {result.version}.")
        if result.position:
            freshness.remember_write(request.session, self.projections, result.position)
        url = self.entity_url(result.id)
        return HttpResponseRedirect(f"{url}?after={result.position}" if result.position else url)

    @staticmethod
    def _form_again(action: Action, form: CommandForm, row: Any, version: int | None = None) -> CommandForm:
        assert isinstance(form.data, MultiValueDict), "a bound form's data"
        data = form.data.copy()
        data["idempotency_key"] = fresh_key()
        if version is not None:
            data["version"] = str(version)
        again = action.form(data, row=row)
        again.is_valid()
        return again

    def _render_command(self, request: HttpRequest, action: Action, form: CommandForm, row: Any) -> HttpResponse:
        subject = f"{self.stream_type} {row}" if row is not None else ""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{action.label}: {subject}" if subject else action.label,
            "subtitle": None,
            "action": action,
            "form": form,
            "object": row,
            "stream_type": self.stream_type,
            "offered": row is None or action.offered(row),
            "entity_url": self.entity_url(row.pk) if row is not None else None,
            "changelist_url": reverse(f"admin:{self.url_name('changelist')}"),
            "summary": self.summary(row) if row is not None else [],
        }
        return TemplateResponse(request, "admin/orders/command_form.html", context)

    def summary(self, row: Any) -> list[tuple[str, Any]]:
        """The few facts a command's form shows about its entity."""
        return [("Version", row.version)]

    # --- History and time travel -------------------------------------------------------------

    def page_url(self, page: str, id: Any) -> str:
        return reverse(f"admin:{self.url_name(page)}", args=[id])

    def _stream_context(
        self, request: HttpRequest, stream_id: UUID, page: str, state: dict[str, Any] | None
    ) -> dict[str, Any]:
        """What a history or time-travel ``page`` ("History") shows around the entity,
        titled by its name as of ``state`` (its id only when there is none)."""
        subject = history_labels.subject(self.stream_type, stream_id, state)
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": PAGE_TITLES[page].format(subject),
            "page": page,
            "entity_name": history_labels.name(self.stream_type, state),
            "stream_type": self.stream_type,
            "stream_id": stream_id,
            "history_url": self.page_url("history", stream_id),
            "state_url": self.page_url("state", stream_id),
            "entity_url": self.entity_url(stream_id),
            "changelist_url": reverse(f"admin:{self.url_name('changelist')}"),
            "events_url": reverse("admin:eventstore_event_changelist"),
        }

    def _check_log_permission(self, request: HttpRequest) -> None:
        """The event log's own rule: a history or past state is read from it."""
        if not self.admin_site.get_model_admin(Event).has_view_permission(request):
            raise PermissionDenied

    def history_view(self, request: HttpRequest, object_id: Any, extra_context: Any = None) -> HttpResponse:
        """The entity's events, a page at a time, each with its payload and what it changed
        (in place of the admin's own history, which has no edits to show)."""
        stream_type = self.stream_type
        try:
            stream_id = UUID(str(object_id))
        except ValueError:
            raise Http404(f"No {stream_type} with id {object_id!r}.") from None
        self._check_log_permission(request)
        after = _int(request.GET.get("after_version"), 0)
        limit = min(_int(request.GET.get("limit"), 50), 200)
        try:
            now = history.state_at(stream_type, stream_id)
            entries = history.history(stream_type, stream_id, after_version=after, limit=limit)
        except NotFound as exc:
            return self._not_found(request, self._stream_context(request, stream_id, "History", None), exc)
        context = self._stream_context(request, stream_id, "History", now.state)
        numbers = history_labels.order_numbers(state for entry in entries for state in (entry.before, entry.after))
        context.update(
            entries=entries,
            rows=[(entry, history_labels.changes(entry.before, entry.after, numbers)) for entry in entries],
            current_version=now.version,
            previous_after=max(after - limit, 0) if after else None,
            next_after=entries[-1].event.version if entries and entries[-1].event.version < now.version else None,
            limit=limit,
        )
        return TemplateResponse(request, "admin/chronicle/history.html", context)

    def state_view(self, request: HttpRequest, object_id: UUID) -> HttpResponse:
        """The entity as of a version or a moment, and how it differs from now."""
        stream_type, stream_id = self.stream_type, object_id
        self._check_log_permission(request)
        at_text = request.GET.get("at", "").strip()
        at = parse_moment(at_text) if at_text else None
        try:
            now = history.state_at(stream_type, stream_id)
        except NotFound as exc:
            return self._not_found(request, self._stream_context(request, stream_id, "Time travel", None), exc)
        context = self._stream_context(request, stream_id, "Time travel", now.state)
        version = _int(request.GET.get("version"), now.version)
        try:
            then = (
                history.state_at(stream_type, stream_id, at=at)
                if at
                else history.state_at(stream_type, stream_id, version=version)
            )
        except CommandRefused as exc:
            return self._not_found(request, context, exc)
        numbers = history_labels.order_numbers([then.state, now.state])
        context.update(
            now=now,
            then=then,
            at=at_text,
            bad_moment=bool(at_text) and at is None,
            changes_since=history_labels.changes(then.state, now.state, numbers),
            state_fields=history_labels.fields(then.state, numbers),
            state_json=json.dumps(then.state, indent=2, ensure_ascii=False),
        )
        return TemplateResponse(request, "admin/chronicle/state.html", context)

    def _not_found(self, request: HttpRequest, context: dict[str, Any], error: CommandRefused) -> HttpResponse:
        context.update(error=error.message)
        return TemplateResponse(request, "admin/chronicle/not_found.html", context, status=error.status_code)


@admin.register(Order)
class OrderAdmin(EntityAdmin):
    stream_type = domain.Order.STREAM_TYPE
    projections = ("orders",)
    create = commands.CREATE_ORDER
    actions_on_entity = commands.ORDER_ACTIONS
    entity_template = "admin/orders/order.html"

    list_display = (
        "number",
        "customer",
        "status",
        "item_count",
        "total_display",
        "paid_display",
        "created_at",
        "placed_at",
    )
    list_filter = (StatusFilter, CreatedBetweenFilter, CustomerFilter, TotalBetweenFilter)
    search_fields = ("number", "customer_email", "customer_name")
    search_help_text = "Search by order number, customer e-mail or name."
    ordering = ("-created_at",)

    @admin.display(description="customer", ordering="customer_name")
    def customer(self, order: Order) -> str:
        url = reverse("admin:orders_customer_change", args=[order.customer_id])
        return format_html(
            '<a href="{}">{}</a> <span class="quiet">{}</span>', url, order.customer_name, order.customer_email
        )

    @admin.display(description="total", ordering="total")
    def total_display(self, order: Order) -> str:
        return money(order.total, order.currency)

    @admin.display(description="paid", ordering="amount_paid")
    def paid_display(self, order: Order) -> str:
        return money(order.amount_paid, order.currency)

    def entity_context(self, request: HttpRequest, row: Any) -> dict[str, Any]:
        if row is None:
            return {}
        return {
            "lines": row.lines.all(),
            "balance": row.total - row.amount_paid,
            "customer_url": reverse("admin:orders_customer_change", args=[row.customer_id]),
        }

    def summary(self, row: Any) -> list[tuple[str, Any]]:
        return [
            ("Status", row.status),
            ("Customer", f"{row.customer_name} <{row.customer_email}>"),
            ("Total", money(row.total, row.currency)),
            ("Paid", money(row.amount_paid, row.currency)),
            ("Refunded", money(row.amount_refunded, row.currency)),
            *super().summary(row),
        ]


@admin.register(Product)
class ProductAdmin(EntityAdmin):
    stream_type = domain.Product.STREAM_TYPE
    projections = ("stock",)
    create = commands.CREATE_PRODUCT
    actions_on_entity = commands.PRODUCT_ACTIONS
    entity_template = "admin/orders/product.html"

    list_display = ("sku", "name", "price_display", "on_hand", "reserved", "available", "discontinued")
    list_filter = (LowStockFilter, "discontinued", "currency")
    search_fields = ("sku", "name")
    search_help_text = "Search by SKU or name."
    ordering = ("sku",)

    @admin.display(description="price", ordering="price")
    def price_display(self, product: Product) -> str:
        return money(product.price, product.currency)

    def entity_context(self, request: HttpRequest, row: Any) -> dict[str, Any]:
        low = row is not None and row.available < settings.LOW_STOCK_BELOW
        return {"low_stock": low, "low_stock_below": settings.LOW_STOCK_BELOW}

    def summary(self, row: Any) -> list[tuple[str, Any]]:
        return [
            ("Name", row.name),
            ("Price", money(row.price, row.currency)),
            ("On hand / reserved / available", f"{row.on_hand} / {row.reserved} / {row.available}"),
            ("Discontinued", "yes" if row.discontinued else "no"),
            *super().summary(row),
        ]


@admin.register(Customer)
class CustomerAdmin(EntityAdmin):
    stream_type = domain.Customer.STREAM_TYPE
    projections = ("customers",)
    create = commands.REGISTER_CUSTOMER
    actions_on_entity = commands.CUSTOMER_ACTIONS
    entity_template = "admin/orders/customer.html"

    list_display = ("name", "email", "city", "country", "registered_at")
    search_fields = ("name", "email")
    search_help_text = "Search by name or e-mail."
    ordering = ("name",)

    @admin.display(description="city")
    def city(self, customer: Customer) -> str:
        return (customer.shipping_address or {}).get("city", "")

    @admin.display(description="country")
    def country(self, customer: Customer) -> str:
        return (customer.shipping_address or {}).get("country", "")

    def entity_context(self, request: HttpRequest, row: Any) -> dict[str, Any]:
        if row is None:
            return {}
        orders = OrderSummary.objects.filter(customer_id=row.pk).order_by("-created_at")
        order_admin = self.admin_site.get_model_admin(Order)
        assert isinstance(order_admin, EntityAdmin)
        may_order = order_admin.may_issue(request, commands.CREATE_ORDER)
        return {
            "orders": orders[:20],
            "order_count": orders.count(),
            "orders_url": reverse("admin:orders_order_changelist") + f"?customer={row.pk}",
            "values": CustomerValue.objects.filter(customer_id=row.pk),
            "new_order_url": reverse("admin:orders_order_create") + f"?customer={row.pk}" if may_order else None,
        }

    def summary(self, row: Any) -> list[tuple[str, Any]]:
        return [("Name", row.name), ("E-mail", row.email), *super().summary(row)]


def _int(value: str | None, default: int) -> int:
    """A count or version from the query string, held to 0..MAX_VERSION so the database is
    never handed a number it cannot bind."""
    try:
        return min(max(int(value), 0), MAX_VERSION) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
