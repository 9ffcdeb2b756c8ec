"""Shell completion's reads: a user's task numbers with their titles, and their tags.

A Tab press starts a whole sorted process, so this path imports neither SQLAlchemy nor
pydantic. The settings come from `configfile.given` (where `Settings` looks, in its order);
SQLite is read with the standard library, with writes refused, so a Tab press never creates
or changes a database; PostgreSQL with psycopg alone, in autocommit: each lookup is one
statement and one round trip, with the schema check inside it. These two statements are the
only SQL sorted spells out by hand; tests/test_completion.py runs them on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any, Protocol

from sorted_cli import schema
from sorted_cli.choices import View
from sorted_cli.configfile import embedded_database_path, given, remembered_user
from sorted_cli.urls import (
    database_key,
    is_postgres,
    libpq_url,
    normalise_url,
    postgres_connect_args,
    sqlite_path,
)

CONNECT_TIMEOUT_S = 2  # a Tab press waits this long to connect, and for an answer or a lock

# (is_deleted, completed) of the tasks in each view; None: either.
_VIEWS: dict[View, tuple[bool, bool | None]] = {
    View.open: (False, False),
    View.completed: (False, True),
    View.deleted: (True, None),
}
# Only the user's own rows, and only when the database is at this sorted's schema: a database
# behind or ahead of it offers nothing rather than an error in the middle of a command line.
_MINE = (
    "JOIN users AS u ON u.id = {table}.user_id "
    "WHERE u.email = ? AND u.is_deleted = ? "
    "AND (SELECT version_num FROM alembic_version) = ?"
)


class _Connection(Protocol):
    def execute(self, query: Any, params: Any = ..., /) -> Any: ...  # sqlite3's and psycopg's

    def close(self) -> None: ...


class Reader:
    """One user's view of one database, for the length of one Tab press."""

    def __init__(self, connection: _Connection, email: str, *, postgres: bool) -> None:
        self._connection = connection
        self._email = email
        self._postgres = postgres

    def _rows(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        if self._postgres:  # pragma: postgres
            query = query.replace("?", "%s")
        found = self._connection.execute(query, (self._email, False, schema.HEAD, *params))
        return list(found.fetchall())

    def task_titles(self, view: View, prefix: str, limit: int) -> list[tuple[int, str]]:
        """(number, title) of the user's tasks in `view` whose number starts with `prefix`,
        by number."""
        if prefix and not prefix.isdigit():
            return []
        deleted, completed = _VIEWS[view]
        in_view = [deleted] if completed is None else [deleted, completed]
        query = (
            "SELECT t.number, t.title FROM tasks AS t "
            + _MINE.format(table="t")
            + " AND t.is_deleted = ?"
            + ("" if completed is None else " AND t.completed = ?")
            + " AND CAST(t.number AS TEXT) LIKE ? ORDER BY t.number LIMIT ?"
        )
        rows = self._rows(query, *in_view, f"{prefix}%", limit)
        return [(int(number), str(title)) for number, title in rows]

    def tags(self, prefix: str, limit: int) -> list[str]:
        """The tags the user's tasks carry that start with `prefix`, in order."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = (
            "SELECT DISTINCT g.name FROM task_tags AS g "
            + _MINE.format(table="g")
            + " AND g.name LIKE ? ESCAPE '\\' ORDER BY g.name LIMIT ?"
        )
        return [str(name) for (name,) in self._rows(query, pattern, limit)]


@contextmanager
def reader(*, database_url: str | None, user: str | None) -> Iterator[Reader | None]:
    """A Reader on the database and for the user the command line names (else the settings
    name); None when there is nobody to complete for or no database file yet."""
    url = normalise_url(
        database_url or given("database_url") or f"sqlite:///{embedded_database_path()}"
    )
    email = user or given("user") or remembered_user(database_key(url))
    if email is None or not email.strip():  # nobody has used this database yet
        yield None
        return
    email = email.strip().lower()
    if is_postgres(url):
        import threading

        import psycopg

        connect_args = postgres_connect_args(url, connect_timeout=CONNECT_TIMEOUT_S)
        with psycopg.connect(  # pragma: postgres
            libpq_url(url), autocommit=True, **connect_args
        ) as connection:
            # A query stuck behind a lock (a migration running) is cancelled, not waited for.
            timer = threading.Timer(CONNECT_TIMEOUT_S, connection.cancel_safe)
            timer.daemon = True
            timer.start()
            try:
                yield Reader(connection, email, postgres=True)
            finally:
                timer.cancel()
        return
    path = sqlite_path(url)
    if path is None or not path.is_file():  # never create a database on a Tab press
        yield None
        return
    import sqlite3

    # mode=rw never creates the file; query_only refuses any write. (mode=ro would leave the
    # WAL's -wal and -shm files behind when it has to create them.)
    existing = f"{path.resolve().as_uri()}?mode=rw"
    with closing(sqlite3.connect(existing, uri=True, timeout=CONNECT_TIMEOUT_S)) as database:
        database.execute("PRAGMA query_only = ON")
        yield Reader(database, email, postgres=False)
