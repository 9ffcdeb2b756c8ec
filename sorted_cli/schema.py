"""The schema revisions this version of sorted knows, without importing Alembic.

Every command checks the database's revision against HEAD with one cheap query; only when it
differs is Alembic imported (to migrate the embedded database, or to explain what is wrong).
`tests/test_migrations.py` keeps this list equal to the scripts in `migrations/versions/`.
"""

from __future__ import annotations

REVISIONS: tuple[str, ...] = ("0001",)  # oldest first
HEAD = REVISIONS[-1]
