"""Shell completion of task references and tags.

Completion runs on every Tab press, so it must be quick and quiet: it reads the database the
command line names (its --database-url and --user, before or after the command, else the
usual settings) through `sorted_cli.lookup`, which imports no SQLAlchemy, pydantic or Alembic;
it never migrates, never creates a database or a user, never retries, and offers nothing
rather than printing an error when anything is amiss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from typer import _click

from sorted_cli.choices import View

if TYPE_CHECKING:
    from sorted_cli.lookup import Reader

T = TypeVar("T")
SHOWN = 50  # candidates offered at most
TITLE_SHOWN = 60  # characters of a title shown beside its number (on one line: white space,
# newlines and tabs included, becomes single spaces, as the shells' protocols need)


def _offer(ctx: typer.Context, lookup: Callable[[Reader], list[T]]) -> list[T]:
    try:
        from sorted_cli.lookup import reader

        url, user = _given(ctx, "database_url"), _given(ctx, "user")
        with reader(database_url=url, user=user) as found:
            return [] if found is None else lookup(found)
    except Exception:  # a Tab press must never print a traceback into the command line
        return []


def _given(ctx: typer.Context, name: str) -> str | None:
    """The global option NAME as the command will take it: given after the command's name
    (the command's context, then its group's), else before it (the root's)."""
    at: _click.Context | None = ctx
    while at is not None:
        value = at.params.get(name)
        if value is not None:
            return str(value)
        at = at.parent
    return None


def _tasks_in(view: View) -> Callable[[typer.Context, str], list[tuple[str, str]]]:
    """Completion of a task REF: the user's tasks in `view` whose number starts with what
    was typed, as (number, title); `#` typed before the number is kept."""

    def complete(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
        hash_sign = "#" if incomplete.startswith("#") else ""
        digits = incomplete.removeprefix("#")
        return _offer(
            ctx,
            lambda found: [
                (f"{hash_sign}{number}", " ".join(title.split())[:TITLE_SHOWN])
                for number, title in found.task_titles(view, digits, SHOWN)
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
    from sorted_cli.tags import normalise_tag

    typed = incomplete.lstrip("+")
    try:
        prefix = normalise_tag(typed) if typed.strip() and typed != "@" else typed
    except ValueError:
        return []
    if len(prefix) != len(typed):  # white space or case folding changed its length
        return []
    return _offer(
        ctx, lambda found: [incomplete + tag[len(prefix) :] for tag in found.tags(prefix, SHOWN)]
    )


def task_then_tags(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]] | list[str]:
    """`tag` and `untag`: an open task for the first word, tags after it (or with a --tag
    filter given, tags from the first word on)."""
    if ctx.params.get("words") or ctx.params.get("tags"):
        return tags(ctx, incomplete)
    return open_tasks(ctx, incomplete)
