"""The `facade` command as a user runs it: real processes, a real server on a loopback port, real
HTTP. Nothing goes through an in-process ASGI transport here."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import httpx

from conftest import PASSWORD
from facade.backends.local import migrate as migrations
from support.server import answering_pid, run_facade, serve, sqlite_url, worker_pids

# The package's revisions, oldest first (each file is `<revision>_<slug>.py`).
REVISIONS = sorted(path.name[:4] for path in (Path(migrations.SCRIPT_LOCATION) / "versions").glob("[0-9]*_*.py"))

PRODUCTS = "{ products(first: 3) { totalCount nodes { id name } } }"
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }"
VIEWER = "{ viewer { login } }"


def login(client: httpx.Client, username: str = "alice") -> str:
    response = client.post("/graphql", json={"query": LOGIN, "variables": {"u": username, "p": PASSWORD}})
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["login"]["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def count_rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(count)


def test_serve_answers_graphql_and_graphiql_over_http(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    with (
        serve(tmp_path, "--database-url", sqlite_url(db), "--seed-products", "30") as server,
        httpx.Client(base_url=server.url, timeout=10.0) as client,
    ):
        products = client.post("/graphql", json={"query": PRODUCTS})
        token = login(client)
        signed_in = client.post("/graphql", json={"query": VIEWER}, headers=bearer(token))
        anonymous = client.post("/graphql", json={"query": VIEWER})
        page = client.get("/graphql", headers={"Accept": "text/html"})

    assert products.status_code == 200
    assert products.json()["data"]["products"]["totalCount"] == 30
    assert len(products.json()["data"]["products"]["nodes"]) == 3
    assert signed_in.json()["data"] == {"viewer": {"login": "alice"}}
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "graphiql.min.js" in page.text
    assert db.is_file()
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600


def test_workers_agree_on_tokens_through_the_shared_secret_file(tmp_path: Path) -> None:
    db = tmp_path / "x.db"

    with serve(tmp_path, "--workers", "2", "--database-url", sqlite_url(db), "--seed-products", "10") as server:
        workers = worker_pids(server, 2)
        with httpx.Client(base_url=server.url, timeout=10.0) as client:
            token = login(client)
        answers: list[dict[str, object]] = []
        answered_by: set[int] = set()
        # A client per request: each opens its own connection, which the kernel hands to either
        # worker. At least 20 requests, and on until both workers have verified the token (bounded).
        while len(answers) < 20 or (len(answered_by) < 2 and len(answers) < 100):
            with httpx.Client(base_url=server.url, timeout=10.0) as client:
                response = client.post("/graphql", json={"query": VIEWER}, headers=bearer(token))
                answered_by.add(answering_pid(server, response, workers))
            answers.append(response.json())

    assert len(workers) == 2
    assert all(answer["data"] == {"viewer": {"login": "alice"}} for answer in answers), answers
    assert answered_by == workers, f"only {answered_by} of the workers {workers} answered"


def test_db_migrate_then_seed_refuses_a_store_with_data_unless_reset(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    url = sqlite_url(db)

    migrated = run_facade(tmp_path, "db", "migrate", "--database-url", url)
    seeded = run_facade(tmp_path, "db", "seed", "--products", "500", "--database-url", url)
    products_after_seed = count_rows(db, "products")
    again = run_facade(tmp_path, "db", "seed", "--database-url", url)
    reset = run_facade(tmp_path, "db", "seed", "--reset", "--products", "50", "--database-url", url)

    assert migrated.returncode == 0, migrated.stderr
    assert migrated.stdout.strip() == f"applied revisions: {', '.join(REVISIONS)}"
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("Seeded in")
    assert products_after_seed == 500
    assert again.returncode == 1
    assert "already has data" in again.stdout
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout.startswith("Seeded in")
    assert count_rows(db, "products") == 50


def test_db_downgrade_then_migrate_again_and_the_upgrade_as_sql(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "store.db")

    first = run_facade(tmp_path, "db", "migrate", "--database-url", url)
    again = run_facade(tmp_path, "db", "migrate", "--database-url", url)
    down = run_facade(tmp_path, "db", "downgrade", "base", "--database-url", url)
    up = run_facade(tmp_path, "db", "migrate", "--database-url", url)
    unknown = run_facade(tmp_path, "db", "downgrade", "0099", "--database-url", url)
    sql = run_facade(
        tmp_path, "db", "migrate", "--sql", "--database-url", "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    )

    applied = f"applied revisions: {', '.join(REVISIONS)}"
    assert (first.stdout.strip(), again.stdout.strip()) == (applied, "the store is up to date")
    assert down.stdout.strip() == f"undid revisions: {', '.join(reversed(REVISIONS))}", down.stderr
    assert up.stdout.strip() == applied, up.stderr
    assert unknown.returncode == 1
    assert "0099" in unknown.stdout
    assert "Traceback" not in unknown.stderr
    assert sql.returncode == 0, sql.stderr
    assert "CREATE TABLE tenants" in sql.stdout
    assert "TIMESTAMP WITH TIME ZONE" in sql.stdout


def test_schema_export_to_stdout_prints_the_sdl(tmp_path: Path) -> None:
    exported = run_facade(tmp_path, "schema", "export", "--output", "-")

    assert exported.returncode == 0, exported.stderr
    assert "type Query {" in exported.stdout
    assert "type Mutation {" in exported.stdout
    assert not (tmp_path / "schema").exists()  # `-` means stdout, not a file named "-"
    assert not (tmp_path / "-").exists()


def test_routes_renders_the_coverage_section_and_checks_the_readme(tmp_path: Path) -> None:
    readme = Path(__file__).resolve().parents[1] / "README.md"
    rendered = run_facade(tmp_path, "routes")
    checked = run_facade(tmp_path, "routes", "--check", str(readme))

    assert rendered.returncode == 0, rendered.stderr
    assert "| `devices.search` | `F7 GET /tenants/{tenantUid}/devices`" in rendered.stdout
    assert checked.returncode == 0, checked.stderr


def test_serve_in_upstream_mode_answers_from_the_sandbox(tmp_path: Path) -> None:
    """Configuration alone points facade at the REST APIs: here `facade sandbox`, over loopback."""
    from support.server import FACADE, HOST, facade_env, free_port, stop

    port = free_port()
    sandbox_url = f"http://{HOST}:{port}"
    env = facade_env(tmp_path)  # one secret file: the sandbox issues tokens facade verifies
    sandbox = subprocess.Popen(
        [
            *FACADE,
            "sandbox",
            "--port",
            str(port),
            "--database-url",
            sqlite_url(tmp_path / "upstream.db"),
            "--seed-products",
            "30",
        ],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{sandbox_url}/__sandbox/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        upstream = {"FACADE_FLECS_URL": sandbox_url, "FACADE_FLOW_URL": sandbox_url + "/v2"}
        with serve(
            tmp_path, "--database-url", sqlite_url(tmp_path / "facade.db"), "--seed-products", "5", env=upstream
        ) as server:
            products = httpx.post(f"{server.url}/graphql", json={"query": "{ products { totalCount } }"}).json()
            login = httpx.post(
                f"{server.url}/graphql",
                json={"query": 'mutation { login(username: "alice", password: "facade-demo") { token } }'},
            ).json()
            token = login["data"]["login"]["token"]
            devices = httpx.post(
                f"{server.url}/graphql",
                json={"query": '{ devices(tenantUid: "acme-retail") { totalCount } }'},
                headers={"Authorization": f"Bearer {token}"},
            ).json()
            calls = httpx.get(f"{sandbox_url}/__sandbox/calls").json()["calls"]
    finally:
        stop(sandbox)

    # 30 products upstream, not the 5 of facade's own store: the answer came from the sandbox.
    assert products["data"]["products"]["totalCount"] == 30
    assert devices["data"]["devices"]["totalCount"] > 0
    assert calls["GET /api/v2/products"] >= 1
    assert calls["POST /api/v2/auth/login"] == 1
    assert calls["GET /v2/tenants/{tenantUid}/devices"] == 1


def test_a_database_url_without_an_async_driver_gets_one(tmp_path: Path) -> None:
    """`sqlite:///x.db`, as SQLAlchemy's docs write it, died with a traceback ("the asyncio
    extension requires an async driver"); it now means sqlite+aiosqlite."""
    db = tmp_path / "plain.db"
    url = f"sqlite:///{db}"

    migrated = run_facade(tmp_path, "db", "migrate", "--database-url", url)
    seeded = run_facade(tmp_path, "db", "seed", "--products", "20", "--database-url", url)

    assert migrated.returncode == 0, migrated.stderr
    assert "Traceback" not in migrated.stderr + seeded.stderr
    assert seeded.returncode == 0, seeded.stderr
    assert count_rows(db, "products") == 20
