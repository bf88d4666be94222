"""Settings: read once at start-up from FACADE_* variables (or a .env file), then passed explicitly.

Nothing else in the package reads os.environ. A leaf module: anyone may import it.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACADE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite+aiosqlite:///./facade.db",
        description="SQLAlchemy URL of the local store: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db.",
    )
    seed_on_start: bool = Field(True, description="Create and seed an empty store on start-up.")
    seed_products: int = Field(200, ge=0, description="Products made by the start-up seed.")

    jwt_secret: SecretStr | None = Field(
        None,
        description="HMAC secret for the tokens facade issues and verifies. When unset, one is "
        "generated into jwt_secret_file and reused, so every worker and restart agrees.",
    )
    jwt_secret_file: Path = Path(".facade-secret")
    jwt_algorithm: JwtAlgorithm = Field(
        "HS256", description="HS256/384/512 with jwt_secret; RS256 with jwt_private_key_file (the sandbox's JWKS)."
    )
    jwt_private_key_file: Path | None = Field(
        None, description="PEM RSA private key the tokens are signed with when jwt_algorithm is RS256."
    )
    jwt_issuer: str = "facade"
    jwt_ttl_seconds: int = Field(3600, gt=0)

    max_page_size: int = Field(1000, gt=0, description="Largest `first` a connection accepts.")
    default_page_size: int = Field(20, gt=0, description="`first` of a connection that gives none.")

    # Limits on a query document, checked before anything runs (graph/limits.py, README "Limits").
    max_document_length: int = Field(
        100_000, gt=0, description="Characters a query document may have (MAX_DOCUMENT_LENGTH_EXCEEDED)."
    )
    max_tokens: int = Field(
        2_000, gt=0, description="Tokens (comments included) a document may have; parsing stops at the next one."
    )
    max_depth: int = Field(12, gt=0, description="Nested fields an operation may have (MAX_DEPTH_EXCEEDED).")
    max_aliases: int = Field(30, ge=0, description="Aliases a document may use, fragments expanded.")
    max_directives: int = Field(50, ge=0, description="Directives a document may use, fragments expanded.")
    max_repeated_fields: int = Field(
        20,
        gt=0,
        description="Selections of one field (response name) one selection set may gather, fragments included.",
    )
    max_cost: int = Field(
        50_000,
        gt=0,
        description="Largest cost of an operation, in kB its response's data may hold at worst (COST_LIMIT_EXCEEDED).",
    )
    assumed_list_size: int = Field(
        10, gt=0, description="Items the cost counts for a list that has no `first` (a store's tills, ...)."
    )
    document_cache_bytes: int = Field(
        64_000_000,
        ge=0,
        description="Memory (estimated: 512 bytes per character of a document) for parsed and validated "
        "documents, and as much again for compiled plans.",
    )

    # Persisted documents (persisted.py, README "Trusted documents").
    trusted_documents: bool = Field(
        False, description="Run only the documents of trusted_documents_file (DOCUMENT_NOT_TRUSTED for others)."
    )
    trusted_documents_file: Path | None = Field(
        None, description='JSON manifest {"<sha256 hex>": "<document>"}, as `facade documents register` writes it.'
    )
    persisted_queries: bool = Field(
        True, description="Automatic persisted queries (Apollo APQ): a document sent with its hash is remembered."
    )
    persisted_queries_bytes: int = Field(
        10_000_000, ge=0, description="Characters of document text the APQ store keeps (per process, LRU)."
    )

    playground_dir: Path | None = Field(None, description="Folder of example operations for GraphiQL.")
    # Above the objects the requests in flight hold (about 5,000 each for catalog-100 at 32
    # connections): at 50,000 a collection ran every ~12 requests, each traversing them (README).
    gc_threshold: int = Field(200_000, gt=0, description="Generation-0 threshold of the garbage collector.")
    compiled: bool = Field(True, description="Run known query documents through compiled plans (graph/compiled.py).")
    request_timeout: float = Field(
        15.0,
        gt=0,
        description="Seconds a GraphQL request may take from its arrival: upstream calls, their retries and "
        "Retry-After waits share it; fields still waiting then answer UPSTREAM_TIMEOUT.",
    )

    # Upstream mode: "local" answers from the local store; a base URL answers from that REST API.
    flecs_url: str = Field("local", description="FLECS Console API: local, or e.g. https://console.flecs.tech")
    flow_url: str = Field("local", description="Flow Retail API: local, or e.g. https://api.flowretail.com/v2")
    afosto_url: str = Field(
        "local",
        description="Afosto API: local (the sandbox's emulation, in process), or e.g. https://api.afosto.io",
    )
    afosto_client_id: str | None = Field(
        None, description="Afosto service account (client credentials) for callers that send no Afosto token."
    )
    afosto_client_secret: SecretStr | None = Field(None, description="The service account's secret (never logged).")
    afosto_scope: str | None = Field(None, description="The scopes the service account's token asks for.")
    afosto_batch_size: int = Field(
        100,
        gt=0,
        le=1000,
        description="Keys one Afosto search carries in its `in` constraint (SKUs, order ids, ...): a batch "
        "of more keys is sent as that many calls of at most this many.",
    )
    # How upstream mode checks the tokens an API issued (backends/upstream/verify.py, README "Signing in").
    flecs_jwks_url: str | None = Field(
        None,
        description="JWK Set URL of the keys FLECS signs its JWTs with: when set, FLECS tokens are verified "
        "locally against it (asymmetric algorithms only) instead of through FLECS's auth/validate.",
    )
    flow_jwks_url: str | None = Field(
        None,
        description="JWK Set URL of Flow Retail's token keys: when set, its device and access tokens are "
        "verified locally against it instead of by asking Flow Retail who the caller is.",
    )
    jwks_lifetime: int = Field(300, gt=0, description="Seconds a fetched JWK Set is used before it is fetched again.")
    token_cache_size: int = Field(
        10_000, gt=0, description="Upstream tokens whose verdict is remembered (LRU, per process)."
    )
    token_cache_seconds: int = Field(
        300, gt=0, description="How long a verdict is kept for a token whose expiry cannot be read (no JWT `exp`)."
    )
    upstream_timeout: float = Field(10.0, gt=0, description="Seconds an upstream call may take.")
    upstream_connect_timeout: float = Field(3.0, gt=0)
    upstream_max_connections: int = Field(100, gt=0, description="Pooled connections per upstream API.")
    upstream_retries: int = Field(2, ge=0, description="Retries of an idempotent GET (writes never retry).")
    upstream_backoff: float = Field(0.2, ge=0, description="Base of the exponential backoff, seconds.")
    upstream_concurrency: int = Field(16, gt=0, description="One-by-one GETs of one batch in flight at once.")
    upstream_sort_limit: int = Field(
        1000,
        ge=0,
        description="Longest list facade fetches whole to sort or page it itself where the upstream API cannot "
        "(FLECS products in any order but by id ascending); a longer one is refused with BAD_USER_INPUT.",
    )
    upstream_transport: Literal["aiohttp", "httpx"] = "aiohttp"
    forward_headers: list[str] = Field(
        ["authorization", "x-session-id", "accept-language", "x-afosto-authorization"],
        description="Request headers that may reach an upstream (lower case). Nothing else is forwarded.",
    )

    # Rate limits (ratelimit.py), in the `limits` notation: "N/second|minute|hour|day", several
    # joined by ";" (e.g. "20/second;1200/minute"). A real frontend stays far below them.
    rate_limit_per_principal: str = Field(
        "1200/minute", description="Requests per signed-in principal (a verified token's subject)."
    )
    rate_limit_per_address: str = Field(
        "600/minute", description="Requests per client address from callers without a valid token."
    )
    login_attempts_per_username: str = Field(
        "5/minute",
        description="Failed tries per account at a secret: login per username, deviceLogin per user code, "
        "linkDevice per device code, authorizeDevice per caller. A success clears the count.",
    )
    login_attempts_per_address: str = Field(
        "30/minute",
        description="Tries at a secret (login, deviceLogin, linkDevice, authorizeDevice, activateLicense "
        "with a key) per client address, successful ones included.",
    )
    trusted_proxies: list[str] = Field(
        [],
        description="Addresses or networks of reverse proxies whose X-Forwarded-For names the client "
        '(e.g. ["127.0.0.1", "10.0.0.0/8"]). Empty: the socket peer is the client.',
    )
    redis_url: str | None = Field(
        None,
        description="Redis that every worker and instance shares, e.g. redis://127.0.0.1:6379/0: rate-limit "
        "counts live there. Unset: counts live in each process's memory.",
    )
    rate_limit_key_prefix: str = Field("facade-ratelimit", description="Prefix of facade's keys in Redis.")

    # The HTTP edge (GraphQL over HTTP).
    max_body_bytes: int = Field(
        1_048_576,
        gt=0,
        description="Largest POST body, in bytes; a larger one is refused with HTTP 413 while it is read.",
    )
    max_url_bytes: int = Field(
        16_384,
        gt=0,
        description="Largest request target (path and query string of a GET), in bytes; refused with HTTP 414.",
    )
    cors_origins: list[str] = Field(
        [],
        description='Origins a browser app may call facade from (CORS), e.g. ["https://shop.example"]; '
        '["*"] for any. None by default.',
    )

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = Field(1, ge=1)
    log_level: str = "info"

    @field_validator(
        "rate_limit_per_principal",
        "rate_limit_per_address",
        "login_attempts_per_username",
        "login_attempts_per_address",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        parse_many(value)  # ValueError, reported with the setting's name, when malformed
        return value

    def resolved_jwt_secret(self) -> str:
        """The configured secret, or the one kept in jwt_secret_file (created once, mode 0600)."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        path = self.jwt_secret_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: when several workers start together, one writes and the others read its secret.
            try:
                with path.open("x", encoding="ascii") as out:
                    path.chmod(0o600)
                    out.write(secrets.token_urlsafe(48))
            except FileExistsError:
                pass
        return path.read_text(encoding="ascii").strip()
