"""FLECS app manifests: validation against the published JSON schemas (draft-07).

The schema is picked by the manifest's `_schemaVersion`: 2.x manifests by the 2.x schema, anything
newer by the current one. A leaf: imports nothing of the project.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator


@cache
def _validator(name: str) -> Draft7Validator:
    text = resources.files("facade.data").joinpath(name).read_text(encoding="utf-8")
    return Draft7Validator(json.loads(text))


def schema_name_for(manifest: Any) -> str:
    version = manifest.get("_schemaVersion") if isinstance(manifest, dict) else None
    if isinstance(version, str) and version.startswith("2."):
        return "flecs-app-manifest-2.x.schema.json"
    return "flecs-app-manifest.schema.json"


def manifest_errors(manifest: Any) -> list[str]:
    """Every way `manifest` breaks its schema, as `path: message` lines; empty when valid."""
    validator = _validator(schema_name_for(manifest))
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in errors]
