"""Generate the Afosto operation table, its lean payload readers and its Strawberry types from the
contract copy in `contract/` (build time, never at start-up):

    python -m facade.backends.upstream.afosto.generate [--check]
    facade afosto generate [--check]

It writes three committed modules and their packages' `__init__` (ruff-formatted, except the
operation table, one operation a line; `--check` regenerates them in memory and fails when a
committed one differs):

    backends/upstream/afosto/generated/operations.py   OPERATIONS: one `Operation` per operation
    backends/upstream/afosto/generated/payloads.py     the records and enums of the answers
    graph/afosto/generated/types.py                    Strawberry types and inputs; TYPES

The rules (the README's Decisions repeat them):

Read or write. A GET is a read and every PUT and DELETE a write. A POST is a read when a literal
segment of its path is `search`; `READ_POSTS` adds the reviewed POSTs that only read although
their path does not say so (lists by constraints, evaluations, projections, reports), and
`WRITES` the reviewed exceptions both ways (GETs with effects: token extension and revocation,
OAuth authorisation, payment starts; POSTs under `search` that attach or add). When in doubt an
operation is a write: a write taken for a read would be retried and de-duplicated.

Names come from the method and the path, never from the titles (which collide and carry typos):
the literal segments after the service, camelCased, `{param}` segments dropped and the segment
before each one singular; a final action segment (`ACTIONS`: allocate, cancel, verify, ...) or any
`search` segment becomes the verb in front. A read is the nouns alone (`GET /odr/orders/{id}` is
`afosto { odr { order(id:) } }`), a read POST without a verb gets `search`. A write is a root
mutation `afosto<Service><Verb><Nouns>`, the verb create/update/delete by method when the path has
no action (`POST /odr/orders` is `afostoOdrCreateOrder`: creating one is singular, unless the body
is a list). Names that still clash get `By<Params>`, then the method. `NAMES` overrides the rule
for reviewed cases. The generator fails on a clash or an invalid name.

Types come from the documented examples and the schema definitions. An object whose example has
the shape of a named schema's example (`#/definitions` references resolved) is that schema's type
(`AfostoOdrOrder`), as is one whose fields a schema has alike, with at most a quarter more of its
own (examples leave out fields their models list), and one rendered alike but cut off elsewhere
(the renderer truncates examples); an object of fewer than `SMALL` fields only a schema of its
own service (`{email}` is no `OdrIdentityExistsRequest` in `rel`). Schemas of one shape are one
type, named after the first in sorted order. A field whose definition names a schema is that
schema's type: the model, not its rendering. Other objects are named after the operation and the
JSON path, one type per shape and service. From the schema definitions come enums (`type: string
pos, ...`; `NOT_ENUMS` lists the reviewed field lists that print examples instead), the fields
the examples leave out and field descriptions. Leaves: `string (uuid)` is ID, `(date-time)`
DateTime, `(date)` Date, `integer (int64)` Int64, `number` Float. `JSON` only where the
documentation is free-form (`object`), or an object whose keys are data (not names), or a
reference that does not resolve. Everything is nullable: the documentation marks nothing
required. An answer without a body is an `AfostoAck` (status, task id); files and images an
`AfostoBinary`.

Typing counts: an operation is "full" when every argument, input and output leaf has a concrete
type; "freeform" when the only JSON is what the documentation leaves free-form; "partial" when the
answer is bytes or a bare object, or the body is multipart, a bare object or undocumented though
needed; "untyped" when both the body and the answer are bare JSON.

Imports the standard library and runs ruff (a test dependency) to format what it writes.
"""

from __future__ import annotations

import argparse
import builtins
import dataclasses
import json
import keyword
import re
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from facade.backends.upstream.afosto.operation import to_camel

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "contract"
PACKAGE = HERE.parents[2]  # src/facade
COMMAND = "facade afosto generate"

OUTPUTS = {
    "package": HERE / "generated" / "__init__.py",
    "operations": HERE / "generated" / "operations.py",
    "payloads": HERE / "generated" / "payloads.py",
    "graph package": PACKAGE / "graph" / "afosto" / "generated" / "__init__.py",
    "types": PACKAGE / "graph" / "afosto" / "generated" / "types.py",
    "fields": PACKAGE / "graph" / "afosto" / "generated" / "fields.py",
    "sizes": PACKAGE / "graph" / "afosto" / "generated" / "sizes.py",
}
PACKAGE_DOC = '''"""Generated by `{command}` from `backends/upstream/afosto/contract/`: do not edit.

{what}
"""
'''

# Reviewed: POSTs that only read although no `search` segment says so.
READ_POSTS = frozenset(
    {
        "POST /cat/groups/{id}/prices",  # search prices by sku constraints
        "POST /rel/contacts",  # search contacts by id constraints
        "POST /wms/inventory",  # stock summaries by constraints
        "POST /rel/geocode",
        "POST /rel/identity/exists",
        "POST /cnt/filters/date",  # evaluate a relative date
        "POST /odr/projection",  # project pricing
        "POST /odr/rules/evaluate",
        "POST /iam/logging/logs",  # query logs
        "POST /iam/report",  # a usage report
        "POST /iam/subscriptions/usages",  # a live list of active subscriptions
        "POST /wms/duration",  # the duration of a route
        "POST /wms/projection/claims",  # a claim projection, nothing claimed
        "POST /wms/transfers/projection",
        "POST /cnt/dataflow/matcher/{model}/{id}",  # test a match
    }
)
# Reviewed: exceptions to the method rule that are writes.
WRITES = frozenset(
    {
        "GET /iam/jwt/extend",
        "GET /iam/jwt/revoke",
        "GET /iam/oauth/authorize",
        "GET /iam/oauth/forward/{reference}",
        "GET /rel/search/addresses",  # starts an autocomplete session
        "GET /odr/payments/{secret}/start",
        "GET /odr/payments/{secret}/execute",
        "POST /odr/orders/{id}/items/search",  # adds items to the order from a search
        "POST /odr/search/orders/items/attach",  # attaches warehouse items
    }
)
# Reviewed: operations that answer bytes although the extracted JSON lost their content type.
BINARY = frozenset({"GET /cnt/barcode", "GET /cnt/gif/transform", "POST /cnt/html/inline"})
# Reviewed: bodies the documentation omits although the operation plainly needs one.
UNDOCUMENTED_BODIES = frozenset({"POST /cat/maps/collections/{id}/search", "POST /cnt/dataflow/matcher/{model}/{id}"})
# Reviewed: names the rule gets wrong or unreadable.
NAMES: dict[str, str] = {
    "GET /wms/inventory/{id}": "inventoryItem",  # not inventoryById
    "PUT /wms/inventory/{id}": "afostoWmsUpdateInventoryItem",
    "GET /int/apps/store/{code}": "appsStoreApp",
    "GET /spl/queue/{reference}": "queueJob",
    "GET /iam/roles/system/{id}": "rolesSystemRole",
    "GET /iam/roles/tenant/{id}": "rolesTenantRole",
    "POST /cnt/search": "search",  # the path has no noun
    "POST /cnt/search/{namespace}/{code}/{model}": "searchModel",
    "POST /cnt/filters/date": "relativeDate",
    "POST /rel/geocode": "geocode",
    "POST /rel/identity/exists": "identityExists",
    "POST /odr/projection": "pricingProjection",
    "POST /wms/duration": "routeDuration",
    "POST /wms/projection/claims": "claimsProjection",
    "POST /wms/transfers/projection": "transfersProjection",
    "POST /iam/report": "usageReport",
    "POST /iam/subscriptions/usages": "subscriptionsUsages",
    "GET /iam/oauth/authorize": "afostoIamAuthorizeOauth",
    "POST /iam/oauth/authorize": "afostoIamCreateOauthToken",
    "GET /iam/oauth/forward/{reference}": "afostoIamForwardOauth",
    "POST /iam/purges/{token}": "afostoIamApplyPurge",
    "POST /rel/identity/create": "afostoRelCreateIdentity",
    "DELETE /cnt/instant/indexes/{id}/documents": "afostoCntClearInstantIndexDocuments",
    "POST /cnt/instant/indexes/{id}/documents/delete": "afostoCntDeleteInstantIndexDocuments",
    "PUT /odr/invoices/{id}/paid": "afostoOdrMarkInvoicePaid",
    "POST /odr/payments/{secret}/paid": "afostoOdrMarkPaymentPaid",
}

# Reviewed: field lists that print examples where enums stand (a refused value would fail a read).
NOT_ENUMS = frozenset(
    {("IamLog", "code"), ("IamPhoneNumber", "preferred_agent"), ("IamPhoneNumberModel", "preferred_agent")}
)

# Path segments that are verbs: when last, they lead the name.
ACTIONS = frozenset(
    "accept allocate announce apply attach authenticate authenticated authorize backup cancel clone confirm "
    "delete duplicate evaluate execute export extend forward fulfil invalidate invoice join label paid print "
    "publish read register reset restore retry revoke search slip start subscribe sync test transform trigger "
    "unsubscribe upload verify".split()
)
# Segments that are not words a name can start with.
SEGMENT_WORDS = {"2fa": "two_factor"}
SINGULAR = {"addresses": "address", "statuses": "status", "aliases": "alias", "settings": "settings"}

HEADERS_SET_BY_FACADE = frozenset({"accept", "authorization"})
PAGING_HEADERS = frozenset({"x-page", "x-page-size"})
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SMALL = 3  # objects of fewer fields are matched to schemas of their own service only


# =============================================================================================
# Shapes: what an example says


@dataclass(frozen=True)
class Leaf:
    kind: str  # text id integer int64 number boolean timestamp day free file


@dataclass(frozen=True)
class Obj:
    fields: tuple[tuple[str, Shape], ...]


@dataclass(frozen=True)
class Many:
    item: Shape


@dataclass(frozen=True)
class Ref:
    schema: str


Shape: TypeAlias = Leaf | Obj | Many | Ref

FREE = Leaf("free")
LEAVES = {
    "string": "text",
    "string (uuid)": "id",
    "string (date-time)": "timestamp",
    "string (datetime)": "timestamp",
    "string (date)": "day",
    "integer": "integer",
    "integer (int64)": "int64",
    "number": "number",
    "number (float64)": "number",
    "number (double)": "number",
    "number (float)": "number",
    "boolean": "boolean",
    "object": "free",
    "file": "file",
}


def leaf_of(text: str) -> Leaf:
    """A leaf's type as the docs print it (`string (uuid)`); other strings are example values."""
    if text in LEAVES:
        return Leaf(LEAVES[text])
    return Leaf("text")


def shape_of(value: Any, schemas: dict[str, Any]) -> Shape:
    if isinstance(value, dict):
        if (
            not value
            or not all(NAME.match(key) for key in value)
            or all(re.fullmatch(r"property\d+", k) for k in value)
        ):
            return FREE  # no shape, or keys that are data (additionalProperties)
        return Obj(tuple((key, shape_of(item, schemas)) for key, item in value.items()))
    if isinstance(value, list):
        return Many(shape_of(value[0], schemas) if value else FREE)
    if isinstance(value, bool):
        return Leaf("boolean")
    if isinstance(value, int):
        return Leaf("integer" if -(2**31) <= value < 2**31 else "int64")
    if isinstance(value, float):
        return Leaf("number")
    if isinstance(value, str):
        if value.startswith("#/definitions/"):
            name = value.removeprefix("#/definitions/")
            return Ref(name) if name in schemas else FREE  # a dangling reference (OdrPurchaseItem)
        return leaf_of(value)
    return FREE


def decode(text: str | None) -> Any:
    """An example as JSON; the first JSON value of a text that goes on (two schemas run into the
    next); None for no example."""
    if text is None or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        try:
            return json.JSONDecoder().raw_decode(text.strip())[0]
        except ValueError:
            return "object"


@dataclass(frozen=True)
class FieldDoc:
    type: str
    values: tuple[str, ...] = ()
    after_object: bool = False  # listed after an inline `object` field: maybe one of its fields
    description: str = ""


FIELD_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*): (.+)$")


def field_docs(text: str, schemas: dict[str, Any]) -> dict[str, FieldDoc]:
    """A schema's field list: `name: type [enum values]` lines, each maybe followed by the bare
    item type of an array, then by a blank line and a paragraph describing it."""
    docs: dict[str, FieldDoc] = {}
    types = {*(t.split(" ")[0] for t in LEAVES), *schemas}
    after_object = False
    current: str | None = None
    paragraph: list[str] = []
    for line in [*text.splitlines(), ""]:
        stripped = line.strip()
        match = FIELD_LINE.match(stripped)
        if match and match.group(2).split(" ", 1)[0].removesuffix("[]") in types:
            name, rest = match.groups()
            values: tuple[str, ...] = ()
            enum = re.fullmatch(r"string ([^(].*)", rest)
            if enum and "," in enum.group(1):
                items = [item.strip() for item in enum.group(1).split(",")]
                items[-1] = items[-1].split(" ")[0]  # "a, b c": values a, b; default c
                values = tuple(items)
                rest = "string"
            if name not in docs:
                docs[name] = FieldDoc(rest, values, after_object)
                current = name
            after_object |= rest in ("object", "object[]")
        elif stripped and stripped.split(" ")[0] not in types:
            paragraph.append(stripped)  # a description (a bare type is an array's item type)
        elif not stripped and paragraph:
            if current is not None and not docs[current].description:
                docs[current] = dataclasses.replace(docs[current], description=" ".join(paragraph))
            paragraph = []
    return docs


def truncated_alike(a: Shape, b: Shape) -> bool:
    """Whether `a` and `b` render one model cut off at different places: the keys of one are the
    first keys of the other, alike but for the last, which is itself truncated alike."""
    if a == b:
        return True
    if isinstance(a, Many) and isinstance(b, Many):
        return truncated_alike(a.item, b.item)
    if not isinstance(a, Obj) or not isinstance(b, Obj):
        return False
    n = min(len(a.fields), len(b.fields))
    if n == 0 or [k for k, _ in a.fields[:n]] != [k for k, _ in b.fields[:n]]:
        return False
    return a.fields[: n - 1] == b.fields[: n - 1] and truncated_alike(a.fields[n - 1][1], b.fields[n - 1][1])


def doc_shape(doc: FieldDoc, schemas: dict[str, Any]) -> Shape | None:
    """A field the example lacks, from its documented type; None where that says too little."""
    text = doc.type
    if text.endswith("[]"):
        item = doc_shape(FieldDoc(text[:-2]), schemas)
        return Many(item) if item is not None else None
    if text in schemas:
        return Ref(text)
    if text in LEAVES:
        return Leaf(LEAVES[text])
    return None


def keys_within(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from keys_within(item)
    elif isinstance(value, list):
        for item in value:
            yield from keys_within(item)


# =============================================================================================
# Names


def pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def camel(text: str) -> str:
    name = pascal(text)
    return name[:1].lower() + name[1:]


def singular(word: str) -> str:
    if word in SINGULAR:
        return SINGULAR[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def service_of(name: str) -> str:
    """The service a type name starts with (`Odr` of `OdrOrderState`)."""
    match = re.match(r"[A-Z][a-z]*", name)
    return match.group() if match else ""


def snake(key: str) -> str:
    """A JSON key as a Python attribute (Strawberry camelCases it back)."""
    name = snake_base(key)
    return name + "_" if keyword.iskeyword(name) else name


def snake_base(key: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower()


def enum_member(value: str) -> str:
    name = re.sub(r"[^A-Za-z0-9]+", "_", value).strip("_").upper() or "EMPTY"
    return name if not name[0].isdigit() else f"V{name}"


@dataclass
class Words:
    verb: str | None
    nouns: list[str]
    params: list[str]


def path_words(path: str) -> Words:
    segments = path.strip("/").split("/")[1:]
    nouns: list[str] = []
    params: list[str] = []
    verb: str | None = None
    for i, segment in enumerate(segments):
        if segment.startswith("{"):
            params.append(segment.strip("{}"))
            continue
        word = SEGMENT_WORDS.get(segment, segment)
        if i + 1 < len(segments) and segments[i + 1].startswith("{"):
            word = singular(word)
        nouns.append(word)
    if "search" in nouns:
        nouns.remove("search")
        verb = "search"
    elif len(nouns) > 1 and nouns[-1] in ACTIONS and not segments[-1].startswith("{"):
        verb = nouns.pop()
    return Words(verb, nouns, params)


def field_name(method: str, path: str, service: str, read: bool, array_body: bool) -> str:
    words = path_words(path)
    nouns = words.nouns or [service]
    if read:
        verb = words.verb or ("search" if method == "POST" else None)
        return camel("_".join(([verb] if verb else []) + nouns))
    verb = words.verb or {"POST": "create", "PUT": "update", "DELETE": "delete", "GET": "get"}[method]
    if verb == "create" and not path.endswith("}") and not array_body:
        nouns = [*nouns[:-1], singular(nouns[-1])]
    return "afosto" + pascal(service) + pascal(verb) + pascal("_".join(nouns))


# =============================================================================================
# Types: shapes named and registered


@dataclass(frozen=True)
class T:
    """A GraphQL type reference: kind leaf (name = leaf kind), enum, object, or list (of `item`)."""

    kind: str
    name: str = ""
    item: T | None = None


@dataclass
class TypeDef:
    name: str  # without the Afosto prefix (the payload class; GraphQL: Afosto + name [+ Input])
    fields: list[tuple[str, T]] = dataclasses.field(default_factory=list)
    schema: str | None = None
    descriptions: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class EnumDef:
    name: str
    values: tuple[str, ...]


class Registry:
    """The types of one direction (answers, or request bodies with the `Input` suffix)."""

    def __init__(self, contract: Contract, suffix: str) -> None:
        self.contract = contract
        self.suffix = suffix
        self.defs: dict[str, TypeDef] = {}
        self.anonymous: dict[tuple[Shape, str], str] = {}  # one type per shape and service

    def of(self, shape: Shape, context: str) -> T:
        if isinstance(shape, Leaf):
            return T("leaf", shape.kind)
        if isinstance(shape, Many):
            return T("list", item=self.of(shape.item, singular(context)))
        if isinstance(shape, Ref):
            return self.schema(self.contract.canonical(shape.schema))
        service = service_of(context)
        named = self.contract.match(shape, service)
        if named is not None:
            return self.schema(named)
        if (shape, service) in self.anonymous:
            return T("object", self.anonymous[shape, service])
        name = self.contract.claim(context, self.suffix)
        self.anonymous[shape, service] = name
        definition = self.defs[name] = TypeDef(name)
        definition.fields = [(key, self.of(sub, name + pascal(key))) for key, sub in shape.fields]
        return T("object", name)

    def schema(self, schema: str) -> T:
        if schema not in self.defs:
            shape = self.contract.shapes[schema]
            if not isinstance(shape, Obj):
                return self.of(shape, schema)
            self.contract.claim(schema, self.suffix, exact=True)
            definition = self.defs[schema] = TypeDef(schema, schema=schema)
            docs = self.contract.docs[schema]
            fields: list[tuple[str, T]] = []
            for key, sub in shape.fields:
                doc = docs.get(key)
                if doc is not None:
                    sub = self.contract.documented(sub, doc)
                if doc and doc.values and sub == Leaf("text") and (schema, key) not in NOT_ENUMS:
                    fields.append((key, T("enum", self.contract.enum(schema + pascal(key), doc.values, key))))
                else:
                    fields.append((key, self.of(sub, schema + pascal(key))))
            # Fields the schema lists and its example lacks; not those listed after an inline
            # object that the example has deeper (the field list flattens nested objects).
            example = self.contract.examples[schema]
            deeper = {key for value in example.values() for key in keys_within(value)}
            for key, doc in docs.items():
                missing = key not in example and NAME.match(key) and not (doc.after_object and key in deeper)
                extra = doc_shape(doc, self.contract.schemas) if missing else None
                if extra is not None:
                    fields.append((key, self.of(extra, schema + pascal(key))))
            definition.fields = fields
            definition.descriptions = {
                key: docs[key].description for key, _ in fields if key in docs and docs[key].description
            }
        return T("object", schema)


class Contract:
    """The two JSON files, read: the schemas' shapes and the index of shapes to schema names."""

    def __init__(self, endpoints: list[dict[str, Any]], schemas: dict[str, Any]) -> None:
        self.endpoints = endpoints
        self.schemas = schemas
        self.examples = {name: decode(s["example"]) for name, s in schemas.items()}
        self.shapes = {name: shape_of(example, schemas) for name, example in self.examples.items()}
        self.docs = {name: field_docs(s["fields"], schemas) for name, s in schemas.items()}
        self._expanded: dict[Shape, Shape] = {}
        same: dict[Shape, list[str]] = {}
        for name in sorted(schemas):
            if isinstance(self.shapes[name], Obj):
                same.setdefault(self.expand(self.shapes[name]), []).append(name)
        self.same = same
        self.index = {shape: names[0] for shape, names in same.items()}
        self.merged = {name: names[0] for names in same.values() for name in names}
        self._matches: dict[tuple[Shape, str], str | None] = {}
        self.names: dict[str, set[str]] = {"": set(), "Input": set()}
        self.enums: dict[tuple[str, tuple[str, ...]], EnumDef] = {}
        self.enum_names: set[str] = set()
        self.outputs = Registry(self, "")
        self.inputs = Registry(self, "Input")

    def expand(self, shape: Shape, within: frozenset[str] = frozenset()) -> Shape:
        """`shape` with its references replaced by what they name (a cycle stays a reference)."""
        if isinstance(shape, Leaf):
            return shape
        if not within and shape in self._expanded:
            return self._expanded[shape]
        result: Shape
        if isinstance(shape, Ref):
            result = (
                shape if shape.schema in within else self.expand(self.shapes[shape.schema], within | {shape.schema})
            )
        elif isinstance(shape, Many):
            result = Many(self.expand(shape.item, within))
        else:
            result = Obj(tuple((key, self.expand(sub, within)) for key, sub in shape.fields))
        if not within:
            self._expanded[shape] = result
        return result

    def match(self, shape: Obj, service: str) -> str | None:
        """The schema an example object of `service` (Pascal-cased) is: the one of exactly its
        shape; else the one that has all its fields, alike, and the fewest more (examples leave
        out fields their model lists), at most a quarter more; else one rendered alike but cut
        off elsewhere. An object of one or two fields (`{email}`, `{constraints}`) is only a
        schema of its own service: elsewhere the name would mislead."""
        if (shape, service) not in self._matches:
            expanded = self.expand(shape)
            named = self.index.get(expanded)
            if isinstance(expanded, Obj) and len(expanded.fields) < SMALL:
                own = [name for name in self.same.get(expanded, ()) if name.startswith(service)]
                named = own[0] if own else None
            elif named is None and isinstance(expanded, Obj):
                fields = dict(expanded.fields)
                best: tuple[int, str] | None = None
                for candidate, name in self.index.items():
                    assert isinstance(candidate, Obj)
                    extra = len(candidate.fields) - len(fields)
                    if not 0 < extra <= len(fields) // 4:
                        continue
                    theirs = dict(candidate.fields)
                    if all(theirs.get(key) == sub for key, sub in fields.items()) and (
                        best is None or (extra, name) < best
                    ):
                        best = (extra, name)
                named = best[1] if best else None
            if named is None and isinstance(expanded, Obj) and len(expanded.fields) >= 4:
                # Two renderings of one model, truncated at different depths.
                named = next(
                    (
                        name
                        for candidate, name in self.index.items()
                        if isinstance(candidate, Obj)
                        and len(candidate.fields) >= 4
                        and truncated_alike(expanded, candidate)
                    ),
                    None,
                )
            self._matches[shape, service] = named
        return self._matches[shape, service]

    def documented(self, sub: Shape, doc: FieldDoc) -> Shape:
        """A nested object of a schema's example as the schema its field list names, if it names
        one: the model, not its rendering (which the renderer truncates and flattens); a list
        stays a list."""
        named = doc.type.removesuffix("[]")
        if named not in self.schemas or not isinstance(sub, Obj | Many) or isinstance(sub, Many) and sub.item == FREE:
            return sub
        target = self.shapes[named]
        if isinstance(target, Obj):
            return Many(Ref(named)) if isinstance(sub, Many) else Ref(named)
        if isinstance(target, Many) and isinstance(sub, Many):
            return Ref(named)
        return sub

    def canonical(self, schema: str) -> str:
        """The name of a schema's type: the first of the schemas of its shape; a small one keeps
        its own (see `match`)."""
        shape = self.shapes[schema]
        if isinstance(shape, Obj) and len(shape.fields) < SMALL:
            return schema
        return self.merged.get(schema, schema)

    def claim(self, name: str, suffix: str, exact: bool = False) -> str:
        """A type name not yet taken in its direction (schemas keep theirs; others give way)."""
        taken = self.names[suffix]
        candidates = [name] if exact else [name, name + ("Body" if suffix else "Answer")]
        candidates += [f"{name}{n}" for n in range(2, 100)]
        for candidate in candidates:
            if candidate not in taken and (exact or candidate not in self.schemas):
                taken.add(candidate)
                return candidate
        raise SystemExit(f"afosto generate: no free type name for {name}")

    def enum(self, name: str, values: tuple[str, ...], key: str) -> str:
        """The enum of `values` for a field or parameter named `key`: one per (key, values), named
        after its first owner."""
        if (key, values) not in self.enums:
            unique, n = name, 1
            while unique in self.enum_names or unique in self.schemas:
                n += 1
                unique = f"{name}Enum" if n == 2 else f"{name}Enum{n}"
            self.enum_names.add(unique)
            self.enums[key, values] = EnumDef(unique, values)
        return self.enums[key, values].name


# =============================================================================================
# Operations


@dataclass
class Op:
    method: str
    path: str
    service: str
    title: str
    line: int
    read: bool
    field: str = ""
    params: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    request: T | None = None
    request_state: str = "none"  # none typed json multipart missing
    answer: str = "ack"
    output: T | None = None
    status: int = 200
    paging: str | None = None
    counted: bool = False
    cursor: bool = False
    task: bool = False
    idempotency_key: bool = False
    typing: str = "full"

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def is_read(method: str, path: str) -> bool:
    key = f"{method} {path}"
    if key in WRITES:
        return False
    if method == "GET" or key in READ_POSTS:
        return True
    return method == "POST" and "search" in path.strip("/").split("/")


def header_triples(headers: dict[str, list[str]]) -> Iterator[tuple[str, str, str]]:
    for values in headers.values():
        for i in range(0, len(values) - 2, 3):
            yield values[i].lower(), values[i + 1], values[i + 2]


def param_type(
    contract: Contract, op: Op, name: str, location: str, text: str
) -> tuple[str, tuple[str, ...], str | None]:
    """A parameter's GraphQL type, enum values and default, from `integer 1, 0 0` and the like."""
    base, _, rest = text.partition(" ")
    if rest.startswith("("):
        fmt, _, rest = rest.partition(")")
        base = f"{base} {fmt})"
        rest = rest.strip()
    values: tuple[str, ...] = ()
    default: str | None = None
    if "," in rest:
        items = [item.strip() for item in rest.split(",")]
        last = items[-1].split(" ")
        items[-1] = last[0]
        default = last[1] if len(last) > 1 else None
        values = tuple(items)
    elif rest:
        default = rest
    if location == "path":
        return ("ID" if name == "id" or name.endswith("_id") else "String"), values, default
    if location == "header" and name.lower() in HEADERS_SET_BY_FACADE:
        return "String", values, default
    if base == "string[]":
        return "[String]", values, default
    if set(values) == {"0", "1"}:
        return "Boolean", values, default
    if values:
        return "Afosto" + contract.enum(pascal(op.service) + pascal(name), values, name), values, default
    scalar = {"integer": "Int", "integer (int64)": "Int64", "string (uuid)": "ID", "file": "String"}
    return scalar.get(base, "String"), values, default


def read_operations(contract: Contract) -> list[Op]:
    ops: list[Op] = []
    for raw in contract.endpoints:
        method, path = raw["method"], raw["path"]
        op = Op(method, path, path.strip("/").split("/")[0], raw["title"], raw["line"], is_read(method, path))
        body = decode(raw["request"])
        array_body = isinstance(body, list)
        op.field = NAMES.get(op.key) or field_name(method, path, op.service, op.read, array_body)
        for param in raw["params"]:
            name, location = param["name"], param["in"]
            lowered = name.lower()
            argument = "" if location == "header" and (lowered in HEADERS_SET_BY_FACADE | PAGING_HEADERS) else name
            if lowered == "x-idempotency-key":
                argument, op.idempotency_key = "idempotency_key", True
            if location == "formData":
                argument = f"{name}_base64"
            gql, values, default = param_type(contract, op, name, location, param["type"])
            op.params.append(
                {
                    "name": name,
                    "location": location,
                    "argument": argument,
                    "type": gql,
                    "values": values,
                    "default": default,
                }
            )
        headers = {p["name"].lower() for p in op.params if p["location"] == "header"}
        queries = {p["name"] for p in op.params if p["location"] == "query"}
        # Paging in the body is the more specific where an operation also documents the headers.
        if isinstance(body, dict) and "page_cursor" in body:
            op.paging = "cursor"
        elif isinstance(body, dict) and {"offset", "limit"} <= body.keys():
            op.paging = "offset"
        elif headers & PAGING_HEADERS:
            op.paging = "headers"
        elif {"page", "page_size"} <= queries:
            op.paging = "query"
        for name, description, _ in header_triples(raw["resp_headers"]):
            op.counted |= name == "x-count"
            op.cursor |= name == "x-page" and "cursor" in description.lower()
            op.task |= name == "x-task-id"
        statuses = [int(s.split()[0]) for s in (*raw["responses"], *raw["statuses"]) if s[:1] == "2"]
        op.status = statuses[0] if statuses else 200
        ops.append(op)
    resolve_names(ops)
    return ops


def resolve_names(ops: list[Op]) -> None:
    """Clashing names get `By<Params>`, then the method; what still clashes is an error."""
    for suffix in ("params", "method"):
        groups: dict[tuple[str, str], list[Op]] = {}
        for op in ops:
            groups.setdefault((op.service if op.read else "", op.field), []).append(op)
        for group in groups.values():
            if len(group) < 2:
                continue
            for op in group:
                if op.key in NAMES:
                    continue
                if suffix == "params" and (params := path_words(op.path).params):
                    op.field += "By" + "And".join(pascal(p) for p in params)
                elif suffix == "method":
                    op.field += pascal(op.method.lower())
    seen: dict[tuple[str, str], str] = {}
    for op in ops:
        place = (op.service if op.read else "", op.field)
        if place in seen:
            raise SystemExit(f"afosto generate: {op.key} and {seen[place]} are both {op.field}: add to NAMES")
        if not NAME.match(op.field):
            raise SystemExit(f"afosto generate: {op.key}: {op.field!r} is not a GraphQL name: add to NAMES")
        seen[place] = op.key


def type_operations(contract: Contract, ops: list[Op]) -> None:
    by_key = {f"{raw['method']} {raw['path']}": raw for raw in contract.endpoints}
    for op in ops:
        raw = by_key[op.key]
        context = pascal(op.service) + pascal(op.field.removeprefix("afosto" + pascal(op.service)))
        # The body.
        body = decode(raw["request"])
        if any(p["location"] == "formData" for p in op.params):
            op.request_state = "multipart"
        elif body is None:
            op.request_state = "missing" if op.key in UNDOCUMENTED_BODIES else "none"
        else:
            shape = shape_of(body, contract.schemas)
            op.request = contract.inputs.of(shape, context)
            op.request_state = "json" if shape == FREE else "typed"
        # The answer.
        example = next((decode(text) for text in raw["responses"].values() if text), None)
        binary = any(
            name == "content-type" and "octet" in desc for name, desc, _ in header_triples(raw["resp_headers"])
        )
        if op.key in BINARY or binary or example == "file":
            op.answer = "binary"
        elif example is None:
            op.answer = "ack"
        else:
            shape = shape_of(example, contract.schemas)
            item = shape.item if isinstance(shape, Many) else shape
            if shape == FREE:
                op.answer = "json"
            elif isinstance(item, Obj | Ref):
                op.answer = "many" if isinstance(shape, Many) else "one"
            else:
                op.answer = "scalar"
            op.output = contract.outputs.of(shape, context)


def classify(contract: Contract, ops: list[Op]) -> None:
    free_in = FreeLeaves(contract.inputs)
    free_out = FreeLeaves(contract.outputs)
    for op in ops:
        partial = op.answer in ("binary", "json") or op.request_state in ("multipart", "missing", "json")
        if op.answer == "json" and op.request_state in ("json", "missing"):
            op.typing = "untyped"
        elif partial:
            op.typing = "partial"
        elif free_out.within(op.output) or free_in.within(op.request):
            op.typing = "freeform"
        else:
            op.typing = "full"


class FreeLeaves:
    """Whether a type reaches a JSON (free-form) leaf."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.memo: dict[str, bool] = {}

    def within(self, t: T | None) -> bool:
        if t is None:
            return False
        if t.kind == "leaf":
            return t.name == "free"
        if t.kind == "list":
            return self.within(t.item)
        if t.kind == "object":
            if t.name not in self.memo:
                self.memo[t.name] = False  # a cycle adds nothing
                self.memo[t.name] = any(self.within(sub) for _, sub in self.registry.defs[t.name].fields)
            return self.memo[t.name]
        return False


# =============================================================================================
# Rendering


HEADER = '''"""Generated by `{command}` from `backends/upstream/afosto/contract/`: do not edit.

{what}
"""

from __future__ import annotations
'''

GRAPHQL_LEAVES = {
    "text": "String",
    "id": "ID",
    "integer": "Int",
    "int64": "Int64",
    "number": "Float",
    "boolean": "Boolean",
    "timestamp": "DateTime",
    "day": "Date",
    "free": "JSON",
    "file": "String",
}
PYTHON_LEAVES = {
    "text": "str",
    "id": "str",
    "integer": "int",
    "int64": "int",
    "number": "float",
    "boolean": "bool",
    "timestamp": "dt.datetime",
    "day": "dt.date",
    "free": "Any",
    "file": "str",
}
GRAPH_LEAVES = {**PYTHON_LEAVES, "id": "strawberry.ID", "int64": "Int64", "free": "JSON"}
READERS = {
    "text": "text",
    "id": "text",
    "integer": "integer",
    "int64": "int64",
    "number": "number",
    "boolean": "boolean",
    "timestamp": "timestamp",
    "day": "day",
    "free": "free",
    "file": "text",
}


def graphql_type(t: T | None, suffix: str = "") -> str:
    if t is None:
        return "AfostoAck"
    if t.kind == "leaf":
        return GRAPHQL_LEAVES[t.name]
    if t.kind == "enum":
        return "Afosto" + t.name
    if t.kind == "list":
        return f"[{graphql_type(t.item, suffix)}]"
    return "Afosto" + t.name + suffix


def python_type(t: T, leaves: dict[str, str], obj: str, enum: str) -> str:
    if t.kind == "leaf":
        return leaves[t.name]
    if t.kind == "list":
        assert t.item is not None
        return f"list[{python_type(t.item, leaves, obj, enum)} | None]"
    return (enum if t.kind == "enum" else obj).format(t.name)


def reader(t: T) -> str:
    if t.kind == "leaf":
        return READERS[t.name]
    if t.kind == "list":
        assert t.item is not None
        return f"many({reader(t.item)})"
    return f"choice({t.name})" if t.kind == "enum" else f"record({t.name})"


def attributes(fields: list[tuple[str, T]]) -> list[tuple[str, str, T]]:
    """(key, attribute, type), attributes unique."""
    seen: set[str] = set()
    result = []
    for key, t in fields:
        attr = snake(key)
        while attr in seen:
            attr += "_"
        seen.add(attr)
        result.append((key, attr, t))
    return result


def render_operations(ops: list[Op]) -> str:
    """One line per operation (a table to grep, kept out of ruff's formatting)."""
    lines = [
        HEADER.format(command=COMMAND, what=OPERATIONS_DOC),
        "from facade.backends.upstream.afosto.operation import Operation as O",
        "from facade.backends.upstream.afosto.operation import Param as P",
        "",
        "# fmt: off",
        "OPERATIONS: tuple[O, ...] = (",
    ]
    for op in ops:
        params = ", ".join(
            "P({})".format(
                ", ".join(
                    [repr(p["name"]), repr(p["location"]), repr(p["argument"]), repr(p["type"])]
                    + ([f"enum={p['values']!r}"] if p["values"] else [])
                    + ([f"default={p['default']!r}"] if p["default"] is not None else [])
                )
            )
            for p in op.params
        )
        payload = op.output.item if op.output is not None and op.output.kind == "list" else op.output
        many_body = op.request is not None and op.request.kind == "list"
        body = op.request.item if op.request is not None and many_body else op.request
        output = {"ack": "AfostoAck", "binary": "AfostoBinary"}.get(op.answer) or graphql_type(op.output)
        args = [
            repr(op.method),
            repr(op.path),
            repr(op.service),
            repr(op.field),
            repr(op.read),
            repr(op.title),
            str(op.line),
            f"({params}{',' if len(op.params) == 1 else ''})",
            repr(graphql_type(body, "Input") if body else None),
            repr(many_body),
            repr(payload.name if payload is not None and payload.kind == "object" else None),
            repr(op.answer),
            repr(output),
            str(op.status),
            repr(op.typing),
        ]
        args += [f"paging={op.paging!r}"] if op.paging else []
        args += [f"{flag}=True" for flag in ("counted", "cursor", "task", "idempotency_key") if getattr(op, flag)]
        lines.append(f"    O({', '.join(args)}),")
    lines += [")", "# fmt: on"]
    return "\n".join(lines) + "\n"


OPERATIONS_DOC = """The Afosto operation table: one `Operation` per documented operation, in the documentation's
order, its fields positional in the order `Operation` declares them (method, path, service,
GraphQL field, read, title, source line, parameters, request input type, request is a list,
payload record, answer, output type, status, typing; then paging and flags by keyword)."""


def render_payloads(contract: Contract) -> str:
    out = [
        HEADER.format(
            command=COMMAND,
            what="The records of the Afosto answers and their enums, with the lean readers that fill them\n"
            "(see `facade.backends.upstream.afosto.readers`). Every field is nullable.",
        ),
        "import datetime as dt",
        "import enum",
        "from typing import Any",
        "",
        "from facade.backends.upstream.afosto.readers import (",
        "    AfostoRecord, boolean, choice, day, free, int64, integer, many, number, record, slots, text, timestamp,",
        ")",
        "",
    ]
    for choices in sorted(contract.enums.values(), key=lambda e: e.name):
        out += ["", f"class {choices.name}(enum.Enum):"]
        members: set[str] = set()
        for value in choices.values:
            member = enum_member(value)
            while member in members:
                member += "_"
            members.add(member)
            out.append(f"    {member} = {value!r}")
    # Each record after the records it reads, so that its FIELDS sit in its body and its slots
    # follow from them; a record that closes a cycle gets its FIELDS after the class.
    defined: set[str] = set()
    later: list[str] = []
    for definition in dependency_order(contract.outputs):
        attrs = attributes(definition.fields)
        doc = f"`{definition.schema}`" if definition.schema else "An inline object"
        out += ["", "", f"class {definition.name}(AfostoRecord):", f'    """{doc}."""', ""]
        for _, attr, t in attrs:
            out.append(f"    {attr}: {python_type(t, PYTHON_LEAVES, '{}', '{}')} | None")
        entries = "".join(f"({k!r}, {a!r}, {reader(t)}), " for k, a, t in attrs)
        if all(objects_in(t) <= defined for _, _, t in attrs):
            out += [f"    FIELDS = ({entries})", "    __slots__ = slots(FIELDS)"]
        else:
            out.append(f"    __slots__ = ({''.join(f'{a!r}, ' for _, a, _ in attrs)})")
            later.append(f"{definition.name}.FIELDS = ({entries})")
        defined.add(definition.name)
    if later:
        out += ["", "", *later]
    return "\n".join(out) + "\n"


def render_types(contract: Contract) -> str:
    """The Strawberry types, each after the types it names, so that Python evaluates the
    annotations as it defines the classes (Strawberry resolves objects several times faster than
    annotation strings); a field that closes a cycle names its type as a string."""
    out = [
        HEADER.format(
            command=COMMAND,
            what="The Strawberry types of the Afosto answers and the inputs of its request bodies (each\n"
            "input field with its rule, graph/afosto/rules.py). The output types are filled by the records of\n"
            "`backends/upstream/afosto/generated/payloads.py` (same attributes). No `from __future__\n"
            "import annotations`: evaluated annotations make the module quicker to import.",
        ).replace("from __future__ import annotations\n", ""),
        "import datetime as dt",
        "",
        "import strawberry",
        "from strawberry.scalars import JSON",
        "",
        "from facade.backends.upstream.afosto.generated import payloads as p",
        "from facade.graph.afosto import rules as r",
        "from facade.graph.afosto.scalars import AfostoAck, AfostoBinary, Int64",
        "",
    ]
    names: list[str] = []
    for choices in sorted(contract.enums.values(), key=lambda e: e.name):
        out.append(f'strawberry.enum(p.{choices.name}, name="Afosto{choices.name}")')
        names.append(f"p.{choices.name}")
    for registry, decorator, suffix in ((contract.outputs, "type", ""), (contract.inputs, "input", "Input")):
        defined: set[str] = set()
        for definition in dependency_order(registry):
            name = f"Afosto{definition.name}{suffix}"
            names.append(name)
            described = f', description="Afosto\'s `{definition.schema}`."' if definition.schema else ""
            out += ["", "", f'@strawberry.{decorator}(name="{name}"{described})', f"class {name}:"]
            defined.add(definition.name)
            for key, attr, t in attributes(definition.fields):
                annotation = python_type(t, GRAPH_LEAVES, "Afosto{}" + suffix, "p.{}") + " | None"
                if not objects_in(t) <= defined:
                    annotation = repr(annotation)
                default = " = strawberry.UNSET" if suffix else ""
                options = [f"name={camel_key(key)!r}"] if attr != snake_base(key) else []
                if key in definition.descriptions:
                    options.append(f"description={text_literal(definition.descriptions[key])}")
                rule = rule_of(t) if suffix else None
                if rule:
                    options.append(f"directives=[{rule}]")
                if options:
                    options += ["default=strawberry.UNSET"] if suffix else []
                    default = f" = strawberry.field({', '.join(options)})"
                out.append(f"    {attr}: {annotation}{default}")
            if not definition.fields:
                out.append("    pass")
    out += [
        "",
        "",
        "# Every type and enum, for a schema that holds them (enums of parameters are named by no type).",
        "TYPES: tuple[type, ...] = (",
        *(f"    {name}," for name in names),
        "    AfostoAck,",
        "    AfostoBinary,",
        ")",
    ]
    return "\n".join(out) + "\n"


def text_literal(text: str) -> str:
    """A string literal, split in pieces that keep the line within ruff's length."""
    if len(text) <= 80:
        return repr(text)
    pieces = textwrap.wrap(text, 80, drop_whitespace=False)
    return "(" + " ".join(repr(piece) for piece in pieces) + ")"


def objects_in(t: T) -> set[str]:
    if t.kind == "object":
        return {t.name}
    return objects_in(t.item) if t.kind == "list" and t.item is not None else set()


def dependency_order(registry: Registry) -> list[TypeDef]:
    """The registry's types, each after those its fields name (by name where there is a choice);
    in a cycle, the one first reached comes last."""
    order: list[TypeDef] = []
    state: dict[str, bool] = {}  # False: being visited, True: placed

    def visit(name: str) -> None:
        if name in state:
            return
        state[name] = False
        definition = registry.defs[name]
        for _, t in definition.fields:
            for dependency in sorted(objects_in(t)):
                visit(dependency)
        state[name] = True
        order.append(definition)

    for name in sorted(registry.defs):
        visit(name)
    return order


def camel_key(key: str) -> str:
    """The GraphQL name of a JSON key: the camelCase of its snake_case (Strawberry's rule)."""
    return to_camel(snake_base(key))


def ruff_format(source: str, path: Path) -> str:
    """`source` as `ruff format` writes it, with the project's settings."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(path), "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=PACKAGE.parents[1],
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"afosto generate: ruff format failed on {path.name}: {done.stderr.strip()}")
    return done.stdout


# =============================================================================================
# The GraphQL fields: reads in a namespace per service, writes as root mutations

# The longest value of a text leaf (graph/sizes.py), by leaf kind: the defaults of
# graph/afosto/rules.py (TEXT_CHARS, ID_CHARS, JSON_CHARS; a test holds them equal), as the
# documentation states no lengths.
LEAF_CHARS = {"text": 1_000, "file": 1_000, "id": 200, "free": 65_536}
CURSOR_CHARS = 64  # rules.AFTER
BINARY_CHARS = 1_400_000  # an AfostoBinary's base64: a file of 1 MB
ARGUMENT_LEAVES = {
    "ID": ("strawberry.ID", "r.ID"),
    "String": ("str", "r.TEXT"),
    "Int": ("int", "r.NUMBER"),
    "Int64": ("Int64", None),
    "Boolean": ("bool", None),
    "[String]": ("list[str]", "r.TEXT"),
}
RULES = {
    "text": "r.TEXT",
    "file": "r.TEXT",
    "id": "r.ID",
    "integer": "r.NUMBER",
    "number": "r.NUMBER",
    "free": "r.JSON",
}
# Names a resolver cannot take as parameters (graph/afosto/calls.py RESERVED, the same rule).
RESERVED_ARGUMENTS = frozenset({"self", "info", "body", "first", "after", "checked", "operation"})


def resolver_parameter(argument: str) -> str:
    return argument + "_" if keyword.iskeyword(argument) or argument in RESERVED_ARGUMENTS else argument


def snake_field(name: str) -> str:
    """A resolver's method name; never a builtin the class's later annotations name (`list`)."""
    method = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return method + "_" if method in vars(builtins) or keyword.iskeyword(method) else method


def rule_of(t: T) -> str | None:
    """The rule of an input field or body of type `t` (None: its type bounds it)."""
    if t.kind == "leaf":
        return RULES.get(t.name)
    if t.kind == "list":
        assert t.item is not None
        return rule_of(t.item) or "r.ITEMS"
    return None


def output_annotation(op: Op) -> str:
    if op.answer == "ack":
        return "AfostoAck | None"
    if op.answer == "binary":
        return "AfostoBinary | None"
    if op.output is None:
        return "JSON | None"
    return python_type(op.output, GRAPH_LEAVES, "t.Afosto{}", "p.{}") + " | None"


def paged(op: Op) -> bool:
    return (
        op.read
        and op.answer == "many"
        and op.paging == "headers"
        and op.output is not None
        and op.output.kind == "list"
    )


def item_name(op: Op) -> str:
    assert op.output is not None
    assert op.output.item is not None
    return op.output.item.name


def parameters(op: Op) -> tuple[list[str], list[str]]:
    """The resolver's parameters (source lines) and the keywords it passes on."""
    lines: list[str] = []
    passed: list[str] = []
    if op.request is not None:
        annotation = python_type(op.request, GRAPH_LEAVES, "t.Afosto{}Input", "p.{}") + " | None"
        rule = rule_of(op.request)
        typed = f"Annotated[{annotation}, arg({rule})]" if rule else annotation
        lines.append(f"body: {typed} = None")
    for param in op.params:
        argument = param["argument"]
        if not argument:
            continue
        kind = param["type"]
        python, rule = ARGUMENT_LEAVES.get(kind, (f"p.{kind.removeprefix('Afosto')}", None))
        name = resolver_parameter(argument)
        if name == "idempotency_key":
            rule = "r.IDEMPOTENCY_KEY"
        options = [f"name={to_camel(argument)!r}"] if name != argument else []
        if rule:
            options.append(f"directives=[{rule}]")
        typed = f"{python} | None"
        if options:
            typed = f"Annotated[{typed}, strawberry.argument({', '.join(options)})]"
        lines.append(f"{name}: {typed} = None")
        passed.append(f"{name}={name}")
    return lines, passed


def describe(op: Op) -> str:
    text = f"Afosto `{op.method} {op.path}`: {op.title.strip()}."
    if op.task:
        text += " Carried out later: the answer's taskId names the task."
    return text_literal(text)


def render_resolver(index: int, op: Op, method: str, root: bool) -> list[str]:
    params, passed = parameters(op)
    if paged(op):
        params += [
            "first: Annotated[int | None, arg(r.FIRST)] = None",
            "after: Annotated[str | None, arg(r.AFTER)] = None",
        ]
    signature = ", ".join(["self", "info: strawberry.Info", *params])
    if root:
        decorator = f"@root_mutation(Need.PUBLIC, name={op.field!r}, description={describe(op)})"
    else:
        decorator = f"@strawberry.field(name={op.field!r}, description={describe(op)}, metadata=CHECKS)"
    flags = ["checked=True"] if root else []
    body = ["body"] if op.request is not None else []
    if paged(op):
        name = item_name(op)
        target = f"connection(info, O[{index}], INPUT_KEYS, Afosto{name}Connection, Afosto{name}Edge"
        call_args = [*body, "first=first", "after=after", *flags, *passed]
        returns = f"Afosto{name}Connection | None"
    else:
        target = f"call(info, O[{index}], INPUT_KEYS"
        call_args = [*body, *flags, *passed]
        returns = output_annotation(op)
    rest = "".join(f", {a}" for a in call_args)
    return [
        f"    {decorator}",
        f"    async def {method}({signature}) -> {returns}:",
        f"        return await {target}{rest})",
        "",
    ]


def render_fields(contract: Contract, ops: list[Op]) -> str:
    out = [
        HEADER.format(
            command=COMMAND,
            what="The GraphQL fields of the Afosto operations: the reads in a namespace per service\n"
            "(`afosto { <service> { <field>(...) } }`), the writes as root mutations (`afosto<Service><Verb>...`),\n"
            "each resolver one call of `graph/afosto/calls.py` naming its operation; the connections of\n"
            "the lists Afosto pages by x-page; `INPUT_KEYS`, the JSON keys of the input fields whose\n"
            "GraphQL name differs. No `from __future__ import annotations` (see types.py).",
        ).replace("from __future__ import annotations\n", ""),
        "from typing import Annotated",
        "",
        "import strawberry",
        "from strawberry.scalars import JSON",
        "",
        "from facade.backends.upstream.afosto.generated import payloads as p",
        "from facade.backends.upstream.afosto.generated.operations import OPERATIONS as O",
        "from facade.graph.afosto import rules as r",
        "from facade.graph.afosto.calls import CHECKED, call, connection",
        "from facade.graph.afosto.generated import types as t",
        "from facade.graph.afosto.scalars import AfostoAck, AfostoBinary, Int64  # noqa: F401 (when unused)",
        "from facade.graph.base import Need, PageInfo, root_mutation",
        "from facade.graph.inputs import arg",
        "",
        "CHECKS = {CHECKED: True}",
        "",
        "INPUT_KEYS: dict[str, dict[str, str]] = {",
    ]
    for definition in sorted(contract.inputs.defs.values(), key=lambda d: d.name):
        renamed = {attr: key for key, attr, _ in attributes(definition.fields) if attr != key}
        if renamed:
            out.append(f"    'Afosto{definition.name}Input': {renamed!r},")
    out.append("}")
    for name in sorted({item_name(op) for op in ops if paged(op)}):
        out += [
            "",
            "",
            f'@strawberry.type(name="Afosto{name}Edge", description="An Afosto{name} in a page, with its cursor.")',
            f"class Afosto{name}Edge:",
            "    cursor: str",
            f"    node: t.Afosto{name} | None",
            "",
            "",
            f'@strawberry.type(name="Afosto{name}Connection", '
            f'description="A page of Afosto{name}s (Afosto pages by x-page).")',
            f"class Afosto{name}Connection:",
            f"    edges: list[Afosto{name}Edge]",
            f"    nodes: list[t.Afosto{name} | None]",
            "    page_info: PageInfo",
            "    total_count: int | None = strawberry.field(",
            '        description="How many items the whole list has (x-count), where Afosto says."',
            "    )",
        ]
    index = {op.key: i for i, op in enumerate(ops)}
    services = sorted({op.service for op in ops if op.read})
    for service in services:
        reads = [op for op in ops if op.read and op.service == service]
        out += [
            "",
            "",
            f'@strawberry.type(name="Afosto{pascal(service)}Queries", '
            f'description="The reads of Afosto\'s {service} service.")',
            f"class Afosto{pascal(service)}Queries:",
        ]
        seen: set[str] = set()
        for op in reads:
            method = snake_field(op.field)
            while method in seen:
                method += "_"
            seen.add(method)
            out += render_resolver(index[op.key], op, method, root=False)
    out += [
        "",
        '@strawberry.type(name="Afosto", description="The Afosto API: its reads, one field per service.")',
        "class AfostoNamespace:",
    ]
    for service in services:
        out.append(
            f"    {service}: Afosto{pascal(service)}Queries = strawberry.field("
            f'default_factory=Afosto{pascal(service)}Queries, description="Afosto\'s {service} service.")'
        )
    out += [
        "",
        "",
        "@strawberry.type",
        "class AfostoMutations:",
    ]
    seen = set()
    for op in ops:
        if op.read:
            continue
        method = snake_field(op.field)
        while method in seen:
            method += "_"
        seen.add(method)
        out += render_resolver(index[op.key], op, method, root=True)
    return "\n".join(out) + "\n"


def leaf_chars(t: T) -> int | None:
    if t.kind == "leaf":
        return LEAF_CHARS.get(t.name)
    if t.kind == "list" and t.item is not None:
        return leaf_chars(t.item)
    return None


def render_sizes(contract: Contract, ops: list[Op]) -> str:
    """The longest value of every text field of the Afosto types (graph/sizes.py)."""
    sizes: dict[str, dict[str, int]] = {
        "AfostoAck": {"taskId": LEAF_CHARS["id"]},
        "AfostoBinary": {"contentType": LEAF_CHARS["text"], "base64": BINARY_CHARS},
    }
    for definition in contract.outputs.defs.values():
        found = {}
        for key, _, t in attributes(definition.fields):
            chars = leaf_chars(t)
            if chars is not None:
                found[camel_key(key)] = chars
        if found:
            sizes[f"Afosto{definition.name}"] = found
    for op in ops:
        if paged(op):
            sizes[f"Afosto{item_name(op)}Edge"] = {"cursor": CURSOR_CHARS}
        elif op.answer not in ("ack", "binary"):
            chars = leaf_chars(op.output) if op.output is not None else LEAF_CHARS["free"]
            if chars is not None:
                owner = f"Afosto{pascal(op.service)}Queries" if op.read else "Mutation"
                sizes.setdefault(owner, {})[op.field] = chars
    lines = [
        HEADER.format(
            command=COMMAND,
            what="The longest value of each text field of the Afosto types, for the query cost\n"
            "(graph/sizes.py): the defaults of graph/afosto/rules.py, as the documentation states no lengths.\n"
            "Imports nothing.",
        ),
        "MAX_CHARS: dict[str, dict[str, int]] = {",
    ]
    for name in sorted(sizes):
        lines.append(f"    {name!r}: {dict(sorted(sizes[name].items()))!r},")
    lines.append("}")
    return "\n".join(lines) + "\n"


# =============================================================================================
# The command


@dataclass
class Generated:
    files: dict[Path, str]
    ops: list[Op]
    contract: Contract

    def counts(self) -> dict[str, int]:
        counted = Counter(op.typing for op in self.ops)
        return {kind: counted.get(kind, 0) for kind in ("full", "freeform", "partial", "untyped")}

    def report(self) -> str:
        counts = self.counts()
        reads = sum(op.read for op in self.ops)
        lines = sum(text.count("\n") for text in self.files.values())
        return (
            f"{len(self.ops)} operations ({reads} reads, {len(self.ops) - reads} writes): "
            f"{counts['full']} fully typed, {counts['freeform']} typed with free-form leaves, "
            f"{counts['partial']} partly typed, {counts['untyped']} untyped; "
            f"{len(self.contract.outputs.defs)} output types, {len(self.contract.inputs.defs)} input types, "
            f"{len(self.contract.enums)} enums; {lines} generated lines"
        )


def load_contract(directory: Path = CONTRACT) -> Contract:
    endpoints = json.loads((directory / "afosto_endpoints.json").read_text(encoding="utf-8"))
    schemas = json.loads((directory / "afosto_schemas.json").read_text(encoding="utf-8"))
    return Contract(endpoints, schemas)


def generate(directory: Path = CONTRACT, format_code: bool = True) -> Generated:
    contract = load_contract(directory)
    ops = read_operations(contract)
    type_operations(contract, ops)
    classify(contract, ops)
    sources = {
        OUTPUTS["package"]: PACKAGE_DOC.format(
            command=COMMAND, what="The Afosto operation table (`operations`) and answer records (`payloads`)."
        ),
        OUTPUTS["operations"]: render_operations(ops),
        OUTPUTS["payloads"]: render_payloads(contract),
        OUTPUTS["graph package"]: PACKAGE_DOC.format(
            command=COMMAND, what="The Strawberry types of the Afosto answers and request bodies (`types`)."
        ),
        OUTPUTS["types"]: render_types(contract),
        OUTPUTS["fields"]: render_fields(contract, ops),
        OUTPUTS["sizes"]: render_sizes(contract, ops),
    }
    if format_code:
        sources = {path: ruff_format(text, path) for path, text in sources.items()}
    return Generated(sources, ops, contract)


def stale(generated: Generated) -> list[Path]:
    """The committed files that differ from what the contract generates."""
    return [
        path for path, text in generated.files.items() if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def run(check: bool) -> int:
    generated = generate()
    if check:
        differ = stale(generated)
        for path in differ:
            print(f"{path} is out of date: run `{COMMAND}`", file=sys.stderr)  # noqa: T201
        if differ:
            return 1
        print(f"up to date: {generated.report()}")  # noqa: T201
        return 0
    for path, text in generated.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(generated.files)} files: {generated.report()}")  # noqa: T201
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m facade.backends.upstream.afosto.generate")
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    return run(parser.parse_args(argv).check)


if __name__ == "__main__":
    raise SystemExit(main())
