"""Run the `facade` command as a real process: one-shot commands, and `facade serve` on a free
loopback port until /health answers. Each process gets its own session (process group) so that
the server and every uvicorn worker are stopped together, and every wait is bounded."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

FACADE = (sys.executable, "-m", "facade")
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def facade_env(workdir: Path) -> dict[str, str]:
    """The caller's environment without any FACADE_* setting, and a JWT secret file in workdir,
    so a developer's own settings cannot leak into the test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACADE_")}
    env["FACADE_JWT_SECRET_FILE"] = str(workdir / "secret")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def run_facade(workdir: Path, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """`python -m facade ARGS` in workdir; its exit code, stdout and stderr."""
    return subprocess.run(
        [*FACADE, *args],
        cwd=workdir,
        env=facade_env(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    workdir: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def serve(
    workdir: Path, *args: str, timeout: float = START_TIMEOUT, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`facade serve --port <free> ARGS` in workdir (with `env` added to its environment),
    yielded once GET /health answers 200."""
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*FACADE, "serve", "--host", HOST, "--port", str(port), *args],
            cwd=workdir,
            env={**facade_env(workdir), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process=process, url=f"http://{HOST}:{port}", workdir=workdir, log=log)
    try:
        _wait_healthy(server, timeout)
        yield server
    finally:
        stop(process)


def _wait_healthy(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"facade serve exited with {server.process.returncode}:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"facade serve did not answer /health within {timeout:.0f}s:\n{server.output()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole process group, SIGKILL if it has not gone after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            continue
        # The leader is gone; a uvicorn worker it failed to reap must not outlive the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def worker_pids(server: Server, count: int, timeout: float = START_TIMEOUT) -> set[int]:
    """The pids of uvicorn's workers, once `count` of them have logged that they started."""
    deadline = time.monotonic() + timeout
    while True:
        pids = {int(pid) for pid in re.findall(r"Started server process \[(\d+)\]", server.output())}
        if len(pids) >= count:
            return pids
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(pids)} of {count} workers started within {timeout:.0f}s:\n{server.output()}")
        time.sleep(0.1)


def answering_pid(server: Server, response: httpx.Response, candidates: set[int]) -> int:
    """Which of the candidate processes holds the server end of the (still open, kept-alive)
    connection that carried response. Linux only: /proc/net/tcp names the socket's inode, and the
    process with that inode among its descriptors is the worker that accepted it."""
    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    server_port = int(server.url.rsplit(":", 1)[1])
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
        if (local, remote) == (server_port, client_port):
            inode = f"socket:[{fields[9]}]"
            break
    for pid in candidates:
        with contextlib.suppress(OSError):  # a descriptor (or the process) can go meanwhile
            if any(os.readlink(fd) == inode for fd in Path(f"/proc/{pid}/fd").iterdir()):
                return pid
    raise AssertionError(f"none of {candidates} holds the connection from port {client_port}")
