"""The committed SDL is the one the code builds: a change to the graph shows up in review."""

from __future__ import annotations

from pathlib import Path

from facade.cli import main
from facade.graph.schema import build_schema

SDL = Path(__file__).resolve().parents[1] / "schema" / "schema.graphql"


def test_exported_schema_matches_the_code() -> None:
    assert SDL.read_text(encoding="utf-8") == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale: run `facade schema export`"
    )


def test_schema_export_check_fails_on_drift(tmp_path: Path) -> None:
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")

    assert main(["schema", "export", "--output", str(stale), "--check"]) == 1
    assert main(["schema", "export", "--output", str(stale)]) == 0
    assert main(["schema", "export", "--output", str(stale), "--check"]) == 0
