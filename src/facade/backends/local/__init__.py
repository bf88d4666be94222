"""The local store: the embedded default backend, SQLite out of the box, PostgreSQL for a store
shared by several instances. SQLAlchemy Core, one module per domain."""

from __future__ import annotations

from facade.backends.local.store import LocalStore, create_engine

__all__ = ["LocalStore", "create_engine"]
