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

from sorted_cli.choices import View

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

T = TypeVar("T")
SHOWN = 50  # candidates offered at most
CONNECT_TIMEOUT_S = 2  # a Tab press waits this long for a server, not SORTED_CONNECT_TIMEOUT
TITLE_SHOWN = 60  # characters of a title shown beside its number (on one line: white space,
# newlines and tabs included, becomes single spaces, as the shells' protocols need)


def _with_user(ctx: typer.Context, work: Callable[[Session, User], list[T]]) -> list[T]:
    try:
        from sorted_cli.cli.state import State
        from sorted_cli.db import close_session, open_session, sqlite_path
        from sorted_cli.services.users import get_user_by_email

        params = ctx.find_root().params
        state = State(database_url=params.get("database_url"), user_email=params.get("user"))
        email = state.current_email()
        if email is None:  # nobody has used this database yet: nothing to offer
            return []
        settings = state.settings.model_copy(update={"connect_timeout": CONNECT_TIMEOUT_S})
        path = sqlite_path(settings.url)
        if path is not None and not path.is_file():  # never create a database on a Tab press
            return []
        session = open_session(settings, migrate=False)
        try:
            user = get_user_by_email(session=session, email=email)
            return [] if user is None else work(session, user)
        finally:
            close_session(session)
    except Exception:  # a Tab press must never print a traceback into the command line
        return []


def _tasks_in(view: View) -> Callable[[typer.Context, str], list[tuple[str, str]]]:
    """Completion of a task REF: the user's tasks in `view` whose number starts with what
    was typed, as (number, title); `#` typed before the number is kept."""

    def complete(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
        from sorted_cli.services.tasks import task_titles

        hash_sign = "#" if incomplete.startswith("#") else ""
        digits = incomplete.removeprefix("#")
        return _with_user(
            ctx,
            lambda session, user: [
                (f"{hash_sign}{number}", " ".join(title.split())[:TITLE_SHOWN])
                for number, title in task_titles(
                    session=session, user=user, view=view, prefix=digits, limit=SHOWN
                )
            ],
        )

    return complete


open_tasks = _tasks_in(View.open)
done_tasks = _tasks_in(View.completed)
deleted_tasks = _tasks_in(View.deleted)


def tags(ctx: typer.Context, incomplete: str) -> list[str]:
    """The tags the user's tasks carry that start with what was typed. Each is offered as
    typed so far (`+Ho` offers `+Home` for `home`): shells keep only candidates that start
    with the typed text, and sorted normalises the tag when it is used."""
    from sorted_cli.models import normalise_tag
    from sorted_cli.services.tasks import user_tags

    typed = incomplete.lstrip("+")
    try:
        prefix = normalise_tag(typed) if typed.strip() and typed != "@" else typed
    except ValueError:
        return []
    if len(prefix) != len(typed):  # white space or case folding changed its length
        return []
    return _with_user(
        ctx,
        lambda session, user: [
            incomplete + tag[len(prefix) :]
            for tag in user_tags(session=session, user=user, prefix=prefix, limit=SHOWN)
        ],
    )
