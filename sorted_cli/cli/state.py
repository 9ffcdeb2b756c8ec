"""What one sorted process holds: its settings, its session and its current user.

The root callback puts a `State` on the context; a command asks for `state.session` or
`state.user`, which open the database on first use, and the session is closed when the root
context closes, whatever happened in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, TypeVar

import typer

from sorted_cli.errors import DatabaseUnavailable, OutcomeUnknown, SortedError

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine
    from sqlmodel import Session

    from sorted_cli.config import Settings
    from sorted_cli.models import User

T = TypeVar("T")


@dataclass
class State:
    database_url: str | None = None
    user_email: str | None = None
    debug: bool = False
    root: typer.Context | None = None  # closes the session when the command is over

    @staticmethod
    def of(ctx: typer.Context) -> State:
        state = ctx.find_root().obj
        assert isinstance(state, State), "the root callback sets the state"
        return state

    @cached_property
    def settings(self) -> Settings:
        from sorted_cli.config import load_settings

        return load_settings(database_url=self.database_url, user=self.user_email)

    def _on_close(self, closer: Callable[[], object]) -> None:
        if self.root is not None:
            self.root.call_on_close(closer)

    @cached_property
    def session(self) -> Session:
        """A session on a database at this sorted's schema head, for everyday commands."""
        from sorted_cli.db import close_session, open_session

        session = open_session(self.settings, on_lock_wait=self._say_waiting)
        self._on_close(lambda: close_session(session))
        return session

    @cached_property
    def engine(self) -> Engine:
        """An engine with no schema check, for `sorted db` commands: on the direct (migration)
        URL when one is configured."""
        from sorted_cli.db import make_engine

        engine = make_engine(self.settings, url=self.migration_url, on_lock_wait=self._say_waiting)
        self._on_close(engine.dispose)
        return engine

    @property
    def url_in_use(self) -> str:
        """The URL this command talks to (errors name it, with its password masked)."""
        return self.migration_url if "engine" in self.__dict__ else self.settings.url

    @property
    def migration_url(self) -> str:
        return self.settings.migration_url(flag_given=self.database_url is not None)

    def attempt(self, work: Callable[[], T], *, repeatable: bool = False) -> T:
        """Run a command's database work; again, within the retry budget, after a transient
        failure (see `sorted_cli.retry`) where that cannot write anything twice.

        A failure before the COMMIT went out is always retried: the server rolled that
        transaction back. A failure while committing leaves the outcome unknown; it is retried
        only for `repeatable` work (work that finds its own earlier success, such as an add
        with its UUID fixed in advance), and otherwise reported as OutcomeUnknown. So is any
        failure that ends the work once a change was in flight, in this try or an earlier one:
        a connection error that is not worth another try, or the budget running out.
        """
        from sorted_cli.retry import Backoff, is_transient

        backoff = Backoff(budget_s=self.settings.retry_timeout)
        sent = False  # a change of some try was in flight when it failed: it may be saved
        while True:
            try:
                return work()
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
        """Did the failure cut off the answer to a change on PostgreSQL (see `commit_was_sent`)?"""
        from sorted_cli.db import commit_was_sent, on_postgres

        session: Session | None = self.__dict__.get("session")
        return session is not None and on_postgres(session) and commit_was_sent(session)

    def _forget_failed_transaction(self) -> bool:  # pragma: postgres
        """Roll back what a broken connection left; say whether a COMMIT was in flight."""
        from sorted_cli.db import commit_was_sent

        session: Session | None = self.__dict__.get("session")
        if session is None:  # it failed while opening: nothing was written
            return False
        unknown = commit_was_sent(session)
        session.rollback()
        return unknown

    def _gave_up(self, exc: Exception, attempts: int) -> SortedError | None:  # pragma: postgres
        """The error to end with after several attempts (None: the failure as it is)."""
        from sorted_cli.db import describe_error

        described = describe_error(exc, url=self.url_in_use)
        if described is None or attempts < 2:
            return None
        return DatabaseUnavailable(f"{described.message} (gave up after {attempts} attempts)")

    def _say_retrying(self, exc: Exception) -> None:  # pragma: postgres
        from sorted_cli import render
        from sorted_cli.db import short_reason

        render.notice(
            f"The database is not answering ({short_reason(exc)}); "
            f"retrying for up to {self.settings.retry_timeout:g} s."
        )

    def _say_waiting(self) -> None:
        """Said once when a statement has waited about a second: on SQLite for another
        command's write lock; on PostgreSQL for an answer, which may be held up by a lock or by
        a network gone silent (it cannot tell which yet)."""
        from sorted_cli import render

        if not self.settings.is_postgres:
            render.notice(
                "Waiting for another sorted command to finish writing to this database..."
            )
            return
        render.notice(
            "Waiting for the database (another sorted command may be changing these tasks)..."
        )

    @cached_property
    def user(self) -> User:
        """The user this command acts for (see README: "Who am I?")."""
        from sorted_cli import configfile, render
        from sorted_cli.errors import UserNotFound
        from sorted_cli.services import users

        email = self.current_email()
        shared = self.settings.is_postgres
        try:
            user, created = users.resolve_current_user(
                session=self.session, email=email, shared=shared
            )
        except UserNotFound:
            if self.settings.user is not None:  # named on purpose: say so, change nothing
                raise
            # The remembered user is gone (deleted elsewhere, or the schema was rebuilt):
            # forget them, then choose afresh as if nothing had been remembered.
            configfile.remember_user(self.settings.database_key, None, on_wait=render.notice)
            render.notice(f"The remembered user {email} no longer exists; forgot them.")
            email = None
            user, created = users.resolve_current_user(
                session=self.session, email=None, shared=shared
            )
        if email is None:  # the local user: remember it for the next command
            verb = "Created" if created else "Using"
            render.notice(f"{verb} local user {user.email}; `sorted user --help` to manage users.")
            self._remember_local_user(user.email)
        return user

    def _remember_local_user(self, email: str) -> None:
        """Remember the local user for the next command, where the config file can be written.
        It is a convenience (the next command finds the same local user): a config file in a
        read-only place (a dotfiles link into a read-only mount) is said once and the command
        goes on. `user switch` fails instead, since remembering is what it is for."""
        from sorted_cli import configfile, render
        from sorted_cli.errors import ConfigNotWritten, LockGaveUp

        try:
            configfile.remember_user(self.settings.database_key, email, on_wait=render.notice)
        except (ConfigNotWritten, LockGaveUp) as exc:
            render.notice(
                f"Could not remember the local user in {configfile.config_file()}: {exc.reason}."
            )

    def current_email(self) -> str | None:
        """The email given (--user, SORTED_USER) or remembered for this database, if any."""
        from sorted_cli import configfile

        email = self.settings.user or configfile.remembered_user(self.settings.database_key)
        return _normalised(email)

    def lasting_user(self) -> tuple[str, str] | None:
        """The user a setting names for every command, not just this one (SORTED_USER in the
        environment or .env, `user` in the config file), and where: it wins over the user
        `user switch` remembers. (--user is this command's alone.)"""
        from sorted_cli import configfile

        winner = configfile.winning("user")
        email = _normalised(winner[2]) if winner else None
        return None if winner is None or email is None else (email, winner[0])


def _outcome_unknown() -> OutcomeUnknown:  # pragma: postgres
    return OutcomeUnknown(
        "The connection broke while saving, so the change may or may not have "
        "been saved: check (for example with `sorted list`) before repeating it."
    )


def _normalised(email: str | None) -> str | None:
    email = email.strip().lower() if email else None
    return email or None
