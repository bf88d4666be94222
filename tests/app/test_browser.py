"""GraphiQL in a real browser: Debian's headless Chromium opens /graphql from a real `facade serve`,
renders the playground's example in the editor, and runs it against the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.browser import chromium_path, dump_dom, open_page
from support.server import Server, serve, sqlite_url

pytestmark = pytest.mark.browser

EXAMPLE = "/graphql?example=storefront"
EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror?.getValue()"
RESULT = "document.querySelector('.result-window .CodeMirror')?.CodeMirror?.getValue()"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if chromium_path() is None:
        pytest.skip("Chromium is not installed: apt-get install chromium")
    workdir = tmp_path_factory.mktemp("browser")
    with serve(workdir, "--database-url", sqlite_url(workdir / "x.db"), "--seed-products", "30") as running:
        yield running


def test_graphiql_renders_the_example_query(server: Server, tmp_path: Path) -> None:
    dom = dump_dom(server.url + EXAMPLE, tmp_path / "profile")

    # Only GraphiQL's own React render puts these in the DOM: the served HTML has neither.
    assert 'class="graphiql-container"' in dom
    assert "graphiql-execute-button" in dom
    assert "Loading GraphiQL" not in dom
    assert "Storefront" in dom  # the example's operation, drawn by the editor


def test_running_the_example_in_graphiql_shows_products(server: Server, tmp_path: Path) -> None:
    with open_page(tmp_path / "profile") as page:
        page.navigate(server.url + EXAMPLE)
        page.wait_for("!!document.querySelector('.graphiql-container')")
        query = page.wait_for(EDITOR)
        page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        result = page.wait_for(RESULT)
        # Kept under pytest's basetemp (e.g. /tmp/pytest-of-root/pytest-current/) to look at.
        shot = page.screenshot(tmp_path / "graphiql.png")

    assert "query Storefront" in query
    assert '"products"' in result
    assert '"totalCount": 30' in result
    assert '"errors"' not in result
    assert page.exceptions == [], page.exceptions
    assert shot.read_bytes().startswith(b"\x89PNG")


AFOSTO_EXAMPLE = "/graphql?example=afosto-channels"
CHANNELS_ITEM = "[...document.querySelectorAll('[role=menuitem]')].find(i => i.textContent === 'Channels')"
ALL_EDITORS = "[...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror.getValue()).join('\\n')"


# The headers editor's CodeMirror: the one holding the example's header.
HEADERS_EDITOR = (
    "[...document.querySelectorAll('.CodeMirror')].map(e => e.CodeMirror)"
    ".find(m => m.getValue().trim().startsWith('{') && m.getValue().includes('X-Afosto-Authorization'))"
)


def sign_in(server: Server, login: str) -> str:
    mutation = f'mutation {{ login(username: "{login}", password: "facade-demo") {{ token }} }}'
    answer = httpx.post(server.url + "/graphql", json={"query": mutation}, timeout=30).json()
    token: str = answer["data"]["login"]["token"]
    return token


def test_the_afosto_namespace_runs_in_graphiql_with_the_examples_header(server: Server, tmp_path: Path) -> None:
    token = sign_in(server, "alice")  # local mode: facade judges Afosto calls (a member of the tenant)
    with open_page(tmp_path / "profile") as page:
        page.navigate(server.url + AFOSTO_EXAMPLE)
        page.wait_for("!!document.querySelector('.graphiql-container')")
        query = page.wait_for(EDITOR)
        editors = page.evaluate(ALL_EDITORS)
        # The user adds their facade token to the headers the example opened with.
        page.wait_for(f"!!({HEADERS_EDITOR})")
        headers = {"X-Afosto-Authorization": "Bearer playground", "Authorization": f"Bearer {token}"}
        page.evaluate(f"({HEADERS_EDITOR}).setValue({json.dumps(json.dumps(headers))})")
        # Two operations: the execute button opens a menu of them, as for a user.
        page.wait_for("!!document.querySelector('.graphiql-execute-button[aria-haspopup]')")
        page.wait_for("document.fonts.status === 'loaded'")
        page.click("document.querySelector('.graphiql-execute-button')")
        page.wait_for(f"!!{CHANNELS_ITEM}")
        page.click(CHANNELS_ITEM)
        result = page.wait_for(RESULT)

    assert "X-Afosto-Authorization" in editors  # the headers editor opens with the example's header
    assert "query Channels" in query
    assert "mutation AddChannel" in query
    assert '"channels"' in result
    assert '"node"' in result  # the seeded tenant's own channels, from the store
    assert '"errors"' not in result  # without the token: UNAUTHENTICATED
    assert page.exceptions == [], page.exceptions
