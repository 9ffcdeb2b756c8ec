"""User commands and who the current user is."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from conftest import ADA, Run, is_postgres_backend
from typer.testing import Result

from sorted_cli import configfile
from sorted_cli.config import load_settings
from sorted_cli.models import User


def panel(result: Result) -> list[str]:
    """A Rich panel's lines without borders, padding, timestamps or UUIDs."""
    assert (result.exit_code, result.stderr) == (0, "")
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "YYYY-MM-DD hh:mm", result.stdout)
    text = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "UUID", text)
    return [re.sub(r"─+([╮╯])$", "─", line.strip("│ ")) for line in text.splitlines()]


def panel_of(run: Run, *args: str) -> list[str]:
    """`panel` of what a person at a terminal sees for `sorted ARGS`."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TTY_COMPATIBLE", "1")
        return panel(run(*args))


def test_piped_user_show_is_key_value_lines(ada: User, run: Run) -> None:
    run("add", "one")
    run("add", "two")
    run("done", "1")
    result = run("user", "show")
    assert (result.exit_code, result.stderr) == (0, "")
    masked = re.sub(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", "UUID", result.stdout)
    assert re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+Z", "T", masked) == (
        "id: UUID\n"
        "email: ada@example.com\n"
        "name: Ada\n"
        "created_at: T\n"
        "updated_at: T\n"
        "current: true\n"
        "open_tasks: 1\n"
        "completed_tasks: 1\n"
    )


def test_user_add_list_show_switch_delete(
    database_url: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("user", "add", "Ada@Example.com", "--name", " Ada Lovelace ").stdout == (
        "Added user ada@example.com (Ada Lovelace)\n"
    )
    assert run("user", "add", "grace@example.com").stdout == "Added user grace@example.com\n"
    result = run("user", "switch", "GRACE@example.com")
    assert (result.exit_code, result.stdout) == (0, "Now acting as grace@example.com\n")
    assert configfile.remembered_user(load_settings().database_key) == "grace@example.com"
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the table people see at a terminal
    listing = run("user", "list")
    monkeypatch.delenv("TTY_COMPATIBLE")
    assert listing.exit_code == 0
    assert [line.split()[:2] for line in listing.stdout.splitlines()] == [
        ["Email", "Name"],
        ["ada@example.com", "Ada"],
        ["*", "grace@example.com"],
    ]
    users = json.loads(run("user", "list", "--json").stdout)
    assert [(u["email"], u["name"], u["current"]) for u in users] == [
        ("ada@example.com", "Ada Lovelace", False),
        ("grace@example.com", None, True),
    ]
    assert list(users[0]) == ["id", "email", "name", "created_at", "updated_at", "current"]
    run("add", "Grace's task")
    assert panel_of(run, "user", "show") == [
        "╭─ grace@example.com ─",
        "Name     -",
        "Current  yes",
        "Tasks    1 open, 0 done",
        "Created  YYYY-MM-DD hh:mm",
        "ID       UUID",
        "╰─",
    ]
    assert panel_of(run, "user", "show", "ada@example.com")[1:3] == [
        "Name     Ada Lovelace",
        "Current  no",
    ]
    result = run("user", "delete", "grace@example.com", "--yes")
    assert (result.exit_code, result.stdout) == (0, "Deleted user grace@example.com\n")
    assert configfile.remembered_user(load_settings().database_key) is None
    assert [u["email"] for u in json.loads(run("user", "list", "--json").stdout)] == [ADA]
    result = run("user", "add", "grace@example.com")
    assert (result.exit_code, result.stdout) == (0, "Restored user grace@example.com\n")
    shown = panel_of(run, "--user", "grace@example.com", "user", "show")
    assert shown[3] == "Tasks    1 open, 0 done"


def test_switch_says_one_true_thing_about_who_commands_act_as(
    ada: User, grace: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def remembered() -> str | None:
        return configfile.remembered_user(load_settings().database_key)

    result = run("user", "switch", grace.email)  # SORTED_USER names Ada (the fixture)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Remembered grace@example.com for this database, but SORTED_USER=ada@example.com is "
        "set and wins: commands act as ada@example.com until you unset it.\n",
        "",
    )
    assert remembered() == grace.email
    assert json.loads(run("user", "list", "--json").stdout)[0]["current"] is True  # Ada

    result = run("user", "switch", ada.email)  # what SORTED_USER names anyway
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Now acting as ada@example.com\n",
        "",
    )

    monkeypatch.delenv("SORTED_USER")
    # --user is this command's only: from the next command on, the switch holds.
    result = run("--user", ada.email, "user", "switch", grace.email)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Now acting as grace@example.com\n",
        "",
    )
    assert panel_of(run, "user", "show")[0] == "╭─ grace@example.com ─"


def test_user_delete_off_a_terminal_needs_yes(ada: User, grace: User, run: Run) -> None:
    result = run("user", "delete", grace.email, input="\n")  # `echo | sorted user delete`
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: Refusing to delete a user without --yes when not at a terminal.\n",
    )
    listed = [u["email"] for u in json.loads(run("user", "list", "--json").stdout)]
    assert listed == [ADA, grace.email]


def test_deleting_the_chosen_user_says_no_user_is_current(
    database_url: str, backend: str, run: Run
) -> None:
    run("user", "add", "ada@example.com")
    run("user", "add", "grace@example.com")
    run("user", "switch", "grace@example.com")
    result = run("user", "delete", "grace@example.com", "-y")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Deleted user grace@example.com\n",
        "No user is current now: choose one with `sorted user switch EMAIL` "
        "(see `sorted user list`).\n",
    )
    after = run("list")  # as it said
    assert after.exit_code == 1
    assert after.stderr.startswith("Error: No current user"), after.stderr


def test_deleting_the_user_sorted_user_names_says_commands_fail(
    ada: User, grace: User, run: Run
) -> None:
    result = run("user", "delete", ADA, "-y")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"Deleted user {ADA}\n",
        f"SORTED_USER={ADA} is set and still names them: commands fail until you unset it.\n",
    )
    after = run("list")
    assert (after.exit_code, after.stderr) == (
        1,
        f"Error: No user {ADA}: add one with `sorted user add EMAIL`.\n",
    )
    other = run("user", "delete", grace.email, "-y")  # not who commands act as: nothing to say
    assert (other.exit_code, other.stderr) == (0, "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_deleting_the_chosen_user_of_a_local_database_says_who_is_next(
    database_url: str, run: Run
) -> None:
    run("add", "Mine")  # makes the local user tester@localhost
    run("user", "add", "grace@example.com")
    run("user", "switch", "grace@example.com")
    result = run("user", "delete", "grace@example.com", "-y")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Deleted user grace@example.com\n",
        "Commands act as the local user tester@localhost now.\n",
    )
    after = run("list", "--json")
    assert (after.exit_code, after.stderr) == (0, "")
    assert [task["title"] for task in json.loads(after.stdout)] == ["Mine"]

    result = run("user", "delete", "tester@localhost", "-y")  # the last user
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Deleted user tester@localhost\n",
        "No user is left: the next command sets up the local user tester@localhost.\n",
    )
    after = run("list", "--json")
    assert after.exit_code == 0
    assert after.stderr.startswith("Created local user tester@localhost")


def test_a_remembered_user_who_is_gone_is_forgotten(
    database_url: str, backend: str, run: Run
) -> None:
    configfile.remember_user(load_settings().database_key, "gone@example.com")
    result = run("list")
    first = "The remembered user gone@example.com no longer exists; forgot them.\n"
    if is_postgres_backend(backend):  # a shared database never guesses who you are
        assert (result.exit_code, result.stderr.splitlines(keepends=True)[0]) == (1, first)
        assert "No current user on this shared database" in result.stderr
    else:
        assert (result.exit_code, result.stdout) == (0, "")
        assert result.stderr == first + (
            "Created local user tester@localhost; `sorted user --help` to manage users.\n"
            "No open tasks.\n"
        )
    assert configfile.remembered_user(load_settings().database_key) != "gone@example.com"
    explicit = run("--user", "gone@example.com", "list")
    assert explicit.exit_code == 1
    assert (
        explicit.stderr
        == "Error: No user gone@example.com: add one with `sorted user add EMAIL`.\n"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["user", "add", "not-an-email"],
            2,
            "Invalid email: 'not-an-email' is not a valid email address.",
        ),
        (
            ["user", "add", "new@example.com", "--name", "n" * 201],
            2,
            "Invalid name: the name is 201 characters long; at most 200 fit.",
        ),
        (
            ["user", "add", "ADA@example.com"],
            2,
            "A user with email ada@example.com already exists.",
        ),
        (
            ["user", "switch", "nobody@example.com"],
            1,
            "No user nobody@example.com: add one with `sorted user add EMAIL`.",
        ),
        (
            ["user", "show", "nobody@example.com"],
            1,
            "No user nobody@example.com: add one with `sorted user add EMAIL`.",
        ),
        (
            ["user", "delete", "nobody@example.com"],
            1,
            "No user nobody@example.com: add one with `sorted user add EMAIL`.",
        ),
        (
            ["--user", "nobody@example.com", "list"],
            1,
            "No user nobody@example.com: add one with `sorted user add EMAIL`.",
        ),
    ],
)
def test_user_errors(ada: User, run: Run, args: list[str], code: int, message: str) -> None:
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"Error: {message}\n")


def test_the_embedded_default_needs_no_set_up(isolated_home: Path, run: Run) -> None:
    first = run("add", "Buy milk")
    assert first.exit_code == 0
    assert first.stdout == "Added task 1: Buy milk\n"
    assert first.stderr.startswith("Created local user ")
    assert first.stderr.endswith("@localhost; `sorted user --help` to manage users.\n")
    database = isolated_home / "sorted.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    second = run("add", "Call mum")
    assert (second.stdout, second.stderr) == ("Added task 2: Call mum\n", "")
    assert run("db", "current").stdout == "0003 (head)\n"


def test_a_lost_config_file_reuses_the_local_user(isolated_home: Path, run: Run) -> None:
    run("add", "Buy milk")
    (isolated_home / "config.toml").unlink()
    result = run("list", "--json")
    assert result.stderr.startswith("Using local user ")
    assert [task["title"] for task in json.loads(result.stdout)] == ["Buy milk"]
    assert run("list", "--json").stderr == ""  # remembered again


def test_with_users_but_none_chosen_commands_ask_to_choose(
    database_url: str, backend: str, run: Run
) -> None:
    run("user", "add", "ada@example.com")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: No current user on this shared database: pass --user EMAIL, set SORTED_USER, "
        "or run `sorted user switch EMAIL`.\n"
        if is_postgres_backend(backend)
        else "Error: No current user: pass --user EMAIL, set SORTED_USER, "
        "or run `sorted user switch EMAIL` (see `sorted user list`).\n"
    )


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_identity_is_never_guessed_on_postgresql(database_url: str, run: Run) -> None:
    result = run("add", "Buy milk")
    assert result.exit_code == 1
    assert "No current user on this shared database" in result.stderr
    assert json.loads(run("user", "list", "--json").stdout) == []


def test_the_current_user_is_remembered_per_database(
    database_url: str, tmp_path: Path, run: Run
) -> None:
    run("user", "add", "ada@example.com")
    run("user", "switch", "ada@example.com")
    run("add", "On the shared database")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    result = run("--database-url", other, "add", "On another database")
    assert result.stdout == "Added task 1: On another database\n"
    assert "Created local user" in result.stderr  # Ada is not carried over
    assert run("list", "--json").exit_code == 0
    assert [t["title"] for t in json.loads(run("list", "--json").stdout)] == [
        "On the shared database"
    ]


def test_debug_shows_the_traceback_of_an_expected_failure(ada: User, run: Run) -> None:
    result = run("--debug", "show", "42")
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "\nError: No task 42.\n" in result.stderr


def test_an_empty_user_list_says_how_to_add_one(database_url: str, run: Run) -> None:
    result = run("user", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "No users yet: add one with `sorted user add EMAIL`.\n",
    )


def test_emails_and_names_are_shown_literally(database_url: str, run: Run) -> None:
    run("user", "add", "[red]x[/]@example.com", "--name", "[bold]Eve\x1b[2J")
    listing = run("user", "list")
    assert "[red]x[/]@example.com" in listing.stdout
    assert "[bold]Eve\\x1b[2J" in listing.stdout
