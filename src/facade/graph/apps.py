"""FLECS app manifests (per app, version and manifest schema version) and download tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from facade import models
from facade.graph.base import Info, Need, batched, root_field, root_mutation
from facade.graph.inputs import APP_ID, APP_VERSION, MANIFEST, SEMVER, SESSION_ID, arg
from facade.graph.licenses import Session, session_argument
from facade.graph.nodes import Node, node_type
from facade.manifests import manifest_errors
from facade.models import SEMVER_PATTERN, check_semver

if TYPE_CHECKING:
    from facade.graph.products import Product


def manifest_key(text: str) -> tuple[str, str, str]:
    """The loader key of an AppManifest id's key text `<app>:<version>:<schema version>` (FLECS
    app ids and versions hold no ':'); ValueError for anything else."""
    app, version, schema_version = text.split(":")  # ValueError unless three parts
    for part, longest in ((app, 200), (version, 100)):
        if not 1 <= len(part) <= longest or not part.isascii() or not part.isprintable() or " " in part:
            raise ValueError(text)
    if not SEMVER_PATTERN.fullmatch(schema_version):
        raise ValueError(text)
    return app, version, schema_version


def manifest_key_of(manifest: models.AppManifest) -> str:
    return f"{manifest.app}:{manifest.version}:{manifest.schema_version}"


# A manifest has no id in FLECS (it is `GET manifests/{app}/{version}` at a schema version), so
# its global id is made of those three and it has no `sourceId`.
@strawberry.type(description="A FLECS app manifest for one app version and manifest schema version.")
@node_type("AppManifest", "manifest", manifest_key, models.AppManifest, key_of=manifest_key_of, source_id=False)
class AppManifest(Node):
    app: str
    version: str
    schema_version: str = strawberry.field(description="The manifest's _schemaVersion.")
    manifest: JSON = strawberry.field(description="The manifest document (FLECS app manifest JSON schema).")

    product: Annotated[Product, strawberry.lazy("facade.graph.products")] | None = batched(
        "product_by_app", "app", description="The app product (its appId is the manifest's app)."
    )


@strawberry.type(description="Credentials to pull an official app's image.")
class DownloadToken:
    app: str
    version: str
    username: str
    password: str


@strawberry.type(description="The outcome of createDownloadToken: no token for an unofficial app.")
class DownloadTokenResult:
    session: Session
    token: DownloadToken | None
    official: bool


@strawberry.type(description="Whether a document is a valid FLECS app manifest.")
class ManifestValidation:
    valid: bool
    errors: list[str]


@strawberry.type
class AppQueries:
    @root_field(
        Need.PUBLIC,
        description="Download an app manifest (FLECS GET manifests/{app}/{version}) for a device session: the given "
        "`manifestVersion`, else the newest not above `maxManifestVersion`, else the newest.",
    )
    async def app_manifest(
        self,
        info: Info,
        app: Annotated[str, arg(APP_ID)],
        version: Annotated[str, arg(APP_VERSION)],
        manifest_version: Annotated[str | None, arg(SEMVER)] = None,
        max_manifest_version: Annotated[str | None, arg(SEMVER)] = None,
        session_id: Annotated[str | None, arg(SESSION_ID)] = None,
    ) -> AppManifest | None:
        session = session_argument(info, session_id)
        if manifest_version is not None:
            check_semver(manifest_version, "manifestVersion")
        if max_manifest_version is not None:
            check_semver(max_manifest_version, "maxManifestVersion")
        return await info.context.backend.apps.download_manifest(  # type: ignore[return-value]
            session, app, version, manifest_version, max_manifest_version
        )

    @root_field(Need.PUBLIC, description="Check a document against the FLECS app manifest JSON schema.")
    def validate_app_manifest(self, info: Info, manifest: Annotated[JSON, arg(MANIFEST)]) -> ManifestValidation:
        errors = manifest_errors(manifest)
        return ManifestValidation(valid=not errors, errors=errors)


@strawberry.type
class AppMutations:
    @root_mutation(Need.PUBLIC, description="Create a download token for an app version (FLECS POST tokens).")
    async def create_download_token(
        self,
        info: Info,
        app: Annotated[str, arg(APP_ID)],
        version: Annotated[str, arg(APP_VERSION)],
        session_id: Annotated[str | None, arg(SESSION_ID)] = None,
    ) -> DownloadTokenResult | None:
        r = await info.context.backend.apps.create_token(session_argument(info, session_id), app, version)
        token = (
            DownloadToken(
                app=r.token.app,
                version=r.token.version,
                username=r.token.username,
                password=r.token.password,
            )
            if r.token
            else None
        )
        return DownloadTokenResult(
            session=Session(id=r.session.id, timestamp=r.session.timestamp),
            token=token,
            official=token is not None,
        )
