"""What every command endpoint shares: HTTP in, one command to the bus, its result out."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar
from uuid import UUID

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from orders import bus, errors, repository
from orders.context import CommandContext
from orders.domain.aggregate import Aggregate
from orders.domain.commands import Command, for_target
from orders.ids import new_id

from ..http import etag, idempotency_key, if_match
from ..openapi import ETAG, IDEMPOTENCY_KEY, IF_MATCH, LOCATION, REQUEST_ID
from ..serializers import CommandResultSerializer

A = TypeVar("A", bound=Aggregate)


class CommandApi(APIView):
    """A command on an existing entity: ``POST <entity>/{id}/<command>/``.

    Subclasses name their ``command`` and, when it takes inputs, an ``InputSerializer``
    whose validated fields are the command's own (override ``to_command`` otherwise).
    """

    command: ClassVar[type[Command]]
    InputSerializer: ClassVar[type[serializers.Serializer] | None] = None
    result_serializer: ClassVar[type[serializers.Serializer]] = CommandResultSerializer
    success_status: ClassVar[int] = 200
    documented_headers: ClassVar[list[OpenApiParameter]] = [IF_MATCH, IDEMPOTENCY_KEY, REQUEST_ID, ETAG]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A view naming its command is documented by it: the OpenAPI schema reads the view's
        docstring, which becomes the command's (``orders.domain.commands``, the one account
        of what it does, which the admin shows too), then what only HTTP adds (status codes,
        where an input comes from)."""
        super().__init_subclass__(**kwargs)
        if "command" in cls.__dict__:
            parts = (inspect.getdoc(cls.command), inspect.cleandoc(cls.__doc__ or ""))
            cls.__doc__ = "\n\n".join(part for part in parts if part)

    def post(self, request: Request, id: UUID) -> Response:
        options = {"expected_version": if_match(request), "idempotency_key": idempotency_key(request)}
        return self.run(request, self.to_command(id, self.body(request), **options))

    def to_command(self, id: UUID, data: dict[str, Any], **options: Any) -> Command:
        """The command for entity ``id`` with the body's ``data`` and the headers' ``options``."""
        return for_target(self.command, id, **data, **options)

    def body(self, request: Request) -> dict[str, Any]:
        if self.InputSerializer is None:
            return {}
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def run(self, request: Request, command: Command, headers: Mapping[str, str] | None = None) -> Response:
        """Dispatch ``command`` as the request's user; answer with what it did. A replayed
        idempotent command gives the same result, so the same answer."""
        context = CommandContext.for_user(request.user, source="api")  # the request's X-Request-ID
        result = bus.dispatch(command, context)
        headers = {"ETag": etag(result.version), **(headers or {})}
        return Response(self.result_serializer(result).data, status=self.success_status, headers=headers)


class CreateApi(CommandApi):
    """A command that makes a new entity: ``POST <collection>/``, answered with 201 and the
    new entity's ``Location``. ``collection`` is the URL name of the collection."""

    success_status = 201
    documented_headers = [IDEMPOTENCY_KEY, REQUEST_ID, LOCATION, ETAG]
    collection: ClassVar[str]

    def post(self, request: Request) -> Response:  # type: ignore[override]  # DRF's post takes *args, **kwargs
        key = idempotency_key(request)
        id = new_id(request.user, self.command, key)
        location = request.build_absolute_uri(f"{reverse(self.collection)}{id}/")
        command = self.to_command(id, self.body(request), idempotency_key=key)
        return self.run(request, command, {"Location": location})


def existing(cls: type[A], id: UUID) -> A:
    """The entity now, for an input a command needs from it (the currency of an amount in
    the body, which never changes); NotFound, as the command itself would raise."""
    aggregate = repository.load(cls, id)
    if not aggregate.exists:
        raise errors.NotFound(cls.STREAM_TYPE, id)
    return aggregate


class NoSuchPathApi(APIView):
    """Every other path under /api/: a 404 in the API's error shape."""

    permission_classes = [AllowAny]
    schema = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        raise NotFound("No such path. API paths end in a slash; the list is at /api/docs/.")
