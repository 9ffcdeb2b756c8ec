"""Schema migrations with Alembic, run by `sorted db ...` and by the embedded auto-upgrade.

The scripts live in `migrations/` at the top of the repository and ship in the wheel as
`sorted_cli/migrations`, so an installed sorted migrates without a checkout or alembic.ini.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import text

from sorted_cli import schema
from sorted_cli.errors import InvalidInput, SchemaError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Revision:
    id: str
    message: str
    is_head: bool


def script_location() -> Path:
    """The migrations folder: inside the installed package, else the source checkout's."""
    package = Path(__file__).resolve().parent
    packaged = package / "migrations"
    return packaged if packaged.is_dir() else package.parent / "migrations"


def _config(connection: Connection, progress: Progress | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.attributes["connection"] = connection
    if progress is not None:
        config.attributes["on_version_apply"] = _reporter(progress)
    return config


def _reporter(progress: Progress) -> Callable[..., None]:
    def report(*, step: Any, **_: Any) -> None:
        verb = "Applied" if step.is_upgrade else "Reverted"
        progress(f"{verb} {step.up_revision_id}: {step.up_revision.doc}")

    return report


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return schema.only_revision(heads)


def upgrade(engine: Engine, revision: str = "head", progress: Progress | None = None) -> None:
    with _revision_errors(), _locked(engine).begin() as connection:
        _take_migration_lock(connection, progress)
        _refuse_newer_schema(connection)
        command.upgrade(_config(connection, progress), revision)


def downgrade(engine: Engine, revision: str, progress: Progress | None = None) -> None:
    with _revision_errors(), _locked(engine).begin() as connection:
        _take_migration_lock(connection, progress)
        _refuse_newer_schema(connection)
        command.downgrade(_config(connection, progress), revision)


# "sorted" in ASCII: the key of the PostgreSQL advisory lock that migrations take.
MIGRATION_LOCK_KEY = 0x736F72746564


def _locked(engine: Engine) -> Engine:
    """ENGINE, its SQLite transactions taking the write lock as they begin: a migration reads
    the revision it then changes, and no other sorted may write in between."""
    from sorted_cli.db import LOCKS_AT_BEGIN

    return engine.execution_options(**{LOCKS_AT_BEGIN: True})


def _take_migration_lock(connection: Connection, progress: Progress | None) -> None:
    """One migration at a time on PostgreSQL; the next one waits, then finds the work done.

    A transaction-level advisory lock: released by the COMMIT or ROLLBACK that ends the
    migration, even when the connection goes through a transaction-mode pooler, and never left
    behind by a process that died. SQLite's migration transaction already holds its write lock.
    """
    if connection.dialect.name != "postgresql":
        return
    key = {"key": MIGRATION_LOCK_KEY}
    if connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar():
        return
    if progress is not None:
        progress("Waiting for another migration of this database to finish...")
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


def _refuse_newer_schema(connection: Connection) -> None:
    """A schema migrated by a newer sorted is not this version's to change."""
    revision = _revision(connection)
    if schema.is_newer_than_sorted(revision):
        raise SchemaError(f"The database is at {schema.describe(revision)}: {schema.NEWER_ADVICE}.")


@contextmanager
def _revision_errors() -> Iterator[None]:
    """Alembic's complaints about a revision (unknown, wrong direction) are bad input."""
    try:
        yield
    except CommandError as exc:
        raise InvalidInput(f"Cannot migrate: {exc}.") from None


def history() -> list[Revision]:
    """Every known revision, newest first."""
    scripts = ScriptDirectory(str(script_location()))
    heads = set(scripts.get_heads())
    return [
        Revision(id=script.revision, message=script.doc, is_head=script.revision in heads)
        for script in scripts.walk_revisions()
    ]
