"""Many commands in one process (as a command server's worker runs them) behave exactly as each
in a process of its own: nothing one command sets or leaves behind reaches the next.

Each scenario runs twice from the same starting point: once command by command in processes of
their own (`sorted`), once all in one process (`DRIVER`, which calls `run_command` for each
command with its own arguments, environment, working directory and standard streams, as a
worker would). The two must give the same exit codes and the same output, UUIDs and timings
masked; the outcomes that show a leak are also pinned as they must read.
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

import pytest
from test_processes import SORTED, TIMEOUT_S, environment
from test_sqlitefile import (  # mounts: a fixture
    RECOVER,
    mounts,  # noqa: F401
)

from sorted_cli import process

Outcome = tuple[int, str, str]  # exit code, stdout, stderr

# Reads one command a line (JSON: argv, env, cwd and the files for its stdout and stderr) and
# answers each with its exit code, on descriptors of its own: 0, 1 and 2 are the command's.
DRIVER = """
import gc, json, os, sys
gc.disable()  # as the sorted program runs
from sorted_cli.cli.app import run_command
requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
for request in requests:
    command = json.loads(request)
    os.environ.clear()
    os.environ.update(command["env"])
    os.chdir(command["cwd"])
    for number, path in enumerate((os.devnull, command["out"], command["err"])):
        flags = os.O_RDONLY if number == 0 else os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, number)
        os.close(opened)
    sys.stdin = open(0, "r", encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False, buffering=1)
    code = run_command(command["argv"])
    sys.stdout.flush()
    sys.stderr.flush()
    answers.write(json.dumps(code) + "\\n")
    answers.flush()
"""

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_SQL_TIMING = re.compile(r"\[(generated in|cached since) [0-9.]+s( ago)?\]")
# The clock's moment a statement binds (`list` asks what is waiting at this moment).
_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?")
_CREATED = "Created local user tester@localhost; `sorted user --help` to manage users.\n"


def masked(text: str) -> str:
    return _MOMENT.sub("<moment>", _SQL_TIMING.sub("[timing]", _UUID.sub("<uuid>", text)))


class Commands(Protocol):
    """Runs sorted commands, one way or the other."""

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> None: ...

    def stop(self) -> None:
        """Send SIGTERM (`kill`) to the command started."""

    def finish(self) -> Outcome: ...


class Separately:
    """Each command in a process of its own, the `sorted` program."""

    def __init__(self, files: Path) -> None:
        self.files = files
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        with (self.files / "out").open("wb") as out, (self.files / "err").open("wb") as err:
            self.process = subprocess.Popen(
                [str(SORTED), *argv], stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                cwd=cwd,
            )  # fmt: skip

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def finish(self) -> Outcome:
        assert self.process is not None
        code = self.process.wait(timeout=TIMEOUT_S)
        return code, read(self.files / "out"), read(self.files / "err")


class Together:
    """Every command in one process, the driver."""

    def __init__(self, files: Path, *, mounting: str | None = None) -> None:
        """MOUNTING: shell commands that mount, run first in a mount namespace of its own."""
        self.files = files
        around = [] if mounting is None else ["unshare", "-m", "sh", "-e", "-c"]
        around += [] if mounting is None else [f'{mounting}\nexec "$0" "$@"']
        self.process = subprocess.Popen(
            [*around, sys.executable, "-c", DRIVER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment(),
        )

    def start(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        for name in ("out", "err"):  # what the last command said is gone before this one starts
            (self.files / name).write_bytes(b"")
        request = {"argv": argv, "env": env, "cwd": str(cwd)}
        request.update(out=str(self.files / "out"), err=str(self.files / "err"))
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def finish(self) -> Outcome:
        assert self.process.stdout is not None
        answer = self.process.stdout.readline()
        assert answer, f"the process running the commands ended ({self.process.wait()})"
        return json.loads(answer), read(self.files / "out"), read(self.files / "err")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        assert self.process.wait(timeout=TIMEOUT_S) == 0


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


class Scenario:
    """Runs commands one way, in a fresh folder: `place` (the same path both ways)."""

    def __init__(self, commands: Commands, place: Path) -> None:
        self.commands = commands
        self.place = place
        self.outcomes: list[Outcome] = []

    def env(self, **changes: str) -> dict[str, str]:
        """The test's environment, with this scenario's SORTED_HOME; `sorted` runs in its own
        process (SORTED_SERVER=off), never through a command server."""
        home = str(self.place / "home")
        return {**environment(SORTED_HOME=home, SORTED_SERVER="off"), **changes}

    def run(self, *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.commands.start(list(argv), env or self.env(), cwd or self.place)
        self.outcomes.append(self.commands.finish())

    @contextmanager
    def started(self, *argv: str) -> Iterator[None]:
        """Start a command, run the block, then wait for the command to end."""
        self.commands.start(list(argv), self.env(), self.place)
        yield
        self.outcomes.append(self.commands.finish())


def both_ways(tmp_path: Path, scenario: Callable[[Scenario], None]) -> list[Outcome]:
    """The SCENARIO's outcomes, masked, all in one process; asserted to be those of the same
    commands each in a process of its own."""
    place = tmp_path / "place"
    results = []
    for way in (Separately, Together):
        if place.exists():
            subprocess.run(["rm", "-rf", str(place)], check=True)
        place.mkdir()
        files = tmp_path / way.__name__
        files.mkdir()
        commands = way(files)
        run = Scenario(commands, place)
        scenario(run)
        if isinstance(commands, Together):
            commands.close()
        results.append([(code, masked(out), masked(err)) for code, out, err in run.outcomes])
    separately, together = results
    assert together == separately
    return together


def test_debug_logging_ends_with_its_command(tmp_path: Path) -> None:
    def scenario(run: Scenario) -> None:
        run.run("add", "Buy milk")
        run.run("--debug", "list")
        run.run("list")

    added, debugged, listed = both_ways(tmp_path, scenario)
    assert added == (0, "Added task 1: Buy milk\n", _CREATED)
    assert debugged[:2] == (0, "1\t<uuid>\topen\tnone\t\t\tBuy milk\n")
    assert "sqlalchemy.engine.Engine: SELECT " in debugged[2]
    assert debugged[2].endswith("sqlalchemy.engine.Engine: ROLLBACK\n")
    assert listed == (0, "1\t<uuid>\topen\tnone\t\t\tBuy milk\n", "")


def test_each_command_has_its_own_sorted_home(tmp_path: Path) -> None:
    def scenario(run: Scenario) -> None:
        first, second = (run.env(SORTED_HOME=str(run.place / name)) for name in ("a", "b"))
        run.run("add", "In A", env=first)
        run.run("add", "In B", env=second)
        run.run("list", env=first)
        run.run("list", env=second)

    assert both_ways(tmp_path, scenario) == [
        (0, "Added task 1: In A\n", _CREATED),
        (0, "Added task 1: In B\n", _CREATED),
        (0, "1\t<uuid>\topen\tnone\t\t\tIn A\n", ""),
        (0, "1\t<uuid>\topen\tnone\t\t\tIn B\n", ""),
    ]


def test_user_for_one_command_is_for_that_command_only(tmp_path: Path) -> None:
    def scenario(run: Scenario) -> None:
        run.run("add", "Mine")
        run.run("user", "add", "bob@example.com")
        run.run("--user", "bob@example.com", "add", "For Bob")
        run.run("add", "Also mine")
        run.run("list")
        run.run("user", "list")

    outcomes = both_ways(tmp_path, scenario)
    assert outcomes[2:] == [
        (0, "Added task 1: For Bob\n", ""),
        (0, "Added task 2: Also mine\n", ""),
        (0, "1\t<uuid>\topen\tnone\t\t\tMine\n2\t<uuid>\topen\tnone\t\t\tAlso mine\n", ""),
        (0, "\tbob@example.com\t\n*\ttester@localhost\ttester\n", ""),
    ]


def test_a_dotenv_file_counts_only_in_its_own_folder(tmp_path: Path) -> None:
    def scenario(run: Scenario) -> None:
        with_env, plain = run.place / "with-env", run.place / "plain"
        with_env.mkdir()
        plain.mkdir()
        (with_env / ".env").write_text("SORTED_USER=bob@example.com\n", encoding="utf-8")
        run.run("add", "Mine", cwd=plain)
        run.run("user", "add", "bob@example.com", cwd=plain)
        run.run("add", "For Bob", cwd=with_env)
        run.run("add", "Also mine", cwd=plain)
        run.run("list", cwd=plain)
        run.run("list", cwd=with_env)

    outcomes = both_ways(tmp_path, scenario)
    assert outcomes[2:] == [
        (0, "Added task 1: For Bob\n", ""),
        (0, "Added task 2: Also mine\n", ""),
        (0, "1\t<uuid>\topen\tnone\t\t\tMine\n2\t<uuid>\topen\tnone\t\t\tAlso mine\n", ""),
        (0, "1\t<uuid>\topen\tnone\t\t\tFor Bob\n", ""),
    ]


def test_failures_leave_nothing_for_the_next_command(tmp_path: Path) -> None:
    def scenario(run: Scenario) -> None:
        run.run("show", "42")
        run.run("no-such-command")
        run.run("add", "--priority", "urgent", "x")
        run.run("add", "Buy milk")
        run.run("--version")
        run.run("list")

    missing, unknown, invalid, added, version, listed = both_ways(tmp_path, scenario)
    assert missing == (1, "", _CREATED + "Error: No task 42.\n")
    assert unknown[:2] == (2, "")
    assert unknown[2].endswith("Error: No such command 'no-such-command'.\n")
    assert invalid[:2] == (2, "")
    assert "'urgent' is not a priority" in invalid[2]
    assert added == (0, "Added task 1: Buy milk\n", "")
    assert version == (0, "sorted 0.1.0\n", "")
    assert listed == (0, "1\t<uuid>\topen\tnone\t\t\tBuy milk\n", "")


def _today_at(hours: int) -> str:
    return datetime.now(timezone(timedelta(hours=hours))).date().isoformat()


def test_each_command_reads_its_own_time_zone(tmp_path: Path) -> None:
    """Fourteen hours ahead of UTC and twelve behind are always on different dates."""

    def scenario(run: Scenario) -> None:
        run.run("add", "Ahead", "--due", "today", env=run.env(TZ="AHEAD-14"))
        run.run("add", "Behind", "--due", "today", env=run.env(TZ="BEHIND+12"))
        run.run("list")

    ahead, behind = _today_at(14), _today_at(-12)
    assert both_ways(tmp_path, scenario)[2] == (
        0,
        f"1\t<uuid>\topen\tnone\t{ahead}\t\tAhead\n2\t<uuid>\topen\tnone\t{behind}\t\tBehind\n",
        "",
    )


@contextmanager
def unchangeable(folder: Path) -> Iterator[None]:
    """FOLDER immutable (`chattr +i`: not even root may add a file to it) during the block."""
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a folder immutable here: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_read_only_view_is_forgotten_with_its_command(tmp_path: Path) -> None:
    """An immutable view (a folder where not even the -shm file can be made) notes how the file
    looked; a later command, on the file writable again and damaged, calls it damaged."""

    def scenario(run: Scenario) -> None:
        folder = run.place / "data"
        folder.mkdir()
        path = folder / "sorted.db"
        env = run.env(DATABASE_URL=f"sqlite:///{path}")
        run.run("add", "t1", env=env)
        with unchangeable(folder):
            run.run("list", env=env)
        with path.open("r+b") as file:
            file.write(b"not a database!!")  # the header
        run.run("list", env=env)

    path = tmp_path / "place" / "data" / "sorted.db"
    assert both_ways(tmp_path, scenario)[1:] == [
        (0, "1\t<uuid>\topen\tnone\t\t\tt1\n", ""),
        (
            1,
            "",
            f"Error: The database {path} is damaged (file is not a database): sorted stopped "
            f"without changing it; {RECOVER}.\n",
        ),
    ]


def _when_said(path: Path, text: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while text not in read(path):
        assert time.monotonic() < deadline, f"never said: {text}"
        time.sleep(0.05)


def test_every_command_stops_on_a_signal_as_the_first_one_does(tmp_path: Path) -> None:
    """Each command handles a stop signal (its work rolled back, exit 128 + 15), though a
    process that is not the sorted program sets no handler, and though the first signal leaves
    the handler that ends a process at once (for a second signal during the cleaning up)."""
    waiting = "Waiting for another sorted command to finish writing to this database...\n"

    def scenario(run: Scenario) -> None:
        run.run("add", "t1")
        err = tmp_path / type(run.commands).__name__ / "err"
        database = run.place / "home" / "sorted.db"
        with closing(sqlite3.connect(database, isolation_level=None)) as locker:
            locker.execute("BEGIN IMMEDIATE")  # another command's write lock
            for title in ("t2", "t3"):
                with run.started("add", title):
                    _when_said(err, waiting)
                    run.commands.stop()
        run.run("list")

    outcomes = both_ways(tmp_path, scenario)
    assert outcomes[1:] == [
        (143, "", waiting),
        (143, "", waiting),
        (0, "1\t<uuid>\topen\tnone\t\t\tt1\n", ""),
    ]


def test_a_warning_is_shown_once_in_each_command() -> None:
    """Python shows a warning once per place in the code, which in one process would mean
    once for all the commands it runs."""

    def command() -> None:
        warnings.warn("something to know", UserWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("default")  # once per place, as outside a test run
        for _ in range(2):
            with process.one_command():
                command()
    assert [str(warning.message) for warning in shown] == ["something to know"] * 2


@pytest.mark.usefixtures("mounts")
def test_an_import_stages_its_tasks_where_its_own_tmpdir_says(tmp_path: Path) -> None:
    """SQLite reads TMPDIR once, as it starts in a process: each import tells it its own. A
    folder too small for the stage says so, as in a process of its own (test_transfer)."""
    small = tmp_path / "small"
    small.mkdir()
    file = tmp_path / "big.json"
    with file.open("w") as out:
        for n in range(20_000):
            item = {"id": str(uuid.uuid4()), "title": f"task {n}", "created_at": "2030-01-01"}
            out.write(json.dumps(item) + "\n")
    (tmp_path / "place").mkdir()
    (tmp_path / "files").mkdir()
    mounting = f"mount -t tmpfs -o size=512k tmpfs {shlex.quote(str(small))}"
    commands = Together(tmp_path / "files", mounting=mounting)
    run = Scenario(commands, tmp_path / "place")
    unnamed = {k: v for k, v in run.env().items() if k not in ("TMPDIR", "SQLITE_TMPDIR")}
    run.run("list", env=unnamed)  # SQLite starts with neither variable
    run.run("import", str(file), env={**unnamed, "TMPDIR": str(small)})
    run.run("list", env=unnamed)
    commands.close()
    assert run.outcomes[1:] == [
        (
            1,
            "",
            f"Error: No space left for the import's working copy in TMPDIR={small}: "
            "nothing was imported; set TMPDIR to a folder with room.\n",
        ),
        (0, "", "No open tasks.\n"),
    ]
