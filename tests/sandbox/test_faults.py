"""Faults the sandbox injects, as an httpx client meets them over a real socket (a delay, an
error status with Retry-After, a dropped connection, a truncated body), the call counter, the
control routes, the spec syntax, and `facade sandbox --faults` as a real process."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from facade.sandbox import FaultRule, FaultSpecError, parse_faults
from sandbox.conftest import Sandbox, run_sandbox
from support.server import FACADE, HOST, facade_env, free_port, sqlite_url, stop

PRODUCTS = "/api/v2/products"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox of its own: its fault rules would upset every other test."""
    with run_sandbox(tmp_path_factory.mktemp("faults"), products=8) as running:
        yield running


@pytest.fixture
async def http(faulty: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=faulty.url, timeout=10.0) as client:
        await client.delete("/__sandbox/faults")
        await client.delete("/__sandbox/calls")
        yield client
        await client.delete("/__sandbox/faults")


async def set_faults(http: httpx.AsyncClient, *rules: Any) -> list[dict[str, Any]]:
    response = await http.post("/__sandbox/faults", json=list(rules))
    assert response.status_code == 200, response.text
    active: list[dict[str, Any]] = response.json()
    return active


async def test_latency_delays_the_answer(http: httpx.AsyncClient) -> None:
    await set_faults(http, {"method": "GET", "path": "/api/v2/products*", "kind": "latency:400"})

    started = time.perf_counter()
    delayed = await http.get(PRODUCTS)
    elapsed = time.perf_counter() - started
    other = await http.get("/api/v2/products/apps")  # the glob matches this too
    elsewhere = await http.post("/api/v2/auth/validate")

    assert delayed.status_code == 200
    assert delayed.json()["data"]["products"]
    assert elapsed >= 0.4
    assert other.elapsed.total_seconds() >= 0.4
    assert elsewhere.elapsed.total_seconds() < 0.4


async def test_status_fault_answers_in_the_api_shape_with_retry_after_until_spent(http: httpx.AsyncClient) -> None:
    await set_faults(
        http,
        {"method": "GET", "path": PRODUCTS, "kind": "status:503", "count": 2, "retry_after": 3},
        {"method": "*", "path": "/v2/*", "kind": "status:429", "retry_after": 1},
    )

    first, second, third = [await http.get(PRODUCTS) for _ in range(3)]
    flow = await http.get("/v2/device")

    for failed in (first, second):
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "3"
        assert failed.json() == {
            "reason": "Fault injected by the sandbox",
            "statusCode": 503,
            "statusText": "Service Unavailable",
        }
    assert third.status_code == 200
    assert flow.status_code == 429
    assert flow.headers["retry-after"] == "1"
    assert flow.json() == {"message": "Fault injected by the sandbox", "code": "TOO_MANY_REQUESTS"}


async def test_status_fault_without_retry_after_sends_none(http: httpx.AsyncClient) -> None:
    await set_faults(http, "POST /api/v2/auth/login=status:500")

    response = await http.post("/api/v2/auth/login", json={})

    assert response.status_code == 500
    assert "retry-after" not in response.headers


async def test_drop_closes_the_connection_without_a_response(http: httpx.AsyncClient) -> None:
    await set_faults(http, {"method": "GET", "path": PRODUCTS, "kind": "drop", "count": 1})

    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await http.get(PRODUCTS)
    after = await http.get(PRODUCTS)

    assert after.status_code == 200


async def test_malformed_answers_truncated_json(http: httpx.AsyncClient) -> None:
    await set_faults(http, {"path": PRODUCTS, "kind": "malformed"})

    response = await http.get(PRODUCTS)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.text == '{"statusCode": 200, "data": '
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_rules_fire_only_for_their_method_and_probability(http: httpx.AsyncClient) -> None:
    await set_faults(
        http,
        {"method": "POST", "path": PRODUCTS, "kind": "status:500"},
        {"method": "GET", "path": "/api/v2/products/apps", "kind": "status:500", "probability": 0},
        {"method": "GET", "path": "/api/v2/my/*", "kind": "status:502", "probability": 1},
    )

    assert (await http.get(PRODUCTS)).status_code == 200
    assert (await http.get("/api/v2/products/apps")).status_code == 200
    assert (await http.get("/api/v2/my/products")).status_code == 502


async def test_calls_are_counted_per_route_template_faults_included(http: httpx.AsyncClient) -> None:
    await set_faults(http, {"method": "GET", "path": "/v2/tenants/*", "kind": "status:503"})

    await http.get("/api/v2/manifests/some.app/1.0.0")
    await http.get("/api/v2/manifests/other.app/2.0.0")
    await http.get(PRODUCTS, params={"page": 1})
    await http.get("/v2/tenants/acme-retail/devices/dev-1")
    await http.get("/api/v2/nothing-here")
    await http.get("/__sandbox/faults")  # control calls are not counted
    counted = (await http.get("/__sandbox/calls")).json()
    reset = await http.delete("/__sandbox/calls")
    after = (await http.get("/__sandbox/calls")).json()

    assert counted == {
        "calls": {
            "GET /api/v2/manifests/{app}/{version}": 2,
            "GET /api/v2/nothing-here": 1,
            "GET /api/v2/products": 1,
            "GET /v2/tenants/{tenantUid}/devices/{deviceUid}": 1,
        },
        "total": 5,
    }
    assert reset.status_code == 204
    assert after == {"calls": {}, "total": 0}


async def test_control_routes_list_replace_and_clear_rules(http: httpx.AsyncClient) -> None:
    replaced = await set_faults(
        http, "GET /api/v2/products*=status:503x2;retry_after=1", {"path": "/v2/*", "kind": "drop"}
    )
    listed = (await http.get("/__sandbox/faults")).json()
    bad = await http.post("/__sandbox/faults", json=[{"path": "/x", "kind": "explode"}])
    not_a_list = await http.post("/__sandbox/faults", content=b"nope")
    cleared = await http.delete("/__sandbox/faults")

    assert listed == replaced
    assert listed[0] == {
        "path": "/api/v2/products*",
        "kind": "status:503",
        "method": "GET",
        "probability": 1.0,
        "count": 2,
        "retry_after": 1,
        "remaining": 2,
    }
    assert listed[1]["method"] == "*"
    assert bad.status_code == 400
    assert "kind must be" in bad.json()["error"]
    assert not_a_list.status_code == 400
    assert cleared.status_code == 204
    assert (await http.get("/__sandbox/faults")).json() == []


def test_spec_syntax() -> None:
    rules = parse_faults(
        "GET /api/v2/products*=status:503x2;retry_after=5, POST /v2/device=latency:3000,/v2/*=drop@0.25,"
        "* /api/*=malformed"
    )

    assert rules == [
        FaultRule(path="/api/v2/products*", kind="status:503", method="GET", count=2, retry_after=5),
        FaultRule(path="/v2/device", kind="latency:3000", method="POST"),
        FaultRule(path="/v2/*", kind="drop", probability=0.25),
        FaultRule(path="/api/*", kind="malformed"),
    ]
    assert rules[1].latency_ms == 3000
    assert rules[0].status == 503
    assert parse_faults("") == []


async def test_a_query_rule_fails_only_the_calls_that_sent_those_parameters(http: httpx.AsyncClient) -> None:
    await set_faults(http, "GET /api/v2/products?store_id=2&page=*=status:404")

    failing = await http.get(PRODUCTS, params={"store_id": 2, "page": 1})
    other_store = await http.get(PRODUCTS, params={"store_id": 3, "page": 1})
    without_page = await http.get(PRODUCTS, params={"store_id": 2})

    assert failing.status_code == 404
    assert (other_store.status_code, without_page.status_code) == (200, 200)


def test_spec_with_a_query() -> None:
    (rule,) = parse_faults("GET /api/v2/products?store_id=2&page=1=status:404x1")

    assert rule == FaultRule(
        path="/api/v2/products", query="store_id=2&page=1", kind="status:404", method="GET", count=1
    )
    assert rule.matches("GET", "/api/v2/products", "page=1&store_id=2&per_page=5")
    assert not rule.matches("GET", "/api/v2/products", "store_id=2")


@pytest.mark.parametrize(
    "spec",
    ["GET /x=explode", "GET x=drop", "GET /x=drop@2", "GET /x=dropx0", "GET /x", "GET /x=status:999"],
)
def test_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_faults(spec)


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_serves_the_sandbox_with_faults(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "sandbox.log"
    args = [
        "sandbox",
        "--port",
        str(port),
        "--database-url",
        sqlite_url(tmp_path / "sandbox.db"),
        "--seed-products",
        "8",
        "--faults",
        "GET /api/v2/products*=status:503x1;retry_after=2",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*FACADE, *args],
            cwd=tmp_path,
            env=facade_env(tmp_path),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/__sandbox/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        faulted = httpx.get(f"{url}{PRODUCTS}", timeout=5.0)
        served = httpx.get(f"{url}{PRODUCTS}", timeout=5.0)
        flow = httpx.get(f"{url}/v2/device", timeout=5.0)
        afosto = httpx.get(f"{url}/afosto/cat/groups", headers={"Authorization": "Bearer x"}, timeout=5.0)
    finally:
        stop(process)

    assert faulted.status_code == 503
    assert faulted.headers["retry-after"] == "2"
    assert served.json()["data"]["totalPages"] == 1
    assert len(served.json()["data"]["products"]) == 8
    assert flow.status_code == 401
    assert afosto.status_code == 200
    assert {g["name"] for g in afosto.json()} == {"retail", "wholesale"}  # the seeded tenant's groups
    assert f"FLECS Console at {url}/api/v2" in log.read_text()
    assert f"Afosto at {url}/afosto" in log.read_text()


def test_cli_refuses_a_bad_fault_spec(tmp_path: Path) -> None:
    result = subprocess.run(
        [*FACADE, "sandbox", "--faults", "GET /x=explode"],
        cwd=tmp_path,
        env=facade_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 2
    assert "--faults: not a fault rule" in result.stderr
