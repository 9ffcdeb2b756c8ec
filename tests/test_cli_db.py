"""`sorted db ...` as an admin types it, and the schema policy of everyday commands."""

from __future__ import annotations

import re

import pytest
from conftest import ADA, POSTGRES_BACKENDS, Run, table_names
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from typer.testing import Result

import sorted_cli.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from sorted_cli.configfile import embedded_database_path

EMPTY = "empty (no sorted schema)\n"
# The tables of the schema at head (tests/test_migrations.py names them one by one).
SCHEMA_TABLES = {*(table.name for table in SQLModel.metadata.sorted_tables), "alembic_version"}
# Every revision, oldest first, by name (tests/test_migrations.py keeps schema.REVISIONS to the
# scripts); the newest is head.
REVISIONS = {
    "0001": "create users and tasks",
    "0002": "add task tags",
    "0003": "add task history",
    "0004": "add task notes",
    "0005": "add task dates",
    "0006": "add task recurrence",
}
HEAD = list(REVISIONS)[-1]
AT_HEAD = f"Database is at {HEAD} (head)\n"
APPLIED = "".join(f"Applied {rev}: {name}\n" for rev, name in REVISIONS.items())
REVERTED = "".join(f"Reverted {rev}: {name}\n" for rev, name in reversed(REVISIONS.items()))
HISTORY = "".join(
    f"{rev}  {name}{'  (head)' if rev == HEAD else ''}\n"
    for rev, name in reversed(REVISIONS.items())
)
UPGRADE_ADVICE = "Error: Database is at empty (no sorted schema): run `sorted db upgrade`.\n"
NEWER = f"zzzz (newer than this sorted, which knows up to {HEAD})"
LOCAL_USER = re.compile(r"Created local user \S+@\S+; `sorted user --help` to manage users\.\n")


def ok(result: Result, stdout: str, stderr: str = "") -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (0, stdout, stderr)


def fails(result: Result, code: int, stderr: str) -> None:
    """Nothing on stdout, exactly this on stderr, and no traceback."""
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", stderr)


def fails_matching(result: Result, code: int, pattern: str) -> None:
    """Nothing on stdout, one `Error: ` line matching pattern on stderr, and no traceback."""
    assert (result.exit_code, result.stdout) == (code, "")
    assert re.fullmatch(f"Error: {pattern}\n", result.stderr), result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


@pytest.fixture
def blank(blank_database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A blank database of the backend under test, set as DATABASE_URL."""
    monkeypatch.setenv("DATABASE_URL", blank_database_url)
    return blank_database_url


@pytest.fixture
def engine(blank: str, blank_engine: Engine) -> Engine:
    """An engine of the test's own, to look at (or tamper with) the database directly."""
    return blank_engine


def set_revision(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


# ------------------------------------------------------------------------ a blank database


def test_current_on_blank_database(blank: str, run: Run) -> None:
    ok(run("db", "current"), EMPTY)


def test_check_on_blank_database_asks_for_upgrade(blank: str, run: Run) -> None:
    fails(run("db", "check"), 1, UPGRADE_ADVICE)


def test_history_on_blank_database_marks_head_only(blank: str, run: Run) -> None:
    ok(run("db", "history"), HISTORY)


def test_read_only_commands_leave_blank_database_blank(
    blank: str, engine: Engine, run: Run
) -> None:
    run("db", "current")
    run("db", "check")
    run("db", "history")
    assert table_names(engine) == set()


# ------------------------------------------------------------------------------- upgrade


def test_upgrade_blank_database_to_head(blank: str, engine: Engine, run: Run) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    assert table_names(engine) == SCHEMA_TABLES
    ok(run("db", "current"), f"{HEAD} (head)\n")
    ok(run("db", "check"), AT_HEAD)
    ok(run("db", "history"), HISTORY.replace("(head)", "(head, current)"))


def test_upgrade_twice_has_nothing_to_do(blank: str, run: Run) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    ok(run("db", "upgrade"), f"Nothing to do: database is at {HEAD} (head)\n")
    ok(run("db", "upgrade", "head"), f"Nothing to do: database is at {HEAD} (head)\n")


def test_upgrade_to_named_revision(blank: str, run: Run) -> None:
    ok(
        run("db", "upgrade", "0001"),
        f"Database is at 0001 (behind: head is {HEAD})\n",
        "Applied 0001: create users and tasks\n",
    )
    ok(
        run("db", "upgrade", "0002"),
        f"Database is at 0002 (behind: head is {HEAD})\n",
        "Applied 0002: add task tags\n",
    )
    ok(
        run("db", "upgrade", HEAD),
        AT_HEAD,
        "".join(f"Applied {rev}: {name}\n" for rev, name in list(REVISIONS.items())[2:]),
    )


def test_upgrade_to_unknown_revision_is_refused(blank: str, engine: Engine, run: Run) -> None:
    fails_matching(run("db", "upgrade", "nosuchrev"), 2, r"Cannot migrate: .*'nosuchrev'.*\.")
    assert table_names(engine) == set()
    ok(run("db", "current"), EMPTY)


# ----------------------------------------------------------------------------- downgrade


def test_downgrade_without_yes_off_terminal_is_refused(
    blank: str, engine: Engine, run: Run
) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    fails(
        run("db", "downgrade", "base"),
        2,
        "Error: Refusing to downgrade without --yes when not at a terminal.\n",
    )
    ok(run("db", "current"), f"{HEAD} (head)\n")
    assert table_names(engine) == SCHEMA_TABLES


def up_and_down_to_base(run: Run, engine: Engine) -> None:
    """Upgrade a blank database, then take it down to base: Alembic's empty table is left."""
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    ok(
        run("db", "downgrade", "base", "--yes"),
        "Database is at empty (no sorted schema)\n",
        REVERTED,
    )
    assert table_names(engine) == {"alembic_version"}


def test_downgrade_to_base_with_yes_empties_the_schema(
    blank: str, engine: Engine, run: Run
) -> None:
    up_and_down_to_base(run, engine)
    ok(run("db", "current"), EMPTY)
    fails(run("db", "check"), 1, UPGRADE_ADVICE)
    assert table_names(engine) == {"alembic_version"}
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)


def test_downgrade_to_unknown_revision_is_refused(blank: str, run: Run) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    fails_matching(
        run("db", "downgrade", "nosuchrev", "--yes"), 2, r"Cannot migrate: .*'nosuchrev'.*\."
    )
    ok(run("db", "current"), f"{HEAD} (head)\n")


# --------------------------------------------------- everyday commands and the schema policy


@pytest.mark.parametrize("backend", POSTGRES_BACKENDS)
def test_everyday_command_on_blank_shared_database_asks_for_upgrade(
    blank: str, engine: Engine, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_USER", ADA)
    fails(
        run("add", "x"),
        1,
        f"Error: The database has no sorted schema yet; this sorted needs {HEAD}: "
        "an admin must run `sorted db upgrade`.\n",
    )
    assert table_names(engine) == set()
    ok(run("db", "current"), EMPTY)


NO_SCHEMA = (
    f"Error: The database has no sorted schema yet; this sorted needs {HEAD}: "
    "an admin must run `sorted db upgrade`.\n"
)
BEHIND = (
    f"Error: The database is at 0001; this sorted needs {HEAD}: "
    "an admin must run `sorted db upgrade`.\n"
)


@pytest.mark.parametrize("backend", POSTGRES_BACKENDS)
@pytest.mark.parametrize(
    "args",
    [["list"], ["add", "x"], ["user", "switch", ADA], ["user", "add", ADA], ["user", "list"]],
)
def test_with_no_user_known_a_shared_database_says_its_schema_first(
    blank: str, engine: Engine, run: Run, args: list[str]
) -> None:
    fails(run(*args), 1, NO_SCHEMA)  # not "No current user", which sends the admin astray
    assert table_names(engine) == set()
    ok(
        run("db", "upgrade", "0001"),
        f"Database is at 0001 (behind: head is {HEAD})\n",
        APPLIED.splitlines(keepends=True)[0],
    )
    fails(run(*args), 1, BEHIND)
    ok(run("db", "current"), f"0001 (behind: head is {HEAD})\n")


@pytest.mark.parametrize("backend", POSTGRES_BACKENDS)
def test_everyday_command_works_on_shared_database_after_upgrade(
    blank: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    ok(run("user", "add", ADA), f"Added user {ADA}\n")
    monkeypatch.setenv("SORTED_USER", ADA)
    ok(run("add", "x"), "Added task 1: x\n")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_everyday_command_migrates_blank_local_file(blank: str, engine: Engine, run: Run) -> None:
    result = run("add", "x")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: x\n")
    assert LOCAL_USER.fullmatch(result.stderr), result.stderr
    assert table_names(engine) == SCHEMA_TABLES
    ok(run("db", "current"), f"{HEAD} (head)\n")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_local_file_taken_down_to_base_is_migrated_again_on_use(
    blank: str, engine: Engine, run: Run
) -> None:
    up_and_down_to_base(run, engine)  # Alembic's table, empty, is not someone else's
    result = run("add", "x")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: x\n"), result.stderr
    ok(run("db", "current"), f"{HEAD} (head)\n")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_db_upgrade_leaves_a_sqlite_file_of_other_tables_alone(
    blank: str, engine: Engine, run: Run
) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE recipes (name TEXT)")
    result = run("db", "upgrade")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith(
        "holds other tables and no sorted schema: it is not a sorted database, so sorted "
        "leaves it alone (check DATABASE_URL and .env).\n"
    )
    assert table_names(engine) == {"recipes"}


def test_everyday_command_migrates_new_embedded_database(run: Run) -> None:
    assert not embedded_database_path().exists()
    result = run("add", "x")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: x\n")
    assert LOCAL_USER.fullmatch(result.stderr), result.stderr
    ok(run("db", "current"), f"{HEAD} (head)\n")
    assert embedded_database_path().is_file()


def test_everyday_command_on_newer_schema_asks_to_upgrade_sorted(
    blank: str, engine: Engine, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    set_revision(engine, "zzzz")
    monkeypatch.setenv("SORTED_USER", ADA)
    fails(
        run("add", "x"),
        1,
        f"Error: The database is at {NEWER}: "
        "upgrade sorted (someone migrated it with a newer version).\n",
    )
    ok(run("db", "current"), f"{NEWER}\n")
    ok(run("db", "history"), HISTORY)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar() == 0


def test_check_on_newer_schema_asks_to_upgrade_sorted(blank: str, engine: Engine, run: Run) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    set_revision(engine, "zzzz")
    fails(
        run("db", "check"),
        1,
        f"Error: Database is at {NEWER}: "
        "upgrade sorted (someone migrated it with a newer version).\n",
    )


def test_upgrade_on_newer_schema_is_a_schema_error(blank: str, engine: Engine, run: Run) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    set_revision(engine, "zzzz")
    fails(
        run("db", "upgrade"),
        1,
        f"Error: The database is at {NEWER}: "
        "upgrade sorted (someone migrated it with a newer version).\n",
    )


# ------------------------------------------------------------ a damaged alembic_version


def two_revisions(revision: str) -> str:
    rows = ", ".join(sorted([HEAD, revision]))
    if revision == "0001":  # both known: only the tables tell which is right
        repair = (
            "delete the rows of revisions the tables do not match "
            "(DELETE FROM alembic_version WHERE version_num = '...')"
        )
    else:  # only the head is known: it is likely right
        repair = (
            f"{HEAD} is a revision this sorted knows, likely the right one, and {revision} not (if "
            f"a newer sorted stamped it, upgrade sorted instead); to keep {HEAD}, "
            f"DELETE FROM alembic_version WHERE version_num <> '{HEAD}'"
        )
    return (
        f"Error: The database's alembic_version table holds 2 rows ({rows}) where it "
        f"should hold one, the schema's revision: {repair}, then run `sorted db upgrade`.\n"
    )


@pytest.mark.parametrize("revision", ["0001", "zzzz"])
def test_two_rows_in_alembic_version_are_one_line_that_says_how_to_repair_them(
    blank: str, engine: Engine, run: Run, monkeypatch: pytest.MonkeyPatch, revision: str
) -> None:
    ok(run("db", "upgrade"), AT_HEAD, APPLIED)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})
    monkeypatch.setenv("SORTED_USER", ADA)
    for command in (["db", "current"], ["db", "upgrade"], ["db", "check"], ["db", "history"]):
        fails(run(*command), 1, two_revisions(revision))
    for command in (["list"], ["add", "x"], ["db", "downgrade", "0001", "--yes"]):
        fails(run(*command), 1, two_revisions(revision))
    with engine.begin() as connection:
        connection.execute(
            text("DELETE FROM alembic_version WHERE version_num = :r"), {"r": revision}
        )
    ok(run("db", "upgrade"), f"Nothing to do: database is at {HEAD} (head)\n")
