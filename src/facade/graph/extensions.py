"""Schema extensions. `ErrorCodes` gives every error a stable `extensions.code` and masks the
unexpected ones: a client never sees a stack trace, SQL or an upstream body, only
INTERNAL_SERVER_ERROR; the server log keeps the traceback.

A result the schema cannot carry (an Int beyond 32 bits, a null in a non-null field, a value of
the wrong type) is never the caller's fault: in upstream mode it is an upstream's
(UPSTREAM_ERROR; the upstream clients catch most such values where they enter, naming the API),
in local mode it is facade's own bug (INTERNAL_SERVER_ERROR).

Errors come in response order (`in_response_order`), not in the order fields happened to fail:
graphql-core lists them as they are raised, which follows the timing of concurrent loads, so one
request could answer the same errors in another order from one run to the next, and a compiled
run replayed on the standard path (graph/compiled.py) in yet another."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension

from facade.errors import FacadeError

log = logging.getLogger("facade.graph")


# What graphql-core says when a field's *arguments* fail to coerce during execution (the caller's
# fault); every other error it raises at a path is about the field's *result*.
_ARGUMENT_ERRORS = ("Variable '$", "Argument '")
# graphql-core's TypeErrors about a result: a null for a non-null field, a serializer returning nothing.
_RESULT_TYPE_ERRORS = ("Cannot return null for non-nullable field", "Expected `")


def coded(error: GraphQLError, *, upstream: bool = False) -> GraphQLError:
    """`error` with its `extensions.code`; unexpected errors masked. `upstream`: facade runs in
    upstream mode, so a result the schema cannot carry is the upstream's (UPSTREAM_ERROR)."""
    original = error.original_error
    if isinstance(original, FacadeError):
        error.extensions = {**original.extensions, "code": original.code}
        return error
    if original is None or isinstance(original, GraphQLError):
        if error.extensions and "code" in error.extensions:
            return error
        message = error.message
        if message.startswith("Syntax Error"):
            code = "GRAPHQL_PARSE_FAILED"
        elif message.startswith(_ARGUMENT_ERRORS):
            code = "BAD_USER_INPUT"
        elif error.path:
            return _unrepresentable(error, upstream)  # a result value its type cannot carry
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    if isinstance(original, TypeError) and str(original).startswith(_RESULT_TYPE_ERRORS):
        return _unrepresentable(error, upstream)
    log.error("unexpected error at %s", error.path, exc_info=original)
    return _replaced(error, "Internal server error.", "INTERNAL_SERVER_ERROR")


def _unrepresentable(error: GraphQLError, upstream: bool) -> GraphQLError:
    # The message names the offending value: it stays in the log, not in the response.
    log.error("a result the schema cannot carry at %s: %s", error.path, error.message)
    if upstream:
        return _replaced(error, "An upstream API answered a value this field cannot carry.", "UPSTREAM_ERROR")
    return _replaced(error, "Internal server error.", "INTERNAL_SERVER_ERROR")


def _replaced(error: GraphQLError, message: str, code: str) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code},
    )


def in_response_order(
    errors: Sequence[GraphQLError], data: Any, document: DocumentNode | None = None, operation: str | None = None
) -> list[GraphQLError]:
    """`errors` sorted by where they point in the response: errors without a path first, then by
    their paths, step by step. A step the response's `data` holds (dicts in field order, lists) is
    placed by it; a step below a null (a non-null field that failed nulls its parent, and what
    else failed under it is gone from `data`) by `document`: a list item by its index, a field by
    its place in the operation's selections (`operation`: its name, None for the only one),
    fragments spread where they are. Ties: the error's document locations, then its message. The
    same data and errors give the same order, however the fields' loads were timed."""
    if len(errors) < 2:
        return list(errors)
    fields = _FieldOrder(document, operation)
    return sorted(errors, key=lambda error: _place(error, data, fields))


def _place(error: GraphQLError, data: Any, fields: _FieldOrder) -> tuple[Any, ...]:
    path = error.path or ()
    steps: list[tuple[int, int]] = []  # (0, a list index) or (1, a field's place)
    node = data
    held = True
    for depth, step in enumerate(path):
        if type(step) is int:
            steps.append((0, step))
            held = held and type(node) is list and 0 <= step < len(node)
        elif held and type(node) is dict and step in node:
            steps.append((1, list(node).index(step)))
        else:
            held = False
            steps.append((1, fields.place(path[: depth + 1])))
        node = node[step] if held else None
    locations = tuple((at.line, at.column) for at in error.locations or ())
    return (error.path is not None, tuple(steps), locations, error.message)


class _FieldOrder:
    """Where a response key stands among its siblings in an operation's selections, as graphql-core
    collects them (fragments and inline fragments spread in place), for paths below a null. Type
    conditions and @skip/@include are not applied: what they leave out is not in the response,
    and the order of what is stays. Unknown keys (no document) stand last."""

    def __init__(self, document: DocumentNode | None, operation: str | None) -> None:
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        self.root: list[SelectionSetNode] = []
        self.places: dict[tuple[str, ...], tuple[int, list[SelectionSetNode]] | None] = {}
        for definition in document.definitions if document is not None else ():
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode) and not self.root:
                if operation is None or (definition.name is not None and definition.name.value == operation):
                    self.root = [definition.selection_set]

    def place(self, path: Sequence[str | int]) -> int:
        keys = tuple(step for step in path if type(step) is str)
        found = self._entry(keys)
        return found[0] if found is not None else 1 << 30

    def _entry(self, keys: tuple[str, ...]) -> tuple[int, list[SelectionSetNode]] | None:
        if keys in self.places:
            return self.places[keys]
        parent = self._entry(keys[:-1]) if len(keys) > 1 else (0, self.root)
        found = None
        if parent is not None:
            order: dict[str, tuple[int, list[SelectionSetNode]]] = {}
            self._collect(parent[1], order, set())
            found = order.get(keys[-1])
        self.places[keys] = found
        return found

    def _collect(self, sets: list[SelectionSetNode], order: dict[str, Any], spread: set[str]) -> None:
        for selection_set in sets:
            for selection in selection_set.selections:
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    held = order.setdefault(key, (len(order), []))
                    if selection.selection_set is not None:
                        held[1].append(selection.selection_set)
                elif isinstance(selection, InlineFragmentNode):
                    self._collect([selection.selection_set], order, spread)
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    fragment = self.fragments.get(name)
                    if fragment is not None and name not in spread:
                        self._collect([fragment.selection_set], order, spread | {name})


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        # Upstream mode: the backend is upstream clients over the local store (backends/compose.py).
        upstream = bool(getattr(getattr(self.execution_context.context, "backend", None), "upstream_mode", False))
        result = self.execution_context.result
        if result is not None and result.errors:
            context = self.execution_context
            coded_errors = [coded(e, upstream=upstream) for e in result.errors]
            document, operation = context.graphql_document, context.operation_name
            result.errors = in_response_order(coded_errors, result.data, document, operation)
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [coded(e, upstream=upstream) for e in pre]
