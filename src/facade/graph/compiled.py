"""Compiled execution: known query documents run as a generated plan instead of graphql-core's
generic executor (research/compiled-executor.md).

graphql-core still decides *what* runs: it parses and validates the document, collects the
fields (fragments, `@skip`/`@include`, merging), coerces variables and arguments, and its own
leaf coercers serialise every scalar and enum that is not a plain str, bool or 32-bit int. What is
compiled is only *how*: for each (document, operation, values of the `@skip`/`@include`
variables) a plan is built once, holding

- the root fields, each calling its resolver's own function after the same permission check
  (`check_need`) the standard path runs, its result then held to its type's record rule;
- the staging plan (stage.py), which the standard path follows too: below each root as soon as
  it has answered, the stage walker loads each round's edges for all parents at once, strictly
  (any guard refusal, failed load or record refused ends the run), into the run's slots;
- one generated Python function per selection set that builds the response dict directly from
  the records and the slots: no Info object, resolver call or awaitable per item. This part may
  decline a document (below); the staging plan never does.

Only the success path is compiled. Whenever anything differs from it (a failed guard or load, a
null where the schema promises a value, a value a coercer refuses, any exception) the plan stops
and the request is *replayed* through Strawberry's standard executor with the same context: the
root results the plan already got are handed back to the root resolvers (`Execution.replay`, the
executor's per-operation state in stage.EXECUTION), and every edge is answered from the request's
loaders, primed on the bail with all that was fetched, failures included. The client gets
exactly the standard response, errors and paths included (in response order on both paths:
extensions.in_response_order), and no upstream is called twice.

Both paths take the document from the schema's DocumentCache (graph/documents.py): parsed under
the limits, measured and validated once, prepared off the event loop; `execute` refuses an
operation over the cost limit before either path runs, and reports the cost of the others in the
response's `extensions`.

Documents the compiler does not handle are declined and run on the standard path (staged all the
same, leniently, from the root wrapper): mutations and
subscriptions, introspection, abstract types, `@defer`/`@stream`, fragment variables, fields
whose resolver is neither a declared edge, a guarded private field nor a plain method of the
object, and any schema whose extensions are not the known, compile-safe ones.
"""

from __future__ import annotations

import inspect
import keyword
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cachetools import LRUCache
from graphql import (
    DocumentNode,
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
from graphql.execution.values import VariableValues, get_variable_values
from graphql.language import DirectiveNode, Visitor, visit
from strawberry.types.field import StrawberryField

from facade.context import Context
from facade.errors import OperationNotDetermined
from facade.graph.base import check_need
from facade.graph.documents import DocumentCache, Prepared, weigh
from facade.graph.edges import EDGE, GUARD, NEED, READS
from facade.graph.limits import LimitExceeded
from facade.graph.permissions import Rule
from facade.graph.stage import (
    EXECUTION,
    Arguments,
    Bail,
    EdgeStep,
    Execution,
    ObjectStage,
    Raised,
    StagePlan,
    Stager,
    Walk,
    flatten,
    plain_method,
)

log = logging.getLogger("facade.graph.compiled")

BACKREF = "strawberry-definition"
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# The only schema extensions a plan may bypass: CheckedDocuments, whose parsing, limits and cost
# `execute` applies itself from the same cache, and ErrorCodes, which acts on errors only (a
# compiled response has none; anything with an error is replayed).
COMPILE_SAFE_EXTENSIONS = frozenset({"CheckedDocuments", "ErrorCodes"})


class Decline(Exception):  # noqa: N818 - a decision, not a failure
    """The compiler does not handle this document: run it on the standard path."""


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
# The plan


@dataclass(slots=True)
class ObjectPlan:
    """The completion of one selection set: the name of a generated function (value, st) -> dict."""

    type_name: str
    function: str


@dataclass(slots=True)
class RootStep:
    key: str
    call: Callable[..., Any]
    need: Any
    arguments: Arguments | None
    function: str  # the generated function completing the root's value (value, st) -> JSON
    stage: ObjectStage | None
    nullable: bool = True
    rule: Rule | None = None
    complete: Callable[[Any, list[Any]], Any] = field(default=lambda value, st: None)  # `function`, once compiled


@dataclass(slots=True)
class Plan:
    """The completion of a query, over its staging plan."""

    roots: list[RootStep]
    stage: StagePlan
    source: str


@dataclass(slots=True)
class Planned:
    """What the executor keeps per (document, operation, directive variables): the staging plan
    both paths follow, and the compiled completion (None where the compiler declined)."""

    stage: StagePlan | None
    plan: Plan | None


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
    """Builds the completion of one query over its staging plan; one Compiler per plan."""

    def __init__(self, stager: Stager, stage: StagePlan) -> None:
        """`stage` is the plan `stager` built: the completion reads its document and values."""
        self.stager = stager
        self.schema = stager.schema
        self.gql = stager.gql
        self.fragments = stager.fragments
        self.operation = stager.operation
        self.variables = stager.variables
        self.stage = stage
        self.names: dict[str, Any] = {}
        self.lines: list[str] = []
        self.counter = 0
        self.objects: list[ObjectPlan] = []
        self.shared: dict[int, str] = {}  # id(value) -> name, for `once`

    def name(self, prefix: str, value: Any) -> str:
        self.counter += 1
        label = f"{prefix}{self.counter}"
        self.names[label] = value
        return label

    def once(self, value: Any) -> str:
        """The generated code's name for `value`, the same name wherever it is used."""
        label = self.shared.get(id(value))
        if label is None:
            label = self.shared[id(value)] = self.name("g", value)
        return label

    def build(self) -> Plan:
        query_type = self.gql.query_type
        collected = collect_fields(self.gql, self.fragments, self.variables, query_type, self.operation)
        self._check_collected(collected)
        roots = [self.root(key, details) for key, details in collected.grouped_field_set.items()]
        source = "\n".join(self.lines)
        namespace = dict(self.names)
        exec(compile(source, "<facade-plan>", "exec"), namespace)  # noqa: S102 - our own generated source
        for root in roots:
            root.complete = namespace[root.function]
        return Plan(roots=roots, stage=self.stage, source=source)

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
        staged = self.stage.roots[key]
        # The root's value is completed by a generated function of its own, as any field's.
        completed = self._complete(field_def.type, details, "o", staged.child)
        self.counter += 1
        function = f"r{self.counter}_{name}"
        self.lines += [f"def {function}(o, st):", f"    return {completed}"]
        return RootStep(
            key=key,
            call=wrapped,
            need=need,
            arguments=self.stager.arguments(field_def, node, definition),
            function=function,
            stage=staged.child,
            nullable=not isinstance(field_def.type, GraphQLNonNull),
            rule=staged.rule,
        )

    def object(self, type_: GraphQLObjectType, details: list[FieldDetails], stage: ObjectStage) -> ObjectPlan:
        if type_.is_type_of is not None and _records(type_) is None:
            raise Decline(f"{type_.name} has is_type_of")
        collected = collect_subfields(self.gql, self.fragments, self.variables, self.operation, type_, details)
        self._check_collected(collected)
        plan = ObjectPlan(type_name=type_.name, function=f"o{len(self.objects) + 1}_{type_.name}")
        self.objects.append(plan)
        entries: list[str] = []
        for key, sub in collected.grouped_field_set.items():
            entries.append(f"        {key!r}: {self.field(type_, key, sub, stage)},")
        self.lines.append(f"def {plan.function}(o, st):")
        self.lines.append("    return {")
        self.lines.extend(entries)
        self.lines.append("    }")
        return plan

    def field(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails], stage: ObjectStage) -> str:
        """The expression of one response entry in the generated function."""
        node = details[0].node
        name = node.name.value
        if name == "__typename":
            return repr(parent.name)
        if name.startswith("__"):
            raise Decline("introspection")
        field_def, definition = self._strawberry(parent, name)
        staged = stage.by_key.get(key)
        guard = definition.metadata.get(GUARD)
        resolver = definition.base_resolver
        if definition.metadata.get(EDGE) is not None:
            if not isinstance(staged, EdgeStep):
                raise Decline(f"{parent.name}.{name}: an edge the staging plan does not hold")
            return self._complete(field_def.type, details, self._edge(staged, field_def), staged.child)
        if guard is not None:
            attr = _identifier(definition.python_name)

            def private(o: Any, st: list[Any], guard: Any = guard, attr: str = attr) -> Any:
                if guard(st[0], o):
                    return getattr(o, attr)
                raise Bail("a private field the caller may not read")

            value = f"{self.name('p', private)}(o, st)"
        elif resolver is not None:
            method = plain_method(definition)
            if method is None:
                raise Decline(f"{parent.name}.{name} has a resolver the compiler does not handle")
            attribute = getattr(method, READS, None)
            leaf = is_leaf_type(
                field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
            )
            if isinstance(attribute, str) and leaf:
                value = f"o.{_identifier(attribute)}"  # the method's answer, without the call
            else:
                value = f"{self.name('m', method)}(o)"
        else:
            value = f"o.{_identifier(definition.python_name)}"
        # An object behind a private field is not staged (nor is anything the walker cannot
        # follow): completing it declines.
        return self._complete(field_def.type, details, value, staged.child if staged is not None else None)

    def _edge(self, step: EdgeStep, field_def: GraphQLField) -> str:
        """The expression reading an edge's value: the parent's embedded record where the step
        answers from it and the parent has one, else the walker's slot."""
        slot = step.slot
        key = _identifier(step.spec.key)
        if step.spec.paged or not _to_one(field_def.type):
            # A list edge loads even a None key (the standard resolver then fails): missing -> bail.
            loaded = f"st[{slot}][o.{key}]"
        else:
            loaded = f"(None if (k := o.{key}) is None else st[{slot}][k])"
        if step.embedded and step.spec.embedded is not None:
            return f"(e if (e := o.{_identifier(step.spec.embedded)}) is not None else {loaded})"
        return loaded

    def _complete(
        self, type_: GraphQLOutputType, details: list[FieldDetails], value: str, stage: ObjectStage | None
    ) -> str:
        """The expression completing `value`."""
        named = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if is_leaf_type(named):
            nullable = not isinstance(type_, GraphQLNonNull)
            slow = self.name("l", _leaf(named, nullable))
            test = FAST.get(named.name) if isinstance(named, GraphQLScalarType) else None
            if test is None:
                return f"{slow}({value})"
            if named.name == "ID":  # records keep numeric ids as int; graphql-core answers str(int)
                return f"(v if type(v := {value}) is str else str(v) if type(v) is int else {slow}(v))"
            return f"(v if {test} else {slow}(v))".replace("type(v)", f"type(v := {value})", 1)
        return self._inline(type_, details, value, stage)

    def _temp(self) -> str:
        """A fresh local name for a walrus in the generated code: nested completions (a list of
        objects inside an object's entry) never clobber each other's values."""
        self.counter += 1
        return f"t{self.counter}"

    def _inline(
        self, type_: GraphQLOutputType, details: list[FieldDetails], value: str, stage: ObjectStage | None
    ) -> str:
        """The expression completing `value` (an object or a list), written out in the generated
        function: a null where the type promises a value, a list that is not one and, for a Node
        type, a record of another class bail; no call per wrapping type, only the object's own
        function (a catalog of 100 products completes some 500 objects a request)."""
        non_null = isinstance(type_, GraphQLNonNull)
        named: Any = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        if is_leaf_type(named):
            return self._complete(type_, details, value, stage)
        if value.isidentifier():  # a comprehension's item: already a local
            t, value = value, ""
        else:
            t = self._temp()
            value = f" := {value}"
        none = f"{self.once(_bail_null)}()" if non_null else "None"
        if isinstance(named, GraphQLList):
            item_type = named.of_type
            if isinstance(item_type, GraphQLList) or (
                isinstance(item_type, GraphQLNonNull) and isinstance(item_type.of_type, GraphQLList)
            ):
                raise Decline("nested lists")
            u = self._temp()
            item = self._inline(item_type, details, u, stage)
            other = f"{self.once(_bail_not_list)}()"
            return (
                f"({none} if ({t}{value}) is None else [{item} for {u} in {t}] "
                f"if type({t}) is list or type({t}) is tuple else {other})"
            )
        if not isinstance(named, GraphQLObjectType):
            raise Decline("abstract type")
        if stage is None:
            raise Decline(f"{named.name}: a selection the staging plan does not follow")
        plan, records = self.object(named, details, stage), _records(named)
        if records is None:
            return f"({none} if ({t}{value}) is None else {plan.function}({t}, st))"
        kinds, other = self.once(records), self.once(_bail_class)
        return (
            f"({none} if ({t}{value}) is None else {plan.function}({t}, st) if isinstance({t}, {kinds}) else {other}())"
        )


def _bail_null() -> Any:
    raise Bail("null for a non-null field")


def _bail_not_list() -> Any:
    raise Bail("a list field returned something else")


def _bail_class() -> Any:
    raise Bail("a value of another class than the type's records")


def _records(type_: GraphQLObjectType) -> tuple[type, ...] | None:
    """The record classes a Node type's `is_type_of` accepts (graph/nodes.py); None when the type
    has no such check or another one."""
    return getattr(type_.is_type_of, "__facade_records__", None)


def _to_one(type_: GraphQLOutputType) -> bool:
    inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
    return not isinstance(inner, GraphQLList)


# ---------------------------------------------------------------------------------------------
# Running a plan


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
        self.plans: LRUCache[tuple[Any, ...], tuple[Planned, int]] = LRUCache(maxsize=max_plan_bytes, getsizeof=_second)
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
        execution = Execution()
        planned = self.prepare(query, variable_values, operation_name, prepared)
        if planned is not None:
            execution.plan, execution.variables = planned[0].stage, planned[1]
        token = EXECUTION.set(execution)
        try:
            if self.enabled:
                plan = planned[0].plan if planned is not None else None
                if plan is not None and planned is not None:
                    try:
                        data = await self.run(plan, planned[1], context_value, execution)
                    except Bail as why:
                        log.debug("replaying on the standard path: %s", why)
                        self.counts["replayed"] += 1
                    except Exception as error:  # noqa: BLE001 - anything unexpected is the standard path's to report
                        log.debug("replaying on the standard path: %r", error, exc_info=True)
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
        finally:
            EXECUTION.reset(token)

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
    ) -> tuple[Planned, VariableValues] | None:
        """What is planned for this request (the staging plan, and the compiled completion of a
        query when this executor compiles) and its coerced variables; None when the document has
        no plan (it does not validate, names no single operation, or its variables do not
        coerce: the standard path reports it)."""
        doc = prepared or self.documents.prepare(query)
        if doc.document is None or doc.errors:
            return None
        directive_variables = doc.memo.get("directive_variables")
        if directive_variables is None:
            directive_variables = doc.memo["directive_variables"] = _directive_variables(doc.document)
        operation, fragments = _operation(doc.document, operation_name)
        if operation is None or fragments is None or operation.operation is OperationType.SUBSCRIPTION:
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
            return cached[0], variables
        planned = Planned(stage=None, plan=None)
        stager = Stager(self.schema, fragments, operation, variables)
        try:
            planned.stage = stager.build()
        except Exception:  # a planner bug must cost speed, never an answer
            log.exception("staging a document failed; its resolvers load item by item")
        if self.enabled and planned.stage is not None and operation.operation is OperationType.QUERY:
            try:
                planned.plan = Compiler(stager, planned.stage).build()
            except Decline as why:
                log.debug("not compiled: %s", why)
            except Exception:  # a compiler bug must cost speed, never an answer
                log.exception("compiling a plan failed; the document runs on the standard path")
        weight = weigh(query)
        if weight <= self.plans.maxsize:
            self.plans[key] = (planned, weight)
        return planned, variables

    def source(self, query: str, operation_name: str | None = None, variables: dict[str, Any] | None = None) -> str:
        """The generated code of a document's plan (for reading and debugging)."""
        prepared = self.prepare(query, variables, operation_name)
        plan = prepared[0].plan if prepared is not None else None
        return "" if plan is None else plan.source

    # -- running --------------------------------------------------------------------------------

    async def run(
        self, plan: Plan, variables: VariableValues, context: Context, execution: Execution
    ) -> dict[str, Any]:
        st: list[Any] = [None] * plan.stage.slots
        st[0] = context.principal
        replay: dict[str, Any] = {}
        execution.replay = replay
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

        walk = Walk(context, variables, strict=True, slots=st)
        values: list[Any] = [None] * len(plan.roots)

        async def staged(index: int, root: RootStep) -> list[tuple[ObjectStage, list[Any]]]:
            # Each root's selection is loaded as soon as the root has answered, beside the roots
            # still resolving: a slow one holds up only its own.
            value = values[index] = await call(root)
            if root.rule is not None and not await walk.permitted(root.rule, value):
                raise Bail("a record rule refused a root's result")
            return [(root.stage, flatten([value]))] if root.stage else []

        try:
            failed = await walk.run([], later=[staged(i, root) for i, root in enumerate(plan.roots)])
            if failed:
                if not all(isinstance(error, Bail) for error in failed):
                    _unreported(replay, plan.roots)
                    raise Bail("a root resolver raised")
                raise failed[0]
            data = {root.key: root.complete(value, st) for root, value in zip(plan.roots, values, strict=True)}
        except BaseException:
            walk.remember()  # for the replay: what this run loaded, failures included
            raise
        execution.replay = None
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
