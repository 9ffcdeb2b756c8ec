"""Shell completion of task numbers and tags, through each shell's own protocol, on each backend.

Bash runs for real: it sources the script `sorted --show-completion` prints and calls the
completion function as a Tab press does. Zsh and fish are not installed here, so their tests
set the variables their scripts set (`_TYPER_COMPLETE_ARGS`, the whole line up to the cursor;
for fish also `_TYPER_COMPLETE_FISH_ACTION=get-args`), which `test_zsh_and_fish_scripts_*`
checks against the scripts themselves.
"""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from typing import TYPE_CHECKING

import pytest
import typer
from conftest import ADA, table_names
from sqlmodel import select
from test_imports import PROBE
from test_processes import (
    SORTED,
    TIMEOUT_S,
    Completed,
    environment,
    free_port,
    outcome,
    run_sorted,
)

from sorted_cli.cli import completion
from sorted_cli.cli.app import app
from sorted_cli.models import TaskCreate, User, validated
from sorted_cli.services import tasks

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy.engine import Engine
    from sqlmodel import Session


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Completion reads through the same code whichever way PostgreSQL is reached, and each
    test starts real processes: the embedded database and the direct server suffice."""
    return str(request.param)


SHELLS = ("bash", "zsh", "fish")
# What each shell's completion instruction prints when there is nothing to offer (zsh then
# falls back to completing file names).
NOTHING = {"bash": "\n", "zsh": "_files\n", "fish": "\n"}
# The open tasks of the `tasks_of_ada_and_grace` fixture, as zsh and fish show them.
ZSH_OPEN = '_arguments \'*: :(("1":"Buy milk"\n"4":"Water plants"))\'\n'
FISH_OPEN = "1\tBuy milk\n4\tWater plants\n"
REF_COMMANDS = ("show", "note", "done", "reopen", "edit", "delete", "restore", "tag", "untag")


def complete(shell: str, line: str, **changes: str | None) -> Completed:
    """`sorted` asked for the completions of LINE (the cursor at its end), with the variables
    SHELL's completion script sets."""
    env = environment(_SORTED_COMPLETE=f"complete_{shell}", **changes)
    if shell == "bash":
        env |= {"COMP_WORDS": line, "COMP_CWORD": str(len(line.split(" ")) - 1)}
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return run_sorted(env=env)


def tab_in_bash(*lines: str) -> list[list[str]]:
    """What bash offers on a Tab press at the end of each LINE (words split on single spaces),
    with the script of `sorted --show-completion` sourced."""
    bash = shutil.which("bash")
    assert bash is not None, "these tests need bash"
    presses = [
        f"COMP_WORDS=({' '.join(map(shlex.quote, line.split(' ')))})\n"
        f"COMP_CWORD={len(line.split(' ')) - 1}\n"
        "COMPREPLY=()\n"
        "_sorted_completion sorted\n"
        'echo "${COMPREPLY[*]}"\n'
        for line in lines
    ]
    script = "source <(sorted --show-completion) || exit 99\n" + "".join(presses)
    env = environment(PATH=f"{SORTED.parent}:{environment()['PATH']}")
    result = subprocess.run(
        [bash, "--norc", "--noprofile", "-c", script],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    offers = result.stdout.splitlines()
    assert len(offers) == len(lines), result.stdout
    return [offer.split() for offer in offers]


def add(session: Session, user: User, title: str, *tags: str) -> None:
    tasks.create_task(
        session=session, user=user, data=validated(TaskCreate, title=title, tags=list(tags))
    )


@pytest.fixture
def tasks_of_ada_and_grace(session: Session, ada: User, grace: User) -> None:
    """Ada (the current user): 1 Buy milk and 4 Water plants open, 2 Pay rent done, 3 Call Bob
    in the trash; tags errands, health, home, work. Grace: five open tasks, tagged hobby."""
    add(session, ada, "Buy milk", "Home", "+errands")
    add(session, ada, "Pay rent", "work")
    add(session, ada, "Call Bob")
    add(session, ada, "Water plants", "home", "health")
    tasks.complete_tasks(session=session, user=ada, refs=["2"])
    tasks.delete_tasks(session=session, user=ada, refs=["3"])
    for n in range(1, 6):
        add(session, grace, f"Grace's task {n}", "hobby")
    session.rollback()  # an SQLite read would hold the write lock the processes need


def user_emails(session: Session) -> list[str]:
    session.rollback()  # forget what earlier reads saw
    emails = sorted(session.exec(select(User.email)))
    session.rollback()
    return emails


def sqlite_tables(path: Path) -> list[str]:
    """The tables in an SQLite file; none when there is no file."""
    if not path.exists():
        return []
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        return [name for (name,) in connection.execute("SELECT name FROM sqlite_master")]


# ------------------------------------------------------------------------ task numbers


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_bash_offers_the_tasks_each_command_can_act_on() -> None:
    offers = tab_in_bash(*(f"sorted {command} " for command in REF_COMMANDS))
    # reopen takes done tasks, restore those in the trash; the others the open ones.
    expected = {c: {"reopen": ["2"], "restore": ["3"]}.get(c, ["1", "4"]) for c in REF_COMMANDS}
    assert dict(zip(REF_COMMANDS, offers, strict=True)) == expected


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_offer_open_tasks_with_their_titles(shell: str) -> None:
    expected = {"zsh": ZSH_OPEN, "fish": FISH_OPEN}[shell]
    for command in ("done", "edit", "untag"):
        assert outcome(complete(shell, f"sorted {command} ")) == (0, expected, "")


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
@pytest.mark.parametrize(
    "shape",
    [
        "sorted {given} done ",
        "sorted done {given} ",
        "sorted --user grace@example.com done {given} ",  # after the command wins
    ],
)
def test_the_database_and_user_on_the_command_line_are_the_ones_completed(
    database_url: str, shape: str
) -> None:
    """Completion reads --database-url and --user, before or after the command, not only the
    environment."""
    line = shape.format(given=f"--database-url {database_url} --user {ADA.upper()}")
    assert outcome(complete("zsh", line, DATABASE_URL=None, SORTED_USER=None)) == (
        0,
        ZSH_OPEN,
        "",
    )


def test_a_typed_number_narrows_the_offer_and_at_most_fifty_are_offered(
    session: Session, ada: User
) -> None:
    for n in range(1, 56):
        add(session, ada, f"task {n}")
    tasks.complete_tasks(session=session, user=ada, refs=["12"])
    session.rollback()

    every, ones, fives, seven, none = tab_in_bash(
        "sorted done ", "sorted done 1", "sorted show 5", "sorted done 7", "sorted done 56"
    )
    assert every == [str(n) for n in range(1, 52) if n != 12]
    assert ones == ["1", "10", "11", *map(str, range(13, 20))]  # 12 is done; 2 never
    assert fives == [str(n) for n in (5, *range(50, 56))]
    assert (seven, none) == (["7"], [])


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_a_hash_before_the_number_is_allowed() -> None:
    every, ones = tab_in_bash("sorted done #", "sorted done #1")
    assert ([n.removeprefix("#") for n in every], [n.removeprefix("#") for n in ones]) == (
        ["1", "4"],
        ["1"],
    )


# ------------------------------------------------------------------------ tags


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_tags_are_offered_by_prefix_for_tag_options_and_arguments() -> None:
    assert tab_in_bash(
        "sorted list --tag ",
        "sorted list --tag h",
        "sorted list --tag ho",
        "sorted add Bread --tag w",
        "sorted untag 1 ",
        "sorted untag 1 e",
        "sorted tag 4 home h",
        "sorted list --tag x",
        "sorted untag --tag home ",  # with a filter, no REF: the first word is a tag
    ) == [
        ["errands", "health", "home", "work"],
        ["health", "home"],  # not Grace's hobby
        ["home"],
        ["work"],
        ["errands", "health", "home", "work"],
        ["errands"],
        ["health", "home"],
        [],
        ["errands", "health", "home", "work"],
    ]


def test_tags_with_combining_marks_are_completed(session: Session, ada: User) -> None:
    add(session, ada, "Read", "हिंदी", "தமிழ்")
    session.rollback()
    assert outcome(complete("fish", "sorted list --tag हि")) == (0, "हिंदी\n", "")
    assert outcome(complete("fish", "sorted tag 1 தமி")) == (0, "தமிழ்\n", "")


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_offer_tags(shell: str) -> None:
    expected = {"zsh": '_arguments \'*: :(("health"\n"home"))\'\n', "fish": "health\nhome\n"}
    assert outcome(complete(shell, "sorted list --tag h")) == (0, expected[shell], "")


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_what_is_typed_of_a_tag_is_normalised() -> None:
    offers = tab_in_bash("sorted list --tag H", "sorted add Bread --tag +h", "sorted untag 1 +E")
    assert [sorted({tag.removeprefix("+").lower() for tag in offer}) for offer in offers] == [
        ["health", "home"],
        ["health", "home"],
        ["errands"],
    ]


# ------------------------------------------------------------------------ the process


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_completion_imports_no_database_library_but_the_driver(database_url: str) -> None:
    """A Tab press reads with sqlite3 or psycopg alone: no SQLAlchemy, pydantic or Alembic."""
    env = environment(_SORTED_COMPLETE="complete_bash", COMP_WORDS="sorted done ", COMP_CWORD="2")
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([])],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    assert result.stdout == "1\n4\n"  # it did complete, from the database
    modules = set(json.loads(result.stderr.splitlines()[-1]))
    assert modules.isdisjoint({"sqlalchemy", "sqlmodel", "pydantic", "alembic"})
    assert ("psycopg" in modules) == database_url.startswith("postgresql")


def test_show_completion_prints_the_bash_script() -> None:
    """Typer finds the shell among the parent processes, here bash (which stays the parent:
    with a command after it, bash cannot exec the program in its own place)."""
    result = subprocess.run(
        [
            "bash",
            "--norc",
            "--noprofile",
            "-c",
            f'{shlex.quote(str(SORTED))} --show-completion; exit "$?"',
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT_S,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert "_SORTED_COMPLETE=complete_bash $1" in result.stdout
    assert result.stdout.endswith("\ncomplete -o default -F _sorted_completion sorted\n")


@pytest.mark.parametrize(
    ("shell", "sends"),
    [
        ("zsh", '_TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _SORTED_COMPLETE=complete_zsh sorted'),
        (
            "fish",
            "env _SORTED_COMPLETE=complete_fish _TYPER_COMPLETE_FISH_ACTION=get-args "
            "_TYPER_COMPLETE_ARGS=(commandline -cp) sorted",
        ),
    ],
)
def test_zsh_and_fish_scripts_send_what_these_tests_send(shell: str, sends: str) -> None:
    result = run_sorted(env=environment(_SORTED_COMPLETE=f"source_{shell}"))
    assert (result.returncode, result.stderr) == (0, "")
    assert sends in result.stdout


# ------------------------------------------------------------------------ quietly nothing


@pytest.mark.parametrize("shell", SHELLS)
def test_no_user_yet_offers_nothing_and_creates_no_one(
    shell: str, database_url: str, session: Session, isolated_home: Path
) -> None:
    assert user_emails(session) == []  # (which also ends the session's hold on SQLite)
    assert outcome(complete(shell, "sorted done ")) == (0, NOTHING[shell], "")
    assert outcome(complete(shell, "sorted list --tag ")) == (0, NOTHING[shell], "")
    named = complete(shell, "sorted done ", SORTED_USER="nobody@example.com")
    assert outcome(named) == (0, NOTHING[shell], "")
    assert user_emails(session) == []
    assert not isolated_home.exists()  # no config file remembers anyone


@pytest.mark.parametrize("shell", SHELLS)
def test_no_embedded_database_yet_offers_nothing_and_migrates_nothing(
    shell: str, isolated_home: Path
) -> None:
    """A Tab press on a new machine, before any command has made the embedded database (which
    an everyday command would make and migrate)."""
    assert outcome(complete(shell, "sorted done ")) == (0, NOTHING[shell], "")
    assert not isolated_home.exists()
    assert outcome(complete(shell, "sorted done ", SORTED_USER=ADA)) == (0, NOTHING[shell], "")
    assert sqlite_tables(isolated_home / "sorted.db") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_database_without_the_schema_is_not_migrated(
    shell: str, blank_database_url: str, blank_engine: Engine
) -> None:
    """Everyday commands would migrate a blank SQLite file; completion must not."""
    line = f"sorted --database-url {blank_database_url} done "
    assert outcome(complete(shell, line, SORTED_USER=ADA)) == (0, NOTHING[shell], "")
    from_env = complete(shell, "sorted tag 1 ", DATABASE_URL=blank_database_url, SORTED_USER=ADA)
    assert outcome(from_env) == (0, NOTHING[shell], "")
    assert table_names(blank_engine) == set()


@pytest.mark.parametrize("shell", SHELLS)
def test_an_unreachable_server_offers_nothing_at_once(shell: str) -> None:
    url = f"postgresql://someone:s3cret@127.0.0.1:{free_port()}/db"
    started = time.monotonic()
    result = complete(
        shell, f"sorted --database-url {url} done ", SORTED_USER=ADA, SORTED_RETRY_TIMEOUT="60"
    )
    assert outcome(result) == (0, NOTHING[shell], "")
    assert time.monotonic() - started < 10  # no retrying, though 60 s of it are allowed


# ------------------------------------------------------------- the same, in this process


def root_context(**params: str | None) -> typer.Context:
    """The context a completion function gets: the root's parsed options, nothing invoked."""
    root = typer.main.get_command(app)
    context = typer.Context(root)
    context.params = {"database_url": None, "user": None, **params}
    return context


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_completion_functions_offer_each_view_and_keep_what_was_typed() -> None:
    ctx = root_context()
    assert completion.open_tasks(ctx, "") == [("1", "Buy milk"), ("4", "Water plants")]
    assert completion.open_tasks(ctx, "#4") == [("#4", "Water plants")]
    assert completion.open_tasks(ctx, "x") == []
    assert completion.done_tasks(ctx, "") == [("2", "Pay rent")]
    assert completion.deleted_tasks(ctx, "3") == [("3", "Call Bob")]
    assert completion.tags(ctx, "") == ["errands", "health", "home", "work"]
    assert completion.tags(ctx, "+H") == ["+Health", "+Home"]
    assert completion.tags(ctx, "a b") == []  # white space cannot start a tag's name
    assert completion.tags(ctx, "@") == []  # no tag of Ada's starts with @
    assert completion.tags(ctx, ",") == []


@pytest.mark.usefixtures("tasks_of_ada_and_grace")
def test_completion_functions_read_the_command_line_user_and_stay_quiet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    grace = root_context(user="GRACE@example.com")
    assert [number for number, _ in completion.open_tasks(grace, "")] == ["1", "2", "3", "4", "5"]
    assert completion.tags(root_context(user="nobody@example.com"), "") == []
    missing = root_context(database_url=f"sqlite:///{tmp_path / 'absent.db'}")
    assert completion.open_tasks(missing, "") == []
    assert not (tmp_path / "absent.db").exists()  # a Tab press creates no database
    monkeypatch.delenv("SORTED_USER")
    assert completion.open_tasks(root_context(), "") == []  # nobody chosen yet
