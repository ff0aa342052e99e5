"""The OpenAPI description of every endpoint, built from what its view declares.

A command view (POST) declares its ``InputSerializer``, ``result_serializer``,
``success_status`` and ``documented_headers``; a read view (GET) its ``QuerySerializer``,
``OutputSerializer`` and, for queries of the read models, ``read_headers``, ``read_errors``
and whether it is ``conditional`` (may answer 304). ``ApiSchema`` adds the error responses
every endpoint of its kind can give, so no endpoint can forget one (schemathesis checks
each answer against this). A collection view serves a query (GET) and a creating command
(POST); each method is documented from its own side's docstring.
"""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.serializers import Serializer

from orders.domain.commands import Command
from orders.models import command_codename

from .errors import ErrorSerializer
from .openapi import COMMAND_ERRORS, READ_ERRORS, RETRY_AFTER


@runtime_checkable
class _CommandView(Protocol):
    command: type[Command]
    result_serializer: type[Serializer]
    success_status: int
    documented_headers: list[OpenApiParameter]


@runtime_checkable
class _ReadView(Protocol):
    QuerySerializer: type[Serializer] | None
    OutputSerializer: type[Serializer]


class ApiSchema(AutoSchema):
    @property
    def _command_view(self) -> _CommandView:
        assert isinstance(self.view, _CommandView), f"{type(self.view).__name__} declares no command"
        return self.view

    @property
    def _read_view(self) -> _ReadView:
        assert isinstance(self.view, _ReadView), f"{type(self.view).__name__} declares no read"
        return self.view

    def get_request_serializer(self) -> Any:
        return getattr(self.view, "InputSerializer", None) if self.method == "POST" else None

    def get_response_serializers(self) -> Any:
        success: dict[int, OpenApiResponse | type[Serializer]]
        if self.method == "POST":
            view = self._command_view
            result = OpenApiResponse(view.result_serializer, description="What the command did.")
            success, errors = {view.success_status: result}, COMMAND_ERRORS
        else:
            success, errors = {200: self._read_view.OutputSerializer}, getattr(self.view, "read_errors", READ_ERRORS)
            if getattr(self.view, "conditional", False):
                success[304] = OpenApiResponse(description="Not modified: the entity is at the version you named.")
        failures = {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in sorted(errors.items())}
        return {**success, **failures}

    def get_override_parameters(self) -> list[Any]:
        if self.method == "POST":
            return [*self._command_view.documented_headers, RETRY_AFTER]
        query_serializer = self._read_view.QuerySerializer
        query = [query_serializer] if query_serializer else []
        return [*query, *getattr(self.view, "read_headers", []), RETRY_AFTER]

    def get_operation_id(self) -> str:
        """A command is named after its command (``RegisterCustomer``: ``register_customer``),
        which stays so when its path gets a GET too; reads, where one view serves several
        paths, after their path: ``customers_list`` for a list (a view paging with a cursor
        ``scope`` of its own), ``customers_retrieve`` for one of its entities."""
        if self.method != "POST":
            operation = super().get_operation_id()
            return operation.removesuffix("_retrieve") + "_list" if hasattr(self.view, "scope") else operation
        return command_codename(self._command_view.command)

    def _get_serializer_name(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> str:
        """A view's nested ``InputSerializer`` is named after the view: ``RegisterCustomerInput``."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super()._get_serializer_name(serializer, direction, bypass_extensions)

    def get_summary(self) -> str | None:
        return self._docstring()[0] or None

    def get_description(self) -> str:  # type: ignore[override]  # drf-spectacular's, not DRF's
        return self._docstring()[1]

    def _docstring(self) -> tuple[str, str]:
        """The docstring of the view's side serving this method (its command for POST, its
        read for GET): its first line is the summary, the rest the description."""
        from .views.base import CommandApi

        command = self.method == "POST"
        side = next(
            (
                cls
                for cls in type(self.view).__mro__
                if cls.__doc__ and issubclass(cls, CommandApi) == command and cls.__module__.startswith("orders.")
            ),
            None,
        )
        doc = side.__doc__ if side else None
        summary, _, description = inspect.cleandoc(doc or "").partition("\n")
        return summary, description.strip()
