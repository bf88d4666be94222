"""Relay object identification: the `Node` interface, global ids, and `node`/`nodes`.

A global id is standard base64 (RFC 4648, with padding) of `"<TypeName>:<key>"`, Relay's and
Strawberry's convention: `Store:12` is `U3RvcmU6MTI=`. The type name is split off at the first ':'
so a key may hold ':' itself (an Afosto record's key is `<tenant uid>:<afosto id>`). Each type that
implements `Node` answers its global id as `id` and the id its source API (FLECS, Flow Retail,
Afosto) knows it by as `sourceId`.

Types join through `register(type_name, loader_name, key_parser)`, or the `node_type(...)` class
decorator that also gives them `id`, `sourceId` and the check graphql-core makes of a value
returned as the type (`is_type_of`: the record classes given). `node(id:)` and `nodes(ids:)`
decode each id to its type and key and load it through the type's ById loader, so the ids of one
type are one backend call; the record rule of the type applies to what is loaded, as on every
other road to it (permissions.py).

Imports base, errors, permissions and settings; never a backend.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from base64 import b64encode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import strawberry

from facade.errors import BadUserInput, FacadeError
from facade.graph.base import Info, Need, root_field
from facade.graph.edges import reads
from facade.graph.inputs import GLOBAL_ID, INT32_MAX, arg
from facade.graph.permissions import RULE, Rule, permits, refusal
from facade.models import check_uid

C = TypeVar("C", bound=type)

ID_DESCRIPTION = "Global id (Relay): unique across types; refetch the object with `node(id:)`."
SOURCE_ID_DESCRIPTION = "The id in its source API (FLECS, Flow Retail, Afosto): what `id` was before global ids."


@dataclass(frozen=True, slots=True)
class NodeType:
    """A type that `node(id:)` resolves: `loader` (a ById loader of the request's Loaders) loads
    the key `parse` makes of the id's key text (ValueError for a malformed key); `key_of` gives
    the key text of a record; `records` are the classes its values have (for `resolve_type`).
    `admits(principal, key)`, where a key names its owner (a commerce record's tenant), refuses a
    caller before anything loads, with the error the record rule would give after: no source is
    asked for what the caller could never see."""

    name: str
    loader: str
    parse: Callable[[str], Any]
    key_of: Callable[[Any], str]
    records: tuple[type, ...] = ()
    strawberry_type: type | None = None
    admits: Callable[[Any, Any], bool] | None = None

    def rule(self) -> Rule | None:
        """The type's record rule (None for a public type)."""
        return getattr(self.strawberry_type, RULE, None) if self.strawberry_type is not None else None


TYPES: dict[str, NodeType] = {}
_BY_RECORD: dict[type, NodeType] = {}


def source_key(record: Any) -> str:
    """The key text of a record keyed by its `id` alone."""
    return str(record.id)


def int_key(text: str) -> int:
    """A numeric key: digits without a leading zero, 1 to 2^31 - 1; ValueError else (`01` is
    not the key of object 1: an object has one id, which clients cache it by)."""
    if not text.isascii() or not text.isdigit() or len(text) > 10 or text[0] == "0" or not 1 <= int(text) <= INT32_MAX:
        raise ValueError(text)
    return int(text)


def text_key(text: str) -> str:
    """A uid key: 1 to 64 characters of [A-Za-z0-9_-]; ValueError else."""
    if not 1 <= len(text) <= 64 or not text.isascii() or not all(c.isalnum() or c in "_-" for c in text):
        raise ValueError(text)
    return text


def register(
    type_name: str,
    loader_name: str,
    key_parser: Callable[[str], Any],
    *,
    key_of: Callable[[Any], str] = source_key,
    records: tuple[type, ...] = (),
    strawberry_type: type | None = None,
    admits: Callable[[Any, Any], bool] | None = None,
) -> NodeType:
    """Makes `type_name` resolvable by `node(id:)`: `key_parser` turns an id's key text into the
    key of the `loader_name` loader (raising ValueError when it is malformed), `key_of` gives a
    record's key text (default: its `id`). Registering a name twice replaces the first."""
    entry = NodeType(type_name, loader_name, key_parser, key_of, records, strawberry_type, admits)
    TYPES[type_name] = entry
    for record in records:
        _BY_RECORD[record] = entry
    return entry


def article(type_name: str) -> str:
    """`type_name` after its indefinite article: "a Store", "an Order"."""
    return f"{'an' if type_name[:1] in 'AEIOU' else 'a'} {type_name}"


def encode(type_name: str, key: Any) -> str:
    """The global id of the `type_name` object with key `key`."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode("ascii")


def _decoded(value: str) -> str | None:
    """The UTF-8 text that `value`, base64, decodes to; None when it does not."""
    try:
        return base64.b64decode(value.encode("ascii"), validate=True).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        return None


def canonical_text(value: str) -> str | None:
    """The text an id of ours encodes (base64), None unless `value` is exactly how facade encodes
    it: base64 lets the unused bits of the last character differ (`U3RvcmU6MQ==` and
    `U3RvcmU6MR==` both read `Store:1`), and a Relay or Apollo cache would hold one object twice."""
    text = _decoded(value)
    return text if text is not None and base64.b64encode(text.encode()).decode("ascii") == value else None


def _split(value: str) -> tuple[str, str] | None:
    """The (type name, key text) a global id holds, None when it is not one."""
    text = canonical_text(value)
    if text is None:
        return None
    type_name, colon, key = text.partition(":")
    if not colon:
        return None
    return type_name, key


def decode(value: str, name: str = "id") -> tuple[NodeType, Any]:
    """The type and loader key of a global id; BadUserInput (with `reason` NOT_A_GLOBAL_ID,
    UNKNOWN_TYPE or BAD_KEY) for anything else."""
    split = _split(value)
    if split is None:
        raise BadUserInput(
            f"`{name}` is not a global id (base64 of `<Type>:<key>`).", field=name, reason="NOT_A_GLOBAL_ID"
        )
    type_name, key = split
    entry = TYPES.get(type_name)
    if entry is None:
        raise BadUserInput(f"`{name}` names no type that has global ids.", field=name, reason="UNKNOWN_TYPE")
    try:
        return entry, entry.parse(key)
    except ValueError:
        raise BadUserInput(f"`{name}` holds a malformed {type_name} key.", field=name, reason="BAD_KEY") from None


def refuse_altered(value: str, name: str) -> None:
    """BadUserInput (reason NOT_A_GLOBAL_ID) when `value` is not a global id as facade writes it
    but decodes to one (`<Type>:...` of a type with global ids): an id changed on its way back,
    which the arguments that also take a source id would otherwise refuse as a malformed one."""
    if canonical_text(value) is not None or len(value) > 480:
        return
    body = value.rstrip("=")  # padding added or dropped on the way
    text = _decoded(body + "=" * (-len(body) % 4))
    if text is None:
        return
    type_name, colon, _ = text.partition(":")
    if colon and type_name in TYPES:
        raise BadUserInput(
            f"`{name}` is not a global id as facade writes it: send the object's `id` unchanged.",
            field=name,
            reason="NOT_A_GLOBAL_ID",
        )


def lookup_key(value: str, type_name: str, name: str, parse_source: Callable[[str], Any]) -> Any:
    """The key of a root lookup's id argument, which takes the object's global id or, for
    compatibility, its source id: a global id of `type_name` is decoded, one of another type is
    BadUserInput (reason WRONG_TYPE); anything else goes to `parse_source` (the old check)."""
    split = _split(value)
    if split is not None and split[0] in TYPES:
        entry, key = decode(value, name)
        if entry.name != type_name:
            raise BadUserInput(
                f"`{name}` is the global id of {article(entry.name)}, not of {article(type_name)}.",
                field=name,
                reason="WRONG_TYPE",
            )
        return key
    refuse_altered(value, name)
    return parse_source(value)


def uid_key(value: str, type_name: str, name: str) -> str:
    """`lookup_key` for an argument taking a uid (a device's, a till's): the `type_name` object's
    global id or its uid (`check_uid`)."""
    return lookup_key(value, type_name, name, lambda uid: check_uid(uid, name))  # type: ignore[no-any-return]


def _global_id(type_name: str, key_of: Callable[[Any], str]) -> Any:
    # Called once per object answered (a list of 1,000 products with their stores and owners is
    # 3,000 calls): the prefix is encoded once, and the common key, `id`, read inline.
    prefix = f"{type_name}:"
    if key_of is source_key:

        def resolve(self: Any) -> strawberry.ID:
            return b64encode(f"{prefix}{self.id}".encode()).decode("ascii")  # type: ignore[return-value]

    else:

        def resolve(self: Any) -> strawberry.ID:
            return b64encode(f"{prefix}{key_of(self)}".encode()).decode("ascii")  # type: ignore[return-value]

    return strawberry.field(resolver=resolve, description=ID_DESCRIPTION)


@reads("id")
def _source_id(self: Any) -> strawberry.ID:
    return strawberry.ID(str(self.id))


def node_type(
    type_name: str,
    loader_name: str,
    key_parser: Callable[[str], Any],
    *records: type,
    key_of: Callable[[Any], str] = source_key,
    source_id: bool = True,
    admits: Callable[[Any, Any], bool] | None = None,
) -> Callable[[C], C]:
    """Class decorator (below `@strawberry.type`) for a type implementing `Node`: registers it,
    gives it `id` (the global id) and, unless `source_id` is False (a record its source API
    knows by no id of its own), `sourceId` (its record's `id`), and makes graphql-core accept
    records of `records` as values of the type."""

    def decorate(cls: C) -> C:
        register(type_name, loader_name, key_parser, key_of=key_of, records=records, strawberry_type=cls, admits=admits)
        cls.id = _global_id(type_name, key_of)  # type: ignore[attr-defined]
        if source_id:
            cls.source_id = strawberry.field(resolver=_source_id, description=SOURCE_ID_DESCRIPTION)  # type: ignore[attr-defined]
        cls.__annotations__.pop("id", None)  # a Node type's `id` is this one, whatever it declared

        def is_type_of(_cls: Any, obj: Any, _info: Any) -> bool:
            return isinstance(obj, records)

        cls.is_type_of = classmethod(is_type_of)  # type: ignore[attr-defined]
        cls.is_type_of.__func__.__facade_records__ = records  # type: ignore[attr-defined]
        return cls

    return decorate


@strawberry.interface(description="An object with a global id, which `node(id:)` refetches (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(description=ID_DESCRIPTION)

    @classmethod
    def resolve_type(cls, obj: Any, *_: Any) -> str | None:
        entry = _BY_RECORD.get(type(obj))
        if entry is None:
            entry = next((e for record, e in _BY_RECORD.items() if isinstance(obj, record)), None)
        return entry.name if entry is not None else None


async def _admitted(info: Info, entry: NodeType, record: Any) -> Any:
    """The record, or the refusal (an exception, answered as this item's error) when the type's
    record rule refuses it."""
    if record is None:
        return None
    rule = entry.rule()
    if rule is not None and not await permits(rule, info.context, [record]):
        return refusal(info.context)
    return record


async def _load(info: Info, entry: NodeType, key: Any) -> Any:
    if entry.admits is not None and not entry.admits(info.context.principal, key):
        return refusal(info.context)
    try:
        loaded = await getattr(info.context.loaders, entry.loader).load(key)
    except FacadeError as error:  # this id's load failed (upstream: Afosto refused it): its error only
        return error
    return await _admitted(info, entry, loaded)


@strawberry.type
class NodeQueries:
    @root_field(
        Need.PUBLIC,
        description="The object with this global id (Relay); null when nothing has it. An object the caller may "
        "not see is null with its type's error, as everywhere else.",
    )
    async def node(self, info: Info, id: Annotated[strawberry.ID, arg(GLOBAL_ID)]) -> Node | None:
        entry, key = decode(id)
        result = await _load(info, entry, key)
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[no-any-return]

    @root_field(
        Need.PUBLIC,
        description="The objects with these global ids, in their order (Relay); at most the largest page size "
        "(`first`) of ids. Each is null when nothing has it, or with its error when the caller may not see it. "
        "The ids of one type are one call to its source.",
    )
    async def nodes(self, info: Info, ids: Annotated[list[strawberry.ID], arg(GLOBAL_ID)]) -> list[Node | None] | None:
        limit = info.context.settings.max_page_size
        if len(ids) > limit:
            raise BadUserInput(f"`ids` holds more than {limit} ids.", field="ids", reason="TOO_MANY_IDS")
        decoded = [decode(value, f"ids.{index}") for index, value in enumerate(ids)]
        # Gathered: the loads of one type batch into one backend call (the loader's tick).
        return list(await asyncio.gather(*(_load(info, entry, key) for entry, key in decoded)))


__all__ = [
    "ID_DESCRIPTION",
    "SOURCE_ID_DESCRIPTION",
    "TYPES",
    "Node",
    "NodeQueries",
    "NodeType",
    "article",
    "canonical_text",
    "decode",
    "encode",
    "int_key",
    "lookup_key",
    "node_type",
    "refuse_altered",
    "register",
    "source_key",
    "text_key",
    "uid_key",
]
