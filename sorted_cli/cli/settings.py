"""`sorted config`: the effective settings, with any password masked."""

from __future__ import annotations

import typer

from sorted_cli.cli.options import examples
from sorted_cli.cli.state import State

app = typer.Typer()


@app.command(epilog=examples("sorted config", "DATABASE_URL=postgresql://me@db/todo sorted config"))
def config(ctx: typer.Context) -> None:
    """Show the effective configuration and where it comes from."""
    from sorted_cli import config as settings_files
    from sorted_cli import render

    state = State.of(ctx)
    settings = state.settings
    config_file = settings_files.config_file()
    render.key_values(
        [
            (
                "database",
                settings.masked_url + ("  (embedded default)" if settings.is_embedded else ""),
            ),
            ("user", state.current_email() or "(none chosen)"),
            ("config file", f"{config_file}" + ("" if config_file.exists() else "  (not created)")),
            ("data directory", str(settings_files.data_dir())),
        ]
    )
