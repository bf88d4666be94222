"""Every operation of the FLECS Console API v2 contract
(shared/contracts/flecs-console.openapi.yaml), exercised through the graph as a FLECS device or
console client would use it. Operation -> GraphQL field:

    POST /api/v2/auth/login                -> login
    POST /api/v2/auth/validate             -> validateToken(token)
    POST /api/v2/device/license/activate   -> activateLicense(licenseKey, sessionId | X-Session-Id)
    POST /api/v2/device/license/validate   -> validateLicense(sessionId | X-Session-Id)
    POST /api/v2/device/license            -> registerDeviceLicense
    GET  /api/v2/manifests/{app}/{version} -> appManifest (checked with validateAppManifest)
    POST /api/v2/tokens                    -> createDownloadToken
    GET  /api/v2/products                  -> products(storeId)
    GET  /api/v2/products/apps             -> apps(storeId)
    POST /api/v2/products/apps/reviews     -> postReview
    GET  /api/v2/my/products               -> viewer { purchasedProducts(storeId) }
    GET  /api/v2/my/products/apps          -> viewer { purchasedApps(storeId) }
    GET  /api/v2/my/subscriptions          -> viewer { subscriptions { lineItems { product } } }

Reads use the shared `api`; anything that writes (or would write, were it broken) gets `fresh_api`.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import jwt
import pytest

from conftest import Api, mode, source_id
from facade.backends.local import tables
from facade.manifests import manifest_errors

UUID_LENGTH = 36


def code(error: dict[str, Any]) -> str:
    return str(error["extensions"]["code"])


def is_uuid(value: str) -> bool:
    return len(value) == UUID_LENGTH and str(uuid.UUID(value)) == value


# ---------------------------------------------------------------------------------------------
# POST /api/v2/auth/login

LOGIN = """
mutation($u: String!, $p: String!) {
  login(username: $u, password: $p) {
    token tokenExpires
    user { id login email tenant { sourceId } }
    featureFlags { isVendor isWhitelabeled }
  }
}
"""


async def test_login_returns_a_token_its_expiry_the_user_and_feature_flags(api: Api) -> None:
    data = await api.data(LOGIN, {"u": "alice", "p": "facade-demo"})

    login = data["login"]
    assert login["token"]
    assert login["tokenExpires"] > time.time()
    assert login["user"]["login"] == "alice"
    assert login["user"]["tenant"] == {"sourceId": "acme-retail"}
    assert login["featureFlags"] == {"isVendor": True, "isWhitelabeled": False}
    # The token works as the Authorization of the next request.
    viewer = await api.data("{ viewer { login } }", token=login["token"])
    assert viewer["viewer"]["login"] == "alice"


async def test_login_accepts_the_email_address(api: Api) -> None:
    data = await api.data(LOGIN, {"u": "dave@customer.example", "p": "facade-demo"})

    assert data["login"]["user"]["login"] == "dave"
    assert data["login"]["featureFlags"]["isVendor"] is False


async def test_wrong_password_and_unknown_user_get_the_same_unauthenticated_error(api: Api) -> None:
    wrong_password = await api.error(LOGIN, {"u": "alice", "p": "not-the-password"})
    unknown_user = await api.error(LOGIN, {"u": "nobody-at-all", "p": "facade-demo"})

    assert code(wrong_password) == code(unknown_user) == "UNAUTHENTICATED"
    # One message for both, so the answer does not tell which logins exist.
    assert wrong_password["message"] == unknown_user["message"]


# ---------------------------------------------------------------------------------------------
# POST /api/v2/auth/validate

VALIDATE_TOKEN = "query($t: String!) { validateToken(token: $t) { isValid } }"


async def test_validate_token_accepts_a_fresh_token(api: Api) -> None:
    token = await api.login("bob")

    data = await api.data(VALIDATE_TOKEN, {"t": token})

    assert data["validateToken"]["isValid"] is True


@pytest.mark.parametrize("kind", ["garbage", "another_secret", "tampered"])
async def test_validate_token_rejects_garbage_and_foreign_tokens(api: Api, kind: str) -> None:
    genuine = await api.login("bob")
    claims = jwt.decode(genuine, options={"verify_signature": False})
    if kind == "garbage":
        token = "not-a-jwt"
    elif kind == "another_secret":
        token = jwt.encode(claims, "another-secret-that-is-long-enough-for-hs256!", algorithm="HS256")
    else:  # bob's token, made to say it is alice's: the signature no longer matches
        header, _payload, signature = genuine.split(".")
        forged = jwt.encode({**claims, "sub": "1"}, "x" * 32, algorithm="HS256").split(".")[1]
        token = f"{header}.{forged}.{signature}"

    data = await api.data(VALIDATE_TOKEN, {"t": token})

    assert data["validateToken"]["isValid"] is False


# ---------------------------------------------------------------------------------------------
# POST /api/v2/device/license/activate

ACTIVATE = """
mutation($key: String, $session: String) {
  activateLicense(licenseKey: $key, sessionId: $session) {
    alreadyActive licenseKey session { id timestamp }
  }
}
"""

LICENSES = """
{ viewer { licenses(first: 100) { nodes {
  key isValid activationSession { id } device { id }
} } } }
"""


async def licenses_of(api: Api, login: str) -> list[dict[str, Any]]:
    data = await api.data(LICENSES, token=await api.login(login))
    nodes: list[dict[str, Any]] = data["viewer"]["licenses"]["nodes"]
    return nodes


async def free_keys(api: Api, login: str) -> list[str]:
    """Keys of the user's licences that no session holds yet."""
    return [n["key"] for n in await licenses_of(api, login) if n["activationSession"] is None]


async def active_license(api: Api, login: str = "dave") -> dict[str, Any]:
    """A seeded licence of `login` that is activated and valid: its key and session id."""
    active = [n for n in await licenses_of(api, login) if n["isValid"]]
    assert active, f"the seed gives {login} an active licence"
    return {"key": active[0]["key"], "session": active[0]["activationSession"]["id"]}


async def test_activate_by_license_key_starts_a_new_session(fresh_api: Api) -> None:
    key = (await free_keys(fresh_api, "dave"))[0]
    before = time.time()

    data = await fresh_api.data(ACTIVATE, {"key": key})

    activation = data["activateLicense"]
    assert activation["alreadyActive"] is False
    assert activation["licenseKey"] == key
    assert is_uuid(activation["session"]["id"])
    assert activation["session"]["timestamp"] >= int(before) - 1
    # The licence now holds that session, and the session validates.
    licence = next(n for n in await licenses_of(fresh_api, "dave") if n["key"] == key)
    assert licence["activationSession"]["id"] == activation["session"]["id"]
    assert licence["isValid"] is True
    valid = await fresh_api.data(VALIDATE_LICENSE, {"s": activation["session"]["id"]})
    assert valid["validateLicense"]["isValid"] is True


async def test_license_key_is_accepted_in_lower_case(fresh_api: Api) -> None:
    key = (await free_keys(fresh_api, "dave"))[0]

    data = await fresh_api.data(ACTIVATE, {"key": f"  {key.lower()} "})

    assert data["activateLicense"]["licenseKey"] == key


async def test_the_same_session_again_is_already_active(fresh_api: Api) -> None:
    key = (await free_keys(fresh_api, "dave"))[0]
    first = (await fresh_api.data(ACTIVATE, {"key": key}))["activateLicense"]

    again = (await fresh_api.data(ACTIVATE, {"key": key, "session": first["session"]["id"]}))["activateLicense"]
    session_only = (await fresh_api.data(ACTIVATE, {"session": first["session"]["id"]}))["activateLicense"]

    for answer in (again, session_only):
        assert answer["alreadyActive"] is True
        assert answer["session"] == first["session"]
        assert answer["licenseKey"] is None


async def test_session_id_is_read_from_the_x_session_id_header(fresh_api: Api) -> None:
    seeded = await active_license(fresh_api)

    data = await fresh_api.data(ACTIVATE, headers={"X-Session-Id": seeded["session"]})

    assert data["activateLicense"]["alreadyActive"] is True
    assert data["activateLicense"]["session"]["id"] == seeded["session"]


async def test_activate_with_only_authorization_uses_the_users_free_license(fresh_api: Api) -> None:
    # A free user licence is one neither activated nor bound to a device of its own.
    unbound = [n["key"] for n in await licenses_of(fresh_api, "dave") if n["device"] is None]
    assert set(unbound) <= set(await free_keys(fresh_api, "dave"))
    token = await fresh_api.login("dave")

    data = await fresh_api.data(ACTIVATE, token=token)

    activation = data["activateLicense"]
    assert activation["alreadyActive"] is False
    assert activation["licenseKey"] in unbound
    assert is_uuid(activation["session"]["id"])
    assert activation["licenseKey"] not in await free_keys(fresh_api, "dave")


async def test_activate_without_a_free_license_is_forbidden(fresh_api: Api) -> None:
    token = await fresh_api.login("dave")
    for _ in await free_keys(fresh_api, "dave"):
        await fresh_api.data(ACTIVATE, token=token)
    licences_before = await licenses_of(fresh_api, "dave")

    error = await fresh_api.error(ACTIVATE, token=token)

    assert code(error) == "FORBIDDEN"
    assert await licenses_of(fresh_api, "dave") == licences_before


async def test_activate_without_any_credentials_is_unauthenticated(fresh_api: Api) -> None:
    error = await fresh_api.error(ACTIVATE)

    assert code(error) == "UNAUTHENTICATED"


async def test_activate_with_an_invalid_token_and_no_key_is_unauthenticated(fresh_api: Api) -> None:
    free_before = await free_keys(fresh_api, "dave")

    error = await fresh_api.error(ACTIVATE, token="not-a-jwt")

    assert code(error) == "UNAUTHENTICATED"
    assert await free_keys(fresh_api, "dave") == free_before


@pytest.mark.parametrize("via", ["argument", "header"])
# The contract's pattern is a lower-case UUID: an upper-case one is malformed too.
@pytest.mark.parametrize("session", ["not-a-uuid", "6F9619FF-8B86-D011-B42D-00CF4FC964FF", "1234"])
async def test_malformed_session_id_is_bad_user_input(fresh_api: Api, via: str, session: str) -> None:
    key = (await free_keys(fresh_api, "dave"))[0]
    if via == "argument":
        error = await fresh_api.error(ACTIVATE, {"key": key, "session": session})
    else:
        error = await fresh_api.error(ACTIVATE, {"key": key}, headers={"X-Session-Id": session})

    assert code(error) == "BAD_USER_INPUT"
    assert key in await free_keys(fresh_api, "dave")  # nothing was activated


async def test_unknown_license_key_is_forbidden(fresh_api: Api) -> None:
    error = await fresh_api.error(ACTIVATE, {"key": "FLX-0000-0000-0000"})

    assert code(error) == "FORBIDDEN"


@pytest.mark.parametrize("with_session", [False, True])
async def test_key_already_active_elsewhere_is_forbidden(fresh_api: Api, with_session: bool) -> None:
    seeded = await active_license(fresh_api)
    other_device = str(uuid.uuid4()) if with_session else None

    error = await fresh_api.error(ACTIVATE, {"key": seeded["key"], "session": other_device})

    assert code(error) == "FORBIDDEN"
    licence = next(n for n in await licenses_of(fresh_api, "dave") if n["key"] == seeded["key"])
    assert licence["activationSession"]["id"] == seeded["session"]


# ---------------------------------------------------------------------------------------------
# POST /api/v2/device/license/validate

VALIDATE_LICENSE = "query($s: String) { validateLicense(sessionId: $s) { isValid session { id timestamp } } }"


async def test_validate_license_is_true_for_an_active_session(api: Api) -> None:
    seeded = await active_license(api)

    data = await api.data(VALIDATE_LICENSE, {"s": seeded["session"]})

    assert data["validateLicense"]["isValid"] is True
    assert data["validateLicense"]["session"]["id"] == seeded["session"]
    assert data["validateLicense"]["session"]["timestamp"] > 0


async def test_validate_license_reads_the_x_session_id_header(api: Api) -> None:
    seeded = await active_license(api)

    data = await api.data(VALIDATE_LICENSE, headers={"X-Session-Id": seeded["session"]})

    assert data["validateLicense"]["isValid"] is True


async def test_validate_license_is_false_for_an_unknown_session(api: Api) -> None:
    data = await api.data(VALIDATE_LICENSE, {"s": str(uuid.uuid4())})

    assert data["validateLicense"] == {"isValid": False, "session": None}


@pytest.mark.parametrize("session", [None, "not-a-uuid"])
async def test_validate_license_needs_a_well_formed_session(api: Api, session: str | None) -> None:
    error = await api.error(VALIDATE_LICENSE, {"s": session})

    assert code(error) == "BAD_USER_INPUT"


async def expire(api: Api, session: str) -> None:
    """Lets a licence's year run out: no operation of the graph can, so SQL does."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    async with api.store.engine.begin() as conn:
        result = await conn.execute(
            tables.licenses.update().where(tables.licenses.c.session_id == session).values(valid_until=past)
        )
        assert result.rowcount == 1


async def test_expired_license_session_is_no_longer_valid(fresh_api: Api) -> None:
    seeded = await active_license(fresh_api)
    app, version = await app_version(fresh_api, official=True)
    await expire(fresh_api, seeded["session"])

    validation = await fresh_api.data(VALIDATE_LICENSE, {"s": seeded["session"]})
    manifest = await fresh_api.error(MANIFEST, {"app": app, "version": version, "s": seeded["session"]})
    token = await fresh_api.error(DOWNLOAD_TOKEN, {"app": app, "version": version, "s": seeded["session"]})
    # Not "already active" any more: without a key or a user there is nothing to activate.
    again = await fresh_api.error(ACTIVATE, {"session": seeded["session"]})

    assert validation["validateLicense"]["isValid"] is False
    assert validation["validateLicense"]["session"]["id"] == seeded["session"]
    assert code(manifest) == code(token) == "FORBIDDEN"
    assert code(again) == "FORBIDDEN"


async def test_expired_license_is_renewed_with_its_key_and_old_session(fresh_api: Api) -> None:
    seeded = await active_license(fresh_api)
    await expire(fresh_api, seeded["session"])

    data = await fresh_api.data(ACTIVATE, {"key": seeded["key"], "session": seeded["session"]})

    renewed = data["activateLicense"]
    assert renewed["alreadyActive"] is False
    assert renewed["licenseKey"] == seeded["key"]
    valid = await fresh_api.data(VALIDATE_LICENSE, {"s": renewed["session"]["id"]})
    assert valid["validateLicense"]["isValid"] is True


# ---------------------------------------------------------------------------------------------
# POST /api/v2/device/license

REGISTER = """
mutation($m: ManufacturerInput!, $model: String!, $serial: String!, $date: Date!) {
  registerDeviceLicense(
    manufacturer: $m, model: $model, serialNumber: $serial, manufactureDate: $date
  ) {
    id model serialNumber manufactureDate licenseStatus
    manufacturer { id name }
    owner { login }
    license { key activationSession { id } }
  }
}
"""

VIEWER_DEVICES = """
{ viewer { devices(first: 100) { totalCount nodes {
  id serialNumber license { key }
} } } }
"""


def registration(serial: str = "KTR09990001", date: dt.date | None = None) -> dict[str, Any]:
    return {
        "m": {"id": 791, "name": "Kontron"},
        "model": "KBox A-150-WKL",
        "serial": serial,
        "date": (date or dt.date(2024, 5, 17)).isoformat(),
    }


async def viewer_devices(api: Api, login: str = "dave") -> dict[str, Any]:
    data = await api.data(VIEWER_DEVICES, token=await api.login(login))
    devices: dict[str, Any] = data["viewer"]["devices"]
    return devices


async def test_register_device_license_returns_the_device_with_its_license(fresh_api: Api) -> None:
    before = await viewer_devices(fresh_api)

    data = await fresh_api.data(REGISTER, registration(), token=await fresh_api.login("dave"))

    device = data["registerDeviceLicense"]
    assert device["manufacturer"] == {"id": 791, "name": "Kontron"}
    assert device["model"] == "KBox A-150-WKL"
    assert device["serialNumber"] == "KTR09990001"
    assert device["manufactureDate"] == "2024-05-17"
    assert device["licenseStatus"] == 0
    if mode() == "local":
        # The FLECS response carries neither the device's owner nor its licence: upstream mode
        # cannot show them on the registration's answer (they show on the next read).
        assert device["owner"] == {"login": "dave"}
        assert device["license"]["key"]
        assert device["license"]["activationSession"] is None
    # The device is now one of the user's devices, with its licence.
    after = await viewer_devices(fresh_api)
    assert after["totalCount"] == before["totalCount"] + 1
    # Upstream mode has no device id in the FLECS answer: find the new device by its serial.
    listed = next(n for n in after["nodes"] if n["serialNumber"] == device["serialNumber"])
    assert listed["license"]["key"] in {n["key"] for n in await licenses_of(fresh_api, "dave")}
    if mode() == "local":
        assert listed["id"] == device["id"]
        assert listed["license"]["key"] == device["license"]["key"]


async def test_future_manufacture_date_is_bad_user_input_and_writes_nothing(fresh_api: Api) -> None:
    before = await viewer_devices(fresh_api)
    tomorrow_and_more = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)

    error = await fresh_api.error(REGISTER, registration(date=tomorrow_and_more), token=await fresh_api.login("dave"))

    assert code(error) == "BAD_USER_INPUT"
    assert (await viewer_devices(fresh_api))["totalCount"] == before["totalCount"]


@pytest.mark.parametrize("blank", ["model", "serial"])
async def test_blank_model_or_serial_is_bad_user_input(fresh_api: Api, blank: str) -> None:
    before = await viewer_devices(fresh_api)

    error = await fresh_api.error(REGISTER, {**registration(), blank: "  "}, token=await fresh_api.login("dave"))

    assert code(error) == "BAD_USER_INPUT"
    assert (await viewer_devices(fresh_api))["totalCount"] == before["totalCount"]


async def test_duplicate_serial_number_is_refused_as_invalid(fresh_api: Api) -> None:
    taken = (await viewer_devices(fresh_api, "alice"))["nodes"][0]["serialNumber"]
    before = await viewer_devices(fresh_api)

    error = await fresh_api.error(REGISTER, registration(serial=taken), token=await fresh_api.login("dave"))

    assert code(error) == "BAD_USER_INPUT"
    assert (await viewer_devices(fresh_api))["totalCount"] == before["totalCount"]


async def test_register_device_license_anonymously_is_unauthenticated(fresh_api: Api) -> None:
    error = await fresh_api.error(REGISTER, registration())

    assert code(error) == "UNAUTHENTICATED"


# ---------------------------------------------------------------------------------------------
# GET /api/v2/manifests/{app}/{version}

MANIFEST = """
query($app: String!, $version: String!, $exact: String, $max: String, $s: String) {
  appManifest(
    app: $app, version: $version, manifestVersion: $exact, maxManifestVersion: $max, sessionId: $s
  ) {
    app version schemaVersion manifest product { appId }
  }
}
"""

APPS_WITH_MANIFESTS = "{ apps(first: 1000) { nodes { appId isOfficial manifests { version schemaVersion } } } }"


async def app_versions(api: Api) -> list[tuple[str, str, bool, set[str]]]:
    """(app id, version, official, schema versions) for every app version that has manifests."""
    data = await api.data(APPS_WITH_MANIFESTS)
    found: dict[tuple[str, str, bool], set[str]] = {}
    for app in data["apps"]["nodes"]:
        for manifest in app["manifests"]:
            found.setdefault((app["appId"], manifest["version"], app["isOfficial"]), set()).add(
                manifest["schemaVersion"]
            )
    return [(app, version, official, schemas) for (app, version, official), schemas in found.items()]


async def two_schema_app(api: Api) -> tuple[str, str]:
    """An app version with a 2.0.0 and a 3.0.0 manifest, to choose between."""
    for app, version, _official, schemas in await app_versions(api):
        if schemas == {"2.0.0", "3.0.0"}:
            return app, version
    raise AssertionError("the seed has app versions with manifests of both schema versions")


@pytest.mark.parametrize(
    ("exact", "maximum", "expected"),
    [
        ("2.0.0", None, "2.0.0"),  # exactly the one asked for
        ("3.0.0", None, "3.0.0"),
        ("2.0.0", "3.0.0", "2.0.0"),  # the exact one wins over the ceiling
        (None, "2.9.9", "2.0.0"),  # the newest not above the ceiling
        (None, "3.0.0", "3.0.0"),
        (None, "4.0.0", "3.0.0"),
        (None, None, "3.0.0"),  # nothing asked: the newest
    ],
)
async def test_app_manifest_picks_the_schema_version(
    api: Api, exact: str | None, maximum: str | None, expected: str
) -> None:
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]

    data = await api.data(MANIFEST, {"app": app, "version": version, "exact": exact, "max": maximum, "s": session})

    manifest = data["appManifest"]
    assert manifest["schemaVersion"] == expected
    assert manifest["app"] == app
    assert manifest["version"] == version
    assert manifest["product"] == {"appId": app}
    assert manifest["manifest"]["_schemaVersion"] == expected
    assert manifest["manifest"]["app"] == app
    assert manifest["manifest"]["version"] == version


@pytest.mark.parametrize(("exact", "maximum"), [("2.5.0", None), ("2.5.0", "3.0.0"), (None, "1.9.9")])
async def test_app_manifest_without_a_fitting_schema_version_is_not_found(
    api: Api, exact: str | None, maximum: str | None
) -> None:
    # A device that reads only older manifests must not be handed a newer one.
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]

    error = await api.error(MANIFEST, {"app": app, "version": version, "exact": exact, "max": maximum, "s": session})

    assert code(error) == "NOT_FOUND"


async def test_app_manifest_reads_the_session_from_the_x_session_id_header(api: Api) -> None:
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]

    data = await api.data(MANIFEST, {"app": app, "version": version}, headers={"X-Session-Id": session})

    assert data["appManifest"]["schemaVersion"] == "3.0.0"


@pytest.mark.parametrize("schema_version", ["2.0.0", "3.0.0"])
async def test_downloaded_manifest_is_a_valid_flecs_app_manifest(api: Api, schema_version: str) -> None:
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]
    data = await api.data(MANIFEST, {"app": app, "version": version, "exact": schema_version, "s": session})
    manifest = data["appManifest"]["manifest"]

    checked = await api.data("query($m: JSON!) { validateAppManifest(manifest: $m) { valid errors } }", {"m": manifest})

    assert checked["validateAppManifest"] == {"valid": True, "errors": []}
    assert manifest_errors(manifest) == []


async def test_validate_app_manifest_reports_what_is_wrong(api: Api) -> None:
    broken = {"_schemaVersion": "3.0.0", "app": "tech.flecs.broken", "version": "1.0.0"}  # no image

    data = await api.data("query($m: JSON!) { validateAppManifest(manifest: $m) { valid errors } }", {"m": broken})

    assert data["validateAppManifest"]["valid"] is False
    assert any("image" in e for e in data["validateAppManifest"]["errors"])


@pytest.mark.parametrize(("exact", "maximum"), [("3", None), ("latest", None), (None, "3.0"), (None, "v3.0.0")])
async def test_app_manifest_with_a_bad_semantic_version_is_bad_user_input(
    api: Api, exact: str | None, maximum: str | None
) -> None:
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]

    error = await api.error(MANIFEST, {"app": app, "version": version, "exact": exact, "max": maximum, "s": session})

    assert code(error) == "BAD_USER_INPUT"


@pytest.mark.parametrize("unknown", ["app", "version"])
async def test_app_manifest_of_an_unknown_app_or_version_is_not_found(api: Api, unknown: str) -> None:
    app, version = await two_schema_app(api)
    session = (await active_license(api))["session"]
    variables = {"app": app, "version": version, "s": session}
    variables[unknown] = "tech.flecs.no-such-app" if unknown == "app" else "9.9.9"

    error = await api.error(MANIFEST, variables)

    assert code(error) == "NOT_FOUND"


async def test_app_manifest_with_an_unknown_session_is_forbidden(api: Api) -> None:
    app, version = await two_schema_app(api)

    error = await api.error(MANIFEST, {"app": app, "version": version, "s": str(uuid.uuid4())})

    assert code(error) == "FORBIDDEN"


async def test_app_manifest_without_a_session_is_bad_user_input(api: Api) -> None:
    app, version = await two_schema_app(api)

    error = await api.error(MANIFEST, {"app": app, "version": version})

    assert code(error) == "BAD_USER_INPUT"


# ---------------------------------------------------------------------------------------------
# POST /api/v2/tokens

DOWNLOAD_TOKEN = """
mutation($app: String!, $version: String!, $s: String) {
  createDownloadToken(app: $app, version: $version, sessionId: $s) {
    official session { id } token { app version username password }
  }
}
"""


async def app_version(api: Api, official: bool) -> tuple[str, str]:
    for app, version, is_official, _schemas in await app_versions(api):
        if is_official is official:
            return app, version
    raise AssertionError(f"the seed has an {'official' if official else 'unofficial'} app with manifests")


async def test_download_token_for_an_official_app_has_credentials(api: Api) -> None:
    app, version = await app_version(api, official=True)
    session = (await active_license(api))["session"]

    data = await api.data(DOWNLOAD_TOKEN, {"app": app, "version": version, "s": session})

    result = data["createDownloadToken"]
    assert result["official"] is True
    assert result["session"]["id"] == session
    token = result["token"]
    assert (token["app"], token["version"]) == (app, version)
    assert token["username"]
    assert token["password"]


async def test_each_download_token_has_its_own_password(api: Api) -> None:
    app, version = await app_version(api, official=True)
    session = (await active_license(api))["session"]
    variables = {"app": app, "version": version, "s": session}

    first = (await api.data(DOWNLOAD_TOKEN, variables))["createDownloadToken"]["token"]
    second = (await api.data(DOWNLOAD_TOKEN, variables))["createDownloadToken"]["token"]

    assert first["password"] != second["password"]


async def test_unofficial_app_gets_no_download_token(api: Api) -> None:
    app, version = await app_version(api, official=False)
    session = (await active_license(api))["session"]

    data = await api.data(DOWNLOAD_TOKEN, {"app": app, "version": version, "s": session})

    result = data["createDownloadToken"]
    assert result["token"] is None
    assert result["official"] is False
    assert result["session"]["id"] == session


async def test_download_token_with_an_unknown_session_is_forbidden(api: Api) -> None:
    app, version = await app_version(api, official=True)

    error = await api.error(DOWNLOAD_TOKEN, {"app": app, "version": version, "s": str(uuid.uuid4())})

    assert code(error) == "FORBIDDEN"


async def test_download_token_for_an_unknown_version_is_not_found(api: Api) -> None:
    app, _version = await app_version(api, official=True)
    session = (await active_license(api))["session"]

    error = await api.error(DOWNLOAD_TOKEN, {"app": app, "version": "9.9.9", "s": session})

    assert code(error) == "NOT_FOUND"


# ---------------------------------------------------------------------------------------------
# GET /api/v2/products, GET /api/v2/products/apps

ALL_PRODUCTS = "{ products(first: 1000) { totalCount nodes { id isApp store { id } } } }"
STORE_PRODUCTS = """
query($store: Int) {
  products(storeId: $store, first: 1000) { totalCount nodes { id isApp store { id } } }
  apps(storeId: $store, first: 1000) { totalCount nodes { id isApp store { id } } }
}
"""


async def catalogue(api: Api) -> list[dict[str, Any]]:
    data = await api.data(ALL_PRODUCTS)
    assert data["products"]["totalCount"] == len(data["products"]["nodes"])
    nodes: list[dict[str, Any]] = data["products"]["nodes"]
    return nodes


async def test_products_of_a_store_are_all_and_only_that_stores(api: Api) -> None:
    everything = await catalogue(api)
    store_ids = sorted({p["store"]["id"] for p in everything}, key=lambda s: int(source_id(s)))
    assert len(store_ids) > 1

    for store_id in store_ids:
        data = await api.data(STORE_PRODUCTS, {"store": int(source_id(store_id))})

        expected = {p["id"] for p in everything if p["store"]["id"] == store_id}
        products = data["products"]
        assert {p["id"] for p in products["nodes"]} == expected
        assert products["totalCount"] == len(expected)


async def test_apps_of_a_store_are_its_app_products_only(api: Api) -> None:
    everything = await catalogue(api)
    store_ids = sorted({p["store"]["id"] for p in everything}, key=lambda s: int(source_id(s)))
    with_apps = {p["store"]["id"] for p in everything if p["isApp"]}
    # The seed has stores with apps and stores without.
    assert with_apps
    assert with_apps != set(store_ids)

    for store_id in store_ids:
        data = await api.data(STORE_PRODUCTS, {"store": int(source_id(store_id))})

        expected = {p["id"] for p in everything if p["store"]["id"] == store_id and p["isApp"]}
        apps = data["apps"]
        assert all(a["isApp"] and a["store"]["id"] == store_id for a in apps["nodes"])
        assert {a["id"] for a in apps["nodes"]} == expected
        assert apps["totalCount"] == len(expected)


async def test_apps_without_a_store_are_every_app(api: Api) -> None:
    everything = await catalogue(api)

    data = await api.data(STORE_PRODUCTS, {"store": None})

    apps = {p["id"] for p in everything if p["isApp"]}
    assert {a["id"] for a in data["apps"]["nodes"]} == apps
    assert data["apps"]["totalCount"] == len(apps) < data["products"]["totalCount"]


async def test_products_of_an_unknown_store_are_none(api: Api) -> None:
    data = await api.data(STORE_PRODUCTS, {"store": 999_999})

    assert data["products"] == {"totalCount": 0, "nodes": []}
    assert data["apps"] == {"totalCount": 0, "nodes": []}


# ---------------------------------------------------------------------------------------------
# POST /api/v2/products/apps/reviews

POST_REVIEW = """
mutation($p: ID!, $text: String!, $rating: Int!) {
  postReview(productId: $p, review: $text, rating: $rating) {
    id rating review reviewer verified product { id } user { login }
  }
}
"""

RATING = """
query($p: ID!) { product(id: $p) {
  averageRating ratingCount reviews(first: 1000) { totalCount nodes { rating } }
} }
"""


def woo_average(ratings: list[int]) -> str:
    if not ratings:
        return "0.00"
    mean = Decimal(sum(ratings)) / Decimal(len(ratings))
    return str(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


async def rating_of(api: Api, product_id: str) -> dict[str, Any]:
    product: dict[str, Any] = (await api.data(RATING, {"p": product_id}))["product"]
    return product


async def dave_bought(api: Api) -> str:
    data = await api.data("{ viewer { purchasedApps(first: 1) { nodes { id } } } }", token=await api.login("dave"))
    product_id: str = data["viewer"]["purchasedApps"]["nodes"][0]["id"]
    return product_id


@pytest.mark.parametrize("rating", [1, 5])
async def test_posted_review_updates_the_products_rating(fresh_api: Api, rating: int) -> None:
    product_id = await dave_bought(fresh_api)
    before = await rating_of(fresh_api, product_id)

    data = await fresh_api.data(
        POST_REVIEW,
        {"p": product_id, "text": "Runs on all our gateways.", "rating": rating},
        token=await fresh_api.login("dave"),
    )

    review = data["postReview"]
    assert review["rating"] == rating
    assert review["review"] == "Runs on all our gateways."
    assert review["reviewer"] == "Dave Okafor"
    assert review["user"] == {"login": "dave"}
    assert review["product"] == {"id": product_id}
    assert review["verified"] is True  # dave bought it
    after = await rating_of(fresh_api, product_id)
    assert after["ratingCount"] == before["ratingCount"] + 1 == after["reviews"]["totalCount"]
    ratings = [r["rating"] for r in after["reviews"]["nodes"]]
    assert sorted(ratings) == sorted([r["rating"] for r in before["reviews"]["nodes"]] + [rating])
    assert after["averageRating"] == woo_average(ratings)


async def test_review_of_a_product_not_bought_is_not_verified(fresh_api: Api) -> None:
    purchased = await fresh_api.data(
        "{ viewer { purchasedProducts(first: 1000) { nodes { id } } } }",
        token=await fresh_api.login("dave"),
    )
    other = next(
        p["id"]
        for p in await catalogue(fresh_api)
        if p["id"] not in {n["id"] for n in purchased["viewer"]["purchasedProducts"]["nodes"]}
    )

    data = await fresh_api.data(
        POST_REVIEW,
        {"p": other, "text": "Heard good things.", "rating": 4},
        token=await fresh_api.login("dave"),
    )

    assert data["postReview"]["verified"] is False


@pytest.mark.parametrize("rating", [0, 6, -1])
async def test_rating_outside_one_to_five_is_bad_user_input_and_writes_nothing(fresh_api: Api, rating: int) -> None:
    product_id = await dave_bought(fresh_api)
    before = await rating_of(fresh_api, product_id)

    error = await fresh_api.error(
        POST_REVIEW,
        {"p": product_id, "text": "Out of range.", "rating": rating},
        token=await fresh_api.login("dave"),
    )

    assert code(error) == "BAD_USER_INPUT"
    assert await rating_of(fresh_api, product_id) == before


async def test_blank_review_is_bad_user_input(fresh_api: Api) -> None:
    product_id = await dave_bought(fresh_api)
    before = await rating_of(fresh_api, product_id)

    error = await fresh_api.error(
        POST_REVIEW,
        {"p": product_id, "text": "   ", "rating": 4},
        token=await fresh_api.login("dave"),
    )

    assert code(error) == "BAD_USER_INPUT"
    assert await rating_of(fresh_api, product_id) == before


async def test_anonymous_review_is_unauthenticated(fresh_api: Api) -> None:
    product_id = await dave_bought(fresh_api)
    before = await rating_of(fresh_api, product_id)

    error = await fresh_api.error(POST_REVIEW, {"p": product_id, "text": "Anonymous praise.", "rating": 5})

    assert code(error) == "UNAUTHENTICATED"
    assert await rating_of(fresh_api, product_id) == before


async def test_review_of_an_unknown_product_is_not_found(fresh_api: Api) -> None:
    error = await fresh_api.error(
        POST_REVIEW,
        {"p": "999999", "text": "Where is it?", "rating": 3},
        token=await fresh_api.login("dave"),
    )

    assert code(error) == "NOT_FOUND"


async def test_review_of_a_malformed_product_id_is_bad_user_input(fresh_api: Api) -> None:
    error = await fresh_api.error(
        POST_REVIEW,
        {"p": "abc", "text": "Which one?", "rating": 3},
        token=await fresh_api.login("dave"),
    )

    assert code(error) == "BAD_USER_INPUT"


# ---------------------------------------------------------------------------------------------
# GET /api/v2/my/products, /my/products/apps, /my/subscriptions

MINE = """
query($store: Int) { viewer {
  subscriptions(first: 100) { totalCount nodes {
    customerId lineItems { productId product { id isApp store { id } } }
  } }
  purchasedProducts(first: 1000, storeId: $store) { totalCount nodes { id isApp store { id } } }
  purchasedApps(first: 1000, storeId: $store) { totalCount nodes { id isApp store { id } } }
} }
"""


@pytest.mark.parametrize("login", ["dave", "bob", "alice"])
async def test_purchased_products_are_exactly_the_subscriptions_line_items(api: Api, login: str) -> None:
    token = await api.login(login)
    viewer_id = (await api.data("{ viewer { sourceId } }", token=token))["viewer"]["sourceId"]

    viewer = (await api.data(MINE, token=token))["viewer"]

    subscriptions = viewer["subscriptions"]
    assert subscriptions["totalCount"] == len(subscriptions["nodes"]) > 0
    assert {s["customerId"] for s in subscriptions["nodes"]} == {viewer_id}
    items = [item for s in subscriptions["nodes"] for item in s["lineItems"]]
    assert all(source_id(item["product"]["id"]) == item["productId"] for item in items)
    bought = {item["productId"] for item in items}
    apps = {item["productId"] for item in items if item["product"]["isApp"]}

    products = viewer["purchasedProducts"]
    ids = [source_id(p["id"]) for p in products["nodes"]]
    assert len(ids) == len(set(ids))  # a product bought twice is listed once
    assert set(ids) == bought
    assert products["totalCount"] == len(bought)
    purchased_apps = viewer["purchasedApps"]
    assert {source_id(p["id"]) for p in purchased_apps["nodes"]} == apps
    assert all(p["isApp"] for p in purchased_apps["nodes"])
    assert purchased_apps["totalCount"] == len(apps)


@pytest.mark.parametrize("login", ["dave", "bob"])
async def test_purchased_products_of_one_store(api: Api, login: str) -> None:
    token = await api.login(login)
    everything = (await api.data(MINE, token=token))["viewer"]["purchasedProducts"]["nodes"]
    store_ids = {p["store"]["id"] for p in everything}

    for store_id in store_ids:
        viewer = (await api.data(MINE, {"store": int(source_id(store_id))}, token=token))["viewer"]

        expected = {p["id"] for p in everything if p["store"]["id"] == store_id}
        assert {p["id"] for p in viewer["purchasedProducts"]["nodes"]} == expected
        assert viewer["purchasedProducts"]["totalCount"] == len(expected)
        assert {p["id"] for p in viewer["purchasedApps"]["nodes"]} == {
            p["id"] for p in everything if p["store"]["id"] == store_id and p["isApp"]
        }


async def test_my_lists_need_a_signed_in_user(api: Api) -> None:
    error = await api.error(MINE)

    assert code(error) == "UNAUTHENTICATED"


OTHERS = """
query($p: ID!) { product(id: $p) { name owner { displayName %s { totalCount } } } }
"""


async def a_product_of(api: Api, login: str) -> str:
    data = await api.data("{ viewer { ownedProducts(first: 1) { nodes { id } } } }", token=await api.login(login))
    product_id: str = data["viewer"]["ownedProducts"]["nodes"][0]["id"]
    return product_id


@pytest.mark.parametrize("field", ["purchasedProducts", "purchasedApps", "subscriptions", "licenses", "devices"])
@pytest.mark.parametrize("reader", ["dave", "carol"])
async def test_another_users_purchases_are_forbidden(api: Api, field: str, reader: str) -> None:
    product_id = await a_product_of(api, "alice")

    body = await api.post(OTHERS % field, {"p": product_id}, token=await api.login(reader))

    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["product", "owner", field]
    assert body["data"]["product"]["name"]  # the storefront still answers
    # Only the forbidden field is withheld; the owner's public name is not.
    owner = body["data"]["product"]["owner"]
    assert owner is None or owner[field] is None


async def test_own_purchases_are_readable_through_any_path(api: Api) -> None:
    product_id = await a_product_of(api, "alice")

    data = await api.data(OTHERS % "purchasedProducts", {"p": product_id}, token=await api.login("alice"))

    assert data["product"]["owner"]["purchasedProducts"]["totalCount"] > 0


async def test_another_users_purchases_anonymously_are_unauthenticated(api: Api) -> None:
    product_id = await a_product_of(api, "alice")

    error = await api.error(OTHERS % "purchasedProducts", {"p": product_id})

    assert code(error) == "UNAUTHENTICATED"
