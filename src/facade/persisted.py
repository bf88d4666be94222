"""Persisted documents: trusted documents registered ahead of time, and Apollo's automatic
persisted queries (APQ).

A request names its document in one of three ways:

- `query`: the text itself;
- `documentId` (the GraphQL-over-HTTP persisted-documents proposal): `sha256:<hex>` or `<hex>`;
- `extensions.persistedQuery` = `{"version": 1, "sha256Hash": "<hex>"}` (APQ), with or without
  the text: without, the document must be known; with, the text must hash to it, and is then
  remembered for the next hash-only request.

Trusted documents are a JSON manifest `{"<sha256 hex>": "<document>"}` (what `facade documents
register` writes, and what a frontend build commits). With `trusted_documents` on, only they run,
whichever way they are named, and APQ stores nothing new. The APQ store is a per-process LRU
bounded in bytes of document text.

Refusals (`DocumentRefused`, each with `code`):

    PERSISTED_QUERY_NOT_FOUND      the hash names no known document: send the text with it
    PERSISTED_QUERY_NOT_SUPPORTED  hash-only request while APQ is off
    PERSISTED_QUERY_HASH_MISMATCH  the text does not hash to the given hash (HTTP 400)
    PERSISTED_QUERY_INVALID        persistedQuery or documentId is not of the shape above (HTTP 400)
    DOCUMENT_NOT_TRUSTED           trusted-documents mode, and the document is not registered

Imports settings only.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from facade.settings import Settings

HEX = re.compile(r"^[0-9a-f]{64}$")


class DocumentRefused(Exception):
    """The request's document is not one facade may run; `code` says why."""

    def __init__(self, message: str, code: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def sha256(document: str) -> str:
    """The identifier of a document: the hex SHA-256 of its UTF-8 text, exactly as sent."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def load_manifest(path: Path) -> dict[str, str]:
    """`{hash: document}` from a manifest file; a `sha256:` prefix on the keys is accepted. Raises
    ValueError when a key is not the SHA-256 of its document."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object of hash -> document")
    manifest: dict[str, str] = {}
    for key, document in raw.items():
        digest = key.removeprefix("sha256:")
        if not isinstance(document, str) or sha256(document) != digest:
            raise ValueError(f"{path}: {key} is not the SHA-256 of its document")
        manifest[digest] = document
    return manifest


def register(documents: Iterable[str], manifest: Mapping[str, str] | None = None) -> dict[str, str]:
    """The manifest with `documents` added, sorted by hash (stable diffs when committed)."""
    merged = dict(manifest or {})
    for document in documents:
        merged[sha256(document)] = document
    return dict(sorted(merged.items()))


class PersistedDocuments:
    """Turns a request's `query` / `documentId` / `extensions.persistedQuery` into the text to run."""

    def __init__(
        self,
        trusted: Mapping[str, str] | None = None,
        *,
        trusted_only: bool = False,
        apq: bool = True,
        apq_bytes: int = 10_000_000,
    ) -> None:
        self.trusted = dict(trusted or {})
        self.trusted_only = trusted_only
        self.apq = apq
        self.remembered: LRUCache[str, str] = LRUCache(maxsize=apq_bytes, getsizeof=len)

    @classmethod
    def from_settings(cls, settings: Settings) -> PersistedDocuments:
        path = settings.trusted_documents_file
        trusted = load_manifest(path) if path is not None else {}
        if settings.trusted_documents and path is None:
            raise ValueError("FACADE_TRUSTED_DOCUMENTS needs FACADE_TRUSTED_DOCUMENTS_FILE")
        return cls(
            trusted,
            trusted_only=settings.trusted_documents,
            apq=settings.persisted_queries,
            apq_bytes=settings.persisted_queries_bytes,
        )

    def resolve(self, query: Any, extensions: Any, document_id: Any) -> str:
        """The document text of a request, or DocumentRefused."""
        digest = self._digest(extensions, document_id)
        if digest is None:
            if not isinstance(query, str):
                raise DocumentRefused("Give a `query`.", "BAD_REQUEST", 400)
            if self.trusted_only and sha256(query) not in self.trusted:
                raise DocumentRefused("Only registered documents run here: send its hash.", "DOCUMENT_NOT_TRUSTED")
            return query
        if isinstance(query, str) and query:
            if sha256(query) != digest:
                raise DocumentRefused(
                    "The document does not hash to the given sha256Hash.", "PERSISTED_QUERY_HASH_MISMATCH", 400
                )
            if digest not in self.trusted:
                if self.trusted_only:
                    raise DocumentRefused("Only registered documents run here.", "DOCUMENT_NOT_TRUSTED")
                if self.apq:
                    self.remembered[digest] = query
            return query
        known = self.trusted.get(digest)
        if known is None and not self.trusted_only:
            if not self.apq and not self.trusted:
                raise DocumentRefused("PersistedQueryNotSupported", "PERSISTED_QUERY_NOT_SUPPORTED")
            known = self.remembered.get(digest)
        if known is None:
            raise DocumentRefused("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")
        return known

    @staticmethod
    def _digest(extensions: Any, document_id: Any) -> str | None:
        if document_id is not None:
            if not isinstance(document_id, str) or not HEX.match(digest := document_id.removeprefix("sha256:")):
                raise DocumentRefused("`documentId` must be sha256:<64 hex digits>.", "PERSISTED_QUERY_INVALID", 400)
            return digest
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is None:
            return None
        if (
            not isinstance(persisted, dict)
            or persisted.get("version") != 1
            or not isinstance(persisted.get("sha256Hash"), str)
            or not HEX.match(persisted["sha256Hash"])
        ):
            raise DocumentRefused(
                "`extensions.persistedQuery` must be {version: 1, sha256Hash: <64 hex digits>}.",
                "PERSISTED_QUERY_INVALID",
                400,
            )
        return str(persisted["sha256Hash"])


__all__ = ["DocumentRefused", "PersistedDocuments", "load_manifest", "register", "sha256"]
