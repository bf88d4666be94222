"""A caller that hangs up mid-body (facade dropping a slow call at its deadline) is not a crash
of the sandbox: each API answers it as a client gone, and the server logs no traceback. The
handler is the app's (facade.hangups), so a route of each skin that reads its body before
anything else stands for the rest (Flow's read a device token first)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_settings
from facade.sandbox import create_sandbox_app
from facade.sandbox.app import create_afosto_app
from support.asgi import hang_up


@pytest.mark.parametrize(
    ("path", "token"),
    [
        ("/api/v2/auth/login", False),
        ("/api/v2/products/apps/reviews", True),
        ("/afosto/wms/inventory", True),
    ],
)
async def test_a_body_cut_short_is_a_client_gone_not_a_crash(tmp_path: Path, path: str, token: bool) -> None:
    app = create_sandbox_app(make_settings(tmp_path))
    headers = {"authorization": "Bearer not-checked-before-the-body"} if token else {}

    assert await hang_up(app, path, headers) == [499]


async def test_the_afosto_emulation_alone_answers_a_hang_up_too() -> None:
    # Local mode's Afosto fields call this app in process.
    assert await hang_up(create_afosto_app(), "/afosto/wms/inventory", {"authorization": "Bearer x"}) == [499]
