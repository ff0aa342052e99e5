from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.urls import include, path

from . import health, metrics


def backoffice_moved(request: HttpRequest, rest: str = "") -> HttpResponsePermanentRedirect:
    """The back office's pages lived under /admin/backoffice/ until its admin joined the
    orders app: old links and bookmarks answer 301 to the same page there."""
    return HttpResponsePermanentRedirect(request.get_full_path().replace("/admin/backoffice/", "/admin/orders/", 1))


# Under /api/ these answer in the API's error shape; elsewhere they are Django's own.
handler400 = "orders.api.errors.bad_request"
handler500 = "orders.api.errors.server_error"

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/backoffice/", backoffice_moved),
    path("admin/backoffice/<path:rest>", backoffice_moved),
    path("admin/", admin.site.urls),
    path("api/", include("orders.api.urls")),
]
