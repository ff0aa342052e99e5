"""The OpenAPI schema and its interactive docs, behind ``DocsAccess``."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response


class SchemaApi(SpectacularAPIView):
    """``GET /api/schema/``: the OpenAPI document (401 in the API's shape without a login
    where the docs are not public)."""

    def handle_exception(self, exc: Exception) -> Response:
        # An error is the API's JSON, not an OpenAPI document's media type.
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class DocsPage(SpectacularSwaggerView):
    """``GET /api/docs/``: Swagger UI. A browser without a login is sent to the admin's
    sign-in page and back, rather than shown a JSON 401; the page then fetches the schema
    with the same session."""

    def handle_exception(self, exc: Exception) -> HttpResponseBase:  # type: ignore[override]  # DRF takes any response
        if isinstance(exc, NotAuthenticated):
            return redirect_to_login(self.request.get_full_path(), reverse("admin:login"))
        return super().handle_exception(exc)
