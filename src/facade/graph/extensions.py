"""Schema extensions. `ErrorCodes` gives every error a stable `extensions.code` and masks the
unexpected ones: a client never sees a stack trace, SQL or an upstream body, only
INTERNAL_SERVER_ERROR; the server log keeps the traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from facade.errors import FacadeError

log = logging.getLogger("facade.graph")


def coded(error: GraphQLError) -> GraphQLError:
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
        elif message.startswith(("Variable '$", "Argument '")):
            code = "BAD_USER_INPUT"
        elif error.path:
            code = "BAD_USER_INPUT"  # e.g. an enum or scalar that failed to coerce
        else:
            code = "GRAPHQL_VALIDATION_FAILED"
        error.extensions = {**(error.extensions or {}), "code": code}
        return error
    log.error("unexpected error at %s", error.path, exc_info=original)
    return GraphQLError(
        "Internal server error.",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR"},
    )


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and result.errors:
            result.errors = [coded(e) for e in result.errors]
        pre = self.execution_context.pre_execution_errors
        if pre:
            self.execution_context.pre_execution_errors = [coded(e) for e in pre]
