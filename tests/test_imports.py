"""What the real entry point imports: a deterministic stand-in for start-up speed.

Importing SQLAlchemy, SQLModel and pydantic costs most of a command's time, so help, the
version and shell completion (tests/test_completion.py) import none of them; everyday commands
import the database stack but never Alembic, and psycopg only for PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from test_help import EVERY_COMMAND

from sorted_cli.config import load_settings
from sorted_cli.database import Database

DATABASE_LIBRARIES = ("sqlalchemy", "sqlmodel", "pydantic", "psycopg", "alembic")
PROBE = (
    "import json, sys\n"
    "sys.argv = ['sorted', *json.loads(sys.argv[1])]\n"
    "from sorted_cli.cli.app import main\n"
    "try:\n    main()\n"
    "except SystemExit:\n    pass\n"
    "sys.stderr.write(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
)


def top_level_imports(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=False,
    )
    return set(json.loads(result.stderr.splitlines()[-1]))


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["-u", "ada@example.com", "-h"], ["lst"]], ids=repr
)
def test_help_version_and_a_mistyped_command_import_no_database_library(args: list[str]) -> None:
    assert top_level_imports(*args).isdisjoint(DATABASE_LIBRARIES)


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=" ".join)
def test_the_help_of_every_command_imports_no_database_library(path: tuple[str, ...]) -> None:
    assert top_level_imports(*path, "--help").isdisjoint(DATABASE_LIBRARIES)


@pytest.mark.parametrize(
    "command",
    [[], ["list"], ["next"], ["add", "Buy milk"], ["done", "1"]],
    ids=lambda c: " ".join(c) or "-",
)
def test_everyday_commands_never_import_alembic(database_url: str, command: list[str]) -> None:
    os.environ["SORTED_USER"] = (
        "x@example.com"  # unknown user: the command stops after the schema check
    )
    try:
        modules = top_level_imports(*command)
    finally:
        del os.environ["SORTED_USER"]
    assert "sqlalchemy" in modules  # it did reach the database
    assert "alembic" not in modules
    assert ("psycopg" in modules) == database_url.startswith("postgresql")


def test_completing_a_command_name_imports_no_database_library(database_url: str) -> None:
    """Even with a PostgreSQL URL set: naming commands needs no database."""
    os.environ.update(_SORTED_COMPLETE="complete_bash", COMP_WORDS="sorted ad", COMP_CWORD="1")
    try:
        modules = top_level_imports()
    finally:
        for name in ("_SORTED_COMPLETE", "COMP_WORDS", "COMP_CWORD"):
            del os.environ[name]
    assert modules.isdisjoint(DATABASE_LIBRARIES)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_embedded_schema_check_is_one_query(database_url: str) -> None:
    """Opening a session on an embedded database at head sends one statement besides starting
    its transaction (that Alembic stays out of it, the subprocess tests above show)."""
    sent: list[str] = []

    def capture(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        sent.append(sql)

    database = Database(load_settings())
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        assert database.session is not None  # opening checks the schema
    finally:
        database.close()
        event.remove(Engine, "before_cursor_execute", capture)
    assert sent == ["BEGIN", "SELECT version_num FROM alembic_version"]  # a read: deferred


# What the client of the command server may import before it hands a command over: the
# standard library's cheapest modules. `typing`, `re`, `pathlib`, `dataclasses` and `inspect`
# each cost every command through the server milliseconds (sorted_cli/process.py), as do
# `signal` and `socket` with the `enum`, `selectors` and `contextlib` they bring: the client
# uses the C modules under them.
CLIENT_PROBE = (
    "import sys\n"
    "before = set(sys.modules)\n"
    "import sorted_cli.process, sorted_cli.server.client\n"
    "print(' '.join(sorted(set(sys.modules) - before)))\n"
)


def test_the_server_client_imports_only_cheap_standard_modules() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_PROCESS")}
    result = subprocess.run(  # without coverage, which would import much before the probe
        [sys.executable, "-c", CLIENT_PROBE],
        capture_output=True, text=True, timeout=60, check=True, env=env,
    )  # fmt: skip
    imported = set(result.stdout.split())
    assert {"sorted_cli.process", "sorted_cli.server.client", "_socket"} <= imported
    costly = {"typing", "re", "pathlib", "dataclasses", "inspect", "json", "subprocess"}
    costly |= {"signal", "socket", "enum", "selectors", "contextlib"}
    assert imported & costly == set()
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {
        "sorted_cli"
    }
