"""Schema commands for the admin: upgrade, downgrade, current, history, check."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from sorted_cli import schema
from sorted_cli.cli.options import Yes, examples
from sorted_cli.cli.state import State
from sorted_cli.errors import InvalidInput, SchemaError, SortedError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

app = typer.Typer(name="db", help="Create and migrate the database schema.", no_args_is_help=True)


@contextmanager
def _engine(ctx: typer.Context) -> Iterator[Engine]:
    from sorted_cli.db import make_engine

    engine = make_engine(State.of(ctx).settings)
    try:
        yield engine
    finally:
        engine.dispose()


@app.command(
    epilog=examples("sorted db upgrade", "DATABASE_URL=postgresql://... sorted db upgrade")
)
def upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create or migrate the schema (to the newest revision by default)."""
    from sorted_cli import migrate, render

    with _engine(ctx) as engine:
        before = migrate.current(engine)
        migrate.upgrade(engine, revision, progress=render.notice)
        after = migrate.current(engine)
    render.line(
        f"Database is at {schema.describe(after)}"
        if after != before
        else f"Nothing to do: database is at {schema.describe(after)}"
    )


@app.command(epilog=examples("sorted db downgrade 0001 --yes", "sorted db downgrade base --yes"))
def downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision; `base` removes everything.", show_default=False)
    ],
    yes: Yes = False,
) -> None:
    """Undo migrations down to REVISION (may drop data: asks first unless --yes)."""
    from sorted_cli import migrate, render

    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("Refusing to downgrade without --yes when not at a terminal.")
        if not typer.confirm(
            f"Downgrade {State.of(ctx).settings.masked_url} to {revision}? This can drop data."
        ):
            raise SortedError("Nothing changed.")
    with _engine(ctx) as engine:
        migrate.downgrade(engine, revision, progress=render.notice)
        render.line(f"Database is at {schema.describe(migrate.current(engine))}")


@app.command(epilog=examples("sorted db current"))
def current(ctx: typer.Context) -> None:
    """Show the database's schema revision."""
    from sorted_cli import migrate, render

    with _engine(ctx) as engine:
        render.line(schema.describe(migrate.current(engine)))


@app.command(epilog=examples("sorted db history"))
def history(ctx: typer.Context) -> None:
    """List the schema revisions this sorted knows, newest first."""
    from sorted_cli import migrate, render

    with _engine(ctx) as engine:
        applied = migrate.current(engine)
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

    with _engine(ctx) as engine:
        revision = migrate.current(engine)
    if revision != schema.HEAD:
        advice = (
            schema.NEWER_ADVICE
            if schema.is_newer_than_sorted(revision)
            else "run `sorted db upgrade`"
        )
        raise SchemaError(f"Database is at {schema.describe(revision)}: {advice}.")
    render.line(f"Database is at {schema.describe(revision)}")
