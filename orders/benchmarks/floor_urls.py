"""The floor under ``api_query_rps``: the API's query paths answered by bare Django views, for
``api_query_floor_rps`` only (``config.benchmark_settings`` mounts them; production's
URLconf never does, and a test holds it to that).

Each view reads the rows the API's query reads, with ``.values()``, and answers with
``JsonResponse``: no authentication, permissions, rate limit, position or validation. What
the stack costs below the API's own work, measured by the same gunicorn, clients and mix.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.http import HttpRequest, JsonResponse
from django.urls import path

from projections.models import CustomerSummary, CustomerValue, OrderSummary, OrderSummaryLine, ProductStock

PRODUCT = ("id", "sku", "name", "price", "currency", "on_hand", "reserved", "available", "discontinued", "version")
CUSTOMER = ("id", "name", "email", "shipping_address", "version")
ORDER = (
    *("id", "number", "customer_id", "status", "currency", "total", "amount_paid", "amount_refunded"),
    *("shipping_address", "created_at", "placed_at", "paid_at", "shipped_at", "version"),
)
LINE = ("order_id", "product_id", "sku", "quantity", "unit_price", "line_total")


def _limit(request: HttpRequest) -> int:
    return int(request.GET.get("limit", 50))


def _page(results: list[dict[str, Any]]) -> JsonResponse:
    return JsonResponse({"results": results, "next": None})


def products(request: HttpRequest) -> JsonResponse:
    return _page(list(ProductStock.objects.order_by("sku", "id").values(*PRODUCT)[: _limit(request)]))


def product(request: HttpRequest, id: UUID) -> JsonResponse:
    return JsonResponse(ProductStock.objects.values(*PRODUCT).get(id=id))


def _with_values(customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    values = CustomerValue.objects.filter(customer_id__in=[c["id"] for c in customers]).values(
        "customer_id", "currency", "orders", "lifetime_value"
    )
    for customer in customers:
        customer.update(order_count=0, lifetime_value={})
    by_id = {customer["id"]: customer for customer in customers}
    for value in values:
        customer = by_id[value["customer_id"]]
        customer["order_count"] += value["orders"]
        customer["lifetime_value"][value["currency"]] = value["lifetime_value"]
    return customers


def customers(request: HttpRequest) -> JsonResponse:
    rows = list(CustomerSummary.objects.order_by("name", "id").values(*CUSTOMER)[: _limit(request)])
    return _page(_with_values(rows))


def customer(request: HttpRequest, id: UUID) -> JsonResponse:
    return JsonResponse(_with_values([CustomerSummary.objects.values(*CUSTOMER).get(id=id)])[0])


def _with_lines(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lines: Iterable[dict[str, Any]] = (
        OrderSummaryLine.objects.filter(order_id__in=[o["id"] for o in orders])
        .order_by("added_in_version")
        .values(*LINE)
    )
    by_id = {order["id"]: {**order, "lines": []} for order in orders}
    for line in lines:
        by_id[line.pop("order_id")]["lines"].append(line)
    return list(by_id.values())


def orders(request: HttpRequest) -> JsonResponse:
    rows = list(OrderSummary.objects.order_by("-created_at", "-id").values(*ORDER)[: _limit(request)])
    return _page(_with_lines(rows))


def order(request: HttpRequest, id: UUID) -> JsonResponse:
    return JsonResponse(_with_lines([OrderSummary.objects.values(*ORDER).get(id=id)])[0])


urlpatterns = [
    path("api/v1/products/", products),
    path("api/v1/products/<uuid:id>/", product),
    path("api/v1/customers/", customers),
    path("api/v1/customers/<uuid:id>/", customer),
    path("api/v1/orders/", orders),
    path("api/v1/orders/<uuid:id>/", order),
]
