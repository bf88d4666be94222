"""Every example operation in playground/ runs against the seeded store and answers what its
.json says. The same files open in GraphiQL (/graphql?example=<name>)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from graphql import OperationDefinitionNode, OperationType, parse

from conftest import Api, make_settings, open_api

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
    """The value at a dotted path; a number is a list's index (`edges.0.node.id`)."""
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def test_playground_has_examples() -> None:
    assert len(EXAMPLES) >= 5
    for name in EXAMPLES:
        assert (PLAYGROUND / f"{name}.json").is_file(), f"{name}.graphql has no {name}.json"


def writes(query: str) -> bool:
    """Whether the example's document holds a mutation."""
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        for d in parse(query).definitions
    )


@pytest.fixture
async def example_api(api: Api, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The shared seeded store for an example that only reads; a freshly seeded one of its own
    for an example that writes, so what it writes (an order without a customer, a renamed
    group) never shows in another example's or test's answer, whatever order they run in."""
    if not writes((PLAYGROUND / f"{request.node.callspec.params['name']}.graphql").read_text()):
        yield api
        return
    own, _ = await open_api(make_settings(tmp_path))
    yield own
    await own.client.aclose()
    await own.store.aclose()


def test_the_examples_that_write_are_told_apart() -> None:
    assert {name for name in EXAMPLES if writes((PLAYGROUND / f"{name}.graphql").read_text())} >= {
        "afosto-order",
        "afosto-rename-group",
    }


@pytest.mark.parametrize("name", EXAMPLES)
async def test_playground_example_runs(example_api: Api, name: str) -> None:
    """An example is one operation, or (`operations`) several of one document run in order, as a
    user runs them in GraphiQL: each step's `variables` over what earlier steps `save` (dotted
    paths into their data), each step's `expect` and `expectCount` checked. `headers` go with
    every step (GraphiQL opens with them in its headers editor). An example that writes runs on
    a store of its own."""
    api = example_api
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
