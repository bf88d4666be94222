"""The longest value each text field of the schema can answer, so that the query cost
(graph/limits.py) bounds a response's bytes and not only its number of values.

`MAX_CHARS[type][field]` is the most characters one value of that String, ID or JSON field holds
(for a list of strings, each item; for JSON, its compact encoding): the local store's column
length (tables.py) where it has one, the `@constraint` of the argument that writes it
(graph/inputs.py) where the column is unbounded TEXT or JSON, and an assumption marked `ASSUMED`
where neither bounds it (text that only the seed or an upstream writes).
`tests/graph/test_limits.py` walks the schema and fails on a String, ID or JSON field missing
here, so a new text field cannot be forgotten; until it is declared, the cost counts it at
`UNKNOWN_CHARS`.

Other leaves have a size fixed by their type (`SCALAR_BYTES`; an enum, its longest value).

Imports nothing of facade but the generated Afosto sizes (data, no imports).
"""

from __future__ import annotations

from collections.abc import Mapping

from facade.graph.afosto.generated.sizes import MAX_CHARS as AFOSTO_CHARS

# Worst-case UTF-8 bytes of one character as orjson writes it: 4 for a code point beyond U+FFFF.
# Control characters, which JSON escapes to 6 bytes, are refused on input (graph/inputs.py; tab,
# line feed and carriage return of multi-line text take 2), and a JSON value's length is measured
# with its escapes.
BYTES_PER_CHAR = 4

# Text whose length nothing in facade bounds (written by the seed or an upstream only). Product
# descriptions are WooCommerce HTML; the seeded ones are under 160 characters.
ASSUMED = 10_000
UNKNOWN_CHARS = ASSUMED

NUMERIC_ID = 10  # an Int32 as digits (inputs.NUMERIC_ID)
UID = 64  # VARCHAR(64): Flow Retail's uids, device and till ids
NAME = 200  # VARCHAR(200), inputs.NAME
CODE = 20  # VARCHAR(20): statuses, account types, prices
URL = 300  # VARCHAR(300)
TOKEN = 8192  # a JWT facade signs or an upstream hands out (inputs.TOKEN)
CURSOR = 64  # inputs.CURSOR: facade's own cursors are shorter
GLOBAL = 200  # an Afosto record's global id (graph/commerce/types.global_id)
AMOUNT = 24  # a decimal amount (mutations.AMOUNT; at most commerce.MAX_MINOR in minor units)


def global_id(type_name: str, key_chars: int) -> int:
    """Characters of a global id (graph/nodes.py): base64 of `<Type>:<key>`, the key at most
    `key_chars` ASCII characters."""
    return 4 * -(-(len(type_name) + 1 + key_chars) // 3)


def node(type_name: str, key_chars: int) -> dict[str, int]:
    """A Node type's `id` (global) and `sourceId` (the key)."""
    return {"id": global_id(type_name, key_chars), "sourceId": key_chars}


_MAX_CHARS: Mapping[str, Mapping[str, int]] = {
    "Address": {"street1": NAME, "street2": NAME, "city": 100, "zip": 20, "country": 2, "state": 100},
    "AppManifest": {
        "id": global_id("AppManifest", NAME + 1 + 100 + 1 + 40),  # `<app>:<version>:<schema version>`
        "app": NAME,
        "version": 100,
        "schemaVersion": 40,
        "manifest": 262_144,  # inputs.MANIFEST
    },
    "Attribute": {"id": NUMERIC_ID, "name": NAME, "options": NAME},
    "Billing": {"firstName": 100, "lastName": 100, "company": NAME, "email": NAME},
    "Category": {"id": NUMERIC_ID, "name": NAME, "slug": NAME},
    "CustomerSubscription": {**node("CustomerSubscription", NUMERIC_ID), "status": CODE, "customerId": NUMERIC_ID},
    "CustomerSubscriptionEdge": {"cursor": CURSOR},
    "Device": {
        **node("Device", UID),
        "name": NAME,
        "systemInformation": 4096,  # inputs.SYSTEM_INFORMATION
        "deviceCode": UID,
        "model": NAME,
        "serialNumber": NAME,
    },
    "DeviceEdge": {"cursor": CURSOR},
    "DeviceRegistration": {"deviceCode": UID, "deviceIdentifier": UID, "verificationUri": URL},
    "DeviceSession": {"accessToken": TOKEN},
    "DownloadToken": {"app": NAME, "version": 100, "username": 100, "password": 100},
    "License": {**node("License", NUMERIC_ID), "key": UID},
    "LicenseActivation": {"licenseKey": UID},
    "LicenseEdge": {"cursor": CURSOR},
    "LineItem": {"id": NUMERIC_ID, "status": CODE, "productId": NUMERIC_ID, "image": 2_000},  # ASSUMED: {id, src, alt}
    "LinkedDevice": {"deviceToken": TOKEN},
    "LoginPayload": {"token": TOKEN},
    "ManifestValidation": {"errors": 1_000},  # one message, naming at most a key of the manifest
    "Manufacturer": {"name": NAME},
    "Node": {"id": 480},  # inputs.GLOBAL_ID: any Node type's, an AppManifest's the longest
    "Metadata": {"id": NUMERIC_ID, "name": NAME, "value": ASSUMED},
    "Mutation": {"deleteDevice": global_id("Device", UID)},
    "PageInfo": {"startCursor": CURSOR, "endCursor": CURSOR},
    "Product": {
        **node("Product", NUMERIC_ID),
        "name": NAME,
        "status": CODE,
        "description": ASSUMED,
        "shortDescription": ASSUMED,
        "averageRating": 10,
        "stockStatus": CODE,
        "permalink": URL,
        "price": CODE,
        "appId": NAME,
        "sku": UID,  # product_skus.sku, VARCHAR(64)
    },
    "ProductEdge": {"cursor": CURSOR},
    "Review": {
        **node("Review", NUMERIC_ID),
        "reviewer": NAME,
        "reviewerEmail": NAME,
        "review": 10_000,  # inputs.REVIEW_TEXT
        "status": CODE,
    },
    "ReviewEdge": {"cursor": CURSOR},
    "Session": {"id": 36},  # a UUID
    "Store": {**node("Store", NUMERIC_ID), "uid": UID, "name": NAME, "shopName": NAME, "url": URL},
    "StoreEdge": {"cursor": CURSOR},
    "Tenant": {**node("Tenant", UID), "name": NAME},
    "Till": {**node("Till", UID), "name": NAME},
    "User": {
        **node("User", NUMERIC_ID),
        "login": 120,
        "email": NAME,
        "displayName": NAME,
        "firstName": 100,
        "lastName": 100,
        "userCode": 40,
        "accountType": CODE,
    },
    "UserEdge": {"cursor": CURSOR},
    # Afosto's data in the graph (graph/commerce/): the local store's columns; a global id is
    # base64 of "<Type>:<tenant uid>:<Afosto id>" (about 4/3 of 15 + 64 + 64 characters).
    "SalesChannel": {"id": GLOBAL, "sourceId": UID, "name": NAME, "description": 1_000},  # mutations.DESCRIPTION
    "PriceGroup": {"id": GLOBAL, "sourceId": UID, "name": 100, "currency": 3},
    "Price": {
        "id": GLOBAL,
        "sourceId": UID,
        "sku": UID,
        "amount": AMOUNT,
        "originalAmount": AMOUNT,
        "currency": 3,
        "vatRate": 10,
    },
    "PostalAddress": {
        "id": GLOBAL,
        "sourceId": UID,
        "countryCode": 2,
        "administrativeArea": 100,
        "locality": 100,
        "postalCode": 20,
        "addressLine1": NAME,
        "addressLine2": NAME,
        "organisation": NAME,
        "givenName": 100,
        "familyName": 100,
    },
    "StockLevel": {"sku": UID},
    "Location": {"id": GLOBAL, "sourceId": UID, "name": NAME, "countryCode": 2},
    "Customer": {"id": GLOBAL, "sourceId": UID, "email": NAME, "givenName": 100, "familyName": 100},
    "Order": {"id": GLOBAL, "sourceId": UID, "number": 32, "currency": 3, "total": AMOUNT},
    "OrderLine": {"sku": UID, "description": 300},
    "PrintHub": {"id": GLOBAL, "sourceId": UID, "name": NAME, "description": ASSUMED},
    "Printer": {"id": GLOBAL, "sourceId": UID, "name": NAME, "defaultEncoding": 40},
    "AfostoUser": {"id": GLOBAL, "sourceId": UID, "email": NAME, "firstName": 100, "lastName": 100, "roles": 100},
    "AfostoPlan": {"id": GLOBAL, "sourceId": UID, "code": 100},
    "AfostoTask": {"id": GLOBAL, "sourceId": UID, "name": NAME, "result": ASSUMED},
    "TenantAfosto": {"afostoTenantId": UID},
    **{
        f"{name}Edge": {"cursor": CURSOR}
        for name in (
            "SalesChannel",
            "PriceGroup",
            "Price",
            "StockLevel",
            "Location",
            "Order",
            "OrderLine",
            "PrintHub",
            "Printer",
            "AfostoUser",
            "AfostoPlan",
        )
    },
}

# The Afosto types' are generated (`facade afosto generate`, defaults of graph/afosto/rules.py);
# its root mutations join facade's own.
MAX_CHARS: Mapping[str, Mapping[str, int]] = {
    **_MAX_CHARS,
    **AFOSTO_CHARS,
    "Mutation": {**_MAX_CHARS["Mutation"], **AFOSTO_CHARS.get("Mutation", {})},
}

# Bytes of one value of the other scalars, as orjson writes them (`null` is 4, never more).
SCALAR_BYTES: Mapping[str, int] = {
    "Int": 11,  # -2147483648
    "Float": 24,  # -1.7976931348623157e+308
    "Boolean": 5,  # false
    "Date": 12,  # "2026-11-30"
    "Int64": 20,  # -9223372036854775808
    "DateTime": 34,  # "2026-11-30T02:46:33.123456+00:00"
}

TEXT_SCALARS = frozenset({"String", "ID", "JSON"})

__all__ = ["BYTES_PER_CHAR", "MAX_CHARS", "SCALAR_BYTES", "TEXT_SCALARS", "UNKNOWN_CHARS", "global_id", "node"]
