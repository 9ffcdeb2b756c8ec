"""The schema revisions this version of sorted knows, without importing Alembic.

Every command checks the database's revision against HEAD with one cheap query; only when it
differs is Alembic imported (to migrate the embedded database, or to explain what is wrong).
`tests/test_migrations.py` keeps this list equal to the scripts in `migrations/versions/`.
"""

from __future__ import annotations

REVISIONS: tuple[str, ...] = ("0001", "0002")  # oldest first
HEAD = REVISIONS[-1]


def describe(revision: str | None) -> str:
    """Where a database's schema stands, in words."""
    if revision is None:
        return "empty (no sorted schema)"
    if revision == HEAD:
        return f"{revision} (head)"
    if revision in REVISIONS:
        return f"{revision} (behind: head is {HEAD})"
    return f"{revision} (newer than this sorted, which knows up to {HEAD})"


def is_newer_than_sorted(revision: str | None) -> bool:
    return revision is not None and revision not in REVISIONS


NEWER_ADVICE = "upgrade sorted (someone migrated it with a newer version)"
