"""How a command line reaches a command: the global options before or after the command's name,
`sorted` alone (your list), and a mistyped command (the closest real one)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from conftest import ADA, Run, is_postgres_backend
from test_help import EVERY_COMMAND, ROOT
from test_processes import run_sorted
from typer.core import TyperGroup
from typer.testing import Result

from sorted_cli.cli.app import GLOBAL_OPTIONS, _app_for
from sorted_cli.cli.typos import closest, edit_distance

GRACE = "grace@example.com"
CREATED = "Created local user tester@localhost; `sorted user --help` to manage users.\n"
_UUID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}")


def outcome(result: Result) -> tuple[int, str, str]:
    return result.exit_code, _UUID.sub("<uuid>", result.stdout), result.stderr


def row(number: int, title: str, status: str = "open") -> str:
    """A task's line in piped `list` output."""
    return f"{number}\t<uuid>\t{status}\tnone\t\t\t{title}\n"


# ------------------------------------------------------------------------ global options after


@pytest.mark.usefixtures("ada", "grace")
def test_user_after_the_command_acts_as_before_it(run: Run) -> None:
    assert outcome(run("add", "For Grace", "--user", GRACE)) == (0, "Added task 1: For Grace\n", "")
    assert outcome(run("add", "Mine")) == (0, "Added task 1: Mine\n", "")  # Ada's, as ever
    assert outcome(run("list", "-u", GRACE)) == outcome(run("--user", GRACE, "list"))
    assert outcome(run("list", "-u", GRACE)) == (0, row(1, "For Grace"), "")
    assert outcome(run("done", "1", "-u", GRACE)) == (0, "Completed task 1: For Grace\n", "")
    assert outcome(run("list", "--all", "--user", GRACE)) == (0, row(1, "For Grace", "done"), "")
    assert outcome(run("list")) == (0, row(1, "Mine"), "")  # Ada's task 1 is still open


@pytest.mark.usefixtures("ada", "grace")
@pytest.mark.parametrize(
    "args",
    [
        ("user", "list", "--user", GRACE),
        ("user", "list", "-u", GRACE),
        ("user", "--user", GRACE, "list"),  # after the group's name
        ("--user", GRACE, "user", "list"),
        ("--user", ADA, "user", "list", "--user", GRACE),  # the later one wins
    ],
    ids=" ".join,
)
def test_user_after_a_group_command_acts_as_before_it(run: Run, args: tuple[str, ...]) -> None:
    """`user list` stars the user the command acts as; the group's own EMAIL arguments (`user
    show EMAIL`) name whom it works on, and --user always whom it acts as."""
    assert outcome(run(*args)) == (0, f"\t{ADA}\tAda\n*\t{GRACE}\t\n", "")


@pytest.mark.usefixtures("ada", "grace")
def test_user_show_names_whom_it_shows_and_user_whom_it_acts_as(run: Run) -> None:
    shown = run("user", "show", ADA, "--user", GRACE)
    assert (shown.exit_code, shown.stderr) == (0, "")
    assert f"email: {ADA}\n" in shown.stdout
    assert "current: false\n" in shown.stdout  # Grace is acting
    assert f"email: {GRACE}\n" in run("user", "show", "--user", GRACE).stdout


def test_database_url_after_the_command_is_the_database_used(run: Run, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path}/other.db"
    assert outcome(run("db", "upgrade", "--database-url", other))[0] == 0
    assert outcome(run("db", "current", "--database-url", other))[1].endswith("(head)\n")
    assert outcome(run("add", "Elsewhere", "--database-url", other)) == (
        0,
        "Added task 1: Elsewhere\n",
        CREATED,
    )
    assert outcome(run("list", "--database-url", other)) == (0, row(1, "Elsewhere"), "")
    assert outcome(run("--database-url", other, "list")) == (0, row(1, "Elsewhere"), "")
    assert outcome(run("list")) == (0, "", CREATED + "No open tasks.\n")  # the embedded one


@pytest.mark.usefixtures("ada")
@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("show", "42", "--debug"), "Error: No task 42.\n"),
        (("--debug", "show", "42"), "Error: No task 42.\n"),
        (
            ("user", "show", "nobody@example.com", "--debug"),
            "Error: No user nobody@example.com: add one with `sorted user add EMAIL`.\n",
        ),
    ],
    ids=" ".join,
)
def test_debug_after_the_command_shows_the_traceback(
    run: Run, args: tuple[str, ...], error: str
) -> None:
    result = run(*args)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith(
        ("Traceback (most recent call last):\n", "sqlalchemy.engine.Engine: ")  # and its SQL
    )
    assert "Traceback (most recent call last):\n" in result.stderr
    assert "\n" + error in result.stderr
    plain = [arg for arg in args if arg != "--debug"]
    assert outcome(run(*plain)) == (1, "", error)


def test_debug_after_the_command_logs_sql_in_its_own_process() -> None:
    """In-process, the test runner's logging takes the SQL; a process of its own shows it."""
    debugged = run_sorted("list", "--debug")
    assert (debugged.returncode, debugged.stdout) == (0, "")
    assert "sqlalchemy.engine.Engine: SELECT " in debugged.stderr
    assert debugged.stderr.endswith("No open tasks.\nsqlalchemy.engine.Engine: ROLLBACK\n")


@pytest.mark.usefixtures("ada")
def test_words_after_double_dash_or_an_option_needing_a_value_are_not_global_options(
    run: Run,
) -> None:
    """`-d` is add's --description, so `-d --debug` is a description; after `--` every word is
    an argument: the title here."""
    assert outcome(run("add", "--", "--user")) == (0, "Added task 1: --user\n", "")
    assert outcome(run("add", "Notes", "-d", "--debug")) == (0, "Added task 2: Notes\n", "")
    assert "description: --debug\n" in run("show", "2").stdout


# ------------------------------------------------------------------------ sorted alone


@pytest.mark.usefixtures("ada")
def test_sorted_alone_shows_your_list(run: Run) -> None:
    run("add", "Buy milk")
    run("add", "Call mum")
    run("done", "2")
    assert outcome(run()) == outcome(run("list")) == (0, row(1, "Buy milk"), "")
    assert outcome(run("--user", ADA)) == outcome(run("list"))


def test_sorted_alone_with_nothing_yet_is_list_on_its_first_run(run: Run) -> None:
    """No user and no database yet: the first `sorted` makes both, as the first `list` does."""
    assert outcome(run()) == (0, "", CREATED + "No open tasks.\n")
    assert outcome(run()) == outcome(run("list")) == (0, "", "No open tasks.\n")


def test_sorted_alone_on_a_database_with_no_user_is_list_there(
    run: Run, backend: str, database_url: str
) -> None:
    """On PostgreSQL identity is never guessed: `sorted` says how to choose, as `list` does."""
    alone, listed = outcome(run()), outcome(run("list"))
    if is_postgres_backend(backend):
        assert alone == listed
        assert alone == (
            1,
            "",
            "Error: No current user on this shared database: pass --user EMAIL, set "
            "SORTED_USER, or run `sorted user switch EMAIL`.\n",
        )
    else:
        assert alone == (0, "", CREATED + listed[2])


def test_help_is_still_help(run: Run) -> None:
    for flag in ("--help", "-h"):
        result = run(flag)
        assert (result.exit_code, result.stderr) == (0, "")
        assert result.stdout.startswith("Usage: sorted [OPTIONS] [COMMAND [ARGS]...]\n")
        assert "Commands:\n" in result.stdout
    assert "--user and --debug work after the command too" in " ".join(result.stdout.split())


def test_the_app_built_for_sorted_alone_runs_the_real_list() -> None:
    """`main` builds only `list` for `sorted` alone (and `--user --help` is a user, as Click
    parses it), and only the listing for help and the version."""
    for args in ([], ["-u", ADA], ["--debug"], ["--user", "--help"]):
        built = typer.main.get_command(_app_for(args))
        assert isinstance(built, TyperGroup)
        assert list(built.commands) == ["list"]
        assert built.commands["list"].params  # its own, not a stub's
    for args in (["--help"], ["-u", ADA, "-h"], ["--version"]):
        built = typer.main.get_command(_app_for(args))
        assert isinstance(built, TyperGroup)
        assert built.commands["list"].params == []


# ------------------------------------------------------------------------ a mistyped command


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("lst", "list"),
        ("dne", "done"),
        ("shwo", "show"),
        ("undoo", "undo"),
        ("imprt", "import"),
        ("lsit", "list"),
        ("LIST", "list"),
        ("usr", "user"),
    ],
)
def test_a_mistyped_command_gets_the_closest_real_one(run: Run, typed: str, meant: str) -> None:
    expected = (2, "", f"Error: No such command '{typed}'. Did you mean '{meant}'?\n")
    assert outcome(run(typed)) == expected
    assert outcome(run(typed, "1", "--all")) == expected  # whatever follows it


@pytest.mark.parametrize("typed", ["xyzzy", "nosuch", "dd", "lg"])
def test_an_unrelated_word_gets_no_suggestion(run: Run, typed: str) -> None:
    """Two-letter words are two edits from any other: `dd` is no more `add` than `db`."""
    assert outcome(run(typed)) == (2, "", f"Error: No such command '{typed}'.\n")


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("user", "lsit"), "No such command 'user lsit'. Did you mean 'user list'?"),
        (("db", "upgrad"), "No such command 'db upgrad'. Did you mean 'db upgrade'?"),
        (("server", "stpo"), "No such command 'server stpo'. Did you mean 'server stop'?"),
        (("user", "xyzzy"), "No such command 'user xyzzy'."),
        (
            ("--user", ADA, "user", "swtich", ADA),
            "No such command 'user swtich'. Did you mean 'user switch'?",
        ),
    ],
    ids=" ".join,
)
def test_a_mistyped_command_of_a_group_gets_the_closest_of_the_group(
    run: Run, args: tuple[str, ...], error: str
) -> None:
    assert outcome(run(*args)) == (2, "", f"Error: {error}\n")


def test_the_app_built_for_a_mistyped_command_builds_no_command() -> None:
    built = typer.main.get_command(_app_for(["lst"]))
    assert isinstance(built, TyperGroup)
    assert all(not command.params for command in built.commands.values())


def test_edit_distance_counts_a_swap_of_neighbours_as_one_edit() -> None:
    assert edit_distance("shwo", "show") == 1
    assert edit_distance("lsit", "list") == 1
    assert edit_distance("lst", "list") == 1
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "add") == edit_distance("add", "") == 3
    assert edit_distance("list", "list") == 0
    assert edit_distance("ca", "abc") == 3  # no letter is edited twice


def test_closest_offers_the_nearest_only_when_near_enough() -> None:
    names = ["add", "db", "list", "log", "tag"]
    assert closest("lits", names) == ["list"]
    assert closest("tg", names) == []  # one edit of two letters is half the word
    assert closest("ad", names) == []
    assert closest("lgo", names) == ["log"]
    assert closest("lig", names) == ["log"]  # list is two edits away
    assert closest("tog", names) == ["log", "tag"]  # equally near: both
    assert closest("abcdefg", names) == []
    assert closest("anything", []) == []


# ------------------------------------------------------------------------ every command


def _own_params(path: tuple[str, ...]) -> list[typer._click.Parameter]:
    command: typer._click.Command = ROOT
    for name in path:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    return command.params


_GLOBAL_FLAGS = {"--database-url", "--user", "-u", "--debug"}


EVERY_COMMAND_AND_GROUP = sorted(
    {path[:n] for path in EVERY_COMMAND for n in range(1, len(path) + 1)}
)


@pytest.mark.parametrize("path", EVERY_COMMAND_AND_GROUP, ids=" ".join)
def test_no_command_has_an_option_the_global_options_would_take(path: tuple[str, ...]) -> None:
    """After a command its own options would win over the global ones: none is spelled as one
    (`-d` is --description of add and edit; --debug has no short form), or named as one."""
    for param in _own_params(path):
        assert param.name not in GLOBAL_OPTIONS, param.name
        assert not _GLOBAL_FLAGS & {*param.opts, *param.secondary_opts}, param.opts


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=" ".join)
def test_every_command_lists_the_global_options_in_its_help(
    path: tuple[str, ...], run: Run
) -> None:
    result = run(*path, "--help")
    assert (result.exit_code, result.stderr) == (0, "")
    options = result.stdout.split("\nOptions:\n")[1]
    for flag in ("--database-url URL", "-u, --user EMAIL", "--debug", "-h, --help"):
        assert f"  {flag} " in options, flag
