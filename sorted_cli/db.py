"""The engine and session of one sorted process, and the schema check every command makes.

A sorted process runs one command and exits, so it keeps no pool: PostgreSQL connections are
opened once and closed with the session (NullPool). SQLite files are made owner-only (0600),
use WAL and enforce foreign keys. An everyday command reads in a deferred transaction (a
snapshot, in WAL mode: no lock that holds up anyone) and takes the write lock only when it
writes (see `_WriteLock`); several processes that write queue on that lock, for up to
`lock_timeout` seconds.

Schema policy: a local SQLite database is migrated to head automatically on first use and after
an upgrade of sorted, unless the file holds other tables and no sorted schema (then it is some
other program's database, and sorted refuses to touch it) or is empty and was not made by
sorted (`sorted_cli.sqlitefile` makes, opens and checks the file); a PostgreSQL database is
shared, so everyday commands never change its schema and stop, asking for `sorted db upgrade`,
when it is not at head.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, create_engine, event, literal_column, make_url, select, table, text
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from sorted_cli import schema, sqlitefile
from sorted_cli.errors import (
    ConfigError,
    DatabaseBusy,
    DatabaseUnavailable,
    NotSaved,
    SchemaError,
    SortedError,
)
from sorted_cli.retry import reached_no_server
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
    from sorted_cli.pgwaits import Waits

LOCK_NOTICE_AFTER_S = 1.0  # a wait for the SQLite write lock longer than this is said


# Everyday sessions on PostgreSQL use psycopg's dialect without its set-up queries.
registry.register("postgresql.sorted_psycopg", "sorted_cli.pgdialect", "QuickDialect")


def make_engine(
    settings: Settings,
    *,
    url: str | None = None,
    quick: bool = False,
    on_lock_wait: Callable[[], object] | None = None,
) -> Engine:
    """An engine for this process on `url` (default: the settings' database URL): no pool for
    PostgreSQL, a prepared file for SQLite. `quick` (everyday commands) skips the dialect's
    set-up queries on PostgreSQL (see `sorted_cli.pgdialect`) and bounds every wait on the
    server (see `sorted_cli.pgwaits`). `on_lock_wait` is called once when a statement has
    waited about a second: for an answer on PostgreSQL, for another writer on SQLite (see
    `_WriteLock`)."""
    url = url or settings.url
    try:
        if is_postgres(url):
            connect_args = postgres_connect_args(url, connect_timeout=settings.connect_timeout)
            if not quick:
                return create_engine(url, poolclass=NullPool, connect_args=connect_args)
            waits = connect_args["waits"] = _waits(settings, on_lock_wait)
            target = make_url(url).set(drivername="postgresql+sorted_psycopg")
            engine = create_engine(target, poolclass=NullPool, connect_args=connect_args)
            event.listen(engine, "handle_error", _not_saved_when_the_server_gave_up(waits))
            return engine
        path = sqlite_path(url)
        if path is not None:
            sqlitefile.prepare(path, create_parent=url == settings.url and settings.is_embedded)
        engine = create_engine(url, connect_args={"timeout": settings.lock_timeout})
    except (ArgumentError, ValueError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith("invalid literal for int()"):
            reason = "the port must be a number from 1 to 65535"  # make_url reading the port
        else:
            reason = mask_passwords_in(one_line(str(exc)))
        raise ConfigError(f"Invalid database URL {mask_password(url)}: {reason}") from None
    event.listen(engine, "connect", _on_sqlite_connect)
    write_lock = _WriteLock(wait_s=settings.lock_timeout, on_wait=on_lock_wait)
    event.listen(engine, "begin", write_lock.begin)
    event.listen(engine, "before_cursor_execute", write_lock.before_write)
    if path is not None:
        sqlitefile.set_up(engine, path)
    return engine


def _waits(settings: Settings, on_lock_wait: Callable[[], object] | None) -> Waits:
    from sorted_cli.pgwaits import Waits

    return Waits(
        lock_timeout=settings.lock_timeout,
        statement_timeout=settings.statement_timeout,
        silence=settings.connect_timeout,
        on_lock_wait=on_lock_wait,
    )


def _not_saved_when_the_server_gave_up(
    waits: Waits,
) -> Callable[[ExceptionContext], SortedError | None]:
    """An engine hook: a statement the server gave up on (the lock or statement timeout, or a
    cancel) was answered, so its transaction was rolled back: say that it was not saved."""

    def not_saved(context: ExceptionContext) -> SortedError | None:
        sqlstate = getattr(context.original_exception, "sqlstate", None)
        if sqlstate == "55P03":  # lock_not_available
            return NotSaved(
                f"The change was not saved: another sorted command held this user's tasks "
                f"for {waits.lock_timeout:g} s (lock timeout); try again."
            )
        if sqlstate != "57014":  # query_canceled
            return None
        if "statement timeout" not in str(context.original_exception):  # an admin's cancel
            return NotSaved("Nothing was saved: the database cancelled the statement; try again.")
        return NotSaved(
            f"Nothing was saved: the database took more than {waits.statement_timeout:g} s "
            "(statement timeout); try again, or allow longer with SORTED_STATEMENT_TIMEOUT."
        )

    return not_saved


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
    `wait_s` in all the work stops with DatabaseBusy, nothing written.
    """

    wait_s: float
    on_wait: Callable[[], object] | None = None

    def begin(self, connection: Connection) -> None:
        at_once = bool(connection.get_execution_options().get(LOCKS_AT_BEGIN))
        connection.info[_HOLDS_WRITE_LOCK] = at_once
        if at_once:
            self._begin_immediate(connection.connection.dbapi_connection)
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
        if connection.info.get(_HOLDS_WRITE_LOCK) or not _writes(sql, context):
            return
        dbapi_connection = connection.connection.dbapi_connection
        assert dbapi_connection is not None
        dbapi_connection.execute("COMMIT")  # the reads so far: nothing to keep but a snapshot
        self._begin_immediate(dbapi_connection)
        connection.info[_HOLDS_WRITE_LOCK] = True

    def _begin_immediate(self, dbapi_connection: Any) -> None:
        # Short tries rather than one long busy wait: a signal handler (Ctrl-C, SIGTERM) runs
        # only between C calls, so one long wait would hold it off until the wait ended.
        started = time.monotonic()
        noticed = self.on_wait is None or self.wait_s <= LOCK_NOTICE_AFTER_S
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
                    assert self.on_wait is not None
                    self.on_wait()
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


def _writes(sql: str, context: Any) -> bool:
    """Does this statement change the database (rows, or the schema)?"""
    if context is not None and (
        context.isinsert
        or context.isupdate
        or context.isdelete
        or context.isddl
        or context.execution_options.get(WRITES)
    ):
        return True
    words = sql.split(None, 1)
    return bool(words) and words[0].upper() in _WRITING_WORDS


def open_session(
    settings: Settings, *, on_lock_wait: Callable[[], object] | None = None
) -> Session:
    """A session on a database whose schema is at this sorted's head (see module docstring).

    On SQLite the schema is checked (and brought to head) at once: it is a local query. The
    session reads in deferred transactions and takes the write lock only to write (see
    `_WriteLock`; `on_lock_wait` is told when that has taken a second).

    On PostgreSQL every round trip counts (to Neon it crosses a wide-area network), so:
    - the session holds one connection in autocommit: each statement is its own transaction,
      with no BEGIN, COMMIT or ROLLBACK exchanged. Everyday commands change the database in
      one statement each; work of several statements runs in `transaction(session)`;
    - the schema check rides on the first statement: `read_checking_schema` adds the revision
      to a query as a column, and any other first statement is preceded by the plain check
      (`_check_before_first_statement`), on the same connection.
    """
    engine = make_engine(settings, quick=True, on_lock_wait=on_lock_wait)
    if settings.is_postgres:
        event.listen(engine, "connect", _autocommit)
        connection = engine.connect()  # kept across commits: NullPool would close it
        session = Session(connection, expire_on_commit=False)
        _track_commits(session, engine)
        session.info[_SCHEMA_UNCHECKED] = True
        event.listen(engine, "before_cursor_execute", _check_before_first_statement(session))
        _track_autocommitted_writes(session, engine)
        return session
    session = Session(engine, expire_on_commit=False)
    _track_commits(session, engine)
    try:
        revision = current_revision(session)
        if revision != schema.HEAD:
            session.rollback()
            _bring_to_head(engine, settings, revision)
    except BaseException:
        session.close()
        engine.dispose()
        raise
    return session


_SCHEMA_UNCHECKED = "sorted.schema_unchecked"
_CHECKS_SCHEMA = "sorted_checks_schema"  # an execution option: this statement checks it itself


def _check_before_first_statement(session: Session) -> Callable[..., None]:  # pragma: postgres
    """An engine hook: before the session's first statement, unless that statement checks the
    schema itself, read the revision on the same connection and stop if it is not head."""

    def check(
        connection: Connection, _cursor: Any, _sql: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if not session.info.get(_SCHEMA_UNCHECKED):
            return
        if context is not None and context.execution_options.get(_CHECKS_SCHEMA):
            return
        import psycopg

        dbapi_connection = connection.connection.dbapi_connection
        assert isinstance(dbapi_connection, psycopg.Connection)
        try:  # a cursor of its own: the statement's may be a server-side one
            found = [row[0] for row in dbapi_connection.execute(_REVISION_QUERY).fetchall()]
        except psycopg.errors.UndefinedTable:
            found = []
        _require_postgres_head(schema.only_revision(found))
        session.info.pop(_SCHEMA_UNCHECKED)

    return check


def read_checking_schema(session: Session, statement: Select[Any]) -> Any:
    """The first entity (or value) of `statement`'s first row, or None.

    On a PostgreSQL session whose schema check is still due, the revision rides along as one
    more column, so the check costs no round trip of its own; only when the statement finds
    nothing (or fails on a schema it does not fit) is the check made on its own.
    """
    if not session.info.get(_SCHEMA_UNCHECKED):
        row = session.execute(statement).first()
        return None if row is None else row[0]
    revision: Select[Any] = select(literal_column("version_num")).select_from(
        table("alembic_version")
    )
    checked = statement.add_columns(revision.scalar_subquery()).execution_options(
        **{_CHECKS_SCHEMA: True}
    )
    try:
        row = session.execute(checked).first()
    except ProgrammingError as exc:
        # No alembic_version, a column the schema lacks, or several revisions (21000: the
        # subquery gave more than one row): the check on its own says which.
        if getattr(exc.orig, "sqlstate", None) not in ("42P01", "42703", "21000"):
            raise
        session.rollback()
        row = None
    if row is None:  # nothing found, or the schema does not fit: check it on its own
        _require_postgres_head(current_revision(session))
    else:
        _require_postgres_head(row[-1])
    session.info.pop(_SCHEMA_UNCHECKED, None)
    return None if row is None else row[0]


def check_schema_now(session: Session) -> None:
    """Make the schema check now if it is still due: a command about to stop for another reason
    (no current user) says first that the schema is not at head, which is the real problem."""
    if session.info.get(_SCHEMA_UNCHECKED):  # pragma: postgres
        _require_postgres_head(current_revision(session))
        session.info.pop(_SCHEMA_UNCHECKED, None)


_REVISION_QUERY = "SELECT version_num FROM alembic_version"


_COMMIT_SENT = "sorted.commit_sent"
WRITES = "sorted_writes"  # an execution option: this statement changes data


def commit_was_sent(session: Session) -> bool:  # pragma: postgres
    """Did the session send a COMMIT (or, in autocommit, a statement that changes data) that
    has not been answered? Then a failure leaves the outcome unknown: the server may have
    committed before the connection broke. Asking forgets it, for the next attempt."""
    return bool(session.info.pop(_COMMIT_SENT, None))


def _track_commits(session: Session, engine: Engine) -> None:
    """A COMMIT is "sent" from the moment it goes out until the session hears it succeeded."""
    event.listen(engine, "commit", lambda _connection: session.info.update({_COMMIT_SENT: True}))
    event.listen(session, "after_commit", lambda done: done.info.pop(_COMMIT_SENT, None))


def _autocommit(dbapi_connection: Any, _record: Any) -> None:  # pragma: postgres
    dbapi_connection.autocommit = True


def _track_autocommitted_writes(session: Session, engine: Engine) -> None:  # pragma: postgres
    """In autocommit every statement that changes data is a COMMIT too: while one is
    unanswered, a broken connection leaves its outcome unknown (see `commit_was_sent`)."""

    def writes(connection: Connection, sql: str, context: Any) -> bool:
        dbapi_connection = connection.connection.dbapi_connection
        return bool(getattr(dbapi_connection, "autocommit", False)) and _writes(sql, context)

    @event.listens_for(engine, "before_cursor_execute")
    def sent(connection: Connection, *args: Any) -> None:
        if writes(connection, args[1], args[3]):
            session.info[_COMMIT_SENT] = True

    @event.listens_for(engine, "after_cursor_execute")
    def answered(connection: Connection, *args: Any) -> None:
        if writes(connection, args[1], args[3]):
            session.info.pop(_COMMIT_SENT, None)

    @event.listens_for(engine, "handle_error")
    def refused(context: ExceptionContext) -> None:
        # The server answered with an error (a deadlock, a constraint): the statement was
        # rolled back, so nothing is unknown. Without a SQLSTATE the answer never came; 08 and
        # 57P errors (the connection, a shutdown) may have cut off a commit's answer, unless
        # a pooler says it never passed the statement on.
        error = context.original_exception
        sqlstate = getattr(error, "sqlstate", None) or ""
        if (sqlstate and not sqlstate.startswith(("08", "57P"))) or reached_no_server(error):
            session.info.pop(_COMMIT_SENT, None)


def on_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def before_question(session: Session) -> None:
    """Before a pause for a person (a question), end the session's SQLite transaction: nothing
    (no snapshot, no lock) is held while they decide. (PostgreSQL sessions commit each statement
    by itself: there is nothing to end.)"""
    if not on_postgres(session):
        session.commit()


def check_connection(session: Session) -> None:
    """Before a change that follows a pause (a question to the user), make sure the server
    still answers: an idle connection may have been dropped meanwhile, and a change that fails
    to go out would look like one whose answer was lost. Failing here is safe to retry."""
    if on_postgres(session):
        session.execute(text("SELECT 1"))


@contextmanager
def transaction(session: Session) -> Iterator[None]:
    """Run the block's statements as one transaction on PostgreSQL too (its everyday sessions
    commit each statement by itself; see `open_session`). The block ends with
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


def close_session(session: Session) -> None:
    bind = session.get_bind()
    session.close()
    if isinstance(bind, Connection):  # pragma: postgres
        bind.close()
    bind.engine.dispose()


def current_revision(session: Session) -> str | None:
    """The database's Alembic revision, or None when it has no sorted schema yet."""
    try:
        query = text(_REVISION_QUERY).execution_options(**{_CHECKS_SCHEMA: True})
        return schema.only_revision(session.execute(query).scalars().all())
    except (OperationalError, ProgrammingError) as exc:
        if _is_missing_table(exc):
            session.rollback()
            return None
        raise


def _is_missing_table(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate == "42P01" or "no such table" in str(exc.orig)


def _bring_to_head(engine: Engine, settings: Settings, revision: str | None) -> None:
    if schema.is_newer_than_sorted(revision):
        raise SchemaError(f"The database is at {schema.describe(revision)}: {schema.NEWER_ADVICE}.")
    refuse_foreign_sqlite(engine, settings, revision)
    if revision is None and (path := sqlite_path(settings.url)) is not None:
        sqlitefile.refuse_to_start_over(engine, path)
    from sorted_cli import migrate  # only on first use and after an upgrade of sorted

    migrate.upgrade(engine, "head")


def _require_postgres_head(revision: str | None) -> None:  # pragma: postgres
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


def describe_error(exc: BaseException, *, url: str) -> SortedError | None:
    """A one-line SortedError for a database failure, or None for anything else."""
    if not isinstance(exc, DBAPIError):
        return None
    if not is_postgres(url) and (path := sqlite_path(url)) is not None:
        found = sqlitefile.describe_error(exc, path)
        if found is not None:
            return found
    reason = _driver_message(exc.orig) or type(exc.orig).__name__
    advice = _advice(reason)
    if exc.connection_invalidated or _is_connect_failure(exc):
        return DatabaseUnavailable(f"Cannot connect to {mask_password(url)}: {reason}{advice}")
    if getattr(exc.orig, "sqlstate", None) == "26000":  # a prepared statement the pooler lost
        advice = _POOLER_ADVICE
    return SortedError(f"Database error: {reason}{advice}")


def _driver_message(error: BaseException | None) -> str:
    """A driver's message on one line, without psycopg's "connection failed: ", passwords
    masked (a message may quote the URL)."""
    return mask_passwords_in(one_line(str(error or "").removeprefix("connection failed: ")))


_ATTEMPT = "connection to server "  # how libpq starts the report of one connection attempt


def one_line(message: str) -> str:
    """A driver's message on one line: libpq puts a hint on a line of its own ("Connection
    refused\n\tIs the server running ...?"), which becomes a sentence of its own; a sentence
    wrapped onto the next line is joined again.

    libpq reports each attempt on a line of its own ("connection to server at ... failed:
    REASON"); with sslmode=prefer it tries with TLS, then without, on the same server. The
    server is then named once, and each different reason said once, joined by "; "."""
    lines = [" ".join(line.split()) for line in message.splitlines()]
    attempts: list[list[str]] = []
    for line in filter(None, lines):
        if attempts and not line.startswith(_ATTEMPT):
            attempts[-1].append(line)
        else:
            attempts.append([line])
    said: list[str] = []
    first_server = ""
    for attempt in map(_sentences, attempts):
        server, failed, reason = attempt.partition(" failed: ")
        if not (failed and attempt.startswith(_ATTEMPT)):
            server, reason = "", attempt
        if not said:
            first_server = server
        elif server != first_server:
            reason = attempt
        if reason not in said:
            said.append(reason)
    joined = "; ".join(said)
    return f"{first_server} failed: {joined}" if first_server else joined


def _sentences(lines: list[str]) -> str:
    ended = [
        f"{line}." if following[0].isupper() and not line.endswith((".", "?", "!", ":")) else line
        for line, following in pairwise(lines)
    ]
    return " ".join([*ended, *lines[-1:]])


def short_reason(exc: BaseException) -> str:
    """What the server or libpq said, without libpq's "connection to server at ... failed"
    (passwords masked)."""
    message = _driver_message(getattr(exc, "orig", None) or exc)
    if message.startswith(_ATTEMPT):
        message = message.partition(" failed: ")[2] or message
    return message.removeprefix("FATAL: ").removeprefix("ERROR: ") or type(exc).__name__


_POOLER_ADVICE = (
    " (the connection pooler does not support this: use the direct URL, "
    "for example SORTED_MIGRATION_DATABASE_URL for `sorted db`)"
)
# Clues in a driver's message, and what the user can do about it.
_ADVICE = (
    ("timeout expired", " (set SORTED_CONNECT_TIMEOUT to wait longer)"),
    (
        "server does not support ssl",
        " (TLS was required: by sorted, for any host but this machine, or by sslmode in the URL "
        "or PGSSLMODE; add ?sslmode=disable to the URL if the network is trusted)",
    ),
    ("no encryption", " (the server only accepts TLS: add ?sslmode=require to the URL)"),
    ("password authentication failed", " (check the user name and password in the URL)"),
    ("unsupported startup parameter", _POOLER_ADVICE),
)


def _advice(reason: str) -> str:
    """The advice for the clue said first in REASON (libpq's first attempt, with several)."""
    lowered = reason.lower()
    found = [(lowered.find(clue), text) for clue, text in _ADVICE if clue in lowered]
    return min(found, key=lambda place: place[0])[1] if found else ""


def _is_connect_failure(exc: DBAPIError) -> bool:
    """Could sorted not reach (or stay connected to) the database, as opposed to a bad query?"""
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", "")
    if type(exc.orig).__module__.startswith("psycopg"):
        # No SQLSTATE: the client never got an answer. 08: connection, 28: authentication,
        # 3D: no such database, 57P: the server is shutting down or restarting.
        return not sqlstate or sqlstate.startswith(("08", "28", "3D", "57P"))
    return str(exc.orig).startswith("unable to open database file")
