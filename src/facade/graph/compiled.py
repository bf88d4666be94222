"""Compiled execution: known query documents run as a generated plan instead of graphql-core's
generic executor (research/compiled-executor.md).

graphql-core still decides *what* runs: it parses and validates the document, collects the
fields (fragments, `@skip`/`@include`, merging), coerces variables and arguments, and its own
leaf coercers serialise every scalar and enum that is not a plain str, bool or 32-bit int. What is
compiled is only *how*: for each (document, operation, values of the `@skip`/`@include`
variables) a plan is built once, holding

- the root fields, each calling its resolver's own function after the same permission check
  (`check_need`) the standard path runs, its result then held to its type's record rule;
- the edges of every level, read from the same declarations (`EdgeSpec`, base.py) the standard
  resolvers are derived from; a level's edges are loaded for all parents at once through the
  request's loaders, the loads of a level together, after each parent passed the edge's guard,
  and what they load is held to its type's record rule (permissions.py), as on the standard path;
- one generated Python function per selection set that builds the response dict directly: no
  Info object, resolver call or awaitable per item.

Only the success path is compiled. Whenever anything differs from it (a failed guard or load, a
null where the schema promises a value, a value a coercer refuses, any exception) the plan stops
and the request is *replayed* through Strawberry's standard executor with the same context: the
root results the plan already got are handed back to the root resolvers (`Context.replay`), and
every edge is answered from the request's loaders, which hold all that was fetched, failures
included. The client gets exactly the standard response, errors and paths included, and no
upstream is called twice.

Both paths take the document from the schema's DocumentCache (graph/documents.py): parsed under
the limits, measured and validated once, prepared off the event loop; `execute` refuses an
operation over the cost limit before either path runs, and reports the cost of the others in the
response's `extensions`.

Documents the compiler does not handle are declined and run on the standard path: mutations and
subscriptions, introspection, abstract types, `@defer`/`@stream`, fragment variables, fields
whose resolver is neither a declared edge, a guarded private field nor a plain method of the
object, and any schema whose extensions are not the known, compile-safe ones.
"""

from __future__ import annotations

import asyncio
import inspect
import keyword
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, cast

from cachetools import LRUCache
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    VariableNode,
    is_leaf_type,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import DirectiveNode, Visitor, visit
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from facade.context import Context, Raised
from facade.errors import OperationNotDetermined
from facade.graph.base import EDGE, GUARD, NEED, EdgeSpec, check_need
from facade.graph.documents import DocumentCache, Prepared, weigh
from facade.graph.limits import LimitExceeded
from facade.graph.permissions import Rule, permits_now, records, rule_of

log = logging.getLogger("facade.graph.compiled")

BACKREF = "strawberry-definition"
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# The only schema extensions a plan may bypass: CheckedDocuments, whose parsing, limits and cost
# `execute` applies itself from the same cache, and ErrorCodes, which acts on errors only (a
# compiled response has none; anything with an error is replayed).
COMPILE_SAFE_EXTENSIONS = frozenset({"CheckedDocuments", "ErrorCodes"})


class Decline(Exception):  # noqa: N818 - a decision, not a failure
    """The compiler does not handle this document: run it on the standard path."""


class Bail(Exception):  # noqa: N818
    """The plan met something off the success path: replay on the standard path."""


@dataclass(slots=True)
class Result:
    """What the endpoint reads of an execution result."""

    data: dict[str, Any] | None
    errors: list[GraphQLError] | None = None
    extensions: dict[str, Any] | None = None


class _RootInfo:
    """What a root resolver may read of `info` on the compiled path: the context only. Any other
    attribute raises AttributeError, which bails to the standard path."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context


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

    def build(self, variables: VariableValues) -> dict[str, Any]:
        if self.constant is not None:
            return dict(self.constant)
        raw = get_argument_values(self.field_def, self.node, variables)
        return convert_arguments(
            raw,
            self.strawberry_field.arguments,
            scalar_registry=self.schema.schema_converter.scalar_registry,
            config=self.schema.config,
        )


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
# The plan


@dataclass(slots=True)
class EdgeStep:
    """A declared edge at one place in the plan: loaded for all parents of a level at once."""

    slot: int
    spec: EdgeSpec
    arguments: Arguments | None
    child: ObjectPlan | None
    rule: Rule | None = None


@dataclass(slots=True)
class DownStep:
    """A plain object-valued field (an attribute or a method): followed, not loaded."""

    get: Callable[[Any], Any]
    child: ObjectPlan


@dataclass(slots=True)
class ObjectPlan:
    type_name: str
    function: str
    edges: list[EdgeStep] = field(default_factory=list)
    down: list[DownStep] = field(default_factory=list)
    complete: Callable[[Any, list[Any]], dict[str, Any]] | None = None
    source: str = ""

    @property
    def loads(self) -> bool:
        """Whether anything below this selection needs a load (else staging skips it)."""
        return bool(self.edges) or any(step.child.loads for step in self.down)


@dataclass(slots=True)
class RootStep:
    key: str
    call: Callable[..., Any]
    need: Any
    arguments: Arguments | None
    complete: Callable[[Any, list[Any]], Any]
    child: ObjectPlan | None
    nullable: bool = True
    rule: Rule | None = None


@dataclass(slots=True)
class Plan:
    roots: list[RootStep]
    slots: int
    source: str


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if type(value) is list or type(value) is tuple:
            out.extend(v for v in value if v is not None)
        else:
            out.append(value)
    return out


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        raise Decline(f"attribute {name!r} is not a plain identifier")
    return name


def _leaf(type_: Any, nullable: bool) -> Callable[[Any], Any]:
    coerce = type_.coerce_output_value

    def complete(value: Any) -> Any:
        if value is None:
            if nullable:
                return None
            raise Bail("null for a non-null leaf")
        out = coerce(value)
        if out is Undefined or out is None:
            raise Bail("a leaf coerced to nothing")
        return out

    return complete


# Inline tests under which graphql-core's built-in coercers return the value unchanged.
FAST = {
    "String": "type(v) is str",
    "ID": "type(v) is str",
    "Boolean": "type(v) is bool",
    "Int": f"type(v) is int and {INT_MIN} <= v <= {INT_MAX}",
}


class Compiler:
    """Builds the plan of one operation; one Compiler per plan."""

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
        self.names: dict[str, Any] = {}
        self.lines: list[str] = []
        self.slots = 1  # slot 0 holds the principal
        self.counter = 0
        self.objects: list[ObjectPlan] = []

    def name(self, prefix: str, value: Any) -> str:
        self.counter += 1
        label = f"{prefix}{self.counter}"
        self.names[label] = value
        return label

    def build(self) -> Plan:
        query_type = self.gql.query_type
        collected = collect_fields(self.gql, self.fragments, self.variables, query_type, self.operation)
        self._check_collected(collected)
        roots = [self.root(key, details) for key, details in collected.grouped_field_set.items()]
        source = "\n".join(self.lines)
        namespace = dict(self.names)
        exec(compile(source, "<facade-plan>", "exec"), namespace)  # noqa: S102 - our own generated source
        for plan in self.objects:
            plan.complete = namespace[plan.function]
        return Plan(roots=roots, slots=self.slots, source=source)

    @staticmethod
    def _check_collected(collected: Any) -> None:
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise Decline("@defer/@stream")
        for details in collected.grouped_field_set.values():
            for detail in details:
                if detail.defer_usage is not None or detail.fragment_variable_values is not None:
                    raise Decline("deferred or fragment-variable field")

    def _strawberry(self, parent: GraphQLObjectType, name: str) -> tuple[GraphQLField, StrawberryField]:
        field_def = parent.fields.get(name)
        if field_def is None:
            raise Decline(f"unknown field {parent.name}.{name}")
        definition = (field_def.extensions or {}).get(BACKREF)
        if not isinstance(definition, StrawberryField):
            raise Decline(f"{parent.name}.{name} is not a Strawberry field")
        if definition.extensions or getattr(definition, "permission_classes", None):
            raise Decline(f"{parent.name}.{name} has field extensions or permissions")
        return field_def, definition

    def _arguments(self, field_def: GraphQLField, node: FieldNode, definition: StrawberryField) -> Arguments | None:
        if not field_def.args:
            return None
        arguments = Arguments(field_def, node, definition, self.schema)
        if not _uses_variables(node):
            try:
                arguments.constant = arguments.build(self.variables)
            except Exception:  # noqa: BLE001 - left to each run, which bails and replays
                arguments.constant = None
        return arguments

    def root(self, key: str, details: list[FieldDetails]) -> RootStep:
        node = details[0].node
        name = node.name.value
        if name.startswith("__"):
            raise Decline("introspection or __typename at the root")
        field_def, definition = self._strawberry(self.gql.query_type, name)
        need = definition.metadata.get(NEED)
        resolver = definition.base_resolver
        wrapped = getattr(resolver.wrapped_func, "__wrapped__", None) if resolver is not None else None
        if need is None or wrapped is None:
            raise Decline(f"root field {name} has no declared permission")
        completer, child = self.completer(field_def.type, details)
        return RootStep(
            key=key,
            call=wrapped,
            need=need,
            arguments=self._arguments(field_def, node, definition),
            complete=completer,
            child=child,
            nullable=not isinstance(field_def.type, GraphQLNonNull),
            rule=rule_of(field_def.type),
        )

    def completer(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> tuple[Callable[..., Any], Any]:
        """A function (value, st) -> JSON value for `type_`, and the object plan below it."""
        if isinstance(type_, GraphQLNonNull):
            inner, child = self.completer(type_.of_type, details)

            def non_null(value: Any, st: list[Any]) -> Any:
                if value is None:
                    raise Bail("null for a non-null field")
                return inner(value, st)

            return non_null, child
        if isinstance(type_, GraphQLList):
            if isinstance(type_.of_type, GraphQLList) or (
                isinstance(type_.of_type, GraphQLNonNull) and isinstance(type_.of_type.of_type, GraphQLList)
            ):
                raise Decline("nested lists")
            item, child = self.completer(type_.of_type, details)

            def many(value: Any, st: list[Any]) -> Any:
                if value is None:
                    return None
                if type(value) is not list and type(value) is not tuple:
                    raise Bail("a list field returned something else")
                return [item(v, st) for v in value]

            return many, child
        if is_leaf_type(type_):
            leaf = _leaf(type_, nullable=True)
            return (lambda value, st: leaf(value)), None
        if not isinstance(type_, GraphQLObjectType):
            raise Decline("abstract type")
        plan = self.object(type_, details)

        def obj(value: Any, st: list[Any]) -> Any:
            # plan.complete is the generated function, set once the whole plan is compiled.
            return None if value is None else plan.complete(value, st)  # type: ignore[misc]

        return obj, plan

    def object(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> ObjectPlan:
        if type_.is_type_of is not None:
            raise Decline(f"{type_.name} has is_type_of")
        collected = collect_subfields(self.gql, self.fragments, self.variables, self.operation, type_, details)
        self._check_collected(collected)
        plan = ObjectPlan(type_name=type_.name, function=f"o{len(self.objects) + 1}_{type_.name}")
        self.objects.append(plan)
        entries: list[str] = []
        for key, sub in collected.grouped_field_set.items():
            entries.append(f"        {key!r}: {self.field(plan, type_, sub)},")
        self.lines.append(f"def {plan.function}(o, st):")
        self.lines.append("    return {")
        self.lines.extend(entries)
        self.lines.append("    }")
        return plan

    def field(self, plan: ObjectPlan, parent: GraphQLObjectType, details: list[FieldDetails]) -> str:
        """The expression of one response entry in the generated function."""
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            return repr(parent.name)
        if name.startswith("__"):
            raise Decline("introspection")
        field_def, definition = self._strawberry(parent, name)
        spec = definition.metadata.get(EDGE)
        guard = definition.metadata.get(GUARD)
        resolver = definition.base_resolver
        getter: Callable[[Any], Any] | None = None
        if spec is not None:
            step, value = self._edge(plan, spec, field_def, node, definition)
            expression, step.child = self._complete(field_def.type, details, value)
            return expression
        if guard is not None:
            attr = _identifier(definition.python_name)

            def private(o: Any, st: list[Any], guard: Any = guard, attr: str = attr) -> Any:
                if guard(st[0], o):
                    return getattr(o, attr)
                raise Bail("a private field the caller may not read")

            value = f"{self.name('p', private)}(o, st)"
        elif resolver is not None:
            if (
                inspect.iscoroutinefunction(resolver.wrapped_func)
                or resolver.info_parameter is not None
                or resolver.root_parameter is not None
                or resolver.parent_parameter is not None
                or definition.arguments
                or resolver.self_parameter is None
            ):
                raise Decline(f"{parent.name}.{name} has a resolver the compiler does not handle")
            getter = cast("Callable[[Any], Any]", resolver.wrapped_func)
            value = f"{self.name('m', getter)}(o)"
        else:
            attr = _identifier(definition.python_name)
            value = f"o.{attr}"

            def getter(o: Any, attr: str = attr) -> Any:
                return getattr(o, attr)

        expression, child = self._complete(field_def.type, details, value)
        if child is not None:
            if getter is None:
                raise Decline(f"{parent.name}.{name}: an object behind a private field")
            plan.down.append(DownStep(get=getter, child=child))
        return expression

    def _edge(
        self,
        plan: ObjectPlan,
        spec: EdgeSpec,
        field_def: GraphQLField,
        node: FieldNode,
        definition: StrawberryField,
    ) -> tuple[EdgeStep, str]:
        slot = self.slots
        self.slots += 1
        step = EdgeStep(
            slot=slot,
            spec=spec,
            arguments=self._arguments(field_def, node, definition),
            child=None,
            rule=rule_of(field_def.type),
        )
        plan.edges.append(step)
        key = _identifier(spec.key)
        if spec.paged or not _to_one(field_def.type):
            # A list edge loads even a None key (the standard resolver then fails): missing -> bail.
            return step, f"st[{slot}][o.{key}]"
        return step, f"(None if (k := o.{key}) is None else st[{slot}][k])"

    def _complete(self, type_: GraphQLOutputType, details: list[FieldDetails], value: str) -> tuple[str, Any]:
        """The expression completing `value`, and the object plan below it, if any."""
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if is_leaf_type(named):
            nullable = not isinstance(type_, GraphQLNonNull)
            slow = self.name("l", _leaf(named, nullable))
            test = FAST.get(named.name) if isinstance(named, GraphQLScalarType) else None
            if test is None:
                return f"{slow}({value})", None
            if named.name == "ID":  # records keep numeric ids as int; graphql-core answers str(int)
                return f"(v if type(v := {value}) is str else str(v) if type(v) is int else {slow}(v))", None
            return f"(v if {test} else {slow}(v))".replace("type(v)", f"type(v := {value})", 1), None
        completer, child = self.completer(type_, details)
        return f"{self.name('c', completer)}({value}, st)", child


def _to_one(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return not isinstance(inner, GraphQLList)


# ---------------------------------------------------------------------------------------------
# Running a plan


async def _stage(
    roots: list[tuple[ObjectPlan, list[Any]]], st: list[Any], context: Context, variables: VariableValues
) -> None:
    """Load every edge of the plan, a level at a time, each level's loads together."""
    principal = st[0]
    loaders = context.loaders
    level = [(p, objs) for p, objs in roots if objs and p.loads]
    while level:
        loads: list[tuple[EdgeStep, list[Any], Any, Any]] = []
        queue = list(level)
        while queue:
            object_plan, objects = queue.pop()
            for down in object_plan.down:
                if down.child.loads:
                    children = _flatten(down.get(o) for o in objects)
                    if children:
                        queue.append((down.child, children))
            for edge in object_plan.edges:
                spec = edge.spec
                guard = spec.guard
                if guard is not None:
                    for o in objects:
                        if not guard(principal, o):
                            raise Bail("an edge's guard refused a parent")
                keys = list(dict.fromkeys(k for o in objects if (k := getattr(o, spec.key)) is not None))
                if not keys:
                    st[edge.slot] = {}
                    continue
                loader = getattr(loaders, spec.loader)
                if spec.paged:
                    kwargs = edge.arguments.build(variables) if edge.arguments is not None else {}
                    extra = spec.page_key(context.settings, kwargs)
                    load_keys = [(k, *extra) for k in keys]
                else:
                    load_keys = keys
                loads.append((edge, keys, loader, load_keys))
        if not loads:
            return
        # One batch per loader per level, even when several edges use it (owner and reviewer).
        wanted: dict[int, tuple[Any, dict[Any, None]]] = {}
        for _, _, loader, load_keys in loads:
            wanted.setdefault(id(loader), (loader, {}))[1].update(dict.fromkeys(load_keys))
        fetched = await asyncio.gather(
            *(_fetch(loader, list(keys)) for loader, keys in wanted.values()), return_exceptions=True
        )
        if any(isinstance(result, BaseException) for result in fetched):
            raise Bail("a load failed")
        answers: dict[int, dict[Any, Any]] = dict(zip(wanted, fetched, strict=True))  # type: ignore[arg-type]
        level = []
        for edge, keys, loader, load_keys in loads:
            found = answers[id(loader)]
            values = [found[k] for k in load_keys]
            if edge.rule is not None and not await _permitted(edge.rule, principal, loaders, values):
                raise Bail("a record rule refused a loaded record")
            st[edge.slot] = dict(zip(keys, values, strict=True))
            if edge.child is not None:
                children = _flatten(values)
                if children and edge.child.loads:
                    level.append((edge.child, children))


async def _permitted(rule: Rule, principal: Any, loaders: Any, values: Iterable[Any]) -> bool:
    """Whether the caller may see every record in `values` (permissions.permits, with what the
    rule's `via` names fetched the plan's way: cached in the loader for a replay)."""
    items = [item for value in values for item in records(value)]
    if rule.via is None:
        return permits_now(rule, principal, items)
    name, attribute = rule.via
    keys = [getattr(item, attribute) for item in items]
    found = await _fetch(getattr(loaders, name), list(dict.fromkeys(k for k in keys if k is not None)))
    return all(rule.check(principal, item, found.get(key)) for item, key in zip(items, keys, strict=True))


async def _fetch(loader: Any, keys: list[Any]) -> dict[Any, Any]:
    """The values of `keys`: from the loader's cache where the request already has them, the rest
    from one call of its batch function, whose answers are then cached in the loader as its own
    loads would be. (load_many would cost a pending future and a callback per key.)"""
    cache = loader.cache_map
    found: dict[Any, Any] = {}
    missing: list[Any] = []
    pending: list[tuple[Any, Any]] = []
    for key in keys:
        future = cache.get(key)
        if future is None:
            missing.append(key)
        elif future.done():
            found[key] = future.result()  # a cached failure raises: the plan bails
        else:
            pending.append((key, future))
    if missing:
        try:
            values = await loader.batch_load_fn(missing)
        except Exception as error:
            _remember_failure(loader, missing, error)
            raise
        if len(values) != len(missing):
            raise Bail("a batch answered a different number of keys")
        failed = False
        for key, value in zip(missing, values, strict=True):
            # Every answer is cached before bailing, failures included, so the replay reports
            # each failed key on its own path and calls the backend for none of them again.
            if isinstance(value, Exception):
                _remember_failure(loader, [key], value)
                failed = True
                continue
            loader.prime(key, value)
            found[key] = value
        if failed:
            raise Bail("a batch answered a key with an error")
    for key, future in pending:
        found[key] = await future
    return found


def _unreported(replay: dict[str, Any], roots: list[RootStep]) -> None:
    """The standard executor stops at the first non-null root that fails (data is null): the roots
    that had not finished by then are never reported. In the replay the nullable ones answer null,
    which nobody sees, instead of an error the standard path would not list."""
    nullable = {root.key: root.nullable for root in roots}
    stopped = False
    for key, value in list(replay.items()):
        if stopped and nullable[key]:
            replay[key] = None
        elif isinstance(value, Raised) and not nullable[key]:
            stopped = True


def _remember_failure(loader: Any, keys: list[Any], error: BaseException) -> None:
    """aiodataloader forgets keys whose batch failed; cache the failure so the replay reports it
    instead of calling the backend again."""
    if not isinstance(error, Exception):
        return
    for key in keys:
        loader.prime(key, error)
        future = loader.load(key)
        if future.done() and not future.cancelled():
            future.exception()  # retrieved: the replay (or nobody) reads it


# ---------------------------------------------------------------------------------------------
# The executor


class CompiledExecutor:
    """Runs queries through cached plans, and everything else through Strawberry."""

    def __init__(self, schema: Any, *, max_plan_bytes: int = 64_000_000, enabled: bool = True) -> None:
        self.schema = schema
        self.documents: DocumentCache = schema.documents
        safe = all(_extension_name(ext) in COMPILE_SAFE_EXTENSIONS for ext in schema.extensions)
        self.enabled = enabled and safe
        # Plans are weighed as their documents are in the document cache.
        self.plans: LRUCache[tuple[Any, ...], tuple[Plan | None, int]] = LRUCache(
            maxsize=max_plan_bytes, getsizeof=_second
        )
        self.counts = {"compiled": 0, "declined": 0, "replayed": 0}

    async def execute(
        self,
        query: str,
        *,
        variable_values: dict[str, Any] | None,
        context_value: Context,
        operation_name: str | None,
        allowed_operation_types: Any = None,
    ) -> Any:
        """The result of the request (data, errors, extensions): an operation over a limit is
        refused before anything runs (LimitExceeded in `errors`, no data)."""
        prepared = await self.documents.aprepare(query)
        if prepared.document is None and isinstance(prepared.errors[0], LimitExceeded):
            return Result(data=None, errors=list(prepared.errors))
        self.check_operation(query, operation_name, prepared)
        cost = 0
        if prepared.valid:
            try:
                cost = self.documents.admit(prepared, operation_name, variable_values)
            except LimitExceeded as error:
                return Result(data=None, errors=[error])
        if self.enabled:
            plan_and_vars = self.prepare(query, variable_values, operation_name, prepared)
            if plan_and_vars is not None:
                plan, variables = plan_and_vars
                try:
                    data = await self.run(plan, variables, context_value)
                except Bail as why:
                    log.debug("replaying on the standard path: %s", why)
                    self.counts["replayed"] += 1
                except Exception as error:  # noqa: BLE001 - anything unexpected is the standard path's to report
                    log.debug("replaying on the standard path: %r", error)
                    self.counts["replayed"] += 1
                else:
                    self.counts["compiled"] += 1
                    return Result(data=data, extensions=self.documents.extensions(cost))
            else:
                self.counts["declined"] += 1
        return await self.schema.execute(
            query,
            variable_values=variable_values,
            context_value=context_value,
            operation_name=operation_name,
            allowed_operation_types=allowed_operation_types,
        )

    def check_operation(self, query: str, operation_name: str | None, prepared: Prepared | None = None) -> None:
        """GraphQL's GetOperation, before anything runs: raises OperationNotDetermined when a valid
        document has several operations and no `operation_name`, or none of that name.

        Strawberry alone would run the first operation of such a document (even a mutation).
        Documents that do not parse or validate are left to the standard path, which reports
        those errors first, as the GraphQL spec orders them."""
        doc = prepared or self.documents.prepare(query)
        if doc.document is None or doc.errors:
            return
        operations = [d for d in doc.document.definitions if isinstance(d, OperationDefinitionNode)]
        names = [d.name.value if d.name else None for d in operations]
        if operation_name is None and len(names) > 1:
            raise OperationNotDetermined(
                f"The document has {len(names)} operations: name the one to run in `operationName`."
            )
        if operation_name is not None and operation_name not in names:
            raise OperationNotDetermined("The document has no operation of the name given in `operationName`.")

    # -- planning -------------------------------------------------------------------------------

    def prepare(
        self,
        query: str,
        raw_variables: dict[str, Any] | None,
        operation_name: str | None,
        prepared: Prepared | None = None,
    ) -> tuple[Plan, VariableValues] | None:
        """The plan for this request and its coerced variables, or None to decline."""
        doc = prepared or self.documents.prepare(query)
        if doc.document is None or doc.errors:
            return None
        directive_variables = doc.memo.get("directive_variables")
        if directive_variables is None:
            directive_variables = doc.memo["directive_variables"] = _directive_variables(doc.document)
        operation, fragments = _operation(doc.document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY or fragments is None:
            return None
        variables = get_variable_values(self.schema._schema, operation.variable_definitions or (), raw_variables or {})
        if isinstance(variables, list):
            return None
        try:
            switch = tuple(_hashable(variables.coerced.get(name)) for name in directive_variables)
        except TypeError:
            return None
        key = (query, operation_name, switch)
        cached = self.plans.get(key)
        if cached is not None:
            plan = cached[0]
        else:
            try:
                plan = Compiler(self.schema, fragments, operation, variables).build()
            except Decline as why:
                log.debug("not compiled: %s", why)
                plan = None
            except Exception:  # a compiler bug must cost speed, never an answer
                log.exception("compiling a plan failed; the document runs on the standard path")
                plan = None
            weight = weigh(query)
            if weight <= self.plans.maxsize:
                self.plans[key] = (plan, weight)
        return None if plan is None else (plan, variables)

    def source(self, query: str, operation_name: str | None = None, variables: dict[str, Any] | None = None) -> str:
        """The generated code of a document's plan (for reading and debugging)."""
        prepared = self.prepare(query, variables, operation_name)
        return "" if prepared is None else prepared[0].source

    # -- running --------------------------------------------------------------------------------

    async def run(self, plan: Plan, variables: VariableValues, context: Context) -> dict[str, Any]:
        st: list[Any] = [None] * plan.slots
        st[0] = context.principal
        replay: dict[str, Any] = {}
        context.replay = replay
        info = _RootInfo(context)

        async def call(root: RootStep) -> Any:
            # `replay` is filled as the roots finish, so that the replay can answer them in the
            # order in which the standard executor sees them finish (base.guarded).
            try:
                kwargs = root.arguments.build(variables) if root.arguments is not None else {}
                check_need(context, root.need, kwargs)
                result = root.call(None, info=info, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except AttributeError:
                raise  # the resolver reads more of `info` than a plan gives: the replay runs it
            except Exception as error:
                replay[root.key] = Raised(error)
                raise
            replay[root.key] = result
            return result

        values = await asyncio.gather(*(call(root) for root in plan.roots), return_exceptions=True)
        if any(isinstance(value, BaseException) for value in values):
            _unreported(replay, plan.roots)
            raise Bail("a root resolver raised")
        for root, value in zip(plan.roots, values, strict=True):
            if root.rule is not None and not await _permitted(root.rule, st[0], context.loaders, [value]):
                raise Bail("a record rule refused a root's result")
        await _stage(
            [(root.child, _flatten([value])) for root, value in zip(plan.roots, values, strict=True) if root.child],
            st,
            context,
            variables,
        )
        data = {root.key: root.complete(value, st) for root, value in zip(plan.roots, values, strict=True)}
        context.replay = None
        return data


def _second(entry: tuple[Any, int]) -> int:
    return entry[1]


def _extension_name(extension: Any) -> str:
    if isinstance(extension, type):
        return extension.__name__
    if inspect.isfunction(extension):
        try:
            return type(extension()).__name__
        except Exception:  # noqa: BLE001
            return ""
    return type(extension).__name__


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    hash(value)
    return value


def _operation(
    document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode | None, dict[str, FragmentDetails] | None]:
    operation = None
    fragments: dict[str, FragmentDetails] | None = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            if operation_name is None:
                if operation is not None:
                    return None, None
                operation = definition
            elif definition.name and definition.name.value == operation_name:
                operation = definition
        elif isinstance(definition, FragmentDefinitionNode):
            if getattr(definition, "variable_definitions", None):
                fragments = None
            elif fragments is not None:
                fragments[definition.name.value] = FragmentDetails(definition, None)
    return operation, fragments


def _directive_variables(document: DocumentNode) -> tuple[str, ...]:
    names: dict[str, None] = {}

    class Finder(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            for argument in node.arguments or ():
                if isinstance(argument.value, VariableNode):
                    names[argument.value.name.value] = None

    visit(document, Finder())
    return tuple(names)


__all__ = ["Bail", "CompiledExecutor", "Decline", "Result"]
