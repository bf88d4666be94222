"""The routing table: checked against the interfaces, the clients and the contracts at start-up,
and the README's coverage section rendered from it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conftest import make_settings
from facade.backends import compose as composing
from facade.backends.compose import CLIENTS, compose
from facade.backends.routes import AFOSTO, CONTRACTS, FLECS, FLOW, ROUTES, Contract, Route, RouteError, check, coverage
from facade.cli import README_BEGIN, README_END, readme_section

ROOT = Path(__file__).resolve().parents[2]


# A backend interface, a client and a contract of our own, small enough to break on purpose.


class Widgets:
    async def get_many(self, ids: list[int]) -> dict[int, object]: ...

    async def create(self, name: str) -> object: ...


class FakeBackend:
    @property
    def widgets(self) -> Widgets: ...

    async def aclose(self) -> None: ...


class WidgetPart:
    async def create(self, name: str) -> object: ...

    def read(self, body: bytes) -> object: ...  # a helper: synchronous, so not an operation

    async def _one(self, widget_id: int) -> object: ...  # private: not an operation


class WidgetApi:
    widgets: WidgetPart


CONTRACT = {"Widget API": Contract("Widget API v1", "`widgets.yaml`", ("POST /widgets", "GET /widgets"))}
GOOD = Route("widgets", "create", "Widget API", ("POST /widgets",))


def problems(*routes: Route, part: type = WidgetPart) -> str:
    api = type("Api", (), {"__annotations__": {"widgets": part}})
    with pytest.raises(RouteError) as raised:
        check(routes, {"Widget API": api}, backend=FakeBackend, contracts=CONTRACT)
    return str(raised.value)


def test_the_routing_table_agrees_with_the_interfaces_the_clients_and_the_contracts() -> None:
    check(ROUTES, CLIENTS)  # raises when not


def test_a_consistent_small_table_passes() -> None:
    check([GOOD], {"Widget API": WidgetApi}, backend=FakeBackend, contracts=CONTRACT)


def test_a_domain_the_interface_lacks_is_refused() -> None:
    assert "has no domain 'gadgets'" in problems(GOOD, dataclasses.replace(GOOD, domain="gadgets"))


def test_a_method_the_interface_lacks_is_refused() -> None:
    class Extra(WidgetPart):
        async def destroy(self, widget_id: int) -> None: ...

    found = problems(GOOD, dataclasses.replace(GOOD, method="destroy"), part=Extra)
    assert "Widgets has no method 'destroy'" in found


def test_a_method_the_client_lacks_is_refused() -> None:
    found = problems(GOOD, dataclasses.replace(GOOD, method="get_many", operations=("GET /widgets",)))
    assert "the Widget API client has no widgets.get_many" in found


def test_an_api_without_a_client_is_refused() -> None:
    assert "no client for the API 'Gadget API'" in problems(GOOD, dataclasses.replace(GOOD, api="Gadget API"))


def test_an_operation_claimed_twice_is_refused() -> None:
    assert "widgets.create is already routed to Widget API" in problems(GOOD, GOOD)


def test_an_operation_outside_the_contract_is_refused() -> None:
    found = problems(dataclasses.replace(GOOD, operations=("DELETE /widgets",)))
    assert "'DELETE /widgets' is not an operation of the Widget API contract" in found


def test_a_route_without_an_operation_is_refused() -> None:
    assert "names no contract operation" in problems(dataclasses.replace(GOOD, operations=()))


def test_a_client_method_routed_nowhere_is_refused() -> None:
    class Extra(WidgetPart):
        async def get_many(self, ids: list[int]) -> dict[int, object]: ...

    assert "widgets.get_many is routed nowhere" in problems(GOOD, part=Extra)


def test_every_problem_is_named_at_once() -> None:
    found = problems(dataclasses.replace(GOOD, domain="gadgets"), dataclasses.replace(GOOD, api="Gadget API"))
    assert "has no domain 'gadgets'" in found
    assert "no client for the API 'Gadget API'" in found
    assert "widgets.create is routed to Gadget API (remove it here)" in found


def test_compose_refuses_to_start_on_an_inconsistent_table(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    broken = (*ROUTES, dataclasses.replace(ROUTES[0], api=FLOW))
    monkeypatch.setattr(composing, "ROUTES", broken)

    with pytest.raises(RouteError, match="already routed to FLECS Console"):
        compose(make_settings(tmp_path), local=None)  # type: ignore[arg-type]  # refused before the store is used


def test_each_api_is_routed_once_per_interface_method() -> None:
    assert {r.api for r in ROUTES} == {FLECS, FLOW, AFOSTO}
    assert len({(r.domain, r.method) for r in ROUTES}) == len(ROUTES)


def test_the_generated_api_is_one_route_naming_every_generated_operation() -> None:
    afosto = [r for r in ROUTES if r.api == AFOSTO and r.domain == "afosto"]

    assert [(r.domain, r.method) for r in afosto] == [("afosto", "call")]
    assert len(afosto[0].operations) == len(set(afosto[0].operations)) == 544
    assert set(afosto[0].operations) == set(CONTRACTS[AFOSTO].operations)


def test_every_commerce_method_is_routed_to_afosto_and_checks_the_tenant() -> None:
    from facade.backends.interfaces import CommerceBackend
    from facade.backends.routes import operations_of

    commerce = {r.method: r for r in ROUTES if r.domain == "commerce"}

    assert sorted(commerce) == operations_of(CommerceBackend)
    assert {r.api for r in commerce.values()} == {AFOSTO}
    assert all("GET /iam/tenants/{id}" in r.operations for r in commerce.values())


def test_the_readme_coverage_section_is_the_rendered_table() -> None:
    readme = (ROOT / "README.md").read_text()
    start, end = readme_section(readme)

    assert readme[start:end] == coverage(ROUTES), "README is out of date: run `facade routes --write README.md`"
    assert readme.count(README_BEGIN) == readme.count(README_END) == 1


def test_the_tests_the_table_names_exist() -> None:
    defined = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        defined.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), flags=re.MULTILINE))

    named = {t for r in ROUTES for t in r.tests}
    assert named
    assert named - defined == set()
