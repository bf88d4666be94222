"""The HTTP edge of a real `facade serve` over loopback: the graphql-http audit suite (the
GraphQL-over-HTTP spec's conformance checks, run by node), body and URL limits through uvicorn,
duplicate credentials and CORS as a browser sends them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facade.settings import Settings
from support.server import Server, serve

# The audit suite, pinned: a new release may add audits, and those should land in a commit of
# their own. graphql-http needs graphql-js beside it.
GRAPHQL_HTTP = "graphql-http@1.23.1"
GRAPHQL_JS = "graphql@16.11.0"
AUDIT_SCRIPT = Path(__file__).resolve().parents[1] / "support" / "graphql_http_audit.js"
APP_ORIGIN = "https://shop.example"
LIMIT = Settings.model_fields["max_body_bytes"].default


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("http-server")
    with serve(workdir, "--seed-products", "20", env={"FACADE_CORS_ORIGINS": json.dumps([APP_ORIGIN])}) as running:
        yield running


def audit_package() -> Path:
    """A node_modules folder holding the pinned graphql-http, installed once into .venv (the
    virtualenv running the tests); skips with the reason where node, npm or the registry is missing."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"`{tool}` is not installed: the graphql-http audit needs node and npm")
    prefix = Path(sys.prefix) / "npm" / GRAPHQL_HTTP.replace("@", "-")
    modules = prefix / "node_modules"
    if (modules / "graphql-http" / "package.json").is_file() and (modules / "graphql" / "package.json").is_file():
        return modules
    prefix.mkdir(parents=True, exist_ok=True)
    try:
        installed = subprocess.run(
            ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", GRAPHQL_HTTP, GRAPHQL_JS],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"`npm install {GRAPHQL_HTTP}` did not finish in 300 s (is the npm registry reachable?)")
    if installed.returncode != 0:
        pytest.skip(f"`npm install {GRAPHQL_HTTP}` failed (is the npm registry reachable?): {installed.stderr[-500:]}")
    return modules


def test_graphql_http_audit_passes_with_no_warning(server: Server) -> None:
    modules = audit_package()
    ran = subprocess.run(
        ["node", str(AUDIT_SCRIPT), f"{server.url}/graphql"],
        env={**os.environ, "NODE_PATH": str(modules)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr

    results = json.loads(ran.stdout)
    assert len(results) > 50  # every audit ran
    assert [r for r in results if r["status"] != "ok"] == []


def raw_request(server: Server, head: str, body: list[bytes] | None = None) -> tuple[int, bytes]:
    """Sends a request over a plain socket, its body in the pieces given (stopping when the server
    stops reading), and returns the status and body of the response."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        try:
            for piece in body or ():
                sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed: what it sent is still readable
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(65_536)
        header, _, content = received.partition(b"\r\n\r\n")
        length = int(next(line for line in header.split(b"\r\n") if line.lower().startswith(b"content-length:"))[15:])
        while len(content) < length:
            content += sock.recv(65_536)
    return int(header.split(b" ")[1]), content


def chunked(piece: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(piece), piece)


def test_declared_body_over_the_limit_is_413_before_it_is_sent(server: Server) -> None:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: facade\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50_000_000}\r\n\r\n"
    )

    status, body = raw_request(server, head)

    assert status == 413
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_chunked_body_over_the_limit_is_413(server: Server) -> None:
    head = (
        "POST /graphql HTTP/1.1\r\nHost: facade\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    # Four times the limit at most: enough to cross it; the in-process tests check that the
    # endpoint stops reading at the limit.
    pad = chunked(b"x" * 65_536)
    pieces = [chunked(b'{"query": "{ __typename }", "extensions": {"pad": "'), *[pad] * (4 * LIMIT // 65_536)]

    status, body = raw_request(server, head, pieces)

    assert status == 413
    assert json.loads(body)["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


def test_long_get_url_is_414(server: Server) -> None:
    query = "{ __typename }\n#" + "x" * Settings.model_fields["max_url_bytes"].default

    response = httpx.get(f"{server.url}/graphql", params={"query": query}, timeout=10)

    assert response.status_code == 414
    assert response.json()["errors"][0]["extensions"]["code"] == "URI_TOO_LONG"


def test_two_authorization_headers_are_400(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ __typename }"},
        headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
        timeout=10,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "DUPLICATE_HEADER"


def test_browser_preflight_and_request_from_an_allowed_origin(server: Server) -> None:
    preflight = httpx.options(
        f"{server.url}/graphql",
        headers={
            "Origin": APP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization",
        },
        timeout=10,
    )
    query = {"query": "{ __typename }"}
    answer = httpx.post(f"{server.url}/graphql", json=query, headers={"Origin": APP_ORIGIN}, timeout=10)
    foreign = httpx.post(f"{server.url}/graphql", json=query, headers={"Origin": "https://evil.example"}, timeout=10)

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == APP_ORIGIN
    assert answer.headers["access-control-allow-origin"] == APP_ORIGIN
    assert answer.json() == {
        "data": {"__typename": "Query"},
        "extensions": {"cost": {"requestedQueryCost": 1, "maximumAvailable": 50000}},
    }
    assert "access-control-allow-origin" not in foreign.headers
