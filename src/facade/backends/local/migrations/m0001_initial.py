"""Migration 0001: the baseline schema, every table of the first release.

Built from `tables.metadata` while it still equals version 1 (see the package docstring for
when this has to be frozen).
"""

from __future__ import annotations

from sqlalchemy import Connection

from facade.backends.local import tables

VERSION = 1
NAME = "initial"


def upgrade(conn: Connection) -> None:
    # checkfirst=False: the runner only calls this on a database without version 1, and a table
    # that exists anyway means someone built the schema by hand; failing says so.
    tables.metadata.create_all(conn, checkfirst=False)
