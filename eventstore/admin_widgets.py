"""Admin building blocks every face of Chronicle's admin shares: a read-only admin and
two kinds of list filter (a box to type into, a from/to range).

They sit in the lowest layer with an admin, the event log's, so the event browser, the read
side's pages and the back office can all use them without importing one another.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime


def parse_moment(raw: str) -> dt.datetime | None:
    """A date-time typed into a page (naive: in the shop's time zone), or None when it
    cannot be one: malformed, impossible (30 February) or outside what UTC can hold (year 1
    at midnight east of Greenwich), which the database would refuse with an OverflowError."""
    try:
        moment = parse_datetime(raw.strip())
        if moment is not None and timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(dt.UTC) if moment is not None else None
    except (ValueError, OverflowError):
        return None


def _other_params(changelist: Any, mine: tuple[str | None, ...]) -> list[tuple[str, str]]:
    """The changelist's other filter parameters, as hidden inputs of a filter's form."""
    pairs = []
    for name, values in changelist.get_filters_params().items():
        if name not in mine:
            pairs += [(name, value) for value in (values if isinstance(values, list) else [values])]
    return pairs


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]  # not subscriptable at run time
    """An admin with no add, change or delete: what it lists changes only through commands
    (or, for the log itself, never)."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InputFilter(admin.SimpleListFilter):
    """A filter typed into a box (ids, actors) rather than picked from a list."""

    template = "admin/chronicle/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("", "")]  # a list filter must offer something to be shown

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:  # type: ignore[override]  # its own template's keys
        yield {
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "others": _other_params(changelist, (self.parameter_name,)),
        }


class RangeFilter(admin.ListFilter):
    """From/to on one field, each bound optional. Subclasses name the ``field``, the two
    query parameters, the inputs' type and how a value is read (``parse`` returns None
    when it cannot)."""

    template = "admin/chronicle/range_filter.html"
    field: ClassVar[str]
    parameters: ClassVar[tuple[str, str]]
    input_type: ClassVar[str] = "text"
    # Extra attributes of the two inputs, e.g. {"step": "0.01", "min": "0"}.
    input_attrs: ClassVar[dict[str, str]] = {}

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.values: dict[str, str] = {}
        for name in self.parameters:
            if name in params:
                raw = params.pop(name)
                self.values[name] = (raw[-1] if isinstance(raw, list) else raw).strip()

    @staticmethod
    def parse(raw: str) -> Any:
        raise NotImplementedError

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return list(self.parameters)

    def bounds(self) -> Iterator[tuple[str, Any]]:
        for lookup, name in zip(("gte", "lte"), self.parameters, strict=True):
            raw = self.values.get(name, "")
            if raw:
                value = self.parse(raw)
                if value is None:
                    raise admin.options.IncorrectLookupParameters(f"{name}: {raw!r} is not a valid value")
                yield f"{self.field}__{lookup}", value

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(**dict(self.bounds()))

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        yield {
            "inputs": [
                (name, label, self.values.get(name, ""))
                for name, label in zip(self.parameters, ("from", "to"), strict=True)
            ],
            "input_type": self.input_type,
            "input_attrs": self.input_attrs.items(),
            "others": _other_params(changelist, self.parameters),
        }


# The admin pages of each stream type, registered by the face that owns the streams (the
# back office registers "order" -> "orders_order"), so the event log links to an entity's
# history and past states without knowing the shop.
STREAM_PAGES: dict[str, str] = {}


def register_stream_pages(stream_type: str, url_prefix: str) -> None:
    """``url_prefix`` names the admin URLs ``<prefix>_history`` and ``<prefix>_state``,
    each taking the stream id."""
    STREAM_PAGES[stream_type] = url_prefix


def stream_page_url(stream_type: str, stream_id: Any, page: str = "history") -> str | None:
    """The URL of a stream's ``history`` or ``state`` page; None for a type no face shows."""
    prefix = STREAM_PAGES.get(stream_type)
    return reverse(f"admin:{prefix}_{page}", args=[stream_id]) if prefix else None
