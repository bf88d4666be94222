"""Prepared documents: parsed under the limits, measured, validated, and kept in one cache that
both execution paths share (Strawberry's standard path through `CheckedDocuments`, the compiled
path through `CompiledExecutor`), bounded in bytes of document text.

A document the cache does not hold is prepared in a worker thread, one at a time (`aprepare`), so
that parsing and validating a new document never holds the event loop: requests with known
documents keep being served meanwhile. Per request, `admit` computes the cost of the operation
with the request's variables and refuses it past the limit.

Imports graphql-core, Strawberry's extension base, cachetools, and graph.limits.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from cachetools import LRUCache
from graphql import DocumentNode, GraphQLError, GraphQLSchema, specified_rules, validate
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from facade.graph.limits import (
    LimitExceeded,
    Limits,
    check_cost,
    check_shape,
    cost_extension,
    parse_limited,
    query_cost,
    select_operation,
)

# The rules Strawberry validates with (strawberry.schema.schema.validate_document).
RULES = (*specified_rules, MaybeNullValidationRule, OneOfInputValidationRule)
# What a prepared document holds in memory per character of its text: its tree, whose nodes keep
# every token for their locations, and validation's leftovers. Measured with tracemalloc on the
# playground's operations and on a 2,000-token document: 170 to 580 bytes per character.
BYTES_PER_CHARACTER = 512
# What a refused document weighs in the cache: its error, not its text or tree.
REFUSED_WEIGHT = 1_024


@dataclass(slots=True)
class Prepared:
    """A document as the cache keeps it: the tree (None when it did not parse or was refused
    before validation) and its errors (empty when it is valid)."""

    document: DocumentNode | None
    errors: list[GraphQLError]
    weight: int
    memo: dict[Any, Any] = field(default_factory=dict)  # derived data: costs, plan inputs

    @property
    def valid(self) -> bool:
        return self.document is not None and not self.errors


# Costs remembered per document and operation for distinct sets of variable values, at most.
COSTS_BY_VALUES = 16
SCALARS = frozenset({str, int, float, bool, type(None)})
ScalarKey = tuple[tuple[str, type, Any], ...]


def scalar_key(values: Mapping[str, Any] | None) -> ScalarKey | None:
    """Named values as a key when every value is a scalar (typed: 1 and True differ), else None:
    what a cost or an edge's arguments are remembered by."""
    if not values:
        return ()
    if not all(type(v) in SCALARS for v in values.values()):
        return None
    return tuple(sorted(((k, type(v), v) for k, v in values.items()), key=itemgetter(0)))


def remember(held: dict[Any, Any], key: Any, value: Any, most: int) -> None:
    """`held[key] = value`, the oldest entry dropped first past `most` entries."""
    if len(held) >= most:
        del held[next(iter(held))]
    held[key] = value


class DocumentCache:
    """query text -> Prepared, least recently used first out, holding documents whose estimated
    memory (BYTES_PER_CHARACTER per character of text) adds up to at most `max_bytes`."""

    def __init__(self, schema: GraphQLSchema, limits: Limits, max_bytes: int) -> None:
        self.schema = schema
        self.limits = limits
        self.entries: LRUCache[str, Prepared] = LRUCache(maxsize=max_bytes, getsizeof=_weight)
        self._pending: dict[str, Future[Prepared]] = {}
        self._worker: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def prepare(self, query: str) -> Prepared:
        """The prepared document, from the cache or made now, on this thread."""
        found = self.entries.get(query)
        if found is not None:
            return found
        prepared = self._make(query)
        self._keep(query, prepared)
        return prepared

    async def aprepare(self, query: str) -> Prepared:
        """The prepared document; a new one is made in the worker thread (one at a time), and a
        document several requests bring at once is made once."""
        found = self.entries.get(query)
        if found is not None:
            return found
        # shield: a request that gives up (its deadline) must not cancel the preparation that
        # other requests with the same document wait for.
        future = self._pending.get(query)
        if future is None:
            future = self._pool().submit(self._make, query)
            self._pending[query] = future
            try:
                prepared = await asyncio.shield(asyncio.wrap_future(future))
            finally:
                self._pending.pop(query, None)
            self._keep(query, prepared)
            return prepared
        return await asyncio.shield(asyncio.wrap_future(future))

    def admit(self, prepared: Prepared, operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
        """The cost of the operation that runs, or LimitExceeded (COST_LIMIT_EXCEEDED). A cost that
        does not depend on the variables is remembered with the document."""
        assert prepared.document is not None
        key = ("cost", operation_name)
        cost = prepared.memo.get(key)
        if cost is None:
            # A cost that depends on the variables is remembered for their values when they are
            # all scalars (a page size, an id), for the document's last few sets of them.
            scalars = scalar_key(variables)
            by_values = prepared.memo.get(("cost by values", operation_name)) if scalars is not None else None
            if by_values is not None:
                cost = by_values.get(scalars)
        if cost is None:
            operation = select_operation(prepared.document, operation_name)
            if operation is None:
                return 0  # no such operation: execution answers that error, nothing runs
            measured = query_cost(self.schema, prepared.document, operation, variables, self.limits)
            cost = measured.value
            if not measured.uses_variables:
                prepared.memo[key] = cost
            elif scalars is not None:
                remember(
                    prepared.memo.setdefault(("cost by values", operation_name), {}), scalars, cost, COSTS_BY_VALUES
                )
        check_cost(cost, self.limits)
        return int(cost)

    def extensions(self, cost: int) -> dict[str, Any]:
        return cost_extension(cost, self.limits)

    # -- internals --------------------------------------------------------------------------------

    def _make(self, query: str) -> Prepared:
        try:
            document = parse_limited(query, self.limits)
        except GraphQLError as error:
            return Prepared(None, [error], REFUSED_WEIGHT)
        try:
            check_shape(document, self.limits)
        except LimitExceeded as error:
            return Prepared(None, [error], REFUSED_WEIGHT)
        errors = validate(self.schema, document, RULES)
        return Prepared(document, errors, weigh(query))

    def _keep(self, query: str, prepared: Prepared) -> None:
        if prepared.weight <= self.entries.maxsize:
            self.entries[query] = prepared

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facade-documents")
            return self._worker


def weigh(query: str) -> int:
    """The estimated bytes a prepared document (or its compiled plan) of `query` holds."""
    return max(len(query) * BYTES_PER_CHARACTER, REFUSED_WEIGHT)


def _weight(prepared: Prepared) -> int:
    return prepared.weight


class CheckedDocuments(SchemaExtension):
    """Strawberry's parse and validate steps answered from the shared DocumentCache (it replaces
    ParserCache and ValidationCache), the operation's cost checked before execution and reported
    in the response's `extensions`."""

    def __init__(self, cache: DocumentCache) -> None:
        self.cache = cache
        self.cost: int | None = None
        self.prepared: Prepared | None = None

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is None:
            prepared = self.cache.prepare(context.query)
            self.prepared = prepared
            if prepared.document is None:
                raise prepared.errors[0]
            context.graphql_document = prepared.document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        prepared = self.prepared
        if prepared is not None:
            context.pre_execution_errors = list(prepared.errors)
            if not prepared.errors:
                try:
                    self.cost = self.cache.admit(prepared, context.operation_name, context.variables)
                except LimitExceeded as error:
                    context.pre_execution_errors = [error]
        yield

    def get_results(self) -> dict[str, Any]:
        return {} if self.cost is None else self.cache.extensions(self.cost)


__all__ = ["BYTES_PER_CHARACTER", "RULES", "CheckedDocuments", "DocumentCache", "Prepared", "weigh"]
