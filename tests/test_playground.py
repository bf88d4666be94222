"""Every example operation in playground/ runs against the seeded store and answers what its
.json says. The same files open in GraphiQL (/graphql?example=<name>)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import Api

PLAYGROUND = Path(__file__).resolve().parents[1] / "playground"
EXAMPLES = sorted(p.stem for p in PLAYGROUND.glob("*.graphql"))


def contains(actual: Any, expected: Any, path: str = "") -> None:
    """`expected` is a subset of `actual`: dicts by key, a list's items each against the first of `actual`."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} is missing"
            contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert actual, f"{path}: expected a non-empty list"
        for i, value in enumerate(expected):
            contains(actual[i], value, f"{path}[{i}]")
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def dig(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[part]
    return data


def test_playground_has_examples() -> None:
    assert len(EXAMPLES) >= 5
    for name in EXAMPLES:
        assert (PLAYGROUND / f"{name}.json").is_file(), f"{name}.graphql has no {name}.json"


@pytest.mark.parametrize("name", EXAMPLES)
async def test_playground_example_runs(api: Api, name: str) -> None:
    """An example is one operation, or (`operations`) several of one document run in order, as a
    user runs them in GraphiQL: each step's `variables` over what earlier steps `save` (dotted
    paths into their data), each step's `expect` and `expectCount` checked. `headers` go with
    every step (GraphiQL opens with them in its headers editor)."""
    spec = json.loads((PLAYGROUND / f"{name}.json").read_text())
    query = (PLAYGROUND / f"{name}.graphql").read_text()
    token = await api.login(spec["signIn"]) if spec.get("signIn") else None
    saved: dict[str, Any] = dict(spec.get("variables") or {})

    for step in spec.get("operations") or [spec]:
        variables = {**saved, **(step.get("variables") or {})}
        data = await api.data(
            query, variables or None, token=token, headers=spec.get("headers"), operation_name=step.get("name")
        )

        contains(data, step.get("expect", {}))
        for dotted, count in step.get("expectCount", {}).items():
            assert len(dig(data, dotted)) == count, dotted
        saved.update({variable: dig(data, dotted) for variable, dotted in step.get("save", {}).items()})


@pytest.mark.parametrize("name", EXAMPLES)
async def test_playground_example_opens_in_graphiql(api: Api, name: str) -> None:
    response = await api.client.get(f"/graphql?example={name}", headers={"Accept": "text/html"})

    assert response.status_code == 200
    first_line = (PLAYGROUND / f"{name}.graphql").read_text().splitlines()[0]
    assert json.dumps(first_line)[1:-1].replace("<", "\\u003c").replace(">", "\\u003e") in response.text
    headers = json.loads((PLAYGROUND / f"{name}.json").read_text()).get("headers")
    if headers:  # GraphiQL's headers editor opens with them
        assert json.dumps(json.dumps(headers, indent=2))[1:-1] in response.text
