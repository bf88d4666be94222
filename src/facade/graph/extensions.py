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

from graphql import GraphQLError
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


def in_response_order(errors: Sequence[GraphQLError], data: Any) -> list[GraphQLError]:
    """`errors` sorted by where they point in `data` (the response's data: dicts in field order,
    lists): errors without a path first, then by the position of each path's fields and items in
    the response, a path below a null ending where the response does (then by the document
    locations of the error's field, the rest of its path and its message). The same data and
    errors give the same order, however the fields' loads were timed."""
    if len(errors) < 2:
        return list(errors)
    return sorted(errors, key=lambda error: _place(error, data))


def _place(error: GraphQLError, data: Any) -> tuple[Any, ...]:
    path = error.path or ()
    found: list[int] = []
    node = data
    for step in path:
        if type(node) is dict and step in node:
            found.append(list(node).index(step))
        elif type(node) is list and type(step) is int and 0 <= step < len(node):
            found.append(step)
        else:
            break
        node = node[step]
    locations = tuple((at.line, at.column) for at in error.locations or ())
    rest = tuple(str(step) for step in path[len(found) :])
    return (error.path is not None, tuple(found), locations, rest, error.message)


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        # Upstream mode: the backend is upstream clients over the local store (backends/compose.py).
        upstream = bool(getattr(getattr(self.execution_context.context, "backend", None), "upstream_mode", False))
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = in_response_order([coded(e, upstream=upstream) for e in result.errors], result.data)
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [coded(e, upstream=upstream) for e in pre]
