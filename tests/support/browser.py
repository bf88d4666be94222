"""Debian's Chromium, headless, driven through the Chrome DevTools Protocol over a websocket.

No driver library and no downloaded browser: the `websockets` package (a uvicorn extra) speaks
the protocol, and the browser is /usr/bin/chromium from `apt-get install chromium`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from support.server import stop

CHROMIUM = os.environ.get("FACADE_TEST_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google, which this machine's
# closed network refuses; --no-sandbox because CI runs as root.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1280,800",
)
START_TIMEOUT = 20.0
CALL_TIMEOUT = 20.0


def chromium_path() -> str | None:
    """The Chromium binary, or None where it is not installed."""
    found = shutil.which(CHROMIUM) if os.sep not in CHROMIUM else CHROMIUM
    return found if found and os.access(found, os.X_OK) else None


def dump_dom(url: str, profile: Path, budget_ms: int = 10_000, timeout: float = 60.0) -> str:
    """The DOM after the page's scripts ran for budget_ms of virtual time (`--dump-dom`)."""
    done = subprocess.run(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={budget_ms}",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


class DevToolsError(Exception):
    pass


class Page:
    """One page target: send commands, evaluate JavaScript, remember what the page reported."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.last_id = 0
        self.exceptions: list[str] = []
        self.console: list[str] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        call = self.last_id
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == call:
                if "error" in message:
                    raise DevToolsError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self._event(message)

    def _event(self, message: dict[str, Any]) -> None:
        params = message.get("params", {})
        if message.get("method") == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif message.get("method") == "Runtime.consoleAPICalled":
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {args}")

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise DevToolsError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        """The first truthy value of expression, polled; fails with what the page reported."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {expression}\n"
                    f"page exceptions: {self.exceptions}\nconsole: {self.console}"
                )
            time.sleep(0.1)

    def click(self, element: str) -> None:
        """A real mouse click (pressed, then released) at the middle of the `element` expression
        names: what a menu that opens on pointerdown (Radix's) needs, where `.click()` is not.

        Clicks only once the element is what the page has at that point, at a position that held
        still for one poll: a Radix menu is first drawn off-screen and then moved into place, and a
        click in between lands on nothing (a CI run saw the menu stay open and no result)."""
        middle = (
            f"(() => {{ const e = ({element}); if (!e) return null;"
            " const r = e.getBoundingClientRect(); const x = r.x + r.width / 2, y = r.y + r.height / 2;"
            " const hit = document.elementFromPoint(x, y);"
            " return hit && (hit === e || e.contains(hit)) ? [x, y] : null; })()"
        )
        previous = None
        deadline = time.monotonic() + 15.0
        while True:
            point = self.evaluate(middle)
            if point is not None and point == previous:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{element} never held still where a click would reach it")
            previous = point
            time.sleep(0.1)
        x, y = point
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def navigate(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextlib.contextmanager
def open_page(profile: Path) -> Iterator[Page]:
    """A headless Chromium with one blank page, closed (its whole process group) afterwards."""
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a stale one names a closed port
    with (profile.parent / f"{profile.name}.log").open("wb") as log:
        process = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        port = _devtools_port(profile, process)
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5.0).json()
        page = next(t for t in targets if t["type"] == "page")
        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10.0) as ws:
            tab = Page(ws)
            tab.send("Runtime.enable")
            tab.send("Page.enable")
            yield tab
    finally:
        stop(process)


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    # With --remote-debugging-port=0 Chromium picks a port and writes it to this file.
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"Chromium exited with {process.returncode}")
        with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.05)
    raise AssertionError(f"Chromium wrote no {marker.name} within {START_TIMEOUT:.0f}s")
