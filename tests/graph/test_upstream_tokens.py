"""Upstream mode checks a token the way the API that issued it allows, never with its signing
secret (backends/upstream/verify.py, README "Signing in"): facade and the sandbox have DIFFERENT
secrets here, in either test mode. FLECS user tokens go through its auth/validate, Flow Retail's
access and device tokens through F1 and F6 with the caller's own token, and tokens of an API that
publishes its keys are checked against its JWK Set, served by the sandbox over loopback."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import PASSWORD, Api, link_and_sign_in, make_settings, open_api, upstream_backend
from facade.app import create_app
from facade.auth import LocalVerifier, Principal, TokenKind, TokenService
from facade.backends.local import LocalStore
from facade.backends.local.seed import seed
from facade.backends.upstream.verify import JwksKeys, UpstreamVerifier, Verdict, VerdictCache
from facade.errors import Unauthenticated, UpstreamError
from support.sandbox import SandboxControl

ACME = "acme-retail"
VALIDATE = "POST /api/v2/auth/validate"
VIEWER_AND_PRODUCTS = "{ viewer { login } products(first: 2) { totalCount } }"


@pytest.fixture(scope="module")
async def up(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    api, _ = await open_api(make_settings(tmp_path_factory.mktemp("tokens")), products=20, upstream=True)
    yield api
    await api.client.aclose()
    await api.store.aclose()


@pytest.fixture
async def sandbox(up: Api) -> AsyncIterator[SandboxControl]:
    async with SandboxControl(up.store.sandbox_url) as control:
        yield control


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def facade_signed(api: Api, **claims: Any) -> str:
    """A token facade's own key signs: what an attacker who learnt facade's secret could make."""
    now = int(time.time())
    base = {"iss": api.settings.jwt_issuer, "iat": now, "exp": now + 600, "kind": "user"}
    secret = api.settings.jwt_secret
    assert secret is not None
    return jwt.encode({**base, **claims}, secret.get_secret_value(), algorithm="HS256")


# ---------------------------------------------------------------------------------------------
# Different secrets: everything a caller does still works, and facade's key proves nothing


async def test_facade_and_the_apis_sign_with_different_secrets(up: Api) -> None:
    assert up.settings.jwt_secret is not None
    assert up.token_settings.jwt_secret is not None
    assert up.settings.jwt_secret.get_secret_value() != up.token_settings.jwt_secret.get_secret_value()


async def test_sign_in_own_data_tenant_admin_device_link_and_access_work_with_different_secrets(up: Api) -> None:
    alice = await up.login("alice")

    viewer = await up.data("{ viewer { login tenant { sourceId } } }", token=alice)
    admin = await up.data(f'{{ searchDevices(tenantUid: "{ACME}", first: 2) {{ totalCount }} }}', token=alice)
    device_id, device_token, access_token = await link_and_sign_in(up)
    users = await up.data("{ deviceUsers(first: 5) { totalCount } }", token=device_token)
    current = await up.data("{ currentDevice { id tenant { sourceId } } }", token=access_token)

    assert viewer["viewer"] == {"login": "alice", "tenant": {"sourceId": ACME}}
    assert admin["searchDevices"]["totalCount"] > 0
    assert users["deviceUsers"]["totalCount"] > 0
    assert current["currentDevice"] == {"id": device_id, "tenant": {"sourceId": ACME}}


@pytest.mark.parametrize("forgery", ["facade_secret", "altered_payload", "facade_secret_device", "not_a_jwt"])
async def test_a_forged_or_altered_token_is_refused_and_public_fields_still_answer(up: Api, forgery: str) -> None:
    alice_id = int((await up.data("{ viewer { sourceId } }", token=await up.login("alice")))["viewer"]["sourceId"])
    genuine = await up.login("bob")
    if forgery == "facade_secret":
        token = facade_signed(up, sub=str(alice_id), tenant=ACME, roles=["TENANT.ADMIN"])
    elif forgery == "altered_payload":
        # bob's genuine token, its payload rewritten to name alice, the signature kept.
        header, _, signature = genuine.split(".")
        claims = jwt.decode(genuine, options={"verify_signature": False})
        payload = jwt.utils.base64url_encode(jwt.api_jws.json.dumps({**claims, "sub": str(alice_id)}).encode())
        token = f"{header}.{payload.decode()}.{signature}"
    elif forgery == "facade_secret_device":
        token = facade_signed(up, sub="device:x", kind="device", device="x", tenant=ACME)
    else:
        token = base64.urlsafe_b64encode(b"opaque-but-made-up").decode()

    body = await up.post(VIEWER_AND_PRODUCTS, token=token)
    devices = await up.post("{ deviceUsers(first: 1) { totalCount } }", token=token)

    assert body["data"]["viewer"] is None
    assert code(body) == "UNAUTHENTICATED"
    assert body["data"]["products"]["totalCount"] > 0
    assert devices["data"] is None or devices["data"]["deviceUsers"] is None
    assert code(devices) == "UNAUTHENTICATED"


# ---------------------------------------------------------------------------------------------
# What a check costs


async def test_a_token_is_validated_once_then_kept_for_its_life(up: Api, sandbox: SandboxControl) -> None:
    token = await fresh_login(up, "carol")
    await sandbox.calls()

    await up.data("{ viewer { login } }", token=token)
    first = await sandbox.calls()
    for _ in range(3):
        await up.data("{ viewer { login } }", token=token)
    warm = await sandbox.calls()

    assert first.get(VALIDATE) == 1
    assert warm.get(VALIDATE, 0) == 0


async def test_concurrent_requests_with_one_new_token_share_one_validation(up: Api, sandbox: SandboxControl) -> None:
    token = await fresh_login(up, "erin")
    await sandbox.calls()

    answers = await asyncio.gather(*(up.data("{ viewer { login } }", token=token) for _ in range(8)))

    assert {a["viewer"]["login"] for a in answers} == {"erin"}
    assert (await sandbox.calls()).get(VALIDATE) == 1


@pytest.mark.parametrize("fault", ["status:503", "malformed", "drop"])
async def test_flecs_unreachable_fails_what_needs_a_principal_with_a_code_and_nothing_else(
    up: Api, sandbox: SandboxControl, fault: str
) -> None:
    token = await fresh_login(up, "dave")
    await sandbox.faults(f"{VALIDATE}={fault}")

    down = await up.post(VIEWER_AND_PRODUCTS, token=token)
    await sandbox.faults()
    back = await up.data("{ viewer { login } }", token=token)

    assert down["data"]["viewer"] is None
    assert down["data"]["products"]["totalCount"] > 0
    assert code(down) == "UPSTREAM_ERROR"
    # Not knowing is not kept: once FLECS answers again, so does the token.
    assert back["viewer"]["login"] == "dave"


async def fresh_login(api: Api, login: str) -> str:
    """A token facade has not seen yet (a login of its own, not the Api's kept one)."""
    data = await api.data(
        "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }",
        {"u": login, "p": PASSWORD},
    )
    token: str = data["login"]["token"]
    verifier = api_verifier(api)
    verifier.cache._kept.clear()  # the login's own check kept it: forget, as a new process would
    return token


def api_verifier(api: Api) -> UpstreamVerifier:
    transport = api.client._transport
    assert isinstance(transport, httpx.ASGITransport)
    verifier = transport.app.state.verifier  # type: ignore[attr-defined]
    assert isinstance(verifier, UpstreamVerifier)
    return verifier


# ---------------------------------------------------------------------------------------------
# The verdict cache


def test_the_cache_keeps_verdicts_by_digest_bounded_and_until_they_end() -> None:
    cache = VerdictCache(size=2)
    principal = Principal(kind=TokenKind.USER, subject="1")
    now = time.time()
    for key in ("a", "b", "c"):
        cache.put(key, Verdict(principal, None, now + 60))

    assert len(cache) == 2
    assert cache.get("a") is None  # the least recently used went
    assert cache.get("c") is not None
    cache.put("d", Verdict(principal, None, now - 1))
    assert cache.get("d") is None  # ended


async def test_a_token_without_exp_is_kept_for_the_stated_default(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, token_cache_seconds=120)
    verifier = UpstreamVerifier(settings, TokenService(settings))
    # No upstream configured: the verifier falls back on facade's key, as for a local API.
    token = jwt.encode({"sub": "7", "kind": "user"}, "other-key-other-key-other-key-other!", algorithm="HS256")

    with pytest.raises(Exception, match="not valid"):
        await verifier.verify(token)
    kept = verifier.cache.get(next(iter(verifier.cache._kept)))

    assert kept is not None
    assert kept.refusal is not None
    assert 110 < kept.until - time.time() <= 120


async def test_local_mode_verifies_with_facades_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    tokens = TokenService(settings)
    token = tokens.issue(TokenKind.USER, user_id=3).token

    principal = await LocalVerifier(tokens).verify(token)

    assert principal.user_id == 3
    assert LocalVerifier(tokens).known("not-a-token") is None


# ---------------------------------------------------------------------------------------------
# JWKS: an API that publishes its keys (the sandbox signing with RS256)


def rsa_pem(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.write_bytes(pem)
    return path


@pytest.fixture(scope="module")
async def jwks_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Api, Path]]:
    """facade in upstream mode over a sandbox that signs with an RSA key and publishes it:
    FACADE_FLECS_JWKS_URL and FACADE_FLOW_JWKS_URL name the sandbox's /.well-known/jwks.json."""
    tmp = tmp_path_factory.mktemp("jwks")
    key = rsa_pem(tmp / "sandbox-key.pem")
    settings = make_settings(tmp)
    store = await LocalStore.open(settings.database_url, TokenService(settings))
    await seed(store.engine, products=10)
    backend = await upstream_backend(settings, store, jwt_algorithm="RS256", jwt_private_key_file=key)
    url = backend.sandbox_url + "/.well-known/jwks.json"
    facade = settings.model_copy(update={"flecs_jwks_url": url, "flow_jwks_url": url})
    app = create_app(facade, backend=backend)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://facade.test")
    yield Api(client=client, store=backend, settings=facade, issuer=backend.sandbox_settings), key
    await client.aclose()
    await backend.aclose()


async def test_with_a_jwks_tokens_are_verified_locally_without_a_validation_call(
    jwks_api: tuple[Api, Path],
) -> None:
    api, _ = jwks_api
    async with SandboxControl(api.store.sandbox_url) as sandbox:
        alice = await api.login("alice")
        assert jwt.get_unverified_header(alice)["alg"] == "RS256"
        viewer = await api.data("{ viewer { login } }", token=alice)
        device_id, device_token, access_token = await link_and_sign_in(api)
        current = await api.data("{ currentDevice { id } }", token=access_token)
        calls = await sandbox.calls()

    assert viewer["viewer"]["login"] == "alice"
    assert current["currentDevice"]["id"] == device_id
    assert VALIDATE not in calls
    assert "GET /v2/device/users" not in calls  # a device token checked by the key, not by F6
    assert calls.get("GET /.well-known/jwks.json") == 1  # fetched once, then kept


@pytest.mark.parametrize("forgery", ["facade_secret_hs256", "public_key_as_hmac_secret", "another_rsa_key"])
async def test_with_a_jwks_a_token_its_keys_do_not_verify_is_refused(
    jwks_api: tuple[Api, Path], tmp_path: Path, forgery: str
) -> None:
    api, key_file = jwks_api
    alice = await api.login("alice")
    claims = jwt.decode(alice, options={"verify_signature": False})
    header = jwt.get_unverified_header(alice)
    if forgery == "facade_secret_hs256":
        token = facade_signed(api, **{k: v for k, v in claims.items() if k not in ("iss", "iat", "exp")})
    elif forgery == "public_key_as_hmac_secret":
        # The algorithm-confusion attack: the published key used as an HMAC secret.
        private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        public = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        token = _hmac(claims, public, header["kid"])
    else:
        other = serialization.load_pem_private_key(rsa_pem(tmp_path / "other.pem").read_bytes(), password=None)
        token = jwt.encode(claims, other, algorithm="RS256", headers={"kid": header["kid"]})  # type: ignore[arg-type]

    body = await api.post(VIEWER_AND_PRODUCTS, token=token)

    assert body["data"]["viewer"] is None
    assert code(body) == "UNAUTHENTICATED"
    assert body["data"]["products"]["totalCount"] > 0


async def test_with_a_jwks_unknown_key_ids_are_refused_without_hammering_the_keys(
    jwks_api: tuple[Api, Path], tmp_path: Path
) -> None:
    api, _ = jwks_api
    claims = jwt.decode(await api.login("bob"), options={"verify_signature": False})
    await api.data("{ viewer { login } }", token=await api.login("bob"))  # the keys are fetched by now
    other = serialization.load_pem_private_key(rsa_pem(tmp_path / "rotated.pem").read_bytes(), password=None)
    async with SandboxControl(api.store.sandbox_url) as sandbox:
        for kid in ("rotated-1", "rotated-2", "rotated-3"):
            token = jwt.encode(claims, other, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]
            body = await api.post("{ viewer { login } }", token=token)
            assert code(body) == "UNAUTHENTICATED"
        calls = await sandbox.calls()

    # Within PyJWKClient's 30 s cool-down after a fetch, an unknown kid fetches nothing more.
    assert calls.get("GET /.well-known/jwks.json", 0) == 0


async def test_an_unknown_key_id_fetches_the_keys_once_more(jwks_api: tuple[Api, Path], tmp_path: Path) -> None:
    api, key_file = jwks_api
    keys = JwksKeys(api.store.sandbox_url + "/.well-known/jwks.json", lifetime=300, timeout=5)
    keys.client.cooldown_duration = 0  # as if the cool-down since the last fetch had passed
    signer = TokenService(api.token_settings)
    rotated = serialization.load_pem_private_key(rsa_pem(tmp_path / "new.pem").read_bytes(), password=None)
    claims = jwt.decode(signer.issue(TokenKind.USER, user_id=1).token, options={"verify_signature": False})
    async with SandboxControl(api.store.sandbox_url) as sandbox:
        known = await keys.claims(signer.issue(TokenKind.USER, user_id=1).token)
        with pytest.raises(Unauthenticated):
            await keys.claims(jwt.encode(claims, rotated, algorithm="RS256", headers={"kid": "next"}))  # type: ignore[arg-type]
        calls = await sandbox.calls()

    assert known["sub"] == "1"
    assert calls.get("GET /.well-known/jwks.json") == 2  # the first fetch, and once more for "next"


async def test_keys_that_cannot_be_fetched_or_read_are_an_upstream_error_not_a_refusal(
    jwks_api: tuple[Api, Path],
) -> None:
    api, _ = jwks_api
    token = TokenService(api.token_settings).issue(TokenKind.USER, user_id=1).token
    # A JSON object that is no JWK Set, and a port nobody listens on.
    for url in (api.store.sandbox_url + "/__sandbox/calls", "http://127.0.0.1:9/jwks.json"):
        keys = JwksKeys(url, lifetime=300, timeout=2)
        with pytest.raises(UpstreamError):
            await keys.claims(token)


def _hmac(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """HS256 by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret."""
    import hashlib
    import hmac
    import json

    def part(value: bytes) -> str:
        return base64.urlsafe_b64encode(value).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = part(json.dumps(claims).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{part(signature)}"
