"""Limits on a query document, checked before anything runs, and its cost.

Two kinds of check, in the order a request meets them:

- the *shape* of the whole document, measured right after parsing and before validation (so that
  validation, whose overlapping-fields rule is quadratic, only ever sees bounded documents):
  its depth, aliases and directives, counted with every fragment spread expanded (memoised per
  fragment, so a "fragment bomb" costs linear time; a spread of a fragment already being
  expanded counts nothing, and validation then rejects the cycle);
- the *cost* of the operation that runs, from the validated document and the request's
  variables: an upper bound on the size of the response's `data`, in units of BYTES_PER_UNIT
  (see `query_cost`).

Each refusal is a `LimitExceeded`, a GraphQLError whose `extensions.code` is one of
MAX_TOKENS_EXCEEDED, MAX_DOCUMENT_LENGTH_EXCEEDED, MAX_DEPTH_EXCEEDED, MAX_ALIASES_EXCEEDED,
MAX_DIRECTIVES_EXCEEDED or COST_LIMIT_EXCEEDED, with the measured value and the limit beside it.

Imports graphql-core, settings and graph/sizes.py (data) only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    parse,
    value_from_ast_untyped,
)

from facade.graph.sizes import BYTES_PER_CHAR, MAX_CHARS, SCALAR_BYTES, TEXT_SCALARS, UNKNOWN_CHARS
from facade.settings import Settings

INTROSPECTION = frozenset({"__schema", "__type"})
# What one unit of cost stands for: at most this many bytes of the response's `data`, so
# `max_cost` x BYTES_PER_UNIT bounds it (50,000 x 1 kB = 50 MB by default; README "Limits").
BYTES_PER_UNIT = 1_000
# `__schema` and `__type`, whatever their selection, 1 MB: validation's MaxIntrospectionDepthRule
# keeps a selection from re-entering types' fields (interfaces, possible types, input fields) 3
# deep, and this schema's whole introspection with descriptions is 117 kB, every type's fields'
# types' fields 155 kB.
INTROSPECTION_UNITS = 1_000


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one schema: the settings of the same names (see the README's Limits)."""

    max_document_length: int
    max_tokens: int
    max_depth: int
    max_aliases: int
    max_directives: int
    max_repeated_fields: int
    max_cost: int
    default_page_size: int
    max_page_size: int
    assumed_list_size: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        """The configured limits; the documented defaults without `settings`."""
        settings = settings or Settings.model_construct()
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


class LimitExceeded(GraphQLError):
    """A document or operation over one of the limits; nothing of it ran."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})


def parse_limited(query: str, limits: Limits) -> DocumentNode:
    """`query` parsed, stopping at the first character past `max_document_length` and at the
    first token past `max_tokens` (comments count), so a huge document costs no more than a
    document at the limits. Raises LimitExceeded for those, GraphQLSyntaxError for the rest."""
    if len(query) > limits.max_document_length:
        raise LimitExceeded(
            f"The document is longer than {limits.max_document_length} characters.",
            "MAX_DOCUMENT_LENGTH_EXCEEDED",
            limit=limits.max_document_length,
        )
    try:
        return parse(query, max_tokens=limits.max_tokens)
    except GraphQLSyntaxError as error:
        if "tokens. Parsing aborted" in error.message:
            raise LimitExceeded(
                f"The document has more than {limits.max_tokens} tokens.",
                "MAX_TOKENS_EXCEEDED",
                limit=limits.max_tokens,
            ) from None
        if "nested too deeply" in error.message:
            raise LimitExceeded(
                "The document is nested too deeply.", "MAX_DEPTH_EXCEEDED", limit=limits.max_depth
            ) from None
        raise


# ---------------------------------------------------------------------------------------------
# Shape: depth, aliases, directives of the whole document


@dataclass(slots=True)
class Shape:
    depth: int = 0
    aliases: int = 0
    directives: int = 0
    repeats: int = 0  # the most fields of one response name in one selection set
    names: Counter[str] = field(default_factory=Counter)  # response names at the top of this selection


def _merge(out: Shape, sub: Shape) -> None:
    """`sub`, a fragment at the same level as `out`'s fields, into `out`."""
    out.aliases += sub.aliases
    out.directives += sub.directives
    out.depth = max(out.depth, sub.depth)
    out.repeats = max(out.repeats, sub.repeats)
    out.names.update(sub.names)


def measure(document: DocumentNode) -> Shape:
    """Depth, aliases and directives of the document, every fragment spread expanded.

    Depth counts nested fields (`{ a { b } }` is 2), except inside introspection (`__schema`,
    `__type`), whose answer the schema bounds. Aliases and directives are counted once per place
    they appear in the expanded operations, so spreading a fragment ten times counts its aliases
    ten times. Repeats count the fields of one response name that one selection set gathers,
    from its fragments too: validation compares each pair of them (OverlappingFieldsCanBeMerged),
    which is quadratic in that number."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    memo: dict[str, Shape] = {}
    expanding: set[str] = set()

    def fragment(name: str) -> Shape:
        found = memo.get(name)
        if found is not None:
            return found
        definition = fragments.get(name)
        if definition is None or name in expanding:
            return Shape()  # unknown or cyclic: validation reports it
        expanding.add(name)
        shape = selection_set(definition.selection_set, introspection=False)
        shape.directives += len(definition.directives or ())
        expanding.discard(name)
        memo[name] = shape
        return shape

    def selection_set(node: SelectionSetNode, introspection: bool) -> Shape:
        out = Shape()
        spread: set[str] = set()  # a fragment spread twice in one selection is gathered once
        for selection in node.selections:
            out.directives += len(selection.directives or ())
            if isinstance(selection, FieldNode):
                if selection.alias is not None:
                    out.aliases += 1
                out.names[(selection.alias or selection.name).value] += 1
                inside = introspection or selection.name.value in INTROSPECTION
                if selection.selection_set is not None:
                    sub = selection_set(selection.selection_set, inside)
                    out.aliases += sub.aliases
                    out.directives += sub.directives
                    out.repeats = max(out.repeats, sub.repeats)
                    out.depth = max(out.depth, (0 if inside else 1) + sub.depth)
                else:
                    out.depth = max(out.depth, 0 if inside else 1)
            elif isinstance(selection, InlineFragmentNode):
                _merge(out, selection_set(selection.selection_set, introspection))
            elif isinstance(selection, FragmentSpreadNode) and not introspection:
                name = selection.name.value
                if name in spread:
                    sub = fragment(name)
                    out.aliases += sub.aliases
                    out.directives += sub.directives
                else:
                    spread.add(name)
                    _merge(out, fragment(name))
        out.repeats = max(out.repeats, max(out.names.values(), default=0))
        return out

    total = Shape()
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            shape = selection_set(definition.selection_set, introspection=False)
            total.depth = max(total.depth, shape.depth)
            total.aliases += shape.aliases
            total.directives += shape.directives + len(definition.directives or ())
            total.repeats = max(total.repeats, shape.repeats)
    return total


def check_shape(document: DocumentNode, limits: Limits) -> Shape:
    """The document's shape, or LimitExceeded (MAX_DEPTH/ALIASES/DIRECTIVES_EXCEEDED)."""
    try:
        shape = measure(document)
    except RecursionError:
        raise LimitExceeded(
            "The document is nested too deeply.", "MAX_DEPTH_EXCEEDED", limit=limits.max_depth
        ) from None
    for name, measured, limit, what in (
        ("depth", shape.depth, limits.max_depth, "fields deep"),
        ("aliases", shape.aliases, limits.max_aliases, "aliases"),
        ("directives", shape.directives, limits.max_directives, "directives"),
        ("repeated_fields", shape.repeats, limits.max_repeated_fields, "selections of one field in one selection set"),
    ):
        if measured > limit:
            raise LimitExceeded(
                f"The document has {measured} {what}; at most {limit} are allowed.",
                f"MAX_{name.upper()}_EXCEEDED",
                **{name: measured, "limit": limit},
            )
    return shape


# ---------------------------------------------------------------------------------------------
# Cost of one operation


@dataclass(slots=True)
class Cost:
    """An operation's cost, and whether it depends on the request's variables."""

    value: int
    uses_variables: bool


def select_operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == operation_name), None)


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
    limits: Limits,
) -> Cost:
    """An upper bound on the bytes of the `data` the operation answers, in units of
    BYTES_PER_UNIT (1 kB), from a *validated* document.

    Every selected field counts once per item it answers: a leaf ceil((its key + its longest
    value) / 1 kB), the longest value from graph/sizes.py (`leaf_bytes`), so an id or a name is 1
    and a review's text (10,000 characters, 40 kB in UTF-8 at worst) 41; an object 1 (its key
    and braces) plus its selection; a list 1 (its key and brackets) plus, per item, the item's
    count. A field with a `first` argument (a connection) answers one page: its `nodes` and
    `edges` count `first` items (the default page size when absent, at most the maximum page
    size); a list with an `ids` argument (`nodes`) one item per id; any other list counts
    `assumed_list_size` items. `__typename` counts 1, `__schema`
    and `__type` INTROSPECTION_UNITS each. `@skip`/`@include` are honoured with the request's
    variables; fragments count wherever they are spread."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    defaults: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        if definition.default_value is not None:
            defaults[definition.variable.name.value] = value_from_ast_untyped(definition.default_value)
    costing = _Costing(schema, fragments, defaults, variables or {}, limits)
    root = schema.get_root_type(operation.operation)
    value = costing.selection_set(operation.selection_set, root, None) if root is not None else 0
    return Cost(value=value, uses_variables=costing.used)


class _Costing:
    """One operation's costing (`query_cost`): methods, not closures calling each other, which
    would make every request's costing a reference cycle that only the cyclic GC frees."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        defaults: dict[str, Any],
        given: Mapping[str, Any],
        limits: Limits,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.defaults = defaults
        self.given = given
        self.limits = limits
        self.used = False
        self.memo: dict[tuple[str, int | None], int] = {}

    def variable(self, node: VariableNode) -> Any:
        self.used = True
        name = node.name.value
        return self.given[name] if name in self.given else self.defaults.get(name)

    def included(self, selection: Any) -> bool:
        for directive in selection.directives or ():
            name = directive.name.value
            if name not in ("skip", "include"):
                continue
            condition: Any = True
            for argument in directive.arguments or ():
                if argument.name.value == "if":
                    value = argument.value
                    if isinstance(value, BooleanValueNode):
                        condition = value.value
                    elif isinstance(value, VariableNode):
                        condition = self.variable(value)
            if not isinstance(condition, bool):
                continue  # not coercible: execution refuses it; count the field
            if (name == "skip") == condition:
                return False
        return True

    def listed(self, node: FieldNode) -> int | None:
        """Items of a list answering one item per id it is given (`nodes(ids:)`): as many as
        the ids (a single id, coerced to a list, is one), at most the maximum page size, which
        such a field refuses to exceed."""
        for argument in node.arguments or ():
            if argument.name.value == "ids":
                value = argument.value
                given = self.variable(value) if isinstance(value, VariableNode) else None
                if isinstance(value, ListValueNode):
                    count = len(value.values)
                elif isinstance(given, list):
                    count = len(given)
                else:
                    count = 1
                return min(count, self.limits.max_page_size)
        return None

    def page(self, node: FieldNode) -> int:
        value: Any = None
        for argument in node.arguments or ():
            if argument.name.value == "first":
                value = _literal(argument.value, self.variable)
        if not isinstance(value, int) or isinstance(value, bool):
            return self.limits.default_page_size
        return min(max(value, 0), self.limits.max_page_size)

    def spread(self, name: str, parent: Any, size: int | None) -> int:
        key = (name, size)
        memo = self.memo
        if key not in memo:
            definition = self.fragments[name]
            memo[key] = 0  # a cycle (validation refuses them) counts nothing
            memo[key] = self.selection_set(
                definition.selection_set, self.schema.get_type(definition.type_condition.name.value) or parent, size
            )
        return memo[key]

    def selection_set(self, node: SelectionSetNode, parent: Any, size: int | None) -> int:
        total = 0
        for selection in node.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                total += self.one_field(selection, parent, size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                scope = self.schema.get_type(condition.name.value) if condition is not None else parent
                total += self.selection_set(selection.selection_set, scope or parent, size)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in self.fragments:
                total += self.spread(selection.name.value, parent, size)
        return total

    def one_field(self, node: FieldNode, parent: Any, size: int | None) -> int:
        name = node.name.value
        key = len((node.alias or node.name).value) + 4  # "key": and a comma
        if name == "__typename":
            return _units(key + 2 + 100)  # a type's name
        if name in INTROSPECTION:
            return INTROSPECTION_UNITS
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) or name not in parent.fields:
            return 0  # not in the schema: validation refused it already
        definition = parent.fields[name]
        type_: Any = definition.type
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if node.selection_set is None:
            value = leaf_bytes(parent.name, name, get_named_type(type_))
            below = 0
        else:
            value = 2  # {}
            child_size = self.page(node) if "first" in definition.args else None
            below = self.selection_set(node.selection_set, get_named_type(definition.type), child_size)
        if not isinstance(type_, GraphQLList):
            return _units(key + value) + below
        items = size if size is not None else self.listed(node) or self.limits.assumed_list_size
        return _units(key + 2) + items * (_units(value + 1) + below)  # [] once, a comma per item


def _units(size: int) -> int:
    """Cost units of `size` bytes: ceil(size / BYTES_PER_UNIT)."""
    return -(-size // BYTES_PER_UNIT)


def leaf_bytes(parent: str, field_name: str, type_: Any) -> int:
    """The most bytes one value of the leaf `parent.field_name` of type `type_` writes in a response:
    a text scalar its declared characters (graph/sizes.py; `UNKNOWN_CHARS` when undeclared) at
    `BYTES_PER_CHAR` each and its quotes, an enum its longest value, another scalar its fixed size."""
    if isinstance(type_, GraphQLEnumType):
        return 2 + max((len(name) for name in type_.values), default=0)
    if type_.name in TEXT_SCALARS:
        return 2 + BYTES_PER_CHAR * MAX_CHARS.get(parent, {}).get(field_name, UNKNOWN_CHARS)
    return SCALAR_BYTES.get(type_.name, 2 + BYTES_PER_CHAR * UNKNOWN_CHARS)


def _literal(node: ValueNode, variable: Any) -> Any:
    if isinstance(node, IntValueNode):
        return int(node.value)
    if isinstance(node, VariableNode):
        return variable(node)
    if isinstance(node, NullValueNode):
        return None
    return None


def check_cost(cost: int, limits: Limits) -> None:
    if cost > limits.max_cost:
        raise LimitExceeded(
            f"The query costs {cost}, more than the {limits.max_cost} allowed: ask for smaller pages "
            "(`first`) or fewer nested lists.",
            "COST_LIMIT_EXCEEDED",
            cost=cost,
            maximumAvailable=limits.max_cost,
        )


def cost_extension(cost: int, limits: Limits) -> dict[str, Any]:
    """What an accepted query reports in the response's `extensions`."""
    return {"cost": {"requestedQueryCost": cost, "maximumAvailable": limits.max_cost}}


__all__ = [
    "BYTES_PER_UNIT",
    "Cost",
    "LimitExceeded",
    "Limits",
    "Shape",
    "check_cost",
    "check_shape",
    "cost_extension",
    "leaf_bytes",
    "measure",
    "parse_limited",
    "query_cost",
    "select_operation",
]
