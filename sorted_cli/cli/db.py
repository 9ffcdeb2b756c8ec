"""Schema commands for the admin: upgrade, downgrade, current, history, check."""

from __future__ import annotations

from typing import Annotated

import typer

from sorted_cli import schema
from sorted_cli.cli.options import Yes, confirm_or_refuse, examples
from sorted_cli.cli.state import State
from sorted_cli.errors import SchemaError
from sorted_cli.urls import mask_password

app = typer.Typer(
    name="db",
    help="Create and migrate the database schema.",
    epilog=examples("sorted db upgrade", "sorted db check && echo up to date"),
    no_args_is_help=True,
)


@app.command(
    short_help="Create or migrate the schema (to the newest revision by default).",
    epilog=examples("sorted db upgrade", "DATABASE_URL=postgresql://... sorted db upgrade"),
)
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the schema (to the newest revision by default)."""
    from sorted_cli import migrate, render
    from sorted_cli.db import refuse_foreign_sqlite

    state = State.of(ctx)
    before = state.db.run_admin(migrate.current)
    state.db.run_admin(lambda engine: refuse_foreign_sqlite(engine, state.settings, before))
    # Repeatable: after a lost answer to its COMMIT, a second try finds the work done.
    state.db.run_admin(
        lambda engine: migrate.upgrade(engine, revision, progress=render.notice), repeatable=True
    )
    after = state.db.run_admin(migrate.current)
    done = "Database is at" if after != before else "Nothing to do: database is at"
    render.line(f"{done} {schema.describe(after)}")


@app.command(
    short_help="Undo migrations down to REVISION (may drop data).",
    epilog=examples("sorted db downgrade 0001 --yes", "sorted db downgrade base --yes"),
)
def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision; `base` removes everything.", show_default=False)
    ],
    yes: Yes = False,
) -> None:
    """Undo migrations down to REVISION (may drop data: asks first unless --yes)."""
    from sorted_cli import migrate, render

    state = State.of(ctx)
    if not yes:
        question = (
            f"Downgrade {mask_password(state.migration_url)} to {revision}? This can drop data."
        )
        confirm_or_refuse(question, declined="Nothing changed.", doing="downgrade")
    state.db.run_admin(
        lambda engine: migrate.downgrade(engine, revision, progress=render.notice), repeatable=True
    )
    after = state.db.run_admin(migrate.current)
    render.line(f"Database is at {schema.describe(after)}")


@app.command(epilog=examples("sorted db current"))
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision."""
    from sorted_cli import migrate, render

    state = State.of(ctx)
    render.line(schema.describe(state.db.run_admin(migrate.current)))


@app.command(epilog=examples("sorted db history"))
def history(ctx: typer.Context) -> None:
    """List the schema revisions this sorted knows, newest first."""
    from sorted_cli import migrate, render

    state = State.of(ctx)
    applied = state.db.run_admin(migrate.current)
    for revision in migrate.history():
        marks = [
            m for m, on in (("head", revision.is_head), ("current", revision.id == applied)) if on
        ]
        render.line(
            f"{revision.id}  {revision.message}" + (f"  ({', '.join(marks)})" if marks else "")
        )


@app.command(epilog=examples("sorted db check && echo up to date"))
def check(ctx: typer.Context) -> None:
    """Exit 0 when the schema is at head, 1 otherwise."""
    from sorted_cli import migrate, render

    state = State.of(ctx)
    revision = state.db.run_admin(migrate.current)
    if revision != schema.HEAD:
        newer = schema.is_newer_than_sorted(revision)
        advice = schema.NEWER_ADVICE if newer else "run `sorted db upgrade`"
        raise SchemaError(f"Database is at {schema.describe(revision)}: {advice}.")
    render.line(f"Database is at {schema.describe(revision)}")
