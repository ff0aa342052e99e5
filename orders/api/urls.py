"""``/api/``: version 1 of the API, its OpenAPI schema and interactive docs, and a JSON 404
for every other path."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path

from orders.domain import Customer, Order, Product

from .views import customers, events, log, orders, products
from .views.base import CommandApi, NoSuchPathApi
from .views.docs import DocsPage, SchemaApi

app_name = "api"


def _reads(stream_type: str, collection: str) -> list[URLPattern]:
    """An entity's history and past states, from the event log."""
    return [
        path(
            f"{collection}/<uuid:id>/history/",
            events.HistoryApi.as_view(stream_type=stream_type),
            name=f"{stream_type}-history",
        ),
        path(
            f"{collection}/<uuid:id>/state/",
            events.StateApi.as_view(stream_type=stream_type),
            name=f"{stream_type}-state",
        ),
    ]


def _commands(collection: str, views: dict[str, type[CommandApi]]) -> list[URLPattern]:
    """``<collection>/<id>/<command>/`` for each command view."""
    return [
        path(f"{collection}/<uuid:id>/{name}/", view.as_view(), name=f"{collection}-{name}")
        for name, view in views.items()
    ]


v1: list[URLPattern | URLResolver] = [
    path("customers/", customers.CustomersApi.as_view(), name="customers"),
    path("customers/<uuid:id>/", customers.CustomerApi.as_view(), name="customer"),
    *_commands(
        "customers",
        {"change-email": customers.ChangeCustomerEmailApi, "change-address": customers.ChangeCustomerAddressApi},
    ),
    *_reads(Customer.STREAM_TYPE, "customers"),
    path("products/", products.ProductsApi.as_view(), name="products"),
    path("products/<uuid:id>/", products.ProductApi.as_view(), name="product"),
    *_commands(
        "products",
        {
            "change-price": products.ChangeProductPriceApi,
            "receive-stock": products.ReceiveStockApi,
            "adjust-stock": products.AdjustStockApi,
            "discontinue": products.DiscontinueProductApi,
        },
    ),
    *_reads(Product.STREAM_TYPE, "products"),
    path("orders/", orders.OrdersApi.as_view(), name="orders"),
    path("orders/<uuid:id>/", orders.OrderApi.as_view(), name="order"),
    *_commands(
        "orders",
        {
            "lines": orders.AddOrderLineApi,
            "change-quantity": orders.ChangeOrderLineQuantityApi,
            "remove-line": orders.RemoveOrderLineApi,
            "set-shipping-address": orders.SetShippingAddressApi,
            "place": orders.PlaceOrderApi,
            "pay": orders.PayOrderApi,
            "ship": orders.ShipOrderApi,
            "deliver": orders.DeliverOrderApi,
            "cancel": orders.CancelOrderApi,
            "refund": orders.RefundOrderApi,
        },
    ),
    *_reads(Order.STREAM_TYPE, "orders"),
    path("events/", events.EventFeedApi.as_view(), name="events"),
    path("events/<uuid:event_id>/proof/", log.EventProofApi.as_view(), name="event-proof"),
    path("log/keys/", log.KeyringApi.as_view(), name="log-keys"),
    path("log/seals/", log.SealListApi.as_view(), name="log-seals"),
    path("log/seals/<int:tree_size>/", log.SealApi.as_view(), name="log-seal"),
    path("log/consistency/", log.ConsistencyApi.as_view(), name="log-consistency"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SchemaApi.as_view(), name="schema"),
    path("docs/", DocsPage.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", NoSuchPathApi.as_view()),
]
