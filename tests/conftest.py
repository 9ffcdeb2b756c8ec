"""Fixtures: every test runs away from real user data, on SQLite and (when configured) on a
throwaway PostgreSQL database.

- `SORTED_HOME` points at a fresh folder for every test, so the embedded database and the
  config file are never the user's own; DATABASE_URL and SORTED_USER are cleared.
- `database_url` is a migrated, empty database: a copy of a migrated SQLite file, or a
  PostgreSQL database made for this run (and dropped after it), emptied between tests.
- PostgreSQL runs when SORTED_TEST_DATABASE_URL names a server to make databases on (any
  database there, for example postgresql://postgres@127.0.0.1:5432/test). Without it the
  PostgreSQL tests skip, except under CI=true, where a missing or unreachable server fails.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import inspect, make_url
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner, Result

from sorted_cli import migrate
from sorted_cli.cli.app import app
from sorted_cli.config import Settings, load_settings
from sorted_cli.db import close_session, make_engine, open_session
from sorted_cli.models import User, UserCreate, validated
from sorted_cli.services import users

BACKENDS = ("sqlite", "postgresql")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADA = "ada@example.com"
# The JSON shape of a task, in order: a promise to scripts (README, "For scripts").
TASK_KEYS = [
    "id",
    "number",
    "title",
    "description",
    "priority",
    "due",
    "completed",
    "completed_at",
    "created_at",
    "updated_at",
    "deleted",
]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}")
    pytest.skip(reason)


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a reachable PostgreSQL server to make throwaway databases on."""
    url = os.environ.get("SORTED_TEST_DATABASE_URL", "")
    if not url:
        _unavailable("SORTED_TEST_DATABASE_URL is not set")
    try:
        psycopg.connect(_psycopg_url(url), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        _unavailable(f"cannot reach SORTED_TEST_DATABASE_URL: {exc}")
    return url


@pytest.fixture(scope="session")
def postgres_factory(postgres_server: str) -> Iterator[Any]:
    """Makes empty PostgreSQL databases for this run; drops them all at the end."""
    made: list[str] = []
    admin = _psycopg_url(postgres_server)

    def make() -> str:
        name = f"sorted_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(postgres_server).set(database=name).render_as_string(hide_password=False)

    yield make
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in made:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "sorted.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_factory: Any) -> str:
    url: str = postgres_factory()
    _migrate(url)
    return url


def _migrate(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("SORTED_HOME", str(home))
    for name in ("DATABASE_URL", "SORTED_DATABASE_URL", "SORTED_USER", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    # A login shell's USER must never select the sorted user; pin it so tests show that.
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("LOGNAME", "tester")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env file is read
    yield home
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)  # `--debug` turns it on


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A migrated, empty database of the backend under test, also set as DATABASE_URL."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("migrated_postgres")
        with psycopg.connect(_psycopg_url(url)) as connection:
            connection.execute("TRUNCATE tasks, users")
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def blank_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, not even sorted's schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    return str(request.getfixturevalue("postgres_factory")())


@pytest.fixture
def blank_engine(blank_database_url: str) -> Iterator[Engine]:
    """An engine on the blank database, made as sorted makes its own, to look at it directly."""
    engine = make_engine(Settings(database_url=blank_database_url))
    yield engine
    engine.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    session = open_session(load_settings())
    yield session
    close_session(session)


@pytest.fixture
def ada(session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    """A user who is the current user of CLI invocations (through SORTED_USER)."""
    user, _ = users.create_user(session=session, data=validated(UserCreate, email=ADA, name="Ada"))
    monkeypatch.setenv("SORTED_USER", ADA)
    return user


@pytest.fixture
def grace(session: Session) -> User:
    """Another user, whose tasks Ada must never see."""
    user, _ = users.create_user(
        session=session, data=validated(UserCreate, email="grace@example.com")
    )
    return user


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """Runs sorted in-process, as a user would type it: `run("add", "Buy milk")`."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, list(args), input=input)

    return invoke
