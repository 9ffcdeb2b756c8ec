"""Alembic environment for sorted.

sorted itself hands over an open connection (`config.attributes["connection"]`), so the
migration runs in the transaction and on the engine sorted configured. Run from a checkout with
`uv run alembic ...`, the URL comes from sorted's settings, as every sorted command reads it.
"""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

import sorted_cli.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    """Render sorted's and SQLModel's type decorators as the plain SQLAlchemy type they store.

    A migration must not import application code that changes over time.
    """
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    return False


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=render_item,
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=config.attributes.get("on_version_apply", ()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_from_command_line() -> None:
    from sorted_cli.config import load_settings
    from sorted_cli.db import make_engine

    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    settings = load_settings()
    if settings.is_embedded:
        raise SystemExit(
            "Set DATABASE_URL: running Alembic from a checkout must not touch your own "
            "embedded sorted database (use `sorted db ...` for that)."
        )
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("sorted's migrations run online only: drop --sql.")

connection = config.attributes.get("connection")
if connection is None:
    run_from_command_line()
else:
    run_migrations(connection)
