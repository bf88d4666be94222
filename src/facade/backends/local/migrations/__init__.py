"""The local store's Alembic environment: `env.py`, the revision template and `versions/`.

It ships inside the package and needs no alembic.ini: `facade.backends.local.migrate` builds the
`alembic.config.Config` in code and hands Alembic an open connection. Revisions are numbered
`0001`, `0002`, ...; `tables.py` always describes the head revision's schema, and a test fails
when the two differ. Add one with `facade db revision -m "what changes"` (README, Command line).
"""
