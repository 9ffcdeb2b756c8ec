"""History commands: undo, redo, log."""

from __future__ import annotations

from typing import Annotated

import typer

from sorted_cli.cli.options import Json, examples
from sorted_cli.cli.state import State

app = typer.Typer()


@app.command(epilog=examples("sorted done 3 4 7", "sorted undo    (all three are open again)"))
def undo(ctx: typer.Context, as_json: Json = False) -> None:
    """Take back your last command that changed tasks, as a whole.

    Each task gets back what it had before; a task the command added goes to the trash, a
    note is taken off its task. Refuses, changing nothing, when one of those tasks has
    changed since. Run it again to undo the command before.
    """
    _revert(ctx, as_json, redo=False)


@app.command(epilog=examples("sorted undo", "sorted redo"))
def redo(ctx: typer.Context, as_json: Json = False) -> None:
    """Re-apply what `sorted undo` took back (right after it: a new change ends the redo)."""
    _revert(ctx, as_json, redo=True)


def _revert(ctx: typer.Context, as_json: bool, *, redo: bool) -> None:
    from sorted_cli import render
    from sorted_cli.services import history

    state = State.of(ctx)
    service = history.redo_last if redo else history.undo_last
    command = state.db.run(lambda session: service(session=session, user=state.user))
    if as_json:
        render.print_json(render.command_json(command))
    else:
        render.reverted(command)


@app.command(epilog=examples("sorted log", "sorted log -n 50 --json"))
def log(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, metavar="N", help="How many commands to show."),
    ] = 20,
    as_json: Json = False,
) -> None:
    """List your latest commands that changed tasks, newest first, and what each changed."""
    from sorted_cli import render
    from sorted_cli.services import history

    state = State.of(ctx)
    commands = state.db.run(
        lambda session: history.recent_commands(session=session, user=state.user, limit=limit)
    )
    if as_json:
        render.print_json([render.command_json(command) for command in commands])
    elif not commands:
        render.notice("No changes recorded yet.")
    else:
        render.history_log(commands)
