"""The Afosto API, emulated under `/afosto` (so `FACADE_AFOSTO_URL=<sandbox>/afosto` is the base URL,
as `https://api.afosto.io` is the real one): all 544 operations of the generated table
(`backends/upstream/afosto/generated/operations.py`), answering as the OpenAPI document rebuilt
from the contract (`backends/upstream/afosto/openapi.py`) says, so the contract test can hold the
emulation to it.

Three kinds of answer:

- Collections: a write `POST /x` with `GET /x/{key}` beside it, whose answer carries the key
  (41 of them: cat groups and channels, odr orders, wms locations, ...; not the three whose
  create answers another record, such as `POST /iam/tenants`, so that a client could never
  learn what to read back) keep what is created, in memory, per sandbox (or per facade process,
  for local mode's emulation) and per Afosto tenant: every record belongs to the tenant of the
  token that created it, and a call reads, lists, searches, updates and deletes only its own
  tenant's records (another tenant's key answers 404, as an unknown key does). A call's tenant is
  its token's (below); a token that names none (any other bearer text) is a tenant of its own,
  keyed by the token, so it never sees another token's or tenant's records.
  `POST /x` creates (the body's fields kept, the key taken from the body when it names one, as
  `POST /wms/locations` allows, else made up: the tenant's next integer, or a uuid5 of the
  tenant, the collection and the tenant's count, so two tenants never get the same made-up key),
  `GET`/`PUT`/`DELETE /x/{key}` read, update (the body merged in) and delete it, or answer 404;
  `PUT /x` updates the record its body names. `GET /x` lists them, and the POSTs under a
  `search` segment that answer the collection's records search them (`constraints` with `in` on
  a field or its plural: `ids` is `id`).
- Everything else answers a record derived from the operation's documented answer schema:
  enums their first value (every enum the generated readers read, nested ones included:
  `conformed`), uuids `uuid5` of the operation and the field's place, times a fixed
  instant, other text the field's name; path parameters and the body's fields are echoed where the
  answer has a field of that name and type. The same request gives the same answer. A derived
  list has three records.
- Answers without a body are the documented status (204, 202, ...) with no body; files and images
  a few fixed bytes of the documented type.

Every answer honours `x-page`/`x-page-size` where the operation pages by them (a page number and
a size, 1 and 25 by default), sends `x-count` (the total) where documented and `x-page` where
documented (the next page while there is one, else the page sent: Afosto's own mix of cursor and
echo), and `x-task-id` (a uuid5 of the request) on the asynchronous operations. Errors are
Afosto's `Error`: `{code, message, reference, errors: {kind: [property, ...]}}`, with the
offending body fields under `invalid value` or `required` on a 400. A request without
`Authorization: Bearer <token>` is 401; any token is accepted (the tenant is implicit in an
Afosto token, and facade cannot verify Afosto's keys), but for `POST /iam/oauth/authorize`,
which hands tokens out for client credentials (a seeded client's: a token of its tenant). The
Afosto tenant of a call is its token's: the claim `tenant_id` of an unexpired JWT the app signed
(HS256 under its `afosto_secret`: the sandbox's FACADE_JWT_SECRET, or local mode's own key).

The hand-modelled operations (prices, stock, channels, orders, customers, print hubs, tasks, the
tenant check; `afosto_store.py`) are answered first, from the app's store (`app.state.store`),
when the app has one: the rows the domain graph reads, the tenant the call's token names. The
generic collections stay in memory, per tenant: they hold documents of shapes the store has no
tables for, and a fresh sandbox starting empty is what the contract and CRUD tests want.

Routing is one route object holding a segment trie of the 544 templates (literal segments before
parameters), so a call costs a few dictionary lookups, not a scan of 544 regular expressions;
`path_template` gives the call log the template a call matched. Imports Starlette, the Afosto
package (`emulated.token_tenant` reads a call's token) and the sandbox's own modules.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from facade.backends.upstream.afosto.emulated import token_tenant
from facade.backends.upstream.afosto.generated import payloads
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.openapi import BINARY_TYPES, OCTETS, TOKEN_OPERATION, openapi
from facade.backends.upstream.afosto.operation import Operation
from facade.backends.upstream.afosto.readers import READS, AfostoRecord, Reader
from facade.sandbox.afosto_store import Refused, StoreAfosto, afosto_clients
from facade.sandbox.http import empty_response, json_response

PREFIX = "/afosto"
NAMESPACE = uuid.UUID("6f1c5f3e-2a41-5d8e-9d0b-afa5705a0001")
FIXED_TIME = "2026-01-01T00:00:00Z"
FIXED_DAY = "2026-01-01"
DERIVED_LIST = 3
DEFAULT_PAGE_SIZE = 25
BEARER = re.compile(r"^Bearer\s+\S+$", re.IGNORECASE)
PAGE = re.compile(r"^[1-9][0-9]{0,5}$")
BYTES = {
    "image/png": bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000105fe02fea70000000049454e44ae426082"
    ),
    "image/gif": b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;",
    "application/pdf": b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
    OCTETS: b"afosto sandbox file\n",
}


class Skip:
    """A place a recursive schema closes on itself: the field is left out."""


SKIP = Skip()


def error(
    status: int, message: str, errors: Mapping[str, list[str]] | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """Afosto's `Error`; `reference` (its support trace id) is a uuid5 of what went wrong."""
    reference = str(uuid.uuid5(NAMESPACE, f"{status} {message} {sorted((errors or {}).items())}"))
    body = {"code": status, "message": message, "reference": reference, "errors": dict(errors or {})}
    return json_response(body, status, headers)


def failure(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """An error in Afosto's shape for the sandbox's app-wide renderer (faults, 5xx)."""
    return error(status, message, headers=headers)


class Schemas:
    """The document's schemas: references resolved, instances derived, values checked."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self.components = components

    def resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def instance(
        self, schema: Mapping[str, Any], seed: str, name: str = "value", within: frozenset[str] = frozenset()
    ) -> Any:
        """The deterministic value of `schema` at the place `seed` names."""
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in within:
                return SKIP
            return self.instance(self.resolve(schema), seed, name, within | {ref})
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object":
            result = {}
            for key, sub in schema.get("properties", {}).items():
                value = self.instance(sub, f"{seed}.{key}", key, within)
                if value is not SKIP:
                    result[key] = value
            return result
        if kind == "array":
            item = self.instance(schema.get("items", {}), f"{seed}[0]", name, within)
            return [] if item is SKIP else [item]
        if kind == "string":
            return {
                "uuid": str(uuid.uuid5(NAMESPACE, seed)),
                "date-time": FIXED_TIME,
                "date": FIXED_DAY,
                "binary": "",
                "int64": "1",
            }.get(schema.get("format", ""), name)
        return {"integer": 1, "number": 1.5, "boolean": True}.get(kind or "", {})

    def fits(self, value: Any, schema: Mapping[str, Any], formats: bool = True) -> bool:
        """Whether `value` is of `schema`'s type (and format, where `formats`); what a request
        is checked with (without formats: the document never said how strict those are) and
        what decides which sent fields an answer echoes (with them)."""
        schema = self.resolve(schema)
        if "enum" in schema:
            return value in schema["enum"]
        kind = schema.get("type")
        if kind == "object":
            properties = schema.get("properties", {})
            return isinstance(value, dict) and all(
                self.fits(item, properties[key], formats) for key, item in value.items() if key in properties
            )
        if kind == "array":
            return isinstance(value, list) and all(self.fits(item, schema.get("items", {}), formats) for item in value)
        if kind == "string":
            return isinstance(value, str) and (not formats or _formatted(value, schema.get("format")))
        if kind == "integer":
            # JSON has one number type, and orjson reads an integer beyond 64 bits as a float.
            integral = isinstance(value, float) and value.is_integer() and not formats
            return integral or (isinstance(value, int) and not isinstance(value, bool))
        if kind == "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "boolean":
            return isinstance(value, bool)
        return True

    def wrong_fields(self, body: Any, schema: Mapping[str, Any]) -> list[str]:
        """The body's fields of the wrong type; `body` itself when it is not the right kind."""
        resolved = self.resolve(schema)
        if resolved.get("type") == "object" and isinstance(body, dict):
            properties = resolved.get("properties", {})
            return sorted(k for k, v in body.items() if k in properties and not self.fits(v, properties[k], False))
        return [] if self.fits(body, schema, False) else ["body"]


RFC3339_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
RFC3339_DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _formatted(value: str, fmt: str | None) -> bool:
    """Whether `value` is of the format, as strictly as a JSON Schema validator checks it (RFC
    3339: Python's `fromisoformat` alone takes a bare date for a date-time)."""
    try:
        if fmt == "uuid":
            return UUID.fullmatch(value) is not None
        if fmt == "date-time":
            if not RFC3339_TIME.fullmatch(value):
                return False
            dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        elif fmt == "date":
            if not RFC3339_DATE.fullmatch(value):
                return False
            dt.date.fromisoformat(value)
        elif fmt == "int64":
            int(value)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Spec:
    """One operation as the sandbox answers it."""

    op: Operation
    params: tuple[str, ...]  # the path parameters' names, in order
    body: Mapping[str, Any] | None  # the JSON body's schema
    answer: Mapping[str, Any] | None  # the 2xx body's schema
    content_type: str | None  # a binary answer's
    headers: frozenset[str]  # the documented response headers
    kind: str = "derived"  # create get update delete list search derived
    collection: str | None = None


@dataclass
class Collection:
    path: str
    key: str  # the path parameter naming a record, and the record's field of that name
    key_schema: Mapping[str, Any] = field(default_factory=dict)  # the record's key field's
    # The records per Afosto tenant (`tenant_of`: the call's token's), then by key: a tenant
    # reads, lists, searches, updates and deletes only its own.
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    made: dict[str, int] = field(default_factory=dict)  # per tenant

    def held(self, tenant: str) -> dict[str, dict[str, Any]]:
        """`tenant`'s records (a new tenant's, empty: a bucket is made by its first create)."""
        return self.records.get(tenant, {})

    def keep(self, tenant: str, record: dict[str, Any]) -> None:
        self.records.setdefault(tenant, {})[str(record[self.key])] = record

    def new_key(self, tenant: str) -> Any:
        """A key for `tenant`'s next record: the next integer of its own where keys are integers,
        else a uuid5 of the tenant, the collection and the tenant's count of records made (so two
        tenants' records never share a made-up key)."""
        made = self.made[tenant] = self.made.get(tenant, 0) + 1
        if self.key_schema.get("type") == "integer":
            return max((int(k) for k in self.held(tenant) if k.isdigit()), default=0) + 1
        return str(uuid.uuid5(NAMESPACE, f"{tenant} {self.path}#{made}"))


@dataclass
class Node:
    literal: dict[str, Node] = field(default_factory=dict)
    param: Node | None = None
    specs: dict[str, Spec] = field(default_factory=dict)


def _param_names(path: str) -> tuple[str, ...]:
    return tuple(s[1:-1] for s in path.strip("/").split("/") if s.startswith("{"))


def _singular(key: str) -> str:
    return key[:-1] if key.endswith("s") else key


class Afosto:
    """The operations, their trie, the collections and what they hold (one per sandbox)."""

    def __init__(self) -> None:
        document = openapi()
        self.schemas = Schemas(document["components"]["schemas"])
        self.root = Node()
        self.collections: dict[str, Collection] = {}
        self.specs = [self._spec(op, document["paths"][op.path][op.method.lower()]) for op in OPERATIONS]
        self._link_collections()
        for spec in self.specs:
            node = self.root
            for segment in spec.op.path.strip("/").split("/"):
                if segment.startswith("{"):
                    node.param = node.param or Node()
                    node = node.param
                else:
                    node = node.literal.setdefault(segment, Node())
            node.specs[spec.op.method] = spec
        self._templates: dict[str, Any] = {}

    @staticmethod
    def _spec(op: Operation, item: Mapping[str, Any]) -> Spec:
        body = item.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        main = item["responses"][str(op.status)]
        content = main.get("content", {})
        answer = content.get("application/json", {}).get("schema")
        binary = next((kind for kind in content if kind != "application/json"), None)
        return Spec(op, _param_names(op.path), body, answer, binary, frozenset(main.get("headers", {})))

    def _link_collections(self) -> None:
        by_key = {spec.op.key: i for i, spec in enumerate(self.specs)}
        item_payload: dict[str, str] = {}
        for spec in self.specs:
            op = spec.op
            if op.method != "POST" or op.read or op.path.endswith("}"):
                continue
            reads = [
                s
                for s in self.specs
                if s.op.method == "GET" and re.fullmatch(re.escape(op.path) + r"/\{[^}/]+\}", s.op.path)
            ]
            if len(reads) != 1 or reads[0].op.answer != "one":
                continue
            read = reads[0]
            key = read.params[-1]
            if not self._answers(spec, key):
                continue  # a record nobody could be told the key of: its read stays derived
            answer = self.schemas.resolve(read.answer or {})
            keyed = self.schemas.resolve(answer.get("properties", {}).get(key, {}))
            collection = Collection(op.path, key, keyed)
            self.collections[op.path] = collection
            if read.op.payload:
                item_payload.setdefault(read.op.payload, op.path)
            kinds = {f"POST {op.path}": "create", read.op.key: "get"}
            kinds[f"PUT {read.op.path}"] = "update"
            kinds[f"DELETE {read.op.path}"] = "delete"
            kinds[f"PUT {op.path}"] = "update"  # a record named by the body (PUT /wms/locations)
            kinds[f"GET {op.path}"] = "list"
            for label, kind in kinds.items():
                if (
                    label in by_key
                    and (kind != "list" or self.specs[by_key[label]].op.answer == "many")
                    and (label != f"PUT {op.path}" or self.specs[by_key[label]].op.answer == "one")
                ):
                    i = by_key[label]
                    self.specs[i] = _with(self.specs[i], kind, op.path)
        for i, spec in enumerate(self.specs):
            op = spec.op
            searching = "search" in op.path.strip("/").split("/")
            if op.method == "POST" and searching and op.answer == "many" and op.payload in item_payload:
                self.specs[i] = _with(spec, "search", item_payload[op.payload])

    def _answers(self, create: Spec, key: str) -> bool:
        """Whether a create's documented answer (or each of its items) has a place for the key."""
        made = self.schemas.resolve(create.answer or {})
        if made.get("type") == "array":
            made = self.schemas.resolve(made.get("items", {}))
        return key in made.get("properties", {})

    # -- routing ------------------------------------------------------------------------------

    def lookup(self, path: str, method: str) -> tuple[Spec | None, list[str], Spec | None]:
        """(the spec answering `method` on `path`, the path parameters, another method's spec
        when only that matches)."""
        segments = [unquote(s) for s in path.strip("/").split("/")]
        other: tuple[Spec | None, list[str]] = (None, [])
        for node, values in self._walk(self.root, segments, 0, []):
            if method in node.specs:
                return node.specs[method], values, None
            if other[0] is None:
                other = (next(iter(node.specs.values())), values)
        return None, other[1], other[0]

    def _walk(self, node: Node, segments: list[str], i: int, values: list[str]) -> Iterator[tuple[Node, list[str]]]:
        if i == len(segments):
            if node.specs:
                yield node, values
            return
        segment = segments[i]
        child = node.literal.get(segment)
        if child is not None:
            yield from self._walk(child, segments, i + 1, values)
        if node.param is not None and segment:
            yield from self._walk(node.param, segments, i + 1, [*values, segment])

    def allowed(self, path: str) -> list[str]:
        segments = [unquote(s) for s in path.strip("/").split("/")]
        return sorted({m for node, _ in self._walk(self.root, segments, 0, []) for m in node.specs})

    # -- answers ------------------------------------------------------------------------------

    def template(self, spec: Spec, index: int | None = None) -> Any:
        """The derived answer of an operation (or the `index`th record of a derived list), a
        fresh copy."""
        label = spec.op.key if index is None else f"{spec.op.key}#{index}"
        if label not in self._templates:
            schema = spec.answer or {}
            if index is not None:
                schema = self.schemas.resolve(schema).get("items", {})
            value = self.schemas.instance(schema, label)
            self._templates[label] = orjson.dumps(value if value is not SKIP else {})
        return orjson.loads(self._templates[label])

    def overlay(self, record: Any, fields: Mapping[str, Any], schema: Mapping[str, Any]) -> Any:
        """`record` with those of `fields` its schema has a place of their type for."""
        resolved = self.schemas.resolve(schema)
        if not isinstance(record, dict) or resolved.get("type") != "object":
            return record
        properties = resolved.get("properties", {})
        for key, value in fields.items():
            if key in properties and self.schemas.fits(value, properties[key]):
                record[key] = value
        return record

    def render(self, spec: Spec, fields: Mapping[str, Any]) -> Any:
        return self.overlay(self.template(spec), fields, spec.answer or {})

    def item_schema(self, spec: Spec) -> Mapping[str, Any]:
        items: Mapping[str, Any] = self.schemas.resolve(spec.answer or {}).get("items", {})
        return items


def _with(spec: Spec, kind: str, collection: str) -> Spec:
    return Spec(spec.op, spec.params, spec.body, spec.answer, spec.content_type, spec.headers, kind, collection)


@dataclass
class Call:
    spec: Spec
    path: dict[str, str]
    body: Any
    page: int
    size: int
    raw: bytes
    tenant: str  # whose collection records the call sees (`tenant_of`)


def tenant_of(authorization: str, secret: str | None) -> str:
    """The Afosto tenant a call's collection records belong to: `tenant:<id>` for a token this
    sandbox signed (HS256 under `secret`, unexpired) with claim `tenant_id` (the tenant
    `afosto_store.StoreAfosto.tenant_of` reads), else `token:<sha256 of the token>`: a token that
    names no tenant is a tenant of its own, never another's."""
    claimed = token_tenant(authorization, secret)
    if claimed is not None:
        return f"tenant:{claimed}"
    token = authorization.partition(" ")[2].strip()
    return f"token:{hashlib.sha256(token.encode()).hexdigest()}"


class AfostoRoute(BaseRoute):
    """Every Afosto operation, as one Starlette route under `PREFIX`."""

    def __init__(self, emulator: Afosto | None = None) -> None:
        self.afosto = emulator or Afosto()

    @staticmethod
    def _path(scope: Scope) -> str | None:
        raw = scope.get("raw_path")
        path: str = raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"]
        if path == PREFIX or path.startswith(PREFIX + "/"):
            return path[len(PREFIX) :]
        return None

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path = self._path(scope)
        if path is None:
            return Match.NONE, {}
        # Every path under the prefix is the emulator's: it answers 404 and 405 in Afosto's shape.
        return Match.FULL, {}

    def path_template(self, scope: Scope) -> str | None:
        """The template of the operation a call reached (of any method), for the call log."""
        path = self._path(scope)
        if path is None:
            return None
        spec, _, other = self.afosto.lookup(path, scope["method"])
        found = spec or other
        return PREFIX + found.op.path if found is not None else None

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.answer(request)
        await response(scope, receive, send)

    async def answer(self, request: Request) -> Response:
        path = self._path(request.scope) or ""
        spec, values, other = self.afosto.lookup(path, request.method)
        if spec is None:
            if other is not None:
                allow = ", ".join(self.afosto.allowed(path))
                return error(405, "Method Not Allowed", headers={"Allow": allow})
            return error(404, "Not Found")
        op = spec.op
        if op.key != TOKEN_OPERATION and not BEARER.match(request.headers.get("authorization", "")):
            return error(401, "Unauthorized: send Authorization: Bearer <token>")
        page, size = 1, DEFAULT_PAGE_SIZE
        if op.paging == "headers":
            wrong = [name for name in ("x-page", "x-page-size") if not PAGE.match(request.headers.get(name, "1"))]
            if wrong:
                return error(400, "Invalid paging headers", {"invalid value": wrong})
            page = int(request.headers.get("x-page", "1"))
            size = int(request.headers.get("x-page-size", str(DEFAULT_PAGE_SIZE)))
        raw = await request.body()
        body: Any = None
        if spec.body is not None:
            if not raw.strip():
                return error(400, "The request has no body", {"required": ["body"]})
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return error(400, "The body is not valid JSON", {"invalid value": ["body"]})
            wrong = self.afosto.schemas.wrong_fields(body, spec.body)
            if wrong:
                return error(400, "Invalid payload", {"invalid value": wrong})
        tenant = tenant_of(request.headers.get("authorization", ""), getattr(request.app.state, "afosto_secret", None))
        call = Call(spec, dict(zip(spec.params, values, strict=True)), body, page, size, raw, tenant)
        stored = await self.from_store(request, call)
        if stored is not None:
            return stored
        return self.respond(call, request.headers)

    async def from_store(self, request: Request, call: Call) -> Response | None:
        """The answer of a hand-modelled operation from the app's store (`afosto_store.py`);
        None when the app has no store or the operation is not one of them."""
        state = request.app.state
        store = getattr(state, "store", None)
        if store is None:
            return None
        hand: StoreAfosto | None = getattr(state, "afosto_store", None)
        if hand is None or hand.store is not store:
            hand = state.afosto_store = StoreAfosto(store, getattr(state, "afosto_secret", None))
        op = call.spec.op
        try:
            if op.key == TOKEN_OPERATION:
                found = await hand.authorize(call.body, await afosto_clients(store))
            else:
                authorization = request.headers.get("authorization", "")
                found = await hand.answer(
                    op.key,
                    authorization,
                    call.path,
                    request.query_params,
                    request.headers,
                    call.body,
                    call.page,
                    call.size,
                )
        except Refused as refused:
            return error(refused.status, refused.message, refused.errors)
        except LookupError:
            return None  # not the store's record: the derived answer
        if found is None:
            return None
        out = dict(found.headers)
        value = self.page(call, found.value, out) if found.paged else found.value
        return json_response(conformed(op, _without_nulls(value)), op.status, out)

    def respond(self, call: Call, headers: Headers) -> Response:
        spec = call.spec
        op = spec.op
        out: dict[str, str] = {}
        if op.task:
            digest = hashlib.sha256(call.raw).hexdigest()
            out["x-task-id"] = str(uuid.uuid5(NAMESPACE, f"{op.key} {sorted(call.path.items())} {digest}"))
        collection = self.afosto.collections.get(spec.collection or "")
        if collection is not None and spec.kind != "derived":
            found = self.collection_answer(call, collection, out)
            if isinstance(found, Response):
                return found
            value = found
        elif op.answer == "binary":
            kind = spec.content_type or BINARY_TYPES.get(op.key, OCTETS)
            return Response(BYTES.get(kind, BYTES[OCTETS]), status_code=op.status, media_type=kind, headers=out)
        elif op.answer == "ack" or spec.answer is None:
            return empty_response(op.status, out)
        elif op.answer == "many":
            records = [self.afosto.template(spec, i) for i in range(DERIVED_LIST)]
            value = self.page(call, records, out)
        else:
            value = self.afosto.render(spec, {**call.path, **(call.body if isinstance(call.body, dict) else {})})
        if spec.answer is None:
            return empty_response(op.status, out)
        return json_response(conformed(op, value), op.status, out)

    def page(self, call: Call, records: list[Any], out: dict[str, str]) -> list[Any]:
        """The page of a list the paging headers ask for (all of it where the operation does not
        page by them), with the count where documented."""
        if "x-count" in call.spec.headers:
            out["x-count"] = str(len(records))
        if call.spec.op.paging != "headers":
            return records
        start = (call.page - 1) * call.size
        more = len(records) > start + call.size
        if "x-page" in call.spec.headers:
            out["x-page"] = str(call.page + 1 if more else call.page)
        return records[start : start + call.size]

    def collection_answer(self, call: Call, collection: Collection, out: dict[str, str]) -> Any:
        spec, afosto = call.spec, self.afosto
        body = call.body if isinstance(call.body, dict) else {}
        if spec.kind == "create":
            # A key the client chose is kept when it is one of the record's keys (a uuid where
            # the record has uuids), so the answer names the record that was stored.
            sent = body.get(collection.key)
            usable = isinstance(sent, str | int) and not isinstance(sent, bool) and sent != ""
            key = sent if usable and afosto.schemas.fits(sent, collection.key_schema) else None
            record = {**body, collection.key: key if key is not None else collection.new_key(call.tenant)}
            collection.keep(call.tenant, record)
            return afosto.render(spec, record)
        held = collection.held(call.tenant)
        if spec.kind in ("list", "search"):
            records = list(held.values())
            if spec.kind == "search":
                records = [r for r in records if _matches(r, body.get("constraints"))]
            item = afosto.item_schema(spec)
            rendered = [afosto.overlay(afosto.schemas.instance(item, spec.op.key), r, item) for r in records]
            return self.page(call, rendered, out)
        named = body.get(collection.key)
        key = call.path.get(collection.key, str(named) if isinstance(named, str | int) else "")
        found = held.get(key)  # another tenant's key is as unknown as one never made
        if found is None:
            return error(404, f"No such record in {collection.path}: {key}")
        record = found
        if spec.kind == "update":
            record.update({k: v for k, v in body.items() if k != collection.key})
        elif spec.kind == "delete":
            del held[key]
        if spec.answer is None:
            return empty_response(spec.op.status, out)
        return afosto.render(spec, record)


def _without_nulls(value: Any) -> Any:
    """A store answer without its unset fields: the documentation types no field nullable, so an
    unset one is left out, as Afosto leaves it out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def conformed(op: Operation, value: Any) -> Any:
    """An answer with every enum its generated record reads holding a documented value: the
    rebuilt document misses the enums the generator found nested deeper (a contact's phone
    numbers' `type`, ...), so a derived or stored value there is the field's name; here it
    becomes the enum's first value, as a derived enum is (kept when it is one, or empty)."""
    if op.payload is None or op.answer not in ("one", "many"):
        return value
    cls = getattr(payloads, op.payload)
    if op.answer == "many":
        return [_record(item, cls) for item in value] if isinstance(value, list) else value
    return _record(value, cls)


def _record(value: Any, cls: type[AfostoRecord]) -> Any:
    if not isinstance(value, dict):
        return value
    fixed = dict(value)
    for key, _, reader in cls.FIELDS:
        if fixed.get(key) is not None:
            fixed[key] = _conform(fixed[key], reader)
    return fixed


def _conform(value: Any, reader: Reader) -> Any:
    kind, of = READS.get(reader, ("leaf", None))
    if kind == "record":
        return _record(value, of)
    if kind == "many":
        return [None if item is None else _conform(item, of) for item in value] if isinstance(value, list) else value
    if kind == "enum":
        values = [member.value for member in of]
        return value if value in values or value == "" else values[0]
    return value


def _matches(record: Mapping[str, Any], constraints: Any) -> bool:
    """Whether a record meets the `in` constraints of a search (others are not emulated)."""
    if not isinstance(constraints, list):
        return True
    for constraint in constraints:
        if not isinstance(constraint, dict) or constraint.get("operator", "in") != "in":
            continue
        key = constraint.get("key")
        values = constraint.get("values", constraint.get("value"))
        if not isinstance(key, str) or not isinstance(values, list):
            continue
        name = key if key in record else _singular(key)
        if str(record.get(name)) not in {str(v) for v in values}:
            return False
    return True
