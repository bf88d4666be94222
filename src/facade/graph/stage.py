"""Staging: what a query document will read, loaded in rounds before anything completes.

Both execution paths run a document the same way. From the document (graphql-core's
`collect_fields`: fragments, `@skip`/`@include`, merging) a **staging plan** is built once per
(document, operation, values of the directive variables), for queries and mutations alike: for
each root field, the tree of selections below it that hold declared edges (`EdgeSpec`,
graph/edges.py), and the plain object fields (a connection's `nodes`, an edge's `node`) that lead
down to them. The **stage walker** then follows a root field's result down that tree in rounds:
in each round every edge below the records at hand is loaded for all its parents at once (one
call of the loader's batch function per loader and round), the loaded records are held to their
type's record rule, and the next round starts from them. A load that answers late holds up only
what hangs below it (`Walk._walk`: the others wait for it a while, then go on). What completes the
response afterwards finds every edge already loaded:

- the compiled path (compiled.py) walks **strictly**: a guard refusing a parent, a failed load, a
  record rule refusing a record or a bad argument raises (`Bail`), and the request is replayed on
  the standard path. The walker keeps what it loads in its own slots and memo; the request's
  loaders are primed with it only on a bail (`Walk.remember`), for the replay to read;
- the standard path walks **leniently**, from the root wrapper (base.guarded) after each root
  resolver: it skips the parents a guard refuses and the records a rule refuses, leaves a failed
  load in the loader's cache for the resolver to report, and never raises. It primes the
  request's loaders, which the derived resolvers (base.py) then answer from without an awaitable.

An edge whose selection reads only what the parent already embeds (`EdgeSpec.embedded`/`covers`)
is answered from the parent's embedded record where it has one, with no load, on both paths.
Whatever the walker does not stage (abstract types, fields with hand-written resolvers) the
resolvers load as ever: correct, only slower.

The walker is fed by the executor, which owns the per-operation state (`Execution`, in the
`EXECUTION` context variable, set and reset around one execution): the staging plan, the coerced
variables and, after a bailed compiled run, the root results to replay. Nothing of it lives on the
request's Context.

Imports context, edges, permissions, models; never a backend.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from itertools import repeat
from operator import attrgetter, is_not
from typing import Any, cast

from cachetools import LRUCache
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, FragmentDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from facade.context import Context
from facade.graph.documents import SCALARS, ScalarKey, remember, scalar_key
from facade.graph.edges import EDGE, GUARD, HELD, EdgeSpec
from facade.graph.permissions import Rule, records, rule_of

log = logging.getLogger("facade.graph.stage")

BACKREF = "strawberry-definition"


class Bail(Exception):  # noqa: N818
    """The compiled run met something off the success path: replay on the standard path."""


# ---------------------------------------------------------------------------------------------
# The executor's per-operation state


@dataclass(frozen=True, slots=True)
class Raised:
    """A root resolver's exception, kept for the replay to raise again."""

    error: Exception


@dataclass(slots=True)
class Execution:
    """What the executor knows of the operation it is running: its staging plan (None when the
    document has none: invalid, a subscription), the coerced variables, and the root results of a
    compiled run to replay (by response key, in the order they finished; `Raised` for a failure)."""

    plan: StagePlan | None = None
    variables: VariableValues | None = None
    replay: dict[str, Any] | None = None


EXECUTION: ContextVar[Execution | None] = ContextVar("facade.execution", default=None)


# ---------------------------------------------------------------------------------------------
# Arguments


@dataclass(slots=True)
class Arguments:
    """A field's arguments as the resolver receives them: constant-folded when the document gives
    them as literals, coerced per request when they use variables."""

    field_def: GraphQLField
    node: FieldNode
    strawberry_field: StrawberryField
    schema: Any
    constant: dict[str, Any] | None = None
    # Strawberry's conversion of recent argument values that are all scalars (a page size, an
    # id): the same values convert to the same arguments, and a request's edges build theirs
    # once a round. At most CONVERTED_VALUES sets, the oldest dropped first.
    converted: dict[ScalarKey, dict[str, Any]] = field(default_factory=dict)

    def build(self, variables: VariableValues | None) -> dict[str, Any]:
        if self.constant is not None:
            return dict(self.constant)
        raw = get_argument_values(self.field_def, self.node, variables)
        key = scalar_key(raw)
        if key is not None and (held := self.converted.get(key)) is not None:
            return dict(held)
        built = convert_arguments(
            raw,
            self.strawberry_field.arguments,
            scalar_registry=self.schema.schema_converter.scalar_registry,
            config=self.schema.config,
        )
        if key is not None and all(type(v) in SCALARS or isinstance(v, Enum) for v in built.values()):
            remember(self.converted, key, dict(built), CONVERTED_VALUES)
        return built


CONVERTED_VALUES = 16


def _uses_variables(node: FieldNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_variable(self, *_: Any) -> None:
            nonlocal found
            found = True

    for argument in node.arguments or ():
        visit(argument, Finder())
    return found


# ---------------------------------------------------------------------------------------------
# The staging plan


@dataclass(slots=True)
class EdgeStep:
    """A declared edge at one place in the plan: loaded for all parents of a level at once, into
    `slot` of a compiled run's state. `embedded`: the selection reads only what the parent's
    embedded record holds."""

    slot: int
    spec: EdgeSpec
    arguments: Arguments | None
    child: ObjectStage | None
    rule: Rule | None = None
    embedded: bool = False


@dataclass(slots=True)
class DownStep:
    """A plain object-valued field (an attribute or a method): followed, not loaded."""

    get: Callable[[Any], Any]
    child: ObjectStage


@dataclass(slots=True)
class ObjectStage:
    """The staged selections on one object type: its edges and the plain fields leading down."""

    type_name: str
    edges: list[EdgeStep] = field(default_factory=list)
    down: list[DownStep] = field(default_factory=list)
    by_key: dict[str, EdgeStep | DownStep] = field(default_factory=dict)
    loads: bool = False  # whether anything at or below this selection loads (else not walked)


@dataclass(slots=True)
class RootStage:
    key: str
    child: ObjectStage | None
    rule: Rule | None = None


@dataclass(slots=True)
class StagePlan:
    """What one operation stages: per root field's response key, the tree below it; `slots` is
    the size of a compiled run's state (slot 0 holds the principal)."""

    roots: dict[str, RootStage]
    slots: int


def _deferred(collected: Any) -> bool:
    if collected.new_defer_usages or collected.forbidden_directive_instances:
        return True
    return any(
        detail.defer_usage is not None or detail.fragment_variable_values is not None
        for details in collected.grouped_field_set.values()
        for detail in details
    )


def plain_method(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """The function of a field resolved by a method of the object taking nothing but `self`
    (no info, root, arguments, nor a coroutine): safe to call without Strawberry. None else."""
    resolver = definition.base_resolver
    if (
        resolver is None
        or inspect.iscoroutinefunction(resolver.wrapped_func)
        or resolver.info_parameter is not None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or definition.arguments
        or resolver.self_parameter is None
    ):
        return None
    return cast("Callable[[Any], Any]", resolver.wrapped_func)


def _getter(definition: StrawberryField) -> Callable[[Any], Any] | None:
    """How to read a plain field without running Strawberry: an attribute, a held record, or a
    plain method; None for anything else."""
    held = definition.metadata.get(HELD)
    attr = held if isinstance(held, str) else definition.python_name if definition.base_resolver is None else None
    if attr is None:
        return plain_method(definition)

    def read(o: Any, attr: str = attr) -> Any:
        return getattr(o, attr)

    return read


class Stager:
    """Builds the staging plan of one operation (queries and mutations; a subscription stages
    nothing)."""

    def __init__(
        self,
        schema: Any,
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
        variables: VariableValues,
    ) -> None:
        self.schema = schema
        self.gql = schema._schema
        self.fragments = fragments
        self.operation = operation
        self.variables = variables
        self.slots = 1

    def build(self) -> StagePlan:
        root_type = {
            OperationType.QUERY: self.gql.query_type,
            OperationType.MUTATION: self.gql.mutation_type,
        }.get(self.operation.operation)
        roots: dict[str, RootStage] = {}
        if root_type is None:
            return StagePlan(roots, self.slots)
        collected = collect_fields(self.gql, self.fragments, self.variables, root_type, self.operation)
        if _deferred(collected):
            return StagePlan(roots, self.slots)
        for key, details in collected.grouped_field_set.items():
            field_def = root_type.fields.get(details[0].node.name.value)
            if field_def is None:
                continue
            roots[key] = RootStage(key, self.object_of(field_def.type, details), rule_of(field_def.type))
        return StagePlan(roots, self.slots)

    def object_of(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> ObjectStage | None:
        """The stage of an object (or list of objects) field's selection; None for leaves,
        abstract types and nested lists, which the resolvers load."""
        if isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            type_ = type_.of_type
            if isinstance(type_, GraphQLNonNull):
                type_ = type_.of_type
        if not isinstance(type_, GraphQLObjectType):
            return None
        return self.object(type_, details)

    def object(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> ObjectStage:
        stage = ObjectStage(type_.name)
        collected = collect_subfields(self.gql, self.fragments, self.variables, self.operation, type_, details)
        if _deferred(collected):
            return stage
        for key, sub in collected.grouped_field_set.items():
            node = sub[0].node
            field_def = type_.fields.get(node.name.value)
            definition = (field_def.extensions or {}).get(BACKREF) if field_def is not None else None
            if field_def is None or not isinstance(definition, StrawberryField):
                continue
            spec = definition.metadata.get(EDGE)
            if spec is not None:
                slot = self.slots
                self.slots += 1
                step = EdgeStep(
                    slot=slot,
                    spec=spec,
                    arguments=self.arguments(field_def, node, definition),
                    child=self.object_of(field_def.type, sub),
                    rule=rule_of(field_def.type),
                    embedded=spec.embedded is not None and covered(spec, [d.node for d in sub], self.fragments),
                )
                stage.edges.append(step)
                stage.by_key[key] = step
                continue
            getter = None if GUARD in definition.metadata else _getter(definition)
            child = self.object_of(field_def.type, sub) if getter is not None else None
            if getter is not None and child is not None:
                down = DownStep(getter, child)
                stage.down.append(down)
                stage.by_key[key] = down
        stage.loads = bool(stage.edges) or any(d.child.loads for d in stage.down)
        return stage

    def arguments(self, field_def: GraphQLField, node: FieldNode, definition: StrawberryField) -> Arguments | None:
        if not field_def.args:
            return None
        arguments = Arguments(field_def, node, definition, self.schema)
        if not _uses_variables(node):
            try:
                arguments.constant = arguments.build(self.variables)
            except Exception:  # noqa: BLE001 - left to each run, which reports it
                arguments.constant = None
        return arguments


# ---------------------------------------------------------------------------------------------
# Embedded edges


def covered(spec: EdgeSpec, nodes: Iterable[FieldNode], fragments: Mapping[str, Any]) -> bool:
    """Whether the selections `nodes` make on an edge read only fields its embedded record holds
    (`spec.covers`, and `__typename`). Decided from the document alone, directives ignored (a
    skipped field outside `covers` loads all the same), so that both paths decide alike."""
    allowed = spec.covers | {"__typename"}
    seen: set[str] = set()

    def reads_only_covered(selection_set: SelectionSetNode | None) -> bool:
        for selection in selection_set.selections if selection_set is not None else ():
            if isinstance(selection, FieldNode):
                if selection.name.value not in allowed:
                    return False
            elif isinstance(selection, InlineFragmentNode):
                if not reads_only_covered(selection.selection_set):
                    return False
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                seen.add(name)
                fragment = fragments.get(name)
                definition = getattr(fragment, "definition", fragment)
                if definition is None or not reads_only_covered(definition.selection_set):
                    return False
        return True

    return all(reads_only_covered(node.selection_set) for node in nodes)


_COVERED: LRUCache[int, tuple[FieldNode, bool]] = LRUCache(maxsize=10_000)


def covered_here(spec: EdgeSpec, info: Any) -> bool:
    """`covered` for the field a standard resolver resolves (cached per field node)."""
    raw = info._raw_info
    node = raw.field_nodes[0]
    hit = _COVERED.get(id(node))
    if hit is not None and hit[0] is node:
        return hit[1]
    answer = covered(spec, raw.field_nodes, raw.fragments)
    if len(raw.field_nodes) == 1:  # merged selections are rare: decided each time
        _COVERED[id(node)] = (node, answer)
    return answer


# ---------------------------------------------------------------------------------------------
# The walker


_NOT_NONE = partial(is_not, None)  # in C, where a generator per list cost a call per item


def flatten(values: Iterable[Any]) -> list[Any]:
    """The records in `values`: lists spread, None left out."""
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if type(value) is list or type(value) is tuple:
            out.extend(filter(_NOT_NONE, value))
        else:
            out.append(value)
    return out


# (edge, parent keys, load keys, records answered from embedded ones)
Planned = tuple["EdgeStep", list[Any], list[Any], list[Any]]

# How long the other loads of a round may take, at least, after the first has answered, to join
# its next round (rounds, Walk._walk): as long again as the first took, and never less than this.
STRAGGLER_S = 0.05


async def _settled(pending: Mapping[asyncio.Future[Any], Any]) -> list[asyncio.Future[Any]]:
    """The futures of `pending` that are done once one is and the others have had as long again
    (at least STRAGGLER_S), in the order they were started."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    done, waiting = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    if waiting:
        more, _ = await asyncio.wait(waiting, timeout=max(STRAGGLER_S, loop.time() - started))
        done |= more
    return [future for future in pending if future in done]


class Walk:
    """One walk over a staging plan: `strict` for a compiled run (raises Bail), lenient for the
    standard path (never raises). `slots` receives each edge's {key: value} (compiled runs)."""

    def __init__(self, context: Context, variables: VariableValues | None, *, strict: bool, slots: list[Any]) -> None:
        self.context = context
        self.principal = context.principal
        self.variables = variables
        self.strict = strict
        self.slots = slots
        # What this walk loaded, per loader name: {key: value or exception}.
        self.memo: dict[str, dict[Any, Any]] = {}

    async def run(
        self,
        roots: list[tuple[ObjectStage, list[Any]]],
        later: Iterable[Awaitable[list[tuple[ObjectStage, list[Any]]]]] = (),
    ) -> list[BaseException]:
        """Load every edge below `roots` (a stage and its parent records each), a round of loads
        at a time, and below what each of `later` (a root still resolving) answers once it has.
        The failures of `later`, which do not stop the walk below the others."""
        if self.strict:
            return await self._walk(roots, later)
        try:
            return await self._walk(roots, later)
        except Exception:  # noqa: BLE001 - staging is an optimisation here: the resolvers load the rest
            log.debug("staging stopped; the resolvers load the rest", exc_info=True)
            return []

    async def _walk(
        self,
        roots: list[tuple[ObjectStage, list[Any]]],
        later: Iterable[Awaitable[list[tuple[ObjectStage, list[Any]]]]],
    ) -> list[BaseException]:
        """Rounds of loads: the edges below the records at hand are planned, one load per loader
        for them all, and the records each load answers are the next round's. A load that is
        slow holds up only what hangs below it: once one load of a round has answered, the others
        have as long again (at least STRAGGLER_S) to join its next round, and one still loading
        after that goes on alone. So the usual round, whose loads answer together, costs one call
        per loader as a level did, and a slow upstream no longer keeps every other branch of the
        query from being loaded until the request's deadline."""
        ready = [(stage, objects) for stage, objects in roots if objects and stage.loads]
        pending: dict[asyncio.Future[Any], list[Planned] | None] = {}  # None: a root of `later`
        for root in later:
            pending[asyncio.ensure_future(root)] = None
        failed: list[BaseException] = []
        try:
            while True:
                if ready:
                    ready = await self._round(ready, pending)
                    continue
                if not pending:
                    return failed
                for future in await _settled(pending):
                    planned = pending.pop(future)
                    if planned is None:
                        error = future.exception()
                        if error is not None:
                            failed.append(error)
                            continue
                        ready.extend((stage, objects) for stage, objects in future.result() if objects and stage.loads)
                    else:
                        ready.extend(await self._answered(planned, future.result()))
        except BaseException:
            # Cancelled, or a round failed (Bail: the compiled run replays on the standard path):
            # what is still loading or resolving stops here rather than hold up the replay until
            # it answers. Its upstream reads go on, shared (RequestScope): the replay's identical
            # reads wait for those; its loaders' keys are loaded again (a cancelled one is not
            # an answer, loaders.py).
            for future in pending:
                future.cancel()
            raise

    async def _round(
        self, ready: list[tuple[ObjectStage, list[Any]]], pending: dict[asyncio.Future[Any], list[Planned] | None]
    ) -> list[tuple[ObjectStage, list[Any]]]:
        """Plans the edges below `ready` and starts one load per loader for them (in `pending`);
        what answers without waiting (no keys to load; one load and nothing else loading, which
        runs here rather than in a task) is processed at once: the records for the next round."""
        loads: list[Planned] = []
        queue = list(ready)
        while queue:
            stage, objects = queue.pop()
            for down in stage.down:
                if down.child.loads:
                    children = self._children(down, objects)
                    if children:
                        queue.append((down.child, children))
            for edge in stage.edges:
                planned = self._plan_edge(edge, objects)
                if planned is not None:
                    loads.append(planned)
        # One load per loader per round, even when several edges use it (owner and reviewer).
        wanted: dict[str, dict[Any, None]] = {}
        users: dict[str, list[Planned]] = {}
        now: list[Planned] = []
        for planned in loads:
            if planned[2]:
                name = planned[0].spec.loader
                wanted.setdefault(name, {}).update(dict.fromkeys(planned[2]))
                users.setdefault(name, []).append(planned)
            else:
                now.append(planned)
        found = await self._answered(now, {}) if now else []
        if len(wanted) == 1 and not pending:  # one loader (a store's products): no task to run it in
            ((name, keys),) = wanted.items()
            return found + await self._answered(users[name], await self.fetch(name, list(keys)))
        for name, keys in wanted.items():
            pending[asyncio.ensure_future(self.fetch(name, list(keys)))] = users[name]
        return found

    async def _answered(self, loads: list[Planned], found: dict[Any, Any]) -> list[tuple[ObjectStage, list[Any]]]:
        """The edges of `loads` given their loader's answers `found`: their slots written, their
        records through the edge's rule, and the children to load next."""
        if self.strict and any(map(isinstance, found.values(), repeat(Exception))):
            raise Bail("a load failed")
        children_ready: list[tuple[ObjectStage, list[Any]]] = []
        for edge, keys, load_keys, embedded in loads:
            values = [found[k] for k in load_keys]
            if self.slots:
                self.slots[edge.slot] = dict(zip(keys, values, strict=True))
            values = [v for v in values if not isinstance(v, Exception)] + embedded
            if edge.rule is not None:
                values = await self._permitted(edge.rule, values)
            if edge.child is not None and edge.child.loads:
                children = flatten(values)
                if children:
                    children_ready.append((edge.child, children))
        return children_ready

    def _children(self, down: DownStep, objects: list[Any]) -> list[Any]:
        if self.strict:
            return flatten(map(down.get, objects))
        try:
            return flatten(map(down.get, objects))
        except Exception:  # noqa: BLE001 - the resolvers report it
            return []

    def _plan_edge(self, edge: EdgeStep, objects: list[Any]) -> tuple[EdgeStep, list[Any], list[Any], list[Any]] | None:
        spec = edge.spec
        guard = spec.guard
        parents = objects
        if guard is not None:
            principal = self.principal
            parents = [o for o in objects if guard(principal, o)]
            if self.strict and len(parents) != len(objects):
                raise Bail("an edge's guard refused a parent")
        embedded: list[Any] = []
        if edge.embedded:
            attribute = spec.embedded
            held = [(o, getattr(o, attribute)) for o in parents]  # type: ignore[arg-type]
            embedded = [e for _, e in held if e is not None]
            parents = [o for o, e in held if e is None]
        found = dict.fromkeys(map(attrgetter(spec.key), parents))  # in C: hundreds of parents
        found.pop(None, None)
        keys = list(found)
        if spec.paged and keys:
            try:
                kwargs = edge.arguments.build(self.variables) if edge.arguments is not None else {}
                extra = spec.page_key(self.context.settings, kwargs)
            except Exception:
                if self.strict:
                    raise
                return None  # the resolver reports the bad argument
            load_keys = [(k, *extra) for k in keys]
        else:
            load_keys = keys
        return edge, keys, load_keys, embedded

    async def _permitted(self, rule: Rule, values: list[Any]) -> list[Any]:
        """The values whose every record the caller may see (strict: all of them, else Bail)."""
        principal = self.principal
        related: dict[Any, Any] = {}
        if rule.via is not None:
            name, attribute = rule.via
            wanted = dict.fromkeys(
                k for value in values for item in records(value) if (k := getattr(item, attribute)) is not None
            )
            if wanted:
                related = await self.fetch(name, list(wanted))
                if self.strict and any(isinstance(v, Exception) for v in related.values()):
                    raise Bail("a load for a record rule failed")
        kept = []
        check, by = rule.check, rule.by
        decided: dict[Any, bool] = {}  # a `by` rule's decisions, by the attribute's value
        # Plain loops: this runs for every record a level loads (a catalog of 100 products holds
        # some 550 of them), where a generator and a call per record were a tenth of the walk.
        for value in values:
            if rule.via is None:
                for item in records(value):
                    allowed: bool | None
                    if by is None:
                        allowed = check(principal, item, None)
                    else:
                        allowed = decided.get(key := getattr(item, by))
                        if allowed is None:
                            allowed = decided[key] = check(principal, item, None)
                    if not allowed:
                        break
                else:
                    kept.append(value)
                    continue
            elif all(self._allows(rule, principal, item, related) for item in records(value)):
                kept.append(value)
                continue
            if self.strict:
                raise Bail("a record rule refused a loaded record")
        return kept

    @staticmethod
    def _allows(rule: Rule, principal: Any, item: Any, related: dict[Any, Any]) -> bool:
        if rule.via is None:
            return rule.check(principal, item, None)
        found = related.get(getattr(item, rule.via[1]))
        # A related record that failed to load: not staged below (its resolver reports the load).
        return not isinstance(found, Exception) and rule.check(principal, item, found)

    async def permitted(self, rule: Rule, value: Any) -> bool:
        """Whether the caller may see every record of `value` (a root's result)."""
        try:
            return bool(await self._permitted(rule, [value]))
        except Bail:
            return False

    async def fetch(self, name: str, keys: list[Any]) -> dict[Any, Any]:
        """{key: value or exception} for `keys` of loader `name`: from this walk's memo and the
        loader's cache where they hold a key, the rest from one call of its batch function (load
        many would cost a pending future and a callback per key). A lenient walk primes the loader
        with what it fetched, failures included, for the resolvers to read."""
        loader = getattr(self.context.loaders, name)
        memo = self.memo.setdefault(name, {})
        cache = loader.cache_map
        found: dict[Any, Any] = {}
        missing: list[Any] = []
        pending: list[tuple[Any, asyncio.Future[Any]]] = []
        for key in keys:
            if key in memo:
                found[key] = memo[key]
                continue
            future = cache.get(key) if cache else None
            if future is None or future.cancelled():  # cancelled: with a caller that awaited it
                missing.append(key)
            elif future.done():
                error = future.exception()
                found[key] = error if error is not None else future.result()
            else:
                pending.append((key, future))
        if missing:
            values: list[Any]
            try:
                values = list(await loader.batch_load_fn(missing))
                if len(values) != len(missing):
                    raise TypeError("a batch answered a different number of keys")
            except Exception as error:  # noqa: BLE001 - each key fails with it
                values = [error] * len(missing)
            for key, value in zip(missing, values, strict=True):
                memo[key] = found[key] = value
            if not self.strict:
                _prime(loader, zip(missing, values, strict=True))
        for key, future in pending:
            try:
                found[key] = await future
            except Exception as error:  # noqa: BLE001 - that key's failure
                found[key] = error
        return found

    def remember(self) -> None:
        """Prime the request's loaders with everything this walk loaded, failures included, so
        that a replay on the standard path reads it instead of calling the backend again."""
        loaders = self.context.loaders
        for name, memo in self.memo.items():
            _prime(getattr(loaders, name), memo.items())


def _prime(loader: Any, items: Iterable[tuple[Any, Any]]) -> None:
    cache = loader.cache_map
    for key, value in items:
        held = cache.get(key)
        if held is not None:
            if not held.cancelled():
                continue
            del cache[key]  # cancelled with a caller that awaited it: what was loaded replaces it
        loader.prime(key, value)
        if isinstance(value, Exception):
            cache[key].exception()  # retrieved: its resolver (or nobody) reads it


async def stage_result(info: Any, result: Any) -> None:
    """Stage a root field's result on the standard path, leniently (base.guarded): a record, a
    list of records or a page, down the selection the executor's staging plan holds for it."""
    if result is None:
        return
    execution = EXECUTION.get()
    if execution is None or execution.plan is None:
        return
    root = execution.plan.roots.get(info.path.key)
    if root is None or root.child is None or not root.child.loads:
        return
    walk = Walk(info.context, execution.variables, strict=False, slots=[])
    await walk.run([(root.child, flatten([result]))])


__all__ = [
    "EXECUTION",
    "Arguments",
    "Bail",
    "DownStep",
    "EdgeStep",
    "Execution",
    "ObjectStage",
    "Raised",
    "RootStage",
    "StagePlan",
    "Stager",
    "Walk",
    "covered",
    "covered_here",
    "flatten",
    "plain_method",
    "stage_result",
]
