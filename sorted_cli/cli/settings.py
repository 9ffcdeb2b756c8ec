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
    url_source = settings_files.source_of("database_url", flag=state.database_url)
    if settings.is_embedded:
        url_source = "embedded default"
    user_source = settings_files.source_of("user", flag=state.user_email)
    if settings.user is None:
        user_source = "remembered for this database" if state.current_email() else None
    render.key_values(
        [
            ("database", settings.masked_url + (f"  ({url_source})" if url_source else "")),
            (
                "user",
                f"{state.current_email()}  ({user_source})" if user_source else "(none chosen)",
            ),
            ("config file", f"{config_file}" + ("" if config_file.exists() else "  (not created)")),
            ("data directory", str(settings_files.data_dir())),
        ]
    )
