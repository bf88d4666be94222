"""What the upstream APIs' bodies have in common: the tolerant pydantic base (`Payload`), the
lenient field types (`Text`, `WholeNumber`, `Timestamp`, `Uid`, `Int16`, `Int32`), the lean-reader
plumbing (`lean`, `as_text`, `opt_time`, `first_of`), tokens (`jwt_claims`, `token_expiry`) and
paging (`PageWindow`, `sort_locally`, `page_of`). Each API's own bodies and converters to
facade's records (`facade.models`) live in its folder: `flecs/payloads.py`, `flow/payloads.py`.

Tolerant means: unknown fields are ignored, fields the contract marks required but a real server
may leave out have defaults, and the contracts' known defects are accepted as the servers send
them rather than "fixed" (each API's module lists its own). What the records need and no payload
carries is documented on each converter; the usual case: a creation time the contract does not
send becomes `UNKNOWN_TIME` (the Unix epoch).

How a list becomes records (the pattern every list an upstream sends whole follows, and the one
generated clients should follow):

1. The body is decoded once, by orjson (`UpstreamResponse.json`); a body that is not JSON is
   UpstreamError there.
2. The envelope (`Envelope[ProductPage]`, `FlowList[Any]`, ...) is a small pydantic model whose
   item list is `list[Any]`: the paging fields are checked, the items are left as decoded.
3. Each item goes through a lean reader that builds its record as it reads (`product_record`,
   `subscription_record`, `device_record`): plain `type(x) is ...` checks of exactly the fields
   the record takes, inline where one test does. Any value it does not take as it stands (a
   number sent as text, D11's 42.0, an alias, a missing id, a wrong type) raises `Unusual`, and
   `lean` hands that one item to the payload model, which coerces what the contract's defects
   need and refuses the rest (UpstreamError: UPSTREAM_ERROR as a field error); the model's dump
   then goes through the same reader (`to_product`), so one function builds each record. The
   models stay the one statement of what is accepted, and the tests hold the readers to them
   (the same records for every body the models read, an error for every body they refuse).
   Null where a record wants text is "" either way (the models' `Text`).
4. Records are made with `Record.trusted`: no second validation, no intermediate dict per item
   or nested item (the reader fills each record's own dict), nested records built explicitly.
   What a reader checked is what the record's types promise the graph (ints within Int32 where
   the graph answers an Int, text as str, aware timestamps).
   A listed record is `Record.deferred`: its scalars (and what a key or a rule needs, like the
   embedded store's id) are checked and held at once, and each costly part (nested lists,
   timestamps, nested records a query rarely reads) is read by its own function on the first
   read of one of its fields (a `Parts` table per record type, a `Deferred` per reader). A part
   the function does not take is the model's reading, or UpstreamError at the field that read
   it: the error of that field alone, as GraphQL reports any field's. A query pays for what it
   reads: flecs-100 (`id name price store { id name }`) builds 955 us of records per page
   of 100 where it built 2,184 (bench/readers.py).
5. The list is the answer: the page of records goes to the graph as it is (no per-id loader
   re-reads it). A record embeds what the payload embedded (`Product.embedded_store`).

A single object's GET (a login, one product, a created review) is validated by its model
directly: there is only one of it.

Imports models and errors only (the API folders import this module, never the reverse).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from facade.errors import BadUserInput, UpstreamError
from facade.models import (
    INT32_MAX,
    Page,
    PageArgs,
    SortDirection,
    Unusual,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
# A record's deferred parts: field name -> the function reading that field (and the others of its
# part) from the decoded item; Unusual where the item is not as the reader takes it.
Parts = Mapping[str, Callable[[Any], dict[str, Any]]]

# What a record gets for a time the upstream does not send: the epoch says "unknown" plainly,
# where "now" would claim a fact nobody stated.
UNKNOWN_TIME = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class Payload(BaseModel):
    """Any upstream body: unknown fields ignored, values coerced the lenient (lax) way."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# Every model a body was read as, held: pydantic keeps its parametrised generic models
# (`Envelope[ProductPage]`, `FlowList[Any]`) in a weak cache, so one nothing else holds was freed
# by each run of the cyclic collector and built again on its next read (0.6 to 0.9 ms each time).
# A fixed set of classes.
_READ_AS: set[type[Any]] = set()


def parse(model: type[M], data: Any, api: str) -> M:
    """`data` read as `model`, or UpstreamError: a body we cannot read is the upstream's fault."""
    if model not in _READ_AS:
        _READ_AS.add(model)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UpstreamError(f"The {api} answered with a body facade cannot read.", upstream=api) from exc


# ---------------------------------------------------------------------------------------------
# Small coercions


def _number_to_int(value: Any) -> Any:
    """D11: a JSON number that is a whole number (7, 7.0, "7") as an int."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip():
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return value
        if number == number.to_integral_value():
            return int(number)
    return value


def _none_to_empty(value: Any) -> Any:
    return "" if value is None else value


def _to_str(value: Any) -> Any:
    """Uids and ids sent as JSON numbers are read as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _utc(value: Any) -> Any:
    """Timestamps without an offset (WooCommerce's `date_created_gmt`) are UTC."""
    if isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def lean(fast: Callable[..., T], model: type[M], convert: Callable[[M], T], api: str) -> Callable[..., T]:
    """The reader of one item: `fast(item, **options)` (a lean reader, see the module docstring;
    `options` are the caller's, such as a page's shared records), else `convert` of the item read
    by the tolerant `model`; UpstreamError when the model refuses it."""

    def read(item: Any, **options: Any) -> T:
        try:
            return fast(item, **options)
        except Unusual:
            return convert(parse(model, item, api))

    return read


def as_text(value: Any) -> str:
    """What the models' `Text` reads without coercion: text, or null as ""; else Unusual."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    raise Unusual


def opt_time(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = _utc(value)
    if type(parsed) is dt.datetime:
        return parsed
    raise Unusual


def first_of(item: dict[str, Any], names: tuple[str, ...]) -> Any:
    """What `AliasChoices(*names)` reads: the value of the first name present, else None."""
    for name in names:
        if name in item:
            return item[name]
    return None


WholeNumber = Annotated[int, BeforeValidator(_number_to_int)]
Text = Annotated[str, BeforeValidator(_none_to_empty)]
Timestamp = Annotated[dt.datetime, BeforeValidator(_utc)]
Uid = Annotated[str, BeforeValidator(_to_str)]
Int16 = Annotated[int, BeforeValidator(_number_to_int), Field(ge=-32768, le=32767)]
# A number the graph answers as a GraphQL Int: one beyond 32 bits is the upstream's error, named
# where it enters (parse), not a failure of the caller's field later.
Int32 = Annotated[int, BeforeValidator(_number_to_int), Field(ge=-(2**31), le=INT32_MAX)]


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The claims of a JWT, NOT verified: only for routing and display (who a forwarded token
    names, when it expires); the upstream that issued it is the one that checks it."""
    if not token:
        return {}
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    body = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(body.encode()))
    except (ValueError, UnicodeDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def token_expiry(token: str, given: int | None = None) -> int:
    """When a token expires (Unix seconds): as the payload says, else the JWT's `exp`, else 0."""
    if given is not None:
        return given
    exp = jwt_claims(token).get("exp")
    return int(exp) if isinstance(exp, int | float) else 0


# ---------------------------------------------------------------------------------------------
# Paging: facade's limit/offset over the upstreams' numbered pages


class PageWindow:
    """The numbered pages (1-based) that hold `limit` items after `offset`, and how to cut them.

    Pages are `limit` items long, so an offset that is a multiple of the limit is one page,
    exactly; any other offset straddles two pages, which are both fetched and sliced. A limit
    above the upstream's largest page (`max_size`) is fetched as several pages of that size. A
    limit of 0 (only the total is wanted) asks for one page of one item.
    """

    __slots__ = ("first", "last", "limit", "offset", "size")

    def __init__(self, page: PageArgs, max_size: int | None = None) -> None:
        if page.limit < 0 or page.offset < 0:
            raise BadUserInput("limit and offset must not be negative", field="limit")
        self.limit = page.limit
        self.offset = page.offset
        self.size = max(page.limit, 1) if max_size is None else max(min(page.limit, max_size), 1)
        self.first = page.offset // self.size + 1
        self.last = (page.offset + max(page.limit, 1) - 1) // self.size + 1

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)

    def cut(self, items: Sequence[T]) -> list[T]:
        """The window out of the concatenated pages `first..last`."""
        start = self.offset - (self.first - 1) * self.size
        return list(items[start : start + self.limit])


def sort_locally(
    items: Sequence[T], page: PageArgs, keys: dict[str, Callable[[T], Any]], ident: Callable[[T], Any]
) -> list[T]:
    """Items ordered as the local store orders them: by the sort key, then id, both in the page's
    direction. BadUserInput for a key the entity does not have (as the local store answers)."""
    key = keys.get(page.sort)
    if key is None:
        raise BadUserInput(f"sort must be one of: {', '.join(sorted(keys))}", field="sort")
    return sorted(items, key=lambda item: (key(item), ident(item)), reverse=page.direction is SortDirection.DESC)


def record_id(record: Any) -> Any:
    """A record's `id`: the tie-breaker (`ident`) of `sort_locally` for records."""
    return record.id


def page_of(items: Sequence[T], page: PageArgs) -> Page[T]:
    """A page cut out of a complete, already sorted list."""
    if page.limit < 0 or page.offset < 0:
        raise BadUserInput("limit and offset must not be negative", field="limit")
    return Page(items=list(items[page.offset : page.offset + page.limit]), total=len(items), offset=page.offset)


def decimal_key(value: str) -> Decimal:
    try:
        return Decimal(value)
    except InvalidOperation:
        return Decimal(0)
