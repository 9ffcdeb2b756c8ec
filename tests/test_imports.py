"""What the real entry point imports: a deterministic stand-in for start-up speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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


@pytest.mark.parametrize("args", [["--help"], ["--version"]])
def test_help_and_version_import_no_database_library(args: list[str]) -> None:
    assert top_level_imports(*args).isdisjoint(DATABASE_LIBRARIES)


def test_everyday_commands_never_import_alembic(database_url: str) -> None:
    os.environ["SORTED_USER"] = (
        "x@example.com"  # unknown user: the command stops after the schema check
    )
    try:
        modules = top_level_imports("list")
    finally:
        del os.environ["SORTED_USER"]
    assert "sqlalchemy" in modules  # it did reach the database
    assert "alembic" not in modules
    if database_url.startswith("sqlite"):
        assert "psycopg" not in modules
