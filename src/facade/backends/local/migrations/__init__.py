"""The local store's schema migrations, applied in order by `facade.backends.local.migrate`.

Each migration is a module `mNNNN_<name>.py` with an `upgrade(sync_conn)` that runs inside the
runner's transaction; add it to `MIGRATIONS` below. Migration 0001 builds the baseline from
`tables.metadata`; every later one is an explicit ALTER (or CREATE) of what changed, and
`tables.py` always describes the newest schema.

Before adding migration 0002, freeze 0001: replace its `metadata.create_all` by the 0001 table
definitions themselves, because from then on `tables.metadata` is newer than version 1 and a
fresh database would otherwise get the new columns twice (once from 0001, again from 0002).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection

from facade.backends.local.migrations import m0001_initial


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection], None]


MIGRATIONS: tuple[Migration, ...] = (Migration(m0001_initial.VERSION, m0001_initial.NAME, m0001_initial.upgrade),)

__all__ = ["MIGRATIONS", "Migration"]
