"""Look-ahead: fetch a whole list's edges, level by level, before graphql-core walks the list.

A root field's result (a record or a page of records) is followed down the selection the client
sent. At each level every declared edge (`batched`, `listed`, `paged` in base.py) is loaded for all
parents at once through the request's loaders, the loads of one level run concurrently, and the
next level starts from what they returned. When graphql-core then resolves the fields item by
item, each edge's loader already holds a finished value and the derived resolver returns it
directly: a 100-item list costs no awaitable per item (see research/perf-baseline.md).

This is an optimisation only. It reads the same declarations the resolvers are derived from,
skips parents an edge's guard refuses, and leaves a loader's failure in its future for the
resolver to report; whatever it does not prefetch the resolvers load as before.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Iterable, Sequence
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    parse_value,
)
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from facade.errors import BadUserInput, FacadeError
from facade.graph.inputs import check_filters
from facade.models import Page, PageArgs, SortDirection, decode_cursor

EDGE = "facade.edge"
BACKREF = "strawberry-definition"


def named(type_: GraphQLOutputType) -> Any:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return type_


def _included(directives: dict[str, dict[str, Any]]) -> bool:
    if "skip" in directives and directives["skip"].get("if"):
        return False
    return not ("include" in directives and not directives["include"].get("if"))


def fields_of(selections: Iterable[Selection], type_name: str) -> Iterable[SelectedField]:
    """The fields selected on `type_name`, fragments flattened, @skip/@include honoured."""
    for selection in selections:
        if not _included(selection.directives):
            continue
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            if selection.type_condition in (None, type_name):
                yield from fields_of(selection.selections, type_name)


def node_selections(selections: Iterable[Selection], connection: GraphQLObjectType) -> list[Selection]:
    """What a client selected on a connection's nodes, through `nodes` and `edges { node }`."""
    found: list[Selection] = []
    for field in fields_of(selections, connection.name):
        if field.name == "nodes":
            found += field.selections
        elif field.name == "edges":
            for inner in fields_of(field.selections, named(connection.fields["edges"].type).name):
                if inner.name == "node":
                    found += inner.selections
    return found


def _enum(value: Any, enum_type: type[enum.Enum]) -> Any:
    if value is None or isinstance(value, enum_type):
        return value
    return enum_type[value] if isinstance(value, str) and value in enum_type.__members__ else None


def make_page_args(
    settings: Any, first: Any, after: str | None, sort: enum.Enum | None, direction: SortDirection | None
) -> PageArgs:
    """A list's PageArgs from its connection arguments: the one rule both the resolvers and the
    prefetch follow, so a prefetched page is the very key the resolver asks for."""
    limit = settings.default_page_size if first is None else first
    if not isinstance(limit, int) or limit < 0 or limit > settings.max_page_size:
        raise BadUserInput(f"`first` must be between 0 and {settings.max_page_size}.", field="first")
    return PageArgs(
        limit=limit,
        offset=decode_cursor(after) + 1 if after else 0,
        sort=sort.value if sort is not None else "id",
        direction=direction or SortDirection.ASC,
    )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Prefetcher:
    def __init__(self, info: Any) -> None:
        self.context = info.context
        self.settings = info.context.settings
        self.loaders = info.context.loaders

    async def run(self, type_: GraphQLObjectType, records: Sequence[Any], selections: list[Selection]) -> None:
        if not records:
            return
        loads: list[tuple[Awaitable[list[Any]], GraphQLObjectType, list[Selection], bool]] = []
        nested: list[tuple[GraphQLObjectType, list[Any], list[Selection]]] = []
        for field in fields_of(selections, type_.name):
            gql_field = type_.fields.get(field.name)
            if gql_field is None or not field.selections:
                continue
            definition = (gql_field.extensions or {}).get(BACKREF)
            target = named(gql_field.type)
            if not isinstance(definition, StrawberryField) or not isinstance(target, GraphQLObjectType):
                continue
            spec = definition.metadata.get(EDGE)
            if spec is None:
                if definition.base_resolver is None:
                    # A plain nested object or list (e.g. a subscription's line items): go down.
                    children = _flatten(getattr(r, definition.python_name, None) for r in records)
                    nested.append((target, children, field.selections))
                continue
            principal = self.context.principal
            parents = [r for r in records if spec.guard is None or spec.guard(principal, r)]
            keys = [k for k in (getattr(r, spec.key, None) for r in parents) if k is not None]
            if not keys:
                continue
            loader = getattr(self.loaders, spec.loader)
            if spec.paged:
                try:
                    extra = self._page_key(spec, _literals(gql_field, field.arguments))
                except FacadeError:
                    continue  # the resolver reports the bad argument
                keys = [(k, *extra) for k in dict.fromkeys(keys)]
                loads.append((_settled(loader, keys), target, node_selections(field.selections, target), True))
            else:
                loads.append((_settled(loader, list(dict.fromkeys(keys))), target, field.selections, False))
        results = await asyncio.gather(*(f for f, *_ in loads))
        for (_, target, child_selections, paged), result in zip(loads, results, strict=True):
            if paged:
                node_type = named(target.fields["nodes"].type)
                nested.append((node_type, [item for page in result if page for item in page.items], child_selections))
            else:
                nested.append((target, _flatten(result), child_selections))
        if nested:
            await asyncio.gather(*(self.run(t, recs, sel) for t, recs, sel in nested if recs))

    def _page_key(self, spec: Any, arguments: dict[str, Any]) -> tuple[Any, ...]:
        page = make_page_args(
            self.settings,
            arguments.get("first"),
            arguments.get("after"),
            _enum(arguments.get("sortBy"), spec.sort),
            _enum(arguments.get("sortDirection"), SortDirection),
        )
        values = []
        for name, _type, default in spec.filters:
            value = arguments.get(_camel(name), default)
            values.append(tuple(value) if isinstance(value, list) else value)
        check_filters(spec.filters, values)
        return (page, *spec.fixed, *values)


def _literals(gql_field: Any, arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments with number literals as numbers: Strawberry's selected fields keep an Int or
    Float literal as its source text ("2"), where the resolver gets the coerced value."""
    coerced = dict(arguments)
    for name, value in arguments.items():
        argument = gql_field.args.get(name)
        type_ = named(argument.type) if argument is not None else None
        if isinstance(value, str) and isinstance(type_, GraphQLScalarType) and type_.name in ("Int", "Float"):
            try:
                coerced[name] = type_.parse_literal(parse_value(value))
            except GraphQLError:
                pass  # the resolver reports it
    return coerced


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, list | tuple):
            out.extend(v for v in value if v is not None)
        else:
            out.append(value)
    return out


async def prefetch_result(info: Any, result: Any) -> None:
    """Prefetch below a root field's result: a record, a list of records or a Page."""
    if result is None:
        return
    return_type = named(info._raw_info.return_type)
    if not isinstance(return_type, GraphQLObjectType):
        return
    selections = info.selected_fields[0].selections if info.selected_fields else []
    prefetcher = Prefetcher(info)
    if isinstance(result, Page):
        node_type = named(return_type.fields["nodes"].type)
        await prefetcher.run(node_type, list(result.items), node_selections(selections, return_type))
    elif isinstance(return_type.extensions.get(BACKREF), StrawberryObjectDefinition) and not isinstance(result, list):
        await prefetcher.run(return_type, [result], selections)


async def _settled(loader: Any, keys: list[Any]) -> list[Any]:
    """The loaded values of `keys`, a key whose load failed left out (its resolver reports it):
    one failed key does not keep its siblings' children from being prefetched."""
    loaded = await asyncio.gather(*(loader.load(k) for k in keys), return_exceptions=True)
    return [value for value in loaded if not isinstance(value, BaseException)]
