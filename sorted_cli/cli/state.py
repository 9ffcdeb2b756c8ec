"""What one sorted command holds: its settings, its database and its current user.

The root callback puts a `State` on the context; a command asks `state.db` (the owner of the
database, `sorted_cli.database.Database`) to run its work, and `state.user` for whom it acts;
both open the database on first use, and it is closed when the root context closes, whatever
happened in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from collections.abc import Callable

    from typer import _click

    from sorted_cli.config import Settings
    from sorted_cli.database import Database
    from sorted_cli.models import User


@dataclass
class State:
    database_url: str | None = None
    user_email: str | None = None
    debug: bool = False
    root: typer.Context | None = None  # closes the database when the command is over

    @staticmethod
    def of(ctx: _click.Context) -> State:
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
    def db(self) -> Database:
        """This command's database (see `sorted_cli.database`), closed with the command."""
        from sorted_cli.database import Database

        db = Database(self.settings, admin_url=self.migration_url, notice=_notice)
        self._on_close(db.close)
        return db

    @property
    def migration_url(self) -> str:
        """The URL of `sorted db` commands: the direct (migration) URL when one is set."""
        return self.settings.migration_url(flag_given=self.database_url is not None)

    @cached_property
    def user(self) -> User:
        """The user this command acts for (see README: "Who am I?")."""
        from sorted_cli import configfile, render
        from sorted_cli.errors import NoCurrentUser, UserNotFound
        from sorted_cli.services import users

        email = self.current_email()
        known = None if email is None else self.db.known_user(email, forget=self._forget_user)
        if known is not None:
            return known  # an earlier command of this process found them (a command server)
        shared = self.settings.is_postgres
        session = self.db.session
        try:
            user, created = users.resolve_current_user(session=session, email=email, shared=shared)
        except NoCurrentUser:
            self.db.check_schema()  # on a database not at head, that is what to fix first
            raise
        except UserNotFound:
            if self.settings.user is not None:  # named on purpose: say so, change nothing
                raise
            # The remembered user is gone (deleted elsewhere, or the schema was rebuilt):
            # forget them, then choose afresh as if nothing had been remembered.
            configfile.remember_user(self.settings.database_key, None, on_wait=render.notice)
            render.notice(f"The remembered user {email} no longer exists; forgot them.")
            email = None
            user, created = users.resolve_current_user(session=session, email=None, shared=shared)
        if email is None:  # the local user: remember it for the next command
            verb = "Created" if created else "Using"
            render.notice(f"{verb} local user {user.email}; `sorted user --help` to manage users.")
            self._remember_local_user(user.email)
        else:
            self.db.remember_user(email, user)
        return user

    def _forget_user(self) -> None:
        self.__dict__.pop("user", None)  # the next `state.user` looks them up

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


def _notice(text: str) -> None:
    from sorted_cli import render

    render.notice(text)


def _normalised(email: str | None) -> str | None:
    email = email.strip().lower() if email else None
    return email or None
