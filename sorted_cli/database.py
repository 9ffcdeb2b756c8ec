"""The database of one command, and its one owner: `Database`.

A command asks its owner (`state.db`, see `sorted_cli.cli.state`) to run the work:
`db.run(lambda session: ...)` for everyday work over a session, `db.run_admin(lambda engine:
...)` for `sorted db` commands over an engine. Services take the plain session and know
nothing of what follows. The owner:

- connects: the session of everyday commands, opened on first use and closed with the command,
  and the engine of `sorted db` commands (on the direct, migration URL when one is set);
- checks the schema, in one place. On SQLite when the session opens: a local query, and a local
  database is brought to head there (`db.bring_to_head`). On PostgreSQL in an engine hook, on
  the session's first statement: one that only reads carries the revision query in the same
  simple query (`SELECT version_num FROM alembic_version; <statement>`), so the check costs no
  round trip of its own; one that writes is preceded by the check, on the same connection.
  Only when the statement fails on a schema it does not fit is the check made on its own,
  to say why;
- makes sure the connection still answers before the first statement after a question to the
  user (`db.before_question`): an idle connection may have been dropped meanwhile, and a
  change that fails to go out would look like one whose answer was lost;
- retries transient failures (`sorted_cli.retry`) where that cannot write anything twice, and
  keeps the "may or may not have been saved" bookkeeping: was a COMMIT, or in autocommit a
  statement that changes data, in flight when the connection broke (`run`);
- words driver errors (`describe_error`), passwords masked.

On PostgreSQL every round trip counts (to Neon it crosses a wide-area network), so the everyday
session holds one connection in autocommit: each statement is its own transaction, with no
BEGIN, COMMIT or ROLLBACK exchanged. Everyday commands change the database in one statement
each; work of several statements runs in `db.transaction(session)`.

What lives for a command and what could live longer: an engine holds nothing of one command.
Its hooks find the command's `Database` through the `_OWNER` execution option of the connection
(or engine view) the command's session uses, and the bounds of the command's waits
(`pgwaits.Waits`) are set on the connection before each statement. So a long-lived process
could keep an engine per database URL across commands; the session, the settings, the notices,
the waits and the "commit sent" bookkeeping live on the `Database` made for each command.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from itertools import chain, pairwise
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, ExceptionContext
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from sorted_cli import engines, schema, sqlitefile
from sorted_cli.db import (
    ASKED,
    COMMAND_ID,
    ON_LOCK_WAIT,
    REVISION_QUERY,
    bring_to_head,
    current_revision,
    make_engine,
    new_engine,
    on_postgres,
    ready,
    require_postgres_head,
    writes,
)
from sorted_cli.errors import (
    DatabaseUnavailable,
    NotSaved,
    OutcomeUnknown,
    SchemaError,
    SortedError,
)
from sorted_cli.retry import Backoff, is_transient, reached_no_server
from sorted_cli.urls import is_postgres, mask_password, mask_passwords_in, sqlite_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from sorted_cli.config import Settings
    from sorted_cli.models import User
    from sorted_cli.pgwaits import Waits

T = TypeVar("T")
R = TypeVar("R")

# An execution option on the connection (PostgreSQL) or engine view (SQLite) a command's
# session uses: the command's Database, for the engine's hooks.
_OWNER = "sorted_owner"


def _no_notice(_text: str) -> None:
    pass


class Database:
    """The database of one command: its session or admin engine, the schema check, retries,
    the "may or may not have been saved" bookkeeping and the wording of errors (see the module
    docstring). Made per command; `close` it when the command is over."""

    def __init__(
        self,
        settings: Settings,
        *,
        admin_url: str | None = None,
        notice: Callable[[str], object] = _no_notice,
    ) -> None:
        self.settings = settings
        self.admin_url = admin_url or settings.url  # `sorted db` commands' URL
        self._notice = notice
        self._session: Session | None = None
        self._admin_engine: Engine | None = None
        self._engines: list[Engine] = []  # to dispose of on close
        self._kept: list[Engine] = []  # kept for later commands (`sorted_cli.engines`)
        self._waits: Waits | None = None
        self._schema_due = False  # PostgreSQL: no statement has checked the schema yet
        self._riding = False  # the statement running carries the revision query
        self._commit_sent = False  # a COMMIT (or autocommitted change) not yet answered
        self._expected: User | None = None  # a user known from an earlier command (PostgreSQL)
        self._forget_known_user: Callable[[], object] = lambda: None
        self.command_id = uuid.uuid4()  # one per command, kept across retries (db.command_id)

    @staticmethod
    def of(session: Session) -> Database:
        """The owner of a session it opened."""
        owner = session.info[_OWNER]
        assert isinstance(owner, Database)
        return owner

    @property
    def session(self) -> Session:
        """The session of everyday commands, on a database at this sorted's schema head,
        opened on first use."""
        if self._session is None:
            self._session = self._open_postgres() if self.settings.is_postgres else self._open()
        return self._session

    @property
    def admin_engine(self) -> Engine:
        """The engine of `sorted db` commands: no schema check, on the admin URL."""
        if self._admin_engine is None:
            engine = make_engine(self.settings, url=self.admin_url)
            self._engines.append(engine)
            self._admin_engine = engine.execution_options(**{ON_LOCK_WAIT: self._say_waiting})
        return self._admin_engine

    @property
    def url_in_use(self) -> str:
        """The URL this command talks to (errors name it, with its password masked)."""
        return self.admin_url if self._admin_engine is not None else self.settings.url

    def run(self, work: Callable[[Session], T], *, repeatable: bool = False) -> T:
        """WORK over the everyday session, tried again after a transient failure where that
        cannot write anything twice (see `_attempt`)."""
        return self._attempt(lambda: work(self.session), repeatable=repeatable)

    def run_admin(self, work: Callable[[Engine], T], *, repeatable: bool = False) -> T:
        """WORK over the admin engine (`sorted db` commands), tried as `run` tries."""
        return self._attempt(lambda: work(self.admin_engine), repeatable=repeatable)

    def known_user(self, email: str, *, forget: Callable[[], object]) -> User | None:
        """The active user EMAIL names, as an earlier command of this process found them, or
        None (found again then by a query, and `remember_user`ed): on PostgreSQL where engines
        are kept, so an everyday command makes one round trip, not two.

        Not trusted blindly: the command's first statement carries a guard (`_guard`) that
        makes the server refuse the whole query, the command's statement with it, unless that
        user is still there as known, not deleted, and the schema is at head. Refused, nothing has
        run: the schema's error says why, or else the user is forgotten, FORGET is called (the
        caller forgets them too) and the work is run again from the start, looking the user
        up (a user deleted meanwhile, or a database made afresh, where the same email has
        another id)."""
        if not self.settings.is_postgres or not engines.keeping():
            return None
        session = self.session
        if not self._schema_due:  # a statement went out already: no guard would ride now
            return None
        columns = engines.known_user(session.get_bind().engine, email)
        if columns is None:
            return None
        from sqlalchemy.orm import make_transient_to_detached

        from sorted_cli.models import User

        user = User(**columns)
        make_transient_to_detached(user)  # as if loaded: adding it sends nothing
        session.add(user)
        self._expected = user
        self._forget_known_user = forget
        return user

    def remember_user(self, email: str, user: User) -> None:
        """Remember USER, whom EMAIL names, for later commands of this process (`known_user`)."""
        if self._session is not None and engines.keeping() and self.settings.is_postgres:
            columns = {name: getattr(user, name) for name in type(user).model_fields}
            engines.remember_user(self._session.get_bind().engine, email, columns)

    def check_schema(self) -> None:
        """Make the schema check now if it is still due: a command about to stop for another
        reason (no current user) says first that the schema is not at head, which is the real
        problem."""
        if self._schema_due and self._session is not None:  # pragma: postgres
            self._session.execute(text("SELECT 1"))  # any statement carries the check

    def commit_was_sent(self) -> bool:
        """Did the session send a COMMIT (or, in autocommit, a statement that changes data)
        that has not been answered? Then a failure leaves the outcome unknown: the server may
        have committed before the connection broke. Asking forgets it, for the next try."""
        sent, self._commit_sent = self._commit_sent, False
        return sent

    def written(
        self,
        rows: Iterator[R],
        write: Callable[[Iterator[R]], int],
        *,
        what: str,
        restartable: bool,
    ) -> int:
        """WRITE the streamed ROWS (it says how many it wrote), for work this owner runs.
        The first row is read before anything is written, so a query that fails is tried
        again with nothing out yet; a connection that breaks once output has begun is an
        error saying the output is incomplete (trying again would repeat what is out), unless
        `restartable` (the output is a file written afresh each try)."""
        first = next(rows, None)
        try:
            return write(chain([first] if first is not None else [], rows))
        except Exception as exc:
            if restartable or isinstance(exc, OSError) or not is_transient(exc):
                raise
            raise SortedError(
                f"The connection broke during the {what} ({short_reason(exc)}); what was "
                f"written is incomplete: run the {what} again."
            ) from exc

    def describe_error(self, exc: BaseException) -> SortedError | None:
        """A one-line SortedError for a database failure of this command, or None."""
        return describe_error(exc, url=self.url_in_use)

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            bind = session.get_bind()
            session.close()
            if isinstance(bind, Connection):  # pragma: postgres
                if not bind.invalidated and bind.connection.dbapi_connection is not None:
                    bind.connection.dbapi_connection.waits = None  # this command's
                bind.close()
        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        self._admin_engine = None
        while self._kept:
            engines.given_back(self._kept.pop())

    # Connecting.

    def _open(self) -> Session:
        """A SQLite session, its schema checked (and brought to head) at once: it is a local
        query. It reads in deferred transactions and takes the write lock only to write (see
        `db._WriteLock`; the notice is said when that has taken a second)."""
        engine = self._everyday_engine()
        view = engine.execution_options(**{_OWNER: self, ON_LOCK_WAIT: self._say_waiting})
        session = self._made(Session(view, expire_on_commit=False))
        try:
            revision = current_revision(session)
            if revision != schema.HEAD:
                session.rollback()
                bring_to_head(view, self.settings, revision)
        except BaseException:
            session.close()
            self.close()
            raise
        return session

    def _open_postgres(self) -> Session:
        """A PostgreSQL session on one connection in autocommit (see the module docstring),
        whose first statement checks the schema. (SQLite tests with an unreachable URL run it
        up to the connect.)"""
        from sorted_cli.pgwaits import Waits

        engine = self._everyday_engine()
        self._waits = Waits(
            lock_timeout=self.settings.lock_timeout,
            statement_timeout=self.settings.statement_timeout,
            silence=self.settings.connect_timeout,
            on_lock_wait=self._say_waiting,
        )
        connection = engine.connect()  # kept across commits: NullPool would close it
        connection.execution_options(**{_OWNER: self})
        self._schema_due = True
        return self._made(Session(connection, expire_on_commit=False))

    def _everyday_engine(self) -> Engine:
        """The engine of everyday commands, kept from an earlier command where engines are
        kept (`sorted_cli.engines`), and ready for this one."""
        engine, kept = engines.everyday_engine(self.settings, self._new_everyday_engine)
        (self._kept if kept else self._engines).append(engine)
        ready(engine, self.settings)
        return engine

    def _new_everyday_engine(self) -> Engine:
        return _everyday_engine(self.settings)

    def _made(self, session: Session) -> Session:
        session.info[_OWNER] = self
        session.info[COMMAND_ID] = self.command_id
        event.listen(session, "after_commit", self._commit_answered)
        return session

    def _commit_answered(self, _session: Session) -> None:
        self._commit_sent = False

    # Retries, and what may have been saved.

    def _attempt(self, work: Callable[[], T], *, repeatable: bool) -> T:
        """Run WORK; again, within the retry budget, after a transient failure where that
        cannot write anything twice.

        A failure before the COMMIT went out is always retried: the server rolled that
        transaction back. A failure while committing leaves the outcome unknown; it is retried
        only for `repeatable` work (work that finds its own earlier success, such as an add
        with its UUID fixed in advance), and otherwise reported as OutcomeUnknown. So is any
        failure that ends the work once a change was in flight, in this try or an earlier one:
        a connection error that is not worth another try, or the budget running out.
        """
        backoff = Backoff(budget_s=self.settings.retry_timeout)
        sent = False  # a change of some try was in flight when it failed: it may be saved
        while True:
            try:
                return work()
            except _KnownUserGone:  # pragma: postgres
                self._forget_known_user()  # nothing ran: from the start, looking them up
                continue
            except Exception as exc:
                if not is_transient(exc):
                    if sent or self._change_in_flight():
                        raise _outcome_unknown() from exc
                    raise
                unknown = self._forget_failed_transaction()
                sent = sent or unknown
                if unknown and not repeatable:
                    raise _outcome_unknown() from exc
                if not backoff.pause():
                    if sent:  # pragma: postgres
                        raise _outcome_unknown() from exc
                    gave_up = self._gave_up(exc, backoff.attempts)
                    if gave_up is None:
                        raise
                    raise gave_up from exc
                if backoff.attempts == 2:
                    self._say_retrying(exc)

    def _change_in_flight(self) -> bool:
        """Did the failure cut off the answer to a change on PostgreSQL?"""
        session = self._session
        return session is not None and on_postgres(session) and self.commit_was_sent()

    def _forget_failed_transaction(self) -> bool:  # pragma: postgres
        """Roll back what a broken connection left; say whether a COMMIT was in flight."""
        if self._session is None:  # it failed while opening: nothing was written
            return False
        unknown = self.commit_was_sent()
        self._session.rollback()
        return unknown

    def _gave_up(self, exc: Exception, attempts: int) -> SortedError | None:  # pragma: postgres
        """The error to end with after several attempts (None: the failure as it is)."""
        described = self.describe_error(exc)
        if described is None or attempts < 2:
            return None
        return DatabaseUnavailable(f"{described.message} (gave up after {attempts} attempts)")

    def _say_retrying(self, exc: Exception) -> None:  # pragma: postgres
        self._notice(
            f"The database is not answering ({short_reason(exc)}); "
            f"retrying for up to {self.settings.retry_timeout:g} s."
        )

    def _say_waiting(self) -> None:
        """Said once when a statement has waited about a second: on SQLite for another
        command's write lock; on PostgreSQL for an answer, which may be held up by a lock or by
        a network gone silent (it cannot tell which yet)."""
        if not self.settings.is_postgres:
            self._notice("Waiting for another sorted command to finish writing to this database...")
            return
        self._notice(
            "Waiting for the database (another sorted command may be changing these tasks)..."
        )

    # The engine's hooks call these for the command whose connection it is.

    def _before_statement(
        self, connection: Connection, cursor: Any, sql: str, context: Any, many: bool
    ) -> str:  # pragma: postgres
        """Bound the statement's waits; see that the connection still answers after a
        question; check the schema with the first statement; note a change going out."""
        from sorted_cli.pgwaits import BoundedCursor

        dbapi_connection: Any = connection.connection.dbapi_connection
        dbapi_connection.waits = self._waits
        session = self._session
        if session is not None and session.info.pop(ASKED, None):
            dbapi_connection.execute("SELECT 1")  # the question may have taken a while
        writing = bool(dbapi_connection.autocommit) and writes(sql, context)
        if self._schema_due:
            alone = many or not dbapi_connection.autocommit or not isinstance(cursor, BoundedCursor)
            if self._expected is not None:  # the guard, refused by the server with the statement
                if alone:
                    self._guard_on(dbapi_connection)
                else:
                    self._riding = True
                    sql = f"{_guard(self._expected, refusing=True)}; {sql}"
            elif alone or writing:
                self._check_schema_on(dbapi_connection)
            else:  # one simple query: the revision's result first, then the statement's
                self._riding = True
                sql = f"{REVISION_QUERY}; {sql}"
        if writing:
            self._commit_sent = True
        return sql

    def _after_statement(
        self, connection: Connection, cursor: Any, sql: str, context: Any
    ) -> None:  # pragma: postgres
        if self._riding:
            self._riding = False
            found = [row[0] for row in cursor.fetchall()]
            cursor.nextset()  # the statement's own result, for SQLAlchemy to read
            if self._expected is None:
                require_postgres_head(schema.only_revision(found))
            self._schema_due = False  # a guard that let the statement run found all well
        dbapi_connection = connection.connection.dbapi_connection
        if getattr(dbapi_connection, "autocommit", False) and writes(sql, context):
            self._commit_sent = False  # answered

    def _on_error(self, context: ExceptionContext) -> BaseException | None:  # pragma: postgres
        error = context.original_exception
        sqlstate = getattr(error, "sqlstate", None) or ""
        # The server answered with an error (a deadlock, a constraint): the statement was
        # rolled back, so nothing is unknown. Without a SQLSTATE the answer never came; 08 and
        # 57P errors (the connection, a shutdown) may have cut off a commit's answer, unless
        # a pooler says it never passed the statement on.
        if (sqlstate and not sqlstate.startswith(("08", "57P"))) or reached_no_server(error):
            self._commit_sent = False
        riding, self._riding = self._riding, False
        if riding and context.connection is not None:
            refused = sqlstate == "22P02" and _GUARD_REFUSED in str(error)
            if refused:
                return self._guard_refused(context.connection.connection.dbapi_connection)
        if riding and sqlstate.startswith("42") and context.connection is not None:
            # No alembic_version, or a table or column the schema lacks: the check on its own
            # says which (the statement's implicit transaction was rolled back).
            import psycopg

            try:
                self._check_schema_on(context.connection.connection.dbapi_connection)
            except SchemaError as exc:
                return exc
            except psycopg.Error:
                return None  # the statement's own failure says more
        return self._not_saved(sqlstate, error)

    def _guard_on(self, dbapi_connection: Any) -> None:  # pragma: postgres
        """The guard on its own (before a batch, or in a transaction): it counts, refusing
        nothing, so a transaction is not left failed."""
        assert self._expected is not None
        if dbapi_connection.execute(_guard(self._expected, refusing=False)).fetchone()[0] != 1:
            raise self._guard_refused(dbapi_connection)
        self._schema_due = False

    def _guard_refused(self, dbapi_connection: Any) -> Exception:  # pragma: postgres
        """Why the guard refused: the schema (its check says how), or the known user is gone,
        whom this process then forgets (`_attempt` runs the work again)."""
        expected, self._expected = self._expected, None
        assert expected is not None
        assert self._session is not None
        try:
            self._check_schema_on(dbapi_connection)
        except SchemaError as exc:
            return exc
        engines.remember_user(self._session.get_bind().engine, expected.email, None)
        self._session.expunge(expected)
        return _KnownUserGone()

    def _check_schema_on(self, dbapi_connection: Any) -> None:  # pragma: postgres
        """Read the revision on the command's connection (a cursor of its own: the statement's
        may be a server-side one) and stop if it is not head."""
        import psycopg

        try:
            found = [row[0] for row in dbapi_connection.execute(REVISION_QUERY).fetchall()]
        except psycopg.errors.UndefinedTable:
            found = []
        require_postgres_head(schema.only_revision(found))
        self._schema_due = False

    def _not_saved(
        self, sqlstate: str, error: BaseException
    ) -> SortedError | None:  # pragma: postgres
        """A statement the server gave up on (the lock or statement timeout, or a cancel) was
        answered, so its transaction was rolled back: say that it was not saved."""
        if sqlstate == "55P03":  # lock_not_available
            return NotSaved(
                f"The change was not saved: another sorted command held this user's tasks "
                f"for {self.settings.lock_timeout:g} s (lock timeout); try again."
            )
        if sqlstate != "57014":  # query_canceled
            return None
        if "statement timeout" not in str(error):  # an admin's cancel
            return NotSaved("Nothing was saved: the database cancelled the statement; try again.")
        return NotSaved(
            f"Nothing was saved: the database took more than "
            f"{self.settings.statement_timeout:g} s (statement timeout); try again, or allow "
            "longer with SORTED_STATEMENT_TIMEOUT."
        )


class _KnownUserGone(Exception):
    """The guard found the user an earlier command knew no longer there: nothing ran."""


# The words a refusing guard puts in the error it makes the server raise (see `_guard`).
_GUARD_REFUSED = "sorted: the user or the schema changed"


def _guard(user: User, *, refusing: bool) -> str:  # pragma: postgres
    """A query that finds the known USER still there as it was known (the same id, email and
    `updated_at`, which every change of a user's own columns sets: a name, a deletion, a return;
    the task counter is read by the statements that bump it), not deleted, on a schema at head.
    One that is `refusing` fails when it does not (a cast that cannot succeed, reached only
    then: the count is not a constant, so the planner cannot fold it early), so a statement
    sent in the same simple query never runs; otherwise it counts (1: all is well)."""
    users = user.__tablename__
    email = user.email.encode().hex()  # no quoting to get wrong: an email may hold a quote
    found = (
        f"FROM {users} JOIN alembic_version ON version_num = '{schema.HEAD}' "
        f"WHERE {users}.id = '{user.id}' AND NOT {users}.is_deleted "
        f"AND {users}.email = convert_from(decode('{email}', 'hex'), 'UTF8') "
        f"AND {users}.updated_at = '{user.updated_at.isoformat()}'::timestamptz"
    )
    if not refusing:
        return f"SELECT count(*) {found}"
    refused = f"('{_GUARD_REFUSED}' || count(*))::int"
    return f"SELECT CASE WHEN count(*) = 1 THEN 1 ELSE {refused} END {found}"


def _outcome_unknown() -> OutcomeUnknown:  # pragma: postgres
    return OutcomeUnknown(
        "The connection broke while saving, so the change may or may not have "
        "been saved: check (for example with `sorted list`) before repeating it."
    )


def _everyday_engine(settings: Settings) -> Engine:
    """The engine of everyday commands on the settings' URL, with the owner's hooks. It holds
    nothing of one command: each hook acts for the command whose connection it is."""
    engine = new_engine(settings, quick=True)
    event.listen(engine, "commit", _on_commit)
    if settings.is_postgres:
        event.listen(engine, "connect", _autocommit)
        event.listen(engine, "before_cursor_execute", _before_statement, retval=True)
        event.listen(engine, "after_cursor_execute", _after_statement)
        event.listen(engine, "handle_error", _on_error)
    return engine


def _owner(connection: Connection | None) -> Database | None:
    owner = None if connection is None else connection.get_execution_options().get(_OWNER)
    return owner if isinstance(owner, Database) else None


def _on_commit(connection: Connection) -> None:
    """A COMMIT is "sent" from the moment it goes out until the session hears it succeeded."""
    if (owner := _owner(connection)) is not None:
        owner._commit_sent = True


def _autocommit(dbapi_connection: Any, _record: Any) -> None:  # pragma: postgres
    dbapi_connection.autocommit = True


def _before_statement(
    connection: Connection,
    cursor: Any,
    sql: str,
    parameters: Any,
    context: Any,
    many: bool,
) -> tuple[str, Any]:  # pragma: postgres
    if (owner := _owner(connection)) is not None:
        sql = owner._before_statement(connection, cursor, sql, context, many)
    return sql, parameters


def _after_statement(
    connection: Connection, cursor: Any, sql: str, _parameters: Any, context: Any, _many: bool
) -> None:  # pragma: postgres
    if (owner := _owner(connection)) is not None:
        owner._after_statement(connection, cursor, sql, context)


def _on_error(context: ExceptionContext) -> BaseException | None:
    owner = _owner(context.connection)  # none when connecting failed
    return None if owner is None else owner._on_error(context)


# The wording of driver errors.


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
