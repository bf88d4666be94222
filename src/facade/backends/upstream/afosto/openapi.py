"""An OpenAPI 3.0 document of the Afosto API, rebuilt from the contract copy and the generated
operation table (the contract ships as extracted JSON, not as OpenAPI):

    facade afosto openapi [--output FILE]

Paths, parameters and statuses come from `generated/operations.py` (so the document and the
generated client agree on every parameter's type); request and response schemas from the same
examples and schema definitions the generator reads (`generate.Contract`: the shapes, the
`#/definitions` references, the enums and the fields the examples leave out), every schema a
component named as the documentation names it. Nothing is required but path parameters and the
request bodies the documentation shows (it marks nothing required); every 4xx and 5xx answers
Afosto's `Error`. Two rules the documentation leaves open are written down here, where the
sandbox can keep them: `x-page` and `x-page-size` are positive page numbers and sizes (a
pattern), and headers are text.

The document is about 2 MB, so it is built when asked (at the sandbox's start, by the command),
not committed. Imports the standard library and the Afosto package.
"""

from __future__ import annotations

import functools
from typing import Any

from facade.backends.upstream.afosto.generate import (
    NAME,
    NOT_ENUMS,
    Contract,
    Leaf,
    Many,
    Obj,
    Ref,
    Shape,
    decode,
    doc_shape,
    header_triples,
    keys_within,
    load_contract,
    shape_of,
)
from facade.backends.upstream.afosto.generated.operations import OPERATIONS
from facade.backends.upstream.afosto.operation import Operation, Param

JSON = "application/json"
SCHEMAS = "#/components/schemas/"
# A page number or size as the sandbox reads one (the documentation says "the requested page id").
PAGE_PATTERN = "^[1-9][0-9]{0,5}$"
PAGING_HEADERS = frozenset({"x-page", "x-page-size"})
# Set by the client itself: the token through the security scheme, Accept by the HTTP library.
SKIPPED_HEADERS = frozenset({"authorization", "accept"})
# The one operation that hands tokens out takes client credentials in its body, not a token.
TOKEN_OPERATION = "POST /iam/oauth/authorize"
# What the binary answers are (the extracted JSON lost their content types).
BINARY_TYPES = {
    "GET /cnt/barcode": "image/png",
    "GET /cnt/gif/transform": "image/gif",
    "POST /cnt/html/inline": "application/pdf",
}
OCTETS = "application/octet-stream"
# HTTP forbids a body on a 204, though one operation's documentation shows an example under it
# (PUT /lcs/lists/{id}/items): the document describes what can travel.
NO_CONTENT = 204

LEAF_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "id": {"type": "string", "format": "uuid"},
    "timestamp": {"type": "string", "format": "date-time"},
    "day": {"type": "string", "format": "date"},
    "integer": {"type": "integer"},
    "int64": {"type": "integer", "format": "int64"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "free": {},
    "file": {"type": "string", "format": "binary"},
}
PARAM_SCHEMAS: dict[str, dict[str, Any]] = {
    "Int": {"type": "integer"},
    "Int64": {"type": "integer", "format": "int64"},
    "Float": {"type": "number"},
    "[String]": {"type": "array", "items": {"type": "string"}},
}


def schema_of(shape: Shape) -> dict[str, Any]:
    """The JSON Schema of an example's shape; a reference stays a reference to its component."""
    if isinstance(shape, Leaf):
        return dict(LEAF_SCHEMAS.get(shape.kind, {}))
    if isinstance(shape, Ref):
        return {"$ref": SCHEMAS + shape.schema}
    if isinstance(shape, Many):
        return {"type": "array", "items": schema_of(shape.item)}
    return {"type": "object", "properties": {key: schema_of(sub) for key, sub in shape.fields}}


def component(contract: Contract, name: str) -> dict[str, Any]:
    """A schema definition: its example's shape, its enums and the fields its example lacks
    (as the generator adds them, see `generate.Registry.schema`)."""
    shape = contract.shapes[name]
    schema = schema_of(shape)
    if not isinstance(shape, Obj):
        return schema
    docs = contract.docs[name]
    properties = schema["properties"]
    for key, sub in shape.fields:
        doc = docs.get(key)
        if doc is not None and doc.values and sub == Leaf("text") and (name, key) not in NOT_ENUMS:
            properties[key] = {"type": "string", "enum": list(doc.values)}
        if doc is not None and doc.description:
            properties[key] = {**properties[key], "description": doc.description}
    example = contract.examples[name]
    deeper = {key for value in example.values() for key in keys_within(value)}
    for key, doc in docs.items():
        if key in example or not NAME.match(key) or (doc.after_object and key in deeper):
            continue
        extra = doc_shape(doc, contract.schemas)
        if extra is not None:
            properties[key] = schema_of(extra)
    return schema


def parameter(param: Param, paged: bool) -> dict[str, Any] | None:
    lowered = param.name.lower()
    if param.location == "header" and lowered in SKIPPED_HEADERS:
        return None
    schema: dict[str, Any]
    if param.location == "header" and lowered in PAGING_HEADERS and paged:
        schema = {"type": "string", "pattern": PAGE_PATTERN}
    elif param.enum and param.type not in PARAM_SCHEMAS:
        schema = {"type": "string", "enum": list(param.enum)}
    else:
        schema = dict(PARAM_SCHEMAS.get(param.type, {"type": "string"}))
    if param.location == "path":
        schema["minLength"] = 1
    result: dict[str, Any] = {"name": param.name, "in": param.location, "schema": schema}
    if param.location == "path":
        result["required"] = True
    return result


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": {"$ref": SCHEMAS + "Error"}}}}


class Endpoints:
    """The contract's raw endpoint records by `METHOD /path`."""

    def __init__(self, contract: Contract) -> None:
        self.raw = {f"{e['method']} {e['path']}": e for e in contract.endpoints}

    def headers(self, op: Operation) -> list[tuple[str, str]]:
        return [(name, description) for name, description, _ in header_triples(self.raw[op.key]["resp_headers"])]

    def statuses(self, op: Operation) -> list[tuple[int, str]]:
        raw = self.raw[op.key]
        seen: dict[int, str] = {}
        for text in (*raw["responses"], *raw["statuses"]):
            code, _, reason = text.partition(" ")
            seen.setdefault(int(code), reason)
        return sorted(seen.items())


def typed(name: str | None, many: bool, contract: Contract) -> dict[str, Any] | None:
    """The component the generator typed a body or an answer as (the model, not its truncated
    rendering, so the document and the generated types agree); None for an inline shape."""
    if name is None or name not in contract.schemas:
        return None
    ref = {"$ref": SCHEMAS + name}
    return {"type": "array", "items": ref} if many else ref


def operation_object(op: Operation, contract: Contract, endpoints: Endpoints) -> dict[str, Any]:
    raw = endpoints.raw[op.key]
    paged = op.paging == "headers"
    parameters = [p for p in (parameter(param, paged) for param in op.params) if p is not None]
    result: dict[str, Any] = {
        "operationId": op.field if not op.read else f"{op.service}_{op.field}",
        "summary": op.title,
        "tags": [op.service],
        "parameters": parameters,
    }
    if op.key == TOKEN_OPERATION:
        result["security"] = []
    formdata = [p for p in op.params if p.location == "formData"]
    if formdata:
        parameters[:] = [p for p in parameters if p["in"] != "formData"]
        properties = {p.name: {"type": "string", "format": "binary"} for p in formdata}
        result["requestBody"] = {
            "required": True,
            "content": {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}},
        }
    else:
        body = decode(raw["request"])
        if body is not None:
            named = op.request.removeprefix("Afosto").removesuffix("Input") if op.request else None
            schema = typed(named, op.request_many, contract) or schema_of(shape_of(body, contract.schemas))
            result["requestBody"] = {"required": True, "content": {JSON: {"schema": schema}}}
    responses: dict[str, Any] = {}
    for status, reason in endpoints.statuses(op):
        if status >= 400:
            responses[str(status)] = error_response(reason or "Error")
        elif status != op.status:
            responses[str(status)] = {"description": reason or "Success"}
    main: dict[str, Any] = {"description": _reason(raw, op.status)}
    if op.answer == "binary":
        main["content"] = {BINARY_TYPES.get(op.key, OCTETS): {"schema": {"type": "string", "format": "binary"}}}
    elif op.answer != "ack" and op.status != NO_CONTENT:
        answer = decode(next((t for s, t in raw["responses"].items() if s.startswith("2")), None))
        schema = typed(op.payload, op.answer == "many", contract) or schema_of(shape_of(answer, contract.schemas))
        main["content"] = {JSON: {"schema": schema}}
    headers = {
        name: {"description": description, "schema": {"type": "string"}}
        for name, description in endpoints.headers(op)
        if name not in {"content-type"}
    }
    if headers:
        main["headers"] = headers
    responses[str(op.status)] = main
    result["responses"] = dict(sorted(responses.items()))
    return result


def _reason(raw: dict[str, Any], status: int) -> str:
    for text in (*raw["responses"], *raw["statuses"]):
        code, _, reason = text.partition(" ")
        if code == str(status) and reason:
            return str(reason)
    return "Success"


@functools.cache
def openapi() -> dict[str, Any]:
    """The document (built once per process; treat it as read-only)."""
    contract = load_contract()
    endpoints = Endpoints(contract)
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = operation_object(op, contract, endpoints)
    components = {name: component(contract, name) for name in sorted(contract.schemas)}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Afosto API",
            "version": "1.0.0",
            "description": "Rebuilt by facade from the extracted Afosto API reference (`facade afosto openapi`).",
        },
        "servers": [{"url": "https://api.afosto.io"}],
        "security": [{"Bearer": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "Bearer": {
                    "type": "oauth2",
                    "flows": {"implicit": {"authorizationUrl": "https://app.afosto.io/scopes", "scopes": {}}},
                }
            },
        },
    }
