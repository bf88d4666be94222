"""The committed SDL is the one the code builds: a change to the graph shows up in review."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema as build_graphql_schema

from facade.cli import main
from facade.graph.schema import build_schema

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


def test_exported_schema_matches_the_code() -> None:
    assert SDL.read_text(encoding="utf-8") == build_schema().sdl(), (
        "schema/schema.graphql is stale: run `facade schema export`"
    )


def test_exported_schema_names_its_root_types_explicitly() -> None:
    exported = build_graphql_schema(SDL.read_text(encoding="utf-8"))
    sdl = SDL.read_text(encoding="utf-8")

    assert sdl.startswith("schema {\n  query: Query\n  mutation: Mutation\n}\n")
    assert exported.query_type is not None
    assert exported.query_type.name == "Query"
    assert exported.mutation_type is not None
    assert exported.mutation_type.name == "Mutation"
    assert exported.subscription_type is None


def test_no_type_is_named_like_a_root_type_it_is_not() -> None:
    # Apollo Client's cache takes a type named Subscription (or Query, Mutation) for that root
    # type, whatever the schema says, and does not normalise its records.
    names = set(build_schema()._schema.type_map)

    assert "Subscription" not in names
    assert "CustomerSubscription" in names


def test_schema_export_check_fails_on_drift(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")

    assert main(["schema", "export", "--output", str(stale), "--check"]) == 1
    assert main(["schema", "export", "--output", str(stale)]) == 0
    assert main(["schema", "export", "--output", str(stale), "--check"]) == 0
