"""The lean readers of Afosto bodies: how a decoded body (orjson, once) becomes the generated
records of `generated/payloads.py`, without a second validation.

Each generated record class lists its fields as `(json key, attribute, reader)`; `read_record`
fills a record's slots from a decoded object by those readers, and the readers of the leaves take
a value as it stands where its type is the documented one (`type(v) is str`, ...) and otherwise
coerce only what the documentation's looseness makes likely:

    text       a string; a number as its text
    integer    an int within GraphQL's 32 bits (Int); 7.0 and "7" as 7
    int64      the same within 64 bits (the docs' int64: the Int64 scalar)
    number     an int or float as a float; a numeric string
    boolean    a bool; 1/0 and "true"/"false"/"1"/"0"
    timestamp  ISO 8601 text as an aware datetime (no offset: UTC)
    day        ISO 8601 date text (a timestamp's date part)
    free       any JSON value, as decoded (the docs' free-form `object`)
    enum       one of the documented values (an Enum member)

A key the body lacks, and null, read as None: the documentation marks nothing required, so every
field is nullable. So does empty text where a time, a date or an enum value stands (how APIs
written in PHP often send "not set"). Anything else (a wrong type, an int beyond its bound, a value outside an enum)
is refused: UpstreamError, UPSTREAM_ERROR as a field error, as `backends/upstream/payloads.py`
refuses what its models refuse. Unknown keys are ignored.

Imports errors only; never strawberry.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from facade.errors import UpstreamError

API = "Afosto API"
INT32 = 2**31
INT64 = 2**63

Reader = Callable[[Any], Any]
R = TypeVar("R", bound="AfostoRecord")
E = TypeVar("E", bound=enum.Enum)

# What each composite reader reads, by reader: ("record", record class), ("many", item reader) or
# ("enum", enum class). Filled as the generated module is imported; read by whatever must make
# values these readers take (the sandbox's emulation, `facade.sandbox.afosto.conform`), never on
# the reading path, which stays a plain closure call.
READS: dict[Reader, tuple[str, Any]] = {}


def refused(what: str, value: Any) -> UpstreamError:
    # The value stays out of the message: it could be anything the upstream sent.
    return UpstreamError(f"The {API} answered with a body facade cannot read ({what}).", upstream=API)


class AfostoRecord:
    """A generated record: slots filled by `read_record` from a decoded Afosto object."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[tuple[str, str, Reader], ...]] = ()

    def __repr__(self) -> str:
        shown = ", ".join(f"{attr}={getattr(self, attr)!r}" for _, attr, _ in self.FIELDS)
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, attr) == getattr(other, attr) for _, attr, _ in self.FIELDS)

    __hash__ = None  # type: ignore[assignment]


def slots(fields: tuple[tuple[str, str, Reader], ...]) -> tuple[str, ...]:
    """A record's slots: the attributes its FIELDS fill."""
    return tuple(attr for _, attr, _ in fields)


def read_record(cls: type[R], item: Any) -> R:
    """`item` (a decoded JSON object) as a `cls` record."""
    read = _COMPILED.get(cls) or _compile(cls)
    result: R = read(item)
    return result


def record(cls: type[AfostoRecord]) -> Reader:
    def read(value: Any) -> Any:
        return (_COMPILED.get(cls) or _compile(cls))(value)

    READS[read] = ("record", cls)
    return read


# Each record class's reader, written out when the class is first read: a plain function that
# reads every field by name into its slot, with the common case of the leaf readers inline (a str
# where text is documented, an int within 32 bits where an integer is), rather than a loop over
# FIELDS with a call and a setattr per field. A catalog-100 request reads some 550 records.
_COMPILED: dict[type, Callable[[Any], Any]] = {}


def _compile(cls: type[AfostoRecord]) -> Callable[[Any], Any]:
    scope: dict[str, Any] = {"cls": cls, "new": object.__new__, "refused": refused, "INT32": INT32}
    body = [
        "def read(item):",
        "    if type(item) is not dict:",
        f"        raise refused({cls.__name__ + ' is not an object'!r}, item)",
        "    r = new(cls)",
        "    get = item.get",
    ]
    for n, (key, attr, reader) in enumerate(cls.FIELDS):
        if not attr.isidentifier():  # pragma: no cover - the generator writes identifiers
            raise ValueError(f"{cls.__name__}: {attr!r} is not an attribute name")
        scope[f"r{n}"] = reader
        body += [f"    v = get({key!r})", f"    r.{attr} = None if v is None else {_inline(reader, n)}"]
    body.append("    return r")
    exec("\n".join(body), scope)  # noqa: S102 - our own source, from the generated FIELDS
    read: Callable[[Any], Any] = scope["read"]
    _COMPILED[cls] = read
    return read


def projection(cls: type[AfostoRecord], attributes: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    """A reader of some of `cls`'s fields only: a decoded object -> {attribute: value} for
    `attributes`, each read as `cls`'s reader reads it (written out the same way), the other
    fields not read at all. For a caller that builds its own record from a few fields of a long
    list (the commerce backend's prices and stock levels), without the record in between."""
    fields = {attr: (key, reader) for key, attr, reader in cls.FIELDS}
    scope: dict[str, Any] = {"refused": refused, "INT32": INT32}
    body = [
        "def read(item):",
        "    if type(item) is not dict:",
        f"        raise refused({cls.__name__ + ' is not an object'!r}, item)",
        "    get = item.get",
    ]
    for n, attr in enumerate(attributes):
        key, reader = fields[attr]  # KeyError: not a field of cls
        scope[f"r{n}"] = reader
        body += [f"    v = get({key!r})", f"    a{n} = None if v is None else {_inline(reader, n)}"]
    body.append("    return {" + ", ".join(f"{attr!r}: a{n}" for n, attr in enumerate(attributes)) + "}")
    exec("\n".join(body), scope)  # noqa: S102 - our own source, from the generated FIELDS
    read: Callable[[Any], dict[str, Any]] = scope["read"]
    return read


def _inline(reader: Reader, n: int) -> str:
    """The expression reading `v` with reader `r{n}`: the common case of a leaf reader inline."""
    if reader is text:
        return f"v if type(v) is str else r{n}(v)"
    if reader is integer:
        return f"v if type(v) is int and -INT32 <= v < INT32 else r{n}(v)"
    return f"r{n}(v)"


def many(reader: Reader) -> Reader:
    """A list, each item by `reader` (null items stay None)."""

    def read(value: Any) -> list[Any]:
        if type(value) is not list:
            raise refused("a list expected", value)
        return [None if item is None else reader(item) for item in value]

    READS[read] = ("many", reader)
    return read


def read_many(cls: type[R], items: Any) -> list[R | None]:
    """A body that is a list of `cls` records."""
    result: list[R | None] = many(record(cls))(items)
    return result


def text(value: Any) -> str:
    if type(value) is str:
        return value
    if type(value) in (int, float):
        return str(value)
    raise refused("text expected", value)


def _whole(value: Any, bound: int, what: str) -> int:
    number: Any = value
    if type(value) is float and value.is_integer():
        number = int(value)
    elif type(value) is str:
        try:
            number = int(value.strip())
        except ValueError:
            raise refused(what, value) from None
    if type(number) is not int or not -bound <= number < bound:
        raise refused(what, value)
    return number


def integer(value: Any) -> int:
    if type(value) is int and -INT32 <= value < INT32:
        return value
    return _whole(value, INT32, "a 32-bit integer expected")


def int64(value: Any) -> int:
    if type(value) is int and -INT64 <= value < INT64:
        return value
    return _whole(value, INT64, "a 64-bit integer expected")


def number(value: Any) -> float:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    if type(value) is str:
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise refused("a number expected", value)


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if type(value) is str and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    raise refused("a boolean expected", value)


def timestamp(value: Any) -> dt.datetime | None:
    if type(value) is str:
        if not value:
            return None
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise refused("an ISO 8601 time expected", value) from None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
    raise refused("an ISO 8601 time expected", value)


def day(value: Any) -> dt.date | None:
    if type(value) is str:
        if not value:
            return None
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise refused("an ISO 8601 date expected", value)


def free(value: Any) -> Any:
    return value


def choice(cls: type[E]) -> Reader:
    """One of an enum's documented values, as its member."""
    members: dict[Any, E] = {member.value: member for member in cls}

    def read(value: Any) -> E | None:
        member = members.get(value) if type(value) is str else None
        if member is None and value != "":
            raise refused(f"a {cls.__name__} value expected", value)
        return member

    READS[read] = ("enum", cls)
    return read
