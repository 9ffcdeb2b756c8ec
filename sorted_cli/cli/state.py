"""What one sorted process holds: its settings, its session and its current user.

The root callback puts a `State` on the context; a command asks for `state.session` or
`state.user`, which open the database on first use, and the session is closed when the root
context closes, whatever happened in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.config import Settings
    from sorted_cli.models import User


@dataclass
class State:
    database_url: str | None = None
    user_email: str | None = None
    debug: bool = False
    root: typer.Context | None = None  # closes the session when the command is over

    @staticmethod
    def of(ctx: typer.Context) -> State:
        root = ctx.find_root()
        if not isinstance(root.obj, State):  # a command invoked without the root callback
            root.obj = State()
        root.obj.root = root
        return root.obj

    @cached_property
    def settings(self) -> Settings:
        from sorted_cli.config import load_settings

        return load_settings(database_url=self.database_url, user=self.user_email)

    @cached_property
    def session(self) -> Session:
        from sorted_cli.db import close_session, open_session

        session = open_session(self.settings)
        if self.root is not None:
            self.root.call_on_close(lambda: close_session(session))
        return session

    @cached_property
    def user(self) -> User:
        """The user this command acts for (see README: "Who am I?")."""
        from sorted_cli import config, render
        from sorted_cli.errors import NoCurrentUser
        from sorted_cli.services import users

        settings = self.settings
        email = self.current_email()
        if email is not None:
            return users.require_user_by_email(session=self.session, email=email)
        if settings.is_postgres:
            raise NoCurrentUser(
                "No current user on this shared database: pass --user EMAIL, set SORTED_USER, "
                "or run `sorted user switch EMAIL`."
            )
        user, created = users.create_local_user(session=self.session)
        config.remember_user(settings.database_key, user.email)
        verb = "Created" if created else "Using"
        render.notice(f"{verb} local user {user.email}; `sorted user --help` to manage users.")
        return user

    def current_email(self) -> str | None:
        """The email given (--user, SORTED_USER) or remembered for this database, if any."""
        from sorted_cli import config

        email = self.settings.user or config.remembered_user(self.settings.database_key)
        return email.strip().lower() if email else None
