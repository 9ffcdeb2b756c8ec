"""The real `sorted` command in subprocesses: as a user's shell, a script or a terminal runs it.

The in-process tests (CliRunner) cannot see what only a process shows: the console script and
`python -m` entry points, exit codes as the shell gets them, stdout and stderr kept apart, file
modes, several processes writing at once, a real terminal on stdin, and the installed wheel.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import sys
import termios
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import PLAIN_TASK_EXTRAS, TASK_KEYS, add_plain_tasks, read_until_closed

from sorted_cli.choices import View
from sorted_cli.models import TaskCreate, validated
from sorted_cli.schema import HEAD
from sorted_cli.services import tasks

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

SORTED = Path(sys.executable).parent / "sorted"
REPOSITORY = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60
PASSWORD = "s3cret-pw"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

Completed = subprocess.CompletedProcess[str]


def environment(**changes: str | None) -> dict[str, str]:
    """This test's environment (SORTED_HOME, DATABASE_URL, ... as the fixtures set them)."""
    env = dict(os.environ)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_sorted(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: int = subprocess.DEVNULL,
    program: Path = SORTED,
    cwd: Path | None = None,
) -> Completed:
    """Run `sorted ARGS...` to completion; stdin is empty unless a terminal is given."""
    return subprocess.run(
        [str(program), *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        env=environment() if env is None else env,
        cwd=cwd,
        timeout=TIMEOUT_S,
        check=False,
    )


def run_sorted_writing_to_a_full_disk(*args: str, env: dict[str, str] | None = None) -> Completed:
    """Run `sorted ARGS...` with stdout on /dev/full, where every write fails (ENOSPC)."""
    with Path("/dev/full").open("w") as full:
        return subprocess.run(
            [str(SORTED), *args],
            stdin=subprocess.DEVNULL,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=environment() if env is None else env,
            timeout=TIMEOUT_S,
            check=False,
        )


def run_sorted_with_closed(redirections: str, *args: str) -> Completed:
    """Run `sorted ARGS...` as a shell does after REDIRECTIONS such as `>&-` (stdout closed):
    the program starts without those file descriptors at all."""
    return subprocess.run(
        ["/bin/sh", "-c", f'exec "$0" "$@" {redirections}', str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT_S,
        check=False,
    )


def run_together(*commands: list[str]) -> list[Completed]:
    """Start `sorted` once per command, all at once, then wait for every one of them."""
    env = environment()
    processes: list[subprocess.Popen[str]] = []
    try:
        for args in commands:
            processes.append(
                subprocess.Popen(
                    [str(SORTED), *args],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
        outputs = [process.communicate(timeout=TIMEOUT_S) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=TIMEOUT_S)
    return [
        subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        for process, (stdout, stderr) in zip(processes, outputs, strict=True)
    ]


def finished(
    process: subprocess.Popen[bytes], *, terminal: int | None = None, timeout_s: float = TIMEOUT_S
) -> tuple[bytes, bytes]:
    """PROCESS's stdout and stderr once it has ended. One still running after TIMEOUT_S fails
    the test with what it was doing: its state from /proc and, for a process started with
    `PYTHONFAULTHANDLER=1`, the Python stack of each thread, which faulthandler prints on
    stderr (the TERMINAL's leader, for one whose stderr is a terminal) as SIGABRT ends it."""
    try:
        return process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass
    state = []
    for name in ("status", "wchan"):
        with contextlib.suppress(OSError):
            text = Path(f"/proc/{process.pid}/{name}").read_text()
            shown = ("State", "Threads", "SigQ", "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
            state += [
                line for line in text.splitlines() if name == "wchan" or line.startswith(shown)
            ]
    process.send_signal(signal.SIGABRT)
    try:
        stderr = process.communicate(timeout=10)[1] or b""
    except subprocess.TimeoutExpired:
        process.kill()
        stderr = process.communicate()[1] or b""
    if terminal is not None:
        stderr += read_until_closed(terminal)
    pytest.fail(
        f"{process.args!r} still ran after {timeout_s} s; /proc said {state}; its stderr, with "
        f"the stack faulthandler printed on SIGABRT:\n{stderr.decode(errors='replace')}"
    )


def outcome(result: Completed) -> tuple[int, str, str]:
    return result.returncode, result.stdout, result.stderr


def free_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def moment(text: str) -> datetime:
    assert text.endswith("Z")
    return datetime.fromisoformat(text)


# ------------------------------------------------------------------------ everyday commands


@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_add_list_done_as_processes(database_url: str, ada: User) -> None:
    assert outcome(run_sorted("add", "Buy milk")) == (0, "Added task 1: Buy milk\n", "")
    piped = run_sorted("list")  # stdout is a pipe here: plain tab-separated rows
    assert (piped.returncode, piped.stderr) == (0, "")
    [row] = piped.stdout.splitlines()
    number, task_id, *rest = row.split("\t")
    assert (number, uuid.UUID(task_id).version, rest) == (
        "1",
        4,
        ["open", "none", "", "", "Buy milk"],
    )
    assert outcome(run_sorted("done", "1")) == (0, "Completed task 1: Buy milk\n", "")

    listed = run_sorted("list", "--all", "--json")
    assert (listed.returncode, listed.stderr) == (0, "")
    [task] = json.loads(listed.stdout)
    assert list(task) == TASK_KEYS
    assert uuid.UUID(task["id"]).version == 4
    moments = {"completed_at", "created_at", "updated_at"}
    assert {key: value for key, value in task.items() if key not in {"id", *moments}} == {
        "number": 1,
        "title": "Buy milk",
        "description": None,
        "priority": "none",
        "due": None,
        "completed": True,
        "deleted": False,
        "deleted_at": None,
        "tags": [],
        "notes": [],
        **PLAIN_TASK_EXTRAS,
    }
    assert moment(task["completed_at"]) == moment(task["updated_at"])
    assert moment(task["updated_at"]) > moment(task["created_at"])


def test_zero_configuration_first_run(isolated_home: Path) -> None:
    env = environment(LOGNAME="tester")  # getpass.getuser() reads LOGNAME first
    assert "DATABASE_URL" not in env
    assert "SORTED_USER" not in env
    assert not isolated_home.exists()

    assert outcome(run_sorted("add", "Buy milk", env=env)) == (
        0,
        "Added task 1: Buy milk\n",
        "Created local user tester@localhost; `sorted user --help` to manage users.\n",
    )
    database = isolated_home / "sorted.db"
    assert stat.S_IMODE(database.stat().st_mode) == 0o600
    assert stat.S_IMODE(isolated_home.stat().st_mode) == 0o700
    assert outcome(run_sorted("add", "Buy bread", env=env)) == (0, "Added task 2: Buy bread\n", "")

    version = subprocess.run(
        [sys.executable, "-m", "sorted_cli", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert outcome(version) == (0, "sorted 0.1.0\n", "")


@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_output_that_cannot_be_written_is_one_line_and_the_change_stays(
    session: Session, ada: User
) -> None:
    # Written through at once (PYTHONUNBUFFERED) the write fails in the command; written in
    # blocks, as by default, only at the final flush: the same line either way.
    for unbuffered in ("1", None):
        env = environment(PYTHONUNBUFFERED=unbuffered)
        result = run_sorted_writing_to_a_full_disk("add", "Buy milk", env=env)
        assert (result.returncode, result.stderr) == (1, "Error: No space left on device.\n")
    # committed before the output
    assert titles_in(session, ada, View.open) == ["Buy milk", "Buy milk"]


@pytest.mark.slow
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_concurrent_adds_get_numbers_one_to_eight(database_url: str, ada: User) -> None:
    titles = [f"task {n}" for n in range(1, 9)]
    results = run_together(*(["add", title] for title in titles))

    assert [(result.returncode, result.stderr) for result in results] == [(0, "")] * 8
    said: dict[str, int] = {}  # title -> number, as each process reported it
    for title, result in zip(titles, results, strict=True):
        prefix, _, rest = result.stdout.partition(": ")
        assert rest == f"{title}\n"
        said[title] = int(prefix.removeprefix("Added task "))

    listed = run_sorted("list", "--json", "--limit", "0")
    assert (listed.returncode, listed.stderr) == (0, "")
    stored = json.loads(listed.stdout)
    assert [task["number"] for task in stored] == list(range(1, 9))
    assert sorted(task["title"] for task in stored) == sorted(titles)
    assert {task["title"]: task["number"] for task in stored} == said


@pytest.mark.slow
def test_concurrent_adds_of_two_users_keep_separate_numbers(
    database_url: str, ada: User, grace: User
) -> None:
    commands = [
        ["--user", who.email, "add", f"{who.email} {n}"] for n in range(4) for who in (ada, grace)
    ]
    results = run_together(*commands)
    assert [(result.returncode, result.stderr) for result in results] == [(0, "")] * 8
    for who in (ada, grace):
        listed = run_sorted("--user", who.email, "list", "--json")
        stored = json.loads(listed.stdout)
        assert [task["number"] for task in stored] == [1, 2, 3, 4]
        assert {task["title"] for task in stored} == {f"{who.email} {n}" for n in range(4)}


@pytest.mark.slow
def test_concurrent_commands_naming_tasks_in_opposite_orders_do_not_deadlock(
    database_url: str, ada: User
) -> None:
    for n in range(1, 5):
        assert run_sorted("add", f"task {n}").returncode == 0
    forwards, backwards = ["done", "1", "2", "3", "4", "-y"], ["done", "4", "3", "2", "1", "-y"]
    results = run_together(*([forwards, backwards] * 4))
    assert [(result.returncode, result.stderr) for result in results] == [(0, "")] * 8
    lines = [line for result in results for line in result.stdout.splitlines()]
    completed = sorted(line for line in lines if line.startswith("Completed"))
    assert completed == [f"Completed task {n}: task {n}" for n in range(1, 5)]  # each once
    assert len(lines) == 32  # the rest said "was already done"


# ------------------------------------------------------------------------ failures


def test_unreachable_postgres_never_shows_the_password(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("DATABASE_URL", f"postgresql://someone:{PASSWORD}@127.0.0.1:{port}/db")
    monkeypatch.setenv("SORTED_USER", "ada@example.com")
    masked = f"postgresql+psycopg://someone:***@127.0.0.1:{port}/db"

    failed, debugged, shown = run_together(["list"], ["--debug", "list"], ["config"])
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr.startswith(f"Error: Cannot connect to {masked}: ")
    assert failed.stderr.endswith("\n")
    assert failed.stderr.count("\n") == 1
    assert "Connection refused" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert PASSWORD not in failed.stderr

    assert (debugged.returncode, debugged.stdout) == (1, "")
    assert debugged.stderr.startswith("Traceback (most recent call last):\n")
    assert "sqlalchemy.exc.OperationalError: (psycopg.OperationalError)" in debugged.stderr
    assert debugged.stderr.splitlines()[-1] == failed.stderr.rstrip("\n")
    assert PASSWORD not in debugged.stderr

    assert outcome(shown) == (
        0,
        f"database        {masked}  ($DATABASE_URL)\n"
        "user            ada@example.com  ($SORTED_USER)\n"
        "migrations      the database URL\n"
        "timeouts        connect 10 s, retry for 15 s\n"
        f"config file     {isolated_home / 'config.toml'}  (not created)\n"
        f"data directory  {isolated_home}\n",
        "",
    )


# ------------------------------------------------------------------------ at a terminal


def titles_in(session: Session, user: User, view: View) -> list[str]:
    """The titles in one view, read in a transaction that ends before the next process runs."""
    session.rollback()  # forget what earlier reads saw
    query = tasks.TaskQuery(view=view, limit=None)
    titles = [
        task.title for task in tasks.list_tasks(session=session, user=user, query=query).tasks
    ]
    session.rollback()  # a new snapshot for the next read
    return titles


QUESTION_END = b"[y/N]: "


def _take_the_terminal() -> None:
    """In the child, in a session of its own: make stdin's terminal its controlling one, so
    Ctrl-C typed there interrupts it (SIGINT), as at a shell. A shell starts a job in the
    foreground with SIGINT and SIGQUIT as they are by default, even when the tests run as a
    background job, which has them ignored."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def _take_the_terminal_ignoring_hangups() -> None:
    """`_take_the_terminal`, started as `nohup` starts a program: SIGHUP ignored."""
    _take_the_terminal()
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def _read_until(leader: int, end: bytes, *, timeout_s: float = 20) -> bytes:
    """What the terminal shows up to and including END (a question waiting for its answer)."""
    shown = b""
    deadline = time.monotonic() + timeout_s
    while not shown.endswith(end):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([leader], [], [], max(left, 0))
        if not ready:
            pytest.fail(f"no question on the terminal; it showed {shown!r}")
        shown += os.read(leader, 4096)
    return shown


def at_question(*args: str, nohup: bool = False) -> tuple[subprocess.Popen[bytes], int, bytes]:
    """`sorted ARGS...` with stdin and stderr on a terminal and stdout on a pipe, as in
    `sorted delete 1 2 | grep Deleted`, once it shows its question: the process, the terminal's
    leader (the caller closes it) and what the terminal showed. NOHUP starts it with SIGHUP
    ignored."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SORTED), *args],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=environment(PYTHONFAULTHANDLER="1"),  # a hang fails with its stack (`finished`)
            start_new_session=True,
            preexec_fn=_take_the_terminal_ignoring_hangups if nohup else _take_the_terminal,
        )
    except BaseException:
        os.close(leader)
        raise
    finally:
        os.close(follower)
    try:
        return process, leader, _read_until(leader, QUESTION_END)
    except BaseException:
        os.close(leader)
        process.kill()
        raise


def answer_at_terminal(
    *args: str,
    answer: bytes,
    signals: tuple[signal.Signals, ...] = (),
    nohup: bool = False,
) -> tuple[int, str, str]:
    """`sorted ARGS...` at a terminal (`at_question`); once the question is shown, SIGNALS are
    sent to it and ANSWER is typed. Returns the exit code, stdout, and everything the terminal
    showed (the echo of what was typed too)."""
    process, leader, shown = at_question(*args, nohup=nohup)
    try:
        for number in signals:
            process.send_signal(number)
        os.write(leader, answer)
        stdout, _ = finished(process, terminal=leader)
        shown += read_until_closed(leader)
    finally:
        os.close(leader)
    return process.returncode, stdout.decode(), shown.decode()


def interrupted(outcome: tuple[int, str, str], question: str) -> bool:
    """Did Ctrl-C at QUESTION end the command with 130, nothing on stdout, and nothing on the
    terminal but the echoed ^C and a newline? (The terminal sends SIGINT before it flushes its
    output, so the newline sorted then writes may be flushed away, or land before the echo.)"""
    code, stdout, shown = outcome
    return (code, stdout) == (130, "") and shown.removeprefix(question) in (
        "^C\r\n",
        "^C",
        "\r\n^C",
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_delete_asks_on_stderr_naming_the_tasks(session: Session, ada: User) -> None:
    titles = ["Call Bob", "Pay rent", "Water plants", "Walk dog", "Buy milk"]
    for title in titles:
        tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title=title))
    question = "Move 2 tasks to the trash? #1 Call Bob, #2 Pay rent [y/N]: "

    assert answer_at_terminal("delete", "1", "2", answer=b"n\n") == (
        1,
        "",
        f"{question}n\r\nNothing deleted.\r\n",
    )
    # Ctrl-D: the end of input is a no.
    assert answer_at_terminal("delete", "1", "2", answer=b"\x04") == (
        1,
        "",
        f"{question}\r\nNothing deleted.\r\n",
    )
    # Ctrl-C: interrupted, as any program is, with no traceback.
    assert interrupted(answer_at_terminal("delete", "1", "2", answer=b"\x03"), question)
    assert titles_in(session, ada, View.open) == titles
    assert titles_in(session, ada, View.deleted) == []

    # SIGTERM and SIGHUP stop it as Ctrl-C does, each with its own code; under nohup a
    # hangup is ignored and the question still waits for its answer.
    assert answer_at_terminal("delete", "1", "2", answer=b"", signals=(signal.SIGTERM,)) == (
        143,
        "",
        f"{question}\r\n",
    )
    assert answer_at_terminal("delete", "1", "2", answer=b"", signals=(signal.SIGHUP,)) == (
        129,
        "",
        f"{question}\r\n",
    )
    assert answer_at_terminal(
        "delete", "1", "2", answer=b"n\n", signals=(signal.SIGHUP,), nohup=True
    ) == (1, "", f"{question}n\r\nNothing deleted.\r\n")
    assert titles_in(session, ada, View.open) == titles

    # Only the result reaches stdout (the pipe); the question and the echo stay on the terminal.
    assert answer_at_terminal("delete", "1", "2", answer=b"y\n") == (
        0,
        "Deleted task 1: Call Bob\nDeleted task 2: Pay rent\n",
        f"{question}y\r\n",
    )
    assert titles_in(session, ada, View.deleted) == ["Call Bob", "Pay rent"]

    # Many tasks: the first few, and how many more.
    many = "Move 3 tasks to the trash? #3 Water plants, #4 Walk dog, #5 Buy milk [y/N]: "
    assert answer_at_terminal("delete", "3", "4", "5", answer=b"n\n")[2].startswith(many)
    tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title="x" * 60))
    long = "Move 4 tasks to the trash? #3 Water plants, #4 Walk dog, #5 Buy milk and 1 more"
    assert answer_at_terminal("delete", "3", "4", "5", "6", answer=b"n\n")[2].startswith(long)

    # Had it asked anyway, the typed "n" would have stopped it.
    forced = run_sorted("delete", "3", "4", "-y")
    assert outcome(forced) == (0, "Deleted task 3: Water plants\nDeleted task 4: Walk dog\n", "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_more_than_three_tasks_at_once_are_asked_about_at_a_terminal(
    session: Session, ada: User
) -> None:
    titles = ["Call Bob", "Pay rent", "Water plants", "Walk dog", "Buy milk"]
    for title in titles:
        tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title=title))
    question = "Mark 4 tasks as done? #1 Call Bob, #2 Pay rent, #3 Water plants and 1 more [y/N]: "
    assert answer_at_terminal("done", "1-4", answer=b"n\n") == (
        1,
        "",
        f"{question}n\r\nNothing done.\r\n",
    )
    assert titles_in(session, ada, View.completed) == []
    # Three need no question (nor --yes); more are changed once the answer is yes.
    assert outcome(run_sorted("done", "1,2,3")) == (
        0,
        "Completed task 1: Call Bob\nCompleted task 2: Pay rent\nCompleted task 3: Water plants\n",
        "",
    )
    reopened = answer_at_terminal("reopen", "1-3", "5", answer=b"y\n")
    assert reopened[0] == 0
    assert reopened[2].startswith("Reopen 4 tasks? #1 Call Bob, #2 Pay rent, #3 Water plants")
    assert titles_in(session, ada, View.completed) == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_filters_that_match_more_than_three_tasks_ask_naming_them(
    session: Session, ada: User
) -> None:
    for title in ["Call Bob", "Pay rent", "Water plants", "Walk dog", "Buy milk"]:
        data = validated(TaskCreate, title=title, tags=["home"] if title != "Pay rent" else [])
        tasks.create_task(session=session, user=ada, data=data)
    question = "Tag 4 tasks +soon? #1 Call Bob, #3 Water plants, #4 Walk dog and 1 more [y/N]: "
    assert answer_at_terminal("tag", "--tag", "home", "soon", answer=b"n\n") == (
        1,
        "",
        f"{question}n\r\nNothing changed.\r\n",
    )
    code, stdout, shown = answer_at_terminal("done", "--tag", "home", answer=b"y\n")
    assert (code, stdout.count("Completed")) == (0, 4)
    assert shown.startswith("Mark 4 tasks as done? #1 Call Bob, #3 Water plants, #4 Walk dog")
    assert titles_in(session, ada, View.completed) == [
        "Call Bob",
        "Water plants",
        "Walk dog",
        "Buy milk",
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_user_delete_and_downgrade_ask_on_stderr(ada: User, grace: User) -> None:
    question = "Delete user grace@example.com? Their tasks stay in the database, hidden. [y/N]: "
    declined = (1, "", f"{question}n\r\nNothing deleted.\r\n")
    assert answer_at_terminal("user", "delete", grace.email, answer=b"n\n") == declined
    assert interrupted(answer_at_terminal("user", "delete", grace.email, answer=b"\x03"), question)
    accepted = (0, "Deleted user grace@example.com\n", f"{question}y\r\n")
    assert answer_at_terminal("user", "delete", grace.email, answer=b"y\n") == accepted

    code, stdout, shown = answer_at_terminal("db", "downgrade", "base", answer=b"n\n")
    assert (code, stdout) == (1, "")
    assert re.fullmatch(
        r"Downgrade sqlite:///\S+ to base\? This can drop data\. \[y/N\]: n\r\n"
        r"Nothing changed\.\r\n",
        shown,
    ), shown
    downgrade = shown.removesuffix("n\r\nNothing changed.\r\n")
    assert interrupted(answer_at_terminal("db", "downgrade", "base", answer=b"\x03"), downgrade)
    assert outcome(run_sorted("db", "current")) == (0, f"{HEAD} (head)\n", "")


# ------------------------------------------------------------------------ the wheel


def uv_or_skip() -> str:
    uv = shutil.which("uv")
    if uv is None:
        if IN_CI:
            pytest.fail("uv is required under CI=true to build and install the wheel")
        pytest.skip("uv is not installed: cannot build and install the wheel")
    return uv


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment, outside the repository, with only the built wheel in it."""
    uv = uv_or_skip()
    place = tmp_path_factory.mktemp("wheel")

    def call(*args: str | Path) -> None:
        # From uv's cache first (the build backend and sorted's dependencies are there once the
        # project is synced), so a machine cut off from the package index builds it too.
        for offline in (["--offline"], []):
            done = subprocess.run(
                [uv, *map(str, args), *offline],
                cwd=REPOSITORY,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if done.returncode == 0:
                return
        assert done.returncode == 0, done.stderr

    call("build", "--wheel", "--out-dir", place)
    [wheel] = place.glob("sorted_cli-*.whl")
    call("venv", "--python", sys.executable, place / "venv")  # the Python under test
    call("pip", "install", "--python", place / "venv" / "bin" / "python", wheel)
    return place


def outside_the_repository(**changes: str | None) -> dict[str, str]:
    """An environment that cannot reach the checkout: only the installed wheel is importable."""
    return environment(PYTHONPATH=None, VIRTUAL_ENV=None, SORTED_USER=None, **changes)


@pytest.mark.slow
def test_installed_wheel_ships_its_migrations(installed: Path, blank_database_url: str) -> None:
    bin_ = installed / "venv" / "bin"
    env = outside_the_repository(DATABASE_URL=blank_database_url)
    [migrations] = installed.glob("venv/lib/python*/site-packages/sorted_cli/migrations")
    shipped = sorted(path.name for path in (migrations / "versions").glob("*.py"))
    assert shipped == sorted(path.name for path in REPOSITORY.glob("migrations/versions/*.py"))

    def sorted_(*args: str) -> Completed:
        return run_sorted(*args, env=env, program=bin_ / "sorted", cwd=installed)

    upgraded = sorted_("db", "upgrade")
    assert (upgraded.returncode, upgraded.stdout) == (0, f"Database is at {HEAD} (head)\n")
    applied = upgraded.stderr.splitlines()
    assert all(line.startswith("Applied ") for line in applied)
    assert applied[-1].startswith(f"Applied {HEAD}: ")
    assert outcome(sorted_("user", "add", "x@example.com")) == (
        0,
        "Added user x@example.com\n",
        "",
    )
    assert outcome(sorted_("--user", "x@example.com", "add", "hi")) == (0, "Added task 1: hi\n", "")


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["list", "--json"], ["add", "-h"]])
def test_help_and_version_on_a_full_disk_are_one_line(
    session: Session, ada: User, args: list[str]
) -> None:
    result = run_sorted_writing_to_a_full_disk(*args)
    assert (result.returncode, result.stderr) == (1, "Error: No space left on device.\n")


CLOSED = "Error: Bad file descriptor (stdout is closed).\n"


@pytest.mark.parametrize(
    "args", [["list"], ["list", "--json"], ["export"], ["--help"], ["--version"], ["nosuch"]]
)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_a_closed_stdout_is_a_write_error_not_a_crash(
    session: Session, ada: User, args: list[str]
) -> None:
    # The shell's `sorted list >&-`: the program starts with no file descriptor 1 at all.
    add_plain_tasks(session, ada, 1, 1)  # something to write (an empty list writes nothing)
    result = run_sorted_with_closed(">&-", *args)
    if args == ["nosuch"]:  # a usage error goes to stderr, as ever
        assert result.returncode == 2
        assert result.stderr.endswith("Error: No such command 'nosuch'.\n")
    else:
        assert (result.returncode, result.stderr) == (1, CLOSED)


@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_a_change_with_stdout_closed_is_made_and_the_output_is_an_error(
    session: Session, ada: User
) -> None:
    result = run_sorted_with_closed(">&-", "add", "Buy milk")
    assert (result.returncode, result.stderr) == (1, CLOSED)
    assert titles_in(session, ada, View.open) == ["Buy milk"]  # as with a full disk


@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_closed_stdin_and_stderr_do_not_crash(session: Session, ada: User) -> None:
    listed = run_sorted_with_closed("<&- 2>&-", "add", "Buy milk")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "Added task 1: Buy milk\n", "")
    imported = run_sorted_with_closed("<&-", "import", "-")
    assert (imported.returncode, imported.stdout) == (2, "")
    assert (
        imported.stderr == "Error: stdin is empty: expected a JSON array or JSON lines of tasks.\n"
    )


WAITING = "Waiting for the database (another sorted command may be changing these tasks)...\n"


@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_a_list_streamed_into_a_slow_reader_holds_up_no_change(session: Session, ada: User) -> None:
    # More rows than a pipe holds: `list` waits in a write until its reader reads on, as into
    # `less` left open. Meanwhile another command's change goes through at once.
    add_plain_tasks(session, ada, 1, 3000)
    ada.last_task_number = 3000  # as 3,000 adds would have left it
    session.add(ada)
    session.commit()
    listing = subprocess.Popen(
        [str(SORTED), "list"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
        bufsize=0,  # readline takes one line, leaving the rest in the pipe for communicate
    )
    try:
        assert listing.stdout is not None
        first = listing.stdout.readline()  # it is streaming now, and soon stuck in a write
        assert first.startswith(b"1\t")
        added = run_sorted("add", "another")
        # Had the add queued behind the listing, it would have given up at its lock timeout
        # (the listing cannot end while nobody reads): it succeeded while the listing was
        # still stuck. On a loaded machine its statement may take over a second to be
        # answered, which it says on stderr; that notice is the only thing allowed there.
        assert (added.returncode, added.stdout) == (0, "Added task 3001: another\n")
        assert added.stderr in ("", WAITING)
        assert listing.poll() is None
        rest, errors = listing.communicate(timeout=TIMEOUT_S)
    finally:
        if listing.poll() is None:
            listing.kill()
            listing.wait()
    assert (listing.returncode, errors) == (0, b"")
    assert len((first + rest).splitlines()) == 3000  # what there was when it began


def test_output_its_encoding_cannot_hold_is_said_as_such(session: Session, ada: User) -> None:
    """Not "an argument is not valid UTF-8": the title is fine, the output's encoding is not."""
    assert run_sorted("add", "Café au lait").returncode == 0
    listed = run_sorted("list", env=environment(PYTHONIOENCODING="ascii"))
    assert (listed.returncode, listed.stderr) == (
        1,
        "Error: The output's encoding, ascii, cannot hold U+00E9: use a UTF-8 locale or "
        "PYTHONIOENCODING=utf-8.\n",
    )
