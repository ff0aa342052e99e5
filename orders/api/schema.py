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
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from orders.models import command_codename

from .errors import ErrorSerializer
from .openapi import COMMAND_ERRORS, READ_ERRORS, RETRY_AFTER


class ApiSchema(AutoSchema):
    def get_request_serializer(self) -> Any:
        return getattr(self.view, "InputSerializer", None) if self.method == "POST" else None

    def get_response_serializers(self) -> Any:
        if self.method == "POST":
            result = OpenApiResponse(self.view.result_serializer, description="What the command did.")
            success, errors = {self.view.success_status: result}, COMMAND_ERRORS
        else:
            success, errors = {200: self.view.OutputSerializer}, getattr(self.view, "read_errors", READ_ERRORS)
            if getattr(self.view, "conditional", False):
                success[304] = OpenApiResponse(description="Not modified: the entity is at the version you named.")
        failures = {code: OpenApiResponse(ErrorSerializer, description=text) for code, text in sorted(errors.items())}
        return {**success, **failures}

    def get_override_parameters(self) -> list[Any]:
        if self.method == "POST":
            return [*self.view.documented_headers, RETRY_AFTER]
        query = [self.view.QuerySerializer] if self.view.QuerySerializer else []
        return [*query, *getattr(self.view, "read_headers", []), RETRY_AFTER]

    def get_operation_id(self) -> str:
        """A command is named after its command (``RegisterCustomer``: ``register_customer``),
        which stays so when its path gets a GET too; reads, where one view serves several
        paths, after their path: ``customers_list`` for a list (a view paging with a cursor
        ``scope`` of its own), ``customers_retrieve`` for one of its entities."""
        if self.method != "POST":
            operation = super().get_operation_id()
            return operation.removesuffix("_retrieve") + "_list" if hasattr(self.view, "scope") else operation
        return command_codename(self.view.command)

    def _get_serializer_name(self, serializer: Any, direction: str, bypass_extensions: bool = False) -> str:
        """A view's nested ``InputSerializer`` is named after the view: ``RegisterCustomerInput``."""
        outer, _, inner = type(serializer).__qualname__.rpartition(".")
        if outer:
            return outer.removesuffix("Api") + inner.removesuffix("Serializer")
        return super()._get_serializer_name(serializer, direction, bypass_extensions)

    def get_summary(self) -> str | None:
        return self._docstring()[0] or None

    def get_description(self) -> str:
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
        summary, _, description = inspect.cleandoc(side.__doc__ if side else "").partition("\n")
        return summary, description.strip()
