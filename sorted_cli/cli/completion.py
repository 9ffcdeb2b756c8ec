"""Shell completion of task references and tags.

Completion runs on every Tab press, so it must be quick and quiet: it reads the database the
command line names (its --database-url and --user, else the usual settings), never migrates
it (so it never imports Alembic), never creates a user, never retries, and offers nothing
rather than printing an error when anything is amiss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

T = TypeVar("T")
SHOWN = 50  # candidates offered at most


def _with_user(ctx: typer.Context, work: Callable[[Session, User], list[T]]) -> list[T]:
    try:
        from sorted_cli.cli.state import State
        from sorted_cli.db import close_session, open_session
        from sorted_cli.services.users import get_user_by_email

        params = ctx.find_root().params
        state = State(database_url=params.get("database_url"), user_email=params.get("user"))
        email = state.current_email()
        if email is None:  # nobody has used this database yet: nothing to offer
            return []
        session = open_session(state.settings, migrate=False)
        try:
            user = get_user_by_email(session=session, email=email)
            return [] if user is None else work(session, user)
        finally:
            close_session(session)
    except Exception:  # a Tab press must never print a traceback into the command line
        return []


def open_tasks(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """The user's open tasks whose number starts with what was typed: (number, title)."""
    from sorted_cli.services.tasks import open_task_titles

    digits = incomplete.removeprefix("#")
    return _with_user(
        ctx,
        lambda session, user: [
            (str(number), title)
            for number, title in open_task_titles(
                session=session, user=user, prefix=digits, limit=SHOWN
            )
        ],
    )


def tags(ctx: typer.Context, incomplete: str) -> list[str]:
    """The tags the user's tasks carry that start with what was typed."""
    from sorted_cli.models import normalise_tag
    from sorted_cli.services.tasks import user_tags

    try:
        prefix = normalise_tag(incomplete) if incomplete.strip("+ ") else ""
    except ValueError:
        return []
    return _with_user(
        ctx, lambda session, user: user_tags(session=session, user=user, prefix=prefix)[:SHOWN]
    )
