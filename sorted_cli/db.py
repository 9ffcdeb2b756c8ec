"""Engines, and what a session's transactions do, on SQLite and PostgreSQL.

`sorted_cli.database` owns the database of a command (connecting, the schema check, retries,
error wording); this module makes the engines it uses and holds the rules it shares with
services: what a transaction is on each database (`transaction`, `long_read`,
`before_question`) and which statements write (`writes`).

An engine holds nothing of one command (no session, no callback, no bookkeeping), so engines
could live across commands in one process: what a command adds comes through execution
options (`ON_LOCK_WAIT`) and `sorted_cli.database`'s hooks.

A sorted process that runs one command keeps no pool: PostgreSQL connections are opened once
and closed with the session (NullPool); a worker of the command server keeps its engines and a
warm connection (`sorted_cli.engines`). SQLite files are made owner-only (0600),
use WAL and enforce foreign keys. An everyday command reads in a deferred transaction (a
snapshot, in WAL mode: no lock that holds up anyone) and takes the write lock only when it
writes (see `_WriteLock`); several processes that write queue on that lock, for up to
`lock_timeout` seconds.

Schema policy: a local SQLite database is migrated to head automatically on first use and after
an upgrade of sorted, unless the file holds other tables and no sorted schema (then it is some
other program's database, and sorted refuses to touch it) or is empty and was not made by
sorted (`sorted_cli.sqlitefile` makes, opens and checks the file); a PostgreSQL database is
shared, so everyday commands never change its schema and stop, asking for `sorted db upgrade`,
when it is not at head (`require_postgres_head`).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, make_url, text
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import visitors
from sqlalchemy.sql.dml import UpdateBase
from sqlmodel import Session

from sorted_cli import schema, sqlitefile
from sorted_cli.errors import ConfigError, DatabaseBusy, SchemaError
from sorted_cli.urls import (
    is_postgres,
    mask_password,
    mask_passwords_in,
    postgres_connect_args,
    sqlite_path,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sorted_cli.config import Settings

LOCK_NOTICE_AFTER_S = 1.0  # a wait for the SQLite write lock longer than this is said
# An execution option: what to call, once, when a statement has waited about a second for
# SQLite's write lock (a command's own notice; the engine holds none).
ON_LOCK_WAIT = "sorted_on_lock_wait"


# Everyday sessions on PostgreSQL use psycopg's dialect without its set-up queries.
registry.register("postgresql.sorted_psycopg", "sorted_cli.pgdialect", "QuickDialect")


def make_engine(settings: Settings, *, url: str | None = None, quick: bool = False) -> Engine:
    """An engine on `url` (default: the settings' database URL), ready for a command (`ready`):
    no pool for PostgreSQL, a prepared file for SQLite. `quick` (everyday commands) skips the
    dialect's set-up queries on PostgreSQL (see `sorted_cli.pgdialect`), makes connections that
    can bound every wait on the server (`sorted_cli.pgwaits`: the command sets the bounds on
    each connection) and keeps them in a pool where engines are kept (`sorted_cli.engines`)."""
    engine = new_engine(settings, url=url, quick=quick)
    ready(engine, settings, url=url)
    return engine


def new_engine(settings: Settings, *, url: str | None = None, quick: bool = False) -> Engine:
    """The engine `make_engine` makes, before it is made ready for a command."""
    url = url or settings.url
    try:
        if is_postgres(url):
            connect_args = postgres_connect_args(url, connect_timeout=settings.connect_timeout)
            if not quick:
                return create_engine(url, poolclass=NullPool, connect_args=connect_args)
            from sorted_cli.engines import pool_options

            connect_args["bounded"] = True
            target = make_url(url).set(drivername="postgresql+sorted_psycopg")
            return create_engine(target, connect_args=connect_args, **pool_options(settings))
        path = sqlite_path(url)
        engine = create_engine(url, connect_args={"timeout": settings.lock_timeout})
    except (ArgumentError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("invalid literal for int()"):
            reason = "the port must be a number from 1 to 65535"  # make_url reading the port
        else:
            from sorted_cli.database import one_line

            reason = mask_passwords_in(one_line(str(exc)))
        raise ConfigError(f"Invalid database URL {mask_password(url)}: {reason}") from None
    event.listen(engine, "connect", _on_sqlite_connect)
    write_lock = _WriteLock(wait_s=settings.lock_timeout)
    event.listen(engine, "begin", write_lock.begin)
    event.listen(engine, "before_cursor_execute", write_lock.before_write)
    if path is not None:
        sqlitefile.set_up(engine, path)
    return engine


def ready(engine: Engine, settings: Settings, *, url: str | None = None) -> None:
    """What each command does before it uses an engine, new or kept: on SQLite, make the file
    if it is not there, and check it if a process died with it open."""
    url = url or settings.url
    if is_postgres(url) or (path := sqlite_path(url)) is None:
        return
    sqlitefile.prepare(path, create_parent=url == settings.url and settings.is_embedded)
    sqlitefile.check_after_a_crash(engine, path)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # sorted, not the sqlite3 module, says BEGIN
    # SQLite's own lower() knows only ASCII; searches (`lower(title) LIKE lower(?)`) should
    # find "ÉCOLE" for "école" as they do on PostgreSQL.
    dbapi_connection.create_function("lower", 1, _lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _lower(text: str | None) -> str | None:
    return text.lower() if isinstance(text, str) else text


# An execution option: this transaction takes SQLite's write lock as it begins (it reads what
# it will write over, as a migration does).
LOCKS_AT_BEGIN = "sorted_locks_at_begin"
_HOLDS_WRITE_LOCK = "sorted.holds_write_lock"  # in a SQLite connection's info
_LOCK_TRY_S = 0.15  # one try for the write lock: how late a signal may be handled while it waits
_WRITING_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER"})


@dataclass(frozen=True)
class _WriteLock:
    """How a SQLite transaction takes the write lock, and how long it waits for it.

    A transaction begins with a plain (deferred) BEGIN and only reads, from a WAL snapshot,
    until its first statement that writes. Before that statement the reads are committed
    (they changed nothing) and the rest of the work runs in a BEGIN IMMEDIATE transaction.
    Upgrading the deferred transaction in place would fail at once with SQLITE_BUSY whenever
    another writer committed after its snapshot began; instead the statements that write check
    what they change themselves (as they do on PostgreSQL, where each runs in a transaction of
    its own), so earlier reads may be a moment old. A connection with `LOCKS_AT_BEGIN`
    (migrations, `transaction` blocks: work that reads what it then writes over) begins with
    BEGIN IMMEDIATE at once.

    Waiting for the lock is done in short tries of the busy timeout (`_LOCK_TRY_S`), so signals
    are handled while it waits: after about a second `on_wait` is called (once), and past
    `wait_s` in all the work stops with DatabaseBusy, nothing written. `on_wait` is the
    connection's `ON_LOCK_WAIT` execution option, if any.
    """

    wait_s: float

    def begin(self, connection: Connection) -> None:
        at_once = bool(connection.get_execution_options().get(LOCKS_AT_BEGIN))
        connection.info[_HOLDS_WRITE_LOCK] = at_once
        if at_once:
            self._begin_immediate(connection, connection.connection.dbapi_connection)
        else:
            connection.exec_driver_sql("BEGIN")

    def before_write(
        self,
        connection: Connection,
        _cursor: Any,
        sql: str,
        _params: Any,
        context: Any,
        _many: bool,
    ) -> None:
        if connection.info.get(_HOLDS_WRITE_LOCK) or not writes(sql, context):
            return
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        dbapi_connection.execute("COMMIT")  # the reads so far: nothing to keep but a snapshot
        self._begin_immediate(connection, dbapi_connection)
        connection.info[_HOLDS_WRITE_LOCK] = True

    def _begin_immediate(self, connection: Connection, dbapi_connection: Any) -> None:
        # Short tries rather than one long busy wait: a signal handler (Ctrl-C, SIGTERM) runs
        # only between C calls, so one long wait would hold it off until the wait ended.
        started = time.monotonic()
        on_wait: Callable[[], object] | None = connection.get_execution_options().get(ON_LOCK_WAIT)
        noticed = on_wait is None or self.wait_s <= LOCK_NOTICE_AFTER_S
        try:
            while True:
                left = self.wait_s - (time.monotonic() - started)
                if _began_immediate(dbapi_connection, min(_LOCK_TRY_S, max(0.0, left))):
                    return
                waited = time.monotonic() - started
                if waited >= self.wait_s:
                    break
                if not noticed and waited >= LOCK_NOTICE_AFTER_S:
                    noticed = True
                    assert on_wait is not None
                    on_wait()
        finally:
            _set_busy_timeout(dbapi_connection, self.wait_s)
        raise DatabaseBusy(
            "The database is busy: another sorted command has been writing to it for "
            f"{self.wait_s:g} s; try again when it is done (SORTED_LOCK_TIMEOUT waits longer)."
        )


def _began_immediate(dbapi_connection: Any, wait_s: float) -> bool:
    """BEGIN IMMEDIATE, waiting up to WAIT_S for the write lock; False when another writer
    kept it all that time."""
    _set_busy_timeout(dbapi_connection, wait_s)
    try:
        dbapi_connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
            raise
        return False
    return True


def _set_busy_timeout(dbapi_connection: Any, wait_s: float) -> None:
    dbapi_connection.execute(f"PRAGMA busy_timeout = {max(0, round(wait_s * 1000))}")


def writes(sql: str, context: Any) -> bool:
    """Does this statement change the database (rows, or the schema)? One rule, for SQLite's
    write lock and for PostgreSQL's autocommitted changes alike: a SELECT whose CTEs change
    rows (`WITH bumped AS (UPDATE ...) SELECT ...`) writes too."""
    if context is not None and (
        context.isinsert or context.isupdate or context.isdelete or context.isddl
    ):
        return True
    words = sql.split(None, 1)
    first = words[0].upper() if words else ""
    if first == "WITH":
        compiled = getattr(context, "compiled", None)
        if compiled is None:  # plain SQL text: assume the worst
            return True
        return any(isinstance(part, UpdateBase) for part in visitors.iterate(compiled.statement))
    return first in _WRITING_WORDS


def on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# In a session's info: a person was asked something since the session's last statement.
ASKED = "sorted.asked"


def before_question(session: Session) -> None:
    """Before a pause for a person (a question), end the session's SQLite transaction: nothing
    (no snapshot, no lock) is held while they decide. (PostgreSQL sessions commit each statement
    by itself: there is nothing to end; the database's owner makes sure the connection still
    answers before the next statement, see `sorted_cli.database`.)"""
    session.info[ASKED] = True
    if not on_postgres(session):
        session.commit()


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """Run the block's statements as one transaction on PostgreSQL too (its everyday sessions
    commit each statement by itself; see `sorted_cli.database`). The block ends with
    `session.commit()`; an exception out of it rolls the transaction back. On SQLite the
    block's transaction takes the write lock as it begins (BEGIN IMMEDIATE), so what it reads
    is what it writes over; what the session read before is committed first."""
    if not on_postgres(session):
        session.commit()
        session.connection(execution_options={LOCKS_AT_BEGIN: True})
        yield
        return
    if not isinstance(session.get_bind(), Connection):  # pragma: postgres
        yield
        return
    dbapi_connection = session.connection().connection.dbapi_connection
    assert dbapi_connection is not None
    dbapi_connection.autocommit = False
    try:
        yield
    except BaseException:
        session.rollback()
        raise
    finally:
        if not dbapi_connection.closed:
            session.rollback()  # nothing, after the block's commit
            dbapi_connection.autocommit = True


# Where a command's session keeps the command's id (sorted_cli.database.Database sets it):
# one per command, the same across its retries, so that its history rows share it and a
# retried command finds what its first try recorded.
COMMAND_ID = "sorted_command_id"


def command_id(session: Session) -> uuid.UUID:
    """The id of the command this session works for; a session no command opened (a script,
    a test) gets a new one per call: each call is a command of its own."""
    found = session.info.get(COMMAND_ID)
    return found if isinstance(found, uuid.UUID) else uuid.uuid4()


@contextmanager
def long_read(session: Session) -> Iterator[None]:
    """Run the block's reads, which may take as long as a slow reader of the output (`sorted
    list | less`), without holding up anyone's changes: on PostgreSQL in one transaction (a
    server-side cursor lives in one; it reads a snapshot and locks nothing); on SQLite the
    command's transaction ends first (a command that streams writes nothing after it), and the
    block reads in a deferred one, a snapshot in WAL mode."""
    if on_postgres(session):
        with transaction(session):
            yield
        return
    session.commit()
    yield


REVISION_QUERY = "SELECT version_num FROM alembic_version"


def current_revision(session: Session) -> str | None:
    """The database's Alembic revision, or None when it has no sorted schema yet."""
    try:
        return schema.only_revision(session.execute(text(REVISION_QUERY)).scalars().all())
    except (OperationalError, ProgrammingError) as exc:
        if _is_missing_table(exc):
            session.rollback()
            return None
        raise


def _is_missing_table(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "42P01" or "no such table" in str(exc.orig)


def bring_to_head(engine: Engine, settings: Settings, revision: str | None) -> None:
    if schema.is_newer_than_sorted(revision):
        raise SchemaError(f"The database is at {schema.describe(revision)}: {schema.NEWER_ADVICE}.")
    refuse_foreign_sqlite(engine, settings, revision)
    if revision is None and (path := sqlite_path(settings.url)) is not None:
        sqlitefile.refuse_to_start_over(engine, path)
    from sorted_cli import migrate  # only on first use and after an upgrade of sorted

    migrate.upgrade(engine, "head")


def require_postgres_head(revision: str | None) -> None:  # pragma: postgres
    """A shared database's schema is an admin's to change: anything but head stops here."""
    if revision == schema.HEAD:
        return
    if schema.is_newer_than_sorted(revision):
        raise SchemaError(f"The database is at {schema.describe(revision)}: {schema.NEWER_ADVICE}.")
    state = "has no sorted schema yet" if revision is None else f"is at {revision}"
    raise SchemaError(
        f"The database {state}; this sorted needs {schema.HEAD}: "
        "an admin must run `sorted db upgrade`."
    )


def refuse_foreign_sqlite(engine: Engine, settings: Settings, revision: str | None) -> None:
    """A SQLite file with tables of its own and no sorted schema is someone else's: sorted
    adds nothing to it (everyday commands and `db upgrade` alike)."""
    if revision is None and not settings.is_postgres and _has_other_tables(engine):
        raise SchemaError(
            f"{settings.masked_url} holds other tables and no sorted schema: it is not a "
            "sorted database, so sorted leaves it alone (check DATABASE_URL and .env)."
        )


def _has_other_tables(engine: Engine) -> bool:
    """Tables besides SQLite's own and Alembic's (an empty alembic_version is what
    `db downgrade base` leaves)."""
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master "
            "WHERE name != 'alembic_version' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
        return bool(found.scalar())
