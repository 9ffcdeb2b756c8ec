"""User commands: add, list, show, switch, delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from sorted_cli.cli.options import Json, Yes, confirm_or_refuse, examples
from sorted_cli.cli.state import State

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

app = typer.Typer(
    name="user",
    help="Manage the users who own tasks.",
    epilog=examples("sorted user add ada@example.com", "sorted user switch ada@example.com"),
    no_args_is_help=True,
)

Email = Annotated[
    str, typer.Argument(metavar="EMAIL", help="The user's email.", show_default=False)
]


@app.command(epilog=examples('sorted user add ada@example.com --name "Ada Lovelace"'))
def add(
    ctx: typer.Context,
    email: Email,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="Display name.")
    ] = None,
) -> None:
    """Add a user."""
    from sorted_cli import render
    from sorted_cli.models import UserCreate, validated
    from sorted_cli.services import users

    data = validated(UserCreate, email=email, name=name)
    state = State.of(ctx)
    user, restored = state.db.run(lambda session: users.create_user(session=session, data=data))
    verb = "Restored" if restored else "Added"
    render.line(f"{verb} user {user.email}" + (f" ({user.name})" if user.name else ""))


@app.command("list", epilog=examples("sorted user list", "sorted user list --json"))
def list_(ctx: typer.Context, as_json: Json = False) -> None:
    """List users; the current one is starred."""
    from sorted_cli import render
    from sorted_cli.models import utcnow
    from sorted_cli.services import users

    state = State.of(ctx)
    everyone = state.db.run(lambda session: users.list_users(session=session))
    current = state.current_email()
    if as_json:
        render.print_json([render.user_json(u, current=u.email == current) for u in everyone])
    else:
        render.user_table(everyone, current=current, now=utcnow())


@app.command(epilog=examples("sorted user show", "sorted user show ada@example.com"))
def show(
    ctx: typer.Context,
    email: Annotated[
        str | None,
        typer.Argument(metavar="EMAIL", help="Whom to show; the current user when left out."),
    ] = None,
) -> None:
    """Show a user and how many tasks they have."""
    from sorted_cli import render
    from sorted_cli.services import users

    state = State.of(ctx)

    def look_up(session: Session) -> tuple[User, tuple[int, int]]:
        user = users.require_user_by_email(session=session, email=email) if email else state.user
        return user, users.task_counts(session=session, user=user)

    user, (open_tasks, completed_tasks) = state.db.run(look_up)
    render.user_panel(
        user,
        current=user.email == state.current_email(),
        open_tasks=open_tasks,
        completed_tasks=completed_tasks,
    )


@app.command(
    short_help="Make a user the current one for this database.",
    epilog=examples("sorted user switch ada@example.com"),
)
def switch(ctx: typer.Context, email: Email) -> None:
    """Make a user the current one for this database (remembered in the config file)."""
    from sorted_cli import configfile, render
    from sorted_cli.services import users

    state = State.of(ctx)
    user = state.db.run(lambda session: users.require_user_by_email(session=session, email=email))
    configfile.remember_user(state.settings.database_key, user.email, on_wait=render.notice)
    lasting = state.lasting_user()
    if lasting is None or lasting[0] == user.email:
        render.line(f"Now acting as {user.email}")
        return
    email, place = lasting
    setting, undo = _naming(email, place)
    render.line(
        f"Remembered {user.email} for this database, but {setting} and wins: "
        f"commands act as {email} until you {undo}."
    )


@app.command(
    short_help="Delete a user (their tasks stay, hidden).",
    epilog=examples("sorted user delete ada@example.com"),
)
def delete(ctx: typer.Context, email: Email, yes: Yes = False) -> None:
    """Delete a user (a soft delete: their tasks stay in the database, hidden)."""
    from sorted_cli import configfile, render
    from sorted_cli.db import before_question
    from sorted_cli.services import users

    state = State.of(ctx)
    user = state.db.run(lambda session: users.require_user_by_email(session=session, email=email))
    if not yes:
        before_question(state.db.session)  # nothing held while a person decides
        named = f"{user.email} ({user.name})" if user.name else user.email
        confirm_or_refuse(
            f"Delete user {named}? Their tasks stay in the database, hidden.",
            declined="Nothing deleted.",
            doing="delete a user",
        )
    state.db.run(lambda session: users.delete_user(session=session, user=user))
    remembered = configfile.remembered_user(state.settings.database_key) == user.email
    if remembered:
        configfile.remember_user(state.settings.database_key, None, on_wait=render.notice)
    render.line(f"Deleted user {user.email}")
    _say_who_is_next(state, deleted=user.email, was_remembered=remembered)


def _say_who_is_next(state: State, *, deleted: str, was_remembered: bool) -> None:
    """After deleting the user commands act as, say whom they act as now, as they will."""
    from sorted_cli import configfile, render
    from sorted_cli.errors import NoCurrentUser
    from sorted_cli.services import users

    lasting = state.lasting_user()
    if lasting is not None:  # it decides, whatever was remembered
        if lasting[0] == deleted:
            setting, undo = _naming(*lasting)
            render.notice(f"{setting} and still names them: commands fail until you {undo}.")
        return
    if not was_remembered:
        return
    choose = (
        "No user is current now: choose one with `sorted user switch EMAIL` "
        "(see `sorted user list`)."
    )
    if state.settings.is_postgres:  # a shared database never guesses (see `State.user`)
        render.notice(choose)
        return
    try:
        local = state.db.run(lambda session: users.find_local_user(session=session))
    except NoCurrentUser:
        render.notice(choose)
        return
    if local is None:
        render.notice(
            f"No user is left: the next command sets up the local user {users.local_email()}."
        )
        return
    configfile.remember_user(state.settings.database_key, local.email, on_wait=render.notice)
    render.notice(f"Commands act as the local user {local.email} now.")


def _naming(email: str, place: str) -> tuple[str, str]:
    """How to say that the setting at PLACE (see `State.lasting_user`) names EMAIL, and how to
    stop it."""
    if place == "config file":
        return f'user = "{email}" is in the config file', "remove it there"
    if place == ".env":
        return f"SORTED_USER={email} is in .env", "remove it there"
    return f"SORTED_USER={email} is set", "unset it"
