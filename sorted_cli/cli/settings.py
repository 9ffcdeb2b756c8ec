"""`sorted config`: the effective settings, with any password masked."""

from __future__ import annotations

import typer

from sorted_cli.cli.options import examples
from sorted_cli.cli.state import State

app = typer.Typer()


@app.command(epilog=examples("sorted config", "DATABASE_URL=postgresql://me@db/todo sorted config"))
def config(ctx: typer.Context) -> None:
    """Show the effective configuration and where it comes from."""
    from sorted_cli import configfile, render
    from sorted_cli.config import source_of

    state = State.of(ctx)
    settings = state.settings
    config_file = configfile.config_file()
    url_source = source_of("database_url", flag=state.database_url)
    if settings.is_embedded:
        url_source = "embedded default"
    user_source = source_of("user", flag=state.user_email)
    if settings.user is None:
        user_source = "remembered for this database" if state.current_email() else None
    render.key_values(
        [
            ("database", settings.masked_url + (f"  ({url_source})" if url_source else "")),
            (
                "user",
                f"{state.current_email()}  ({user_source})" if user_source else "(none chosen)",
            ),
            *_postgres_rows(state),
            ("config file", f"{config_file}" + ("" if config_file.exists() else "  (not created)")),
            ("data directory", str(configfile.data_dir())),
        ]
    )


def _postgres_rows(state: State) -> list[tuple[str, str]]:
    """Where `sorted db` migrates, and how long a connection may take (PostgreSQL only)."""
    from sorted_cli.config import source_of
    from sorted_cli.urls import mask_password

    settings = state.settings
    if not settings.is_postgres:
        return []
    url = state.migration_url
    if url == settings.url:
        migrations = "the database URL"
    else:
        names = ("migration_database_url", "database_url_unpooled")
        source = next(filter(None, (source_of(name) for name in names)), "config file")
        migrations = f"{mask_password(url)}  ({source})"
    return [
        ("migrations", migrations),
        (
            "timeouts",
            f"connect {settings.connect_timeout} s, retry for {settings.retry_timeout:g} s",
        ),
    ]
