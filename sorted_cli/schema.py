"""The schema revisions this version of sorted knows, without importing Alembic.

Every command checks the database's revision against HEAD with one cheap query; only when it
differs is Alembic imported (to migrate the embedded database, or to explain what is wrong).
`tests/test_migrations.py` keeps this list equal to the scripts in `migrations/versions/`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sorted_cli.errors import SchemaError

REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004", "0005", "0006")  # oldest first
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


def only_revision(rows: Sequence[str]) -> str | None:
    """The revision alembic_version holds (None when it holds none). Alembic keeps one row for
    sorted's single line of revisions; more is damage (a stray INSERT, a half-done stamp) that
    no command should work around, since the schema matches at most one of them."""
    if len(rows) <= 1:
        return rows[0] if rows else None
    raise SchemaError(
        f"The database's alembic_version table holds {len(rows)} rows ({', '.join(sorted(rows))}) "
        f"where it should hold one, the schema's revision: {_repair(rows)}, then run "
        "`sorted db upgrade`."
    )


def _repair(rows: Sequence[str]) -> str:
    """Which rows to delete: when only one is a revision this sorted knows, that one is likely
    right (an unknown one may be a newer sorted's stamp); otherwise only the tables can tell."""
    known = [row for row in rows if not is_newer_than_sorted(row)]
    if len(known) != 1:
        return (
            "delete the rows of revisions the tables do not match "
            "(DELETE FROM alembic_version WHERE version_num = '...')"
        )
    keep = known[0]
    others = " and ".join(sorted(row for row in rows if row != keep))
    return (
        f"{keep} is a revision this sorted knows, likely the right one, and {others} not (if a "
        f"newer sorted stamped it, upgrade sorted instead); to keep {keep}, "
        f"DELETE FROM alembic_version WHERE version_num <> '{keep}'"
    )
