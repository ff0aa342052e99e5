"""Turning events into JSON and back: the type registry, upcasters, canonical JSON.

Plain Python on purpose (no Django), so domain code and its tests can use it without a
database. Stored payloads hold only JSON's exact types: strings, integers, booleans, null,
lists and objects. Decimals, UUIDs and datetimes are written as strings; floats are refused,
because their text form is not stable and the hash chain needs byte-identical input.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import types
import typing
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from .exceptions import InvalidEvent

JSONValue = None | bool | int | str | list["JSONValue"] | dict[str, "JSONValue"]
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def format_datetime(value: dt.datetime) -> str:
    """UTC, microseconds, ``Z``: one spelling per instant."""
    if value.tzinfo is None:
        raise InvalidEvent(f"datetime {value!r} has no time zone")
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_datetime(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def check_text(value: str) -> str:
    if "\x00" in value:
        raise InvalidEvent("text may not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEvent("text must be valid Unicode (no lone surrogates)") from None
    return value


def _check_int(value: int) -> int:
    """Integers fit in 64 bits, so every JSON reader (orjson's too, which reads larger ones
    as floats) gets back the number that was signed."""
    if not -(2**63) <= value < 2**63:
        raise InvalidEvent(f"integer {value} does not fit in 64 bits; store it as a string")
    return value


def _check_key(key: Any) -> str:
    if type(key) is not str:
        raise InvalidEvent(f"object keys must be strings, not {type(key).__name__}")
    return check_text(key)


def to_json_value(value: Any) -> JSONValue:
    """Normalise a payload to JSON's exact types, refusing what cannot round-trip."""
    kind = type(value)  # exact types and plain ASCII inline first: this runs on every append
    if kind is str:
        return value if value.isascii() and "\x00" not in value else check_text(value)
    if kind is int:
        return _check_int(value)
    if value is None:
        return None
    if kind is bool:
        return bool(value)
    if kind is dict:
        return to_json_object(value)
    if kind is list:
        return [to_json_value(item) for item in value]
    if isinstance(value, str):
        return check_text(str(value))
    if isinstance(value, enum.Enum):
        return to_json_value(value.value)
    if isinstance(value, int):
        return _check_int(int(value))
    if isinstance(value, float):
        raise InvalidEvent("floats are not stored; use Decimal or int")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidEvent(f"decimal {value} is not finite")
        return str(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return to_json_object(value)
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise InvalidEvent(f"cannot store a value of type {type(value).__name__}")


def to_json_object(value: Mapping[str, Any]) -> dict[str, JSONValue]:
    """``to_json_value`` of a mapping (an event's data, its metadata)."""
    return {
        key if type(key) is str and key.isascii() and "\x00" not in key else _check_key(key): to_json_value(item)
        for key, item in value.items()
    }


def canonical_json(value: JSONValue) -> str:
    """The one text form of a JSON value that signatures are computed over.

    By definition ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``: keys sorted by code point, no whitespace, non-ASCII kept as
    UTF-8. orjson writes the same bytes for these values (the test suite checks it) in a
    fraction of the time; integers beyond 64 bits fall back to the standard library.
    PostgreSQL's JSONB reorders keys, so signatures never depend on the stored text.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- Typed events --------------------------------------------------------------------------


def _identity(value: Any) -> Any:
    return value


def _converter(hint: Any) -> Callable[[Any], Any]:
    """A function turning a JSON value back into a value of the annotated type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = _converter(args[0]) if len(args) == 1 else _identity
        return lambda v: None if v is None else inner(v)
    if origin in (tuple, list):
        item_hints = typing.get_args(hint)
        inner = _converter(item_hints[0]) if item_hints else _identity
        container = tuple if origin is tuple else list
        return lambda v: container(inner(item) for item in v)
    if origin in (dict, Mapping) or hint in (dict, str, int, bool, Any):
        return _identity
    if hint is Decimal:
        return Decimal
    if hint is UUID:
        return UUID
    if hint is dt.datetime:
        return parse_datetime
    if hint is dt.date:
        return dt.date.fromisoformat
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        codec = _DataclassCodec(hint)
        return codec.decode
    return _identity


class _DataclassCodec:
    """Decodes payloads into one dataclass. A function generated for the class handles
    the usual case (every field present) without a loop; payloads that leave out fields
    with defaults take the general path."""

    def __init__(self, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        self.cls = cls
        self.fields = [(f.name, _converter(hints[f.name])) for f in dataclasses.fields(cls) if f.init]
        namespace: dict[str, Any] = {"cls": cls}
        arguments = []
        for index, (name, convert) in enumerate(self.fields):
            if convert is _identity:
                arguments.append(f"{name}=data[{name!r}]")
            else:
                namespace[f"convert_{index}"] = convert
                arguments.append(f"{name}=convert_{index}(data[{name!r}])")
        exec(f"def decode_all(data):\n    return cls({', '.join(arguments)})", namespace)
        self._decode_all = namespace["decode_all"]

    def decode(self, data: Mapping[str, Any]) -> Any:
        try:
            return self._decode_all(data)
        except KeyError:
            return self.cls(**{name: convert(data[name]) for name, convert in self.fields if name in data})


@dataclasses.dataclass(frozen=True)
class EventType:
    name: str
    version: int
    cls: type | None
    codec: _DataclassCodec | None


class EventRegistry:
    """Event type names and schema versions, their classes, and upcasters between versions."""

    def __init__(self) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_class: dict[type, EventType] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type, *, name: str, version: int = 1) -> None:
        if not dataclasses.is_dataclass(cls):
            raise TypeError(f"{cls.__name__} must be a dataclass to be registered as an event")
        known = self._by_name.get(name)
        if known is not None and known.cls is not cls:
            raise ValueError(f"event type {name!r} is already registered to {known.cls}")
        entry = EventType(name=name, version=version, cls=cls, codec=_DataclassCodec(cls))
        self._by_name[name] = entry
        self._by_class[cls] = entry

    def event(self, name: str, version: int = 1) -> Callable[[type], type]:
        """Class decorator: ``@registry.event("OrderPlaced", version=2)``."""

        def decorate(cls: type) -> type:
            self.register(cls, name=name, version=version)
            return cls

        return decorate

    def upcaster(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function turning a ``from_version`` payload into ``from_version + 1``."""

        def decorate(func: Upcaster) -> Upcaster:
            key = (name, from_version)
            if key in self._upcasters:
                raise ValueError(f"an upcaster for {name!r} v{from_version} is already registered")
            self._upcasters[key] = func
            return func

        return decorate

    @property
    def upcast_keys(self) -> Mapping[tuple[str, int], Upcaster]:
        """(type, version) pairs with an upcaster; the store checks each row against it."""
        return self._upcasters

    def upcast(self, name: str, version: int, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """The payload in its current shape, and that shape's version. Never mutates ``data``."""
        while (name, version) in self._upcasters:
            data = self._upcasters[(name, version)](dict(data))
            version += 1
        return version, data

    def type_of(self, cls: type) -> EventType:
        try:
            return self._by_class[cls]
        except KeyError:
            raise LookupError(f"{cls.__name__} is not a registered event class") from None

    def encode(self, event: Any) -> tuple[str, int, dict[str, JSONValue]]:
        """(type name, schema version, JSON payload) of a registered event instance."""
        entry = self.type_of(type(event))
        return entry.name, entry.version, to_json_value(event)  # type: ignore[return-value]  # registered: a dataclass

    def decode(self, name: str, data: Mapping[str, Any]) -> Any:
        """An instance of the class registered for ``name``, from a current-shape payload."""
        try:
            entry = self._by_name[name]
        except KeyError:
            raise LookupError(f"no event class is registered for type {name!r}") from None
        assert entry.codec is not None
        return entry.codec.decode(data)

    def names(self) -> list[str]:
        return sorted(self._by_name)


registry = EventRegistry()
