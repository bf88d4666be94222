"""FLECS apps in the local store: app manifests (one per app, version and manifest schema version)
and the download tokens a licensed device asks for before pulling an app's image.

Both device-facing operations need a valid activation session (see `licenses.valid_session`);
FLECS answers 403 "Session not found" otherwise, and so do we.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select, tuple_

from facade.backends.interfaces import TokenResult
from facade.backends.local import tables as t
from facade.backends.local.base import Repository, utcnow
from facade.backends.local.licenses import valid_session
from facade.errors import Forbidden, NotFound
from facade.models import AppManifest, DownloadToken, check_semver, semver_key

SESSION_NOT_FOUND = "Session not found"


def build_manifest(row: Any) -> AppManifest:
    return AppManifest.model_validate(dict(row))


def pick_manifest(
    manifests: Sequence[AppManifest], manifest_version: str | None, max_manifest_version: str | None
) -> AppManifest:
    """FLECS's choice among an app version's manifests (sorted by schema version, oldest first):
    exactly `manifest_version` when given; else the newest not above `max_manifest_version`;
    else the newest. A device that can read only older manifests must not be handed a newer one,
    so nothing fitting is NotFound rather than a fallback."""
    if manifest_version is not None:
        for manifest in manifests:
            if manifest.schema_version == manifest_version:
                return manifest
        raise NotFound(f"No manifest of schema version {manifest_version} for this app version.")
    if max_manifest_version is not None:
        ceiling = semver_key(max_manifest_version)
        allowed = [m for m in manifests if semver_key(m.schema_version) <= ceiling]
        if not allowed:
            raise NotFound(f"No manifest of schema version {max_manifest_version} or older for this app version.")
        return allowed[-1]
    return manifests[-1]


class LocalApps(Repository):
    async def manifests_for(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], list[AppManifest]]:
        """Manifests per (app, version), sorted by schema version; keys without any are absent."""
        if not keys:
            return {}
        manifests = t.app_manifests
        stmt = select(manifests).where(tuple_(manifests.c.app, manifests.c.version).in_(set(keys)))
        grouped: dict[tuple[str, str], list[AppManifest]] = {}
        for row in await self.rows(stmt):
            grouped.setdefault((row["app"], row["version"]), []).append(build_manifest(row))
        for found in grouped.values():
            found.sort(key=lambda m: semver_key(m.schema_version))
        return grouped

    async def manifests_by_product(self, product_ids: Sequence[int]) -> dict[int, list[AppManifest]]:
        """Every manifest of each product, by app version then schema version; every key present."""
        grouped: dict[int, list[AppManifest]] = {product_id: [] for product_id in product_ids}
        if not product_ids:
            return grouped
        stmt = select(t.app_manifests).where(t.app_manifests.c.product_id.in_(set(product_ids)))
        for row in await self.rows(stmt):
            grouped[row["product_id"]].append(build_manifest(row))
        for found in grouped.values():
            found.sort(key=lambda m: (semver_key(m.version), m.version, semver_key(m.schema_version)))
        return grouped

    async def download_manifest(
        self,
        session_id: str,
        app: str,
        version: str,
        manifest_version: str | None,
        max_manifest_version: str | None,
    ) -> AppManifest:
        manifests = t.app_manifests
        async with self.engine.connect() as conn:
            if await valid_session(conn, session_id) is None:
                raise Forbidden(SESSION_NOT_FOUND)
            if manifest_version is not None:
                check_semver(manifest_version, "manifest_version")
            if max_manifest_version is not None:
                check_semver(max_manifest_version, "max_manifest_version")
            rows = list(
                (
                    await conn.execute(select(manifests).where(manifests.c.app == app, manifests.c.version == version))
                ).mappings()
            )
        if not rows:
            raise NotFound("No such app/version combination.")
        found = sorted((build_manifest(r) for r in rows), key=lambda m: semver_key(m.schema_version))
        return pick_manifest(found, manifest_version, max_manifest_version)

    async def create_token(self, session_id: str, app: str, version: str) -> TokenResult:
        """A registry login for one app version; an unofficial app gets none (FLECS's 204)."""
        async with self.engine.begin() as conn:
            session = await valid_session(conn, session_id)
            if session is None:
                raise Forbidden(SESSION_NOT_FOUND)
            is_official = (
                await conn.execute(select(t.products.c.is_official).where(t.products.c.app_id == app))
            ).scalar()
            has_manifest = exists().where(t.app_manifests.c.app == app, t.app_manifests.c.version == version)
            if is_official is None or not (await conn.execute(select(has_manifest))).scalar():
                raise NotFound("No such app/version combination.")
            if not is_official:
                return TokenResult(session=session, token=None)
            values: dict[str, Any] = {
                "app": app,
                "version": version,
                "session_id": session.id,
                "username": "dl-" + secrets.token_hex(4),
                "password": secrets.token_urlsafe(18),
                "created_at": utcnow(),
            }
            result = await conn.execute(t.download_tokens.insert().values(**values))
            token_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return TokenResult(session=session, token=DownloadToken.model_validate({"id": token_id, **values}))
