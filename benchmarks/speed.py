"""sorted's speed in one run: start-up against the stack's floor, round trips to PostgreSQL
against a bare connection, wall time over a slow link, sorted beside Taskwarrior and
todo.txt-cli, and sorted among a million tasks (add, list, and the peak memory of an
export).

Run from the repository:

    uv run python benchmarks/speed.py [--runs 10] [--sizes 100,10000,100000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--scale 1000000]

Every timing is the median of RUNS fresh processes after one warm-up, all in this one run on
this one machine. PYTHONDONTWRITEBYTECODE is dropped, so the warm-up leaves compiled bytecode
behind as any installed program has. The PostgreSQL part makes a throwaway database beside the
one the URL names (its role must be allowed to create databases) and puts a loopback proxy
(tests/faultproxy.py) in front of it that counts round trips and, for the slow-link column,
holds every answer 30 ms (a stand-in for a wide-area link to Neon). Taskwarrior (`task`) and
todo.txt-cli (`todo-txt`) come from Debian's packages; the script installs them with apt-get
when they are missing and it runs as root, and otherwise leaves their columns empty. Their data
is written straight into their files (Taskwarrior's pending.data, todo.txt), as sorted's is
written with SQL, so building 100,000 tasks takes seconds.

It prints Markdown: the machine, then one table per part.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from transfer import SORTED, Database, peak_export

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "tests"))

from faultproxy import FaultProxy, server_address  # noqa: E402

from sorted_cli.urls import normalise_url, postgres_connect_args  # noqa: E402

PYTHON = sys.executable
WAN_LATENCY_S = 0.030
FLOOR_SCRIPT = (
    "import json, sys, psycopg\n"
    "url, args = sys.argv[1], json.loads(sys.argv[2])\n"
    "with psycopg.connect(url, autocommit=True, **args) as connection:\n"
    "    connection.execute('SELECT 1').fetchall()\n"
)


def clean_environment(**changes: str) -> dict[str, str]:
    env = {**os.environ, **changes}
    for name in ("PYTHONDONTWRITEBYTECODE", "DATABASE_URL", "SORTED_DATABASE_URL"):
        if name not in changes:
            env.pop(name, None)
    return env


def medians_ms(commands: list[tuple[list[str], dict[str, str]]], runs: int) -> list[float]:
    """Median wall time of each (command, environment) as a fresh process, after one warm-up
    round. The commands take turns, run by run, so a change in the machine's load (it is
    shared) falls on all of them alike rather than on whichever ran at the time.

    Each wait blocks in waitpid: `subprocess.run(timeout=...)` polls with sleeps of up to
    50 ms instead, which would add up to 50 ms to every measurement."""
    times: list[list[float]] = [[] for _ in commands]
    for run in range(runs + 1):
        for taken, (command, env) in zip(times, commands, strict=True):
            start = time.perf_counter()
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            if process.wait() != 0:
                raise SystemExit(f"{' '.join(command)} failed ({process.returncode})")
            if run:
                taken.append(time.perf_counter() - start)
    return [statistics.median(taken) * 1000 for taken in times]


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    return medians_ms([(command, env)], runs)[0]


# ------------------------------------------------------------------------------ start-up


def startup(runs: int) -> list[str]:
    typer_floor, stack_floor = "import typer", "import sqlmodel, typer"
    measured = [
        ("`sorted --version`", ["--version"], typer_floor, None),
        ("`sorted --help`", ["--help"], typer_floor, 1.3),
        ("`sorted add --help`", ["add", "--help"], typer_floor, None),
        ("`sorted add`", ["add", "Buy milk"], stack_floor, 1.15),
        ("`sorted list`", ["list"], stack_floor, None),
        ("`sorted done`", ["done", "1"], stack_floor, None),
    ]
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(Path(scratch), None)
        with database.fresh() as env:
            database.fill(100)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            floors = [([PYTHON, "-c", floor], env) for floor in (typer_floor, stack_floor)]
            ours = [([SORTED, *args], env) for _, args, _, _ in measured]
            typer_ms, stack_ms, *ours_ms = medians_ms(floors + ours, runs)
    floor_ms = {typer_floor: typer_ms, stack_floor: stack_ms}
    rows = [
        "| what | median | against | ratio | target |",
        "|---|---:|---|---:|---:|",
        *(f"| `python -c '{name}'` | {ms:.0f} ms | | | |" for name, ms in floor_ms.items()),
    ]
    for (label, _, floor, target), ms in zip(measured, ours_ms, strict=True):
        goal = f"≤ {target}x" if target else ""
        rows.append(f"| {label} | {ms:.0f} ms | `{floor}` | {ms / floor_ms[floor]:.2f}x | {goal} |")
    return rows


# --------------------------------------------------------------------------- round trips

ROUND_TRIP_COMMANDS = [
    ["add", "Buy milk"],
    ["list"],
    ["show", "1"],
    ["done", "2"],
    ["edit", "3", "--title", "Call Bob"],
    ["delete", "4", "--yes"],
]


def round_trips(server_url: str, runs: int) -> list[str]:
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(Path(scratch), server_url)
        with database.fresh() as env, FaultProxy(upstream=server_address(database.url)) as proxy:
            database.fill(100)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            url = proxy.url_for(database.url)
            env["DATABASE_URL"] = url
            libpq = "postgresql://" + url.partition("://")[2]
            args = postgres_connect_args(normalise_url(url), connect_timeout=10)
            floor_command = [PYTHON, "-c", FLOOR_SCRIPT, libpq, _json(args)]

            def counted(command: list[str]) -> int:
                proxy.reset_counters()
                subprocess.run(command, env=env, check=True, timeout=600, capture_output=True)
                return proxy.round_trips

            floor = counted(floor_command)
            rows = [
                "| command | round trips | over the floor | wall time, 30 ms a round trip |",
                "|---|---:|---:|---:|",
            ]
            proxy.latency(WAN_LATENCY_S)
            timed = {
                "floor": floor_command,
                "add": [SORTED, "add", "Buy milk"],
                "list": [SORTED, "list"],
            }
            found = medians_ms([(command, env) for command in timed.values()], runs)
            slow = dict(zip(timed, found, strict=True))
            proxy.latency(0)
            rows.append(
                f"| floor: psycopg connects, runs `SELECT 1` | {floor} | | {slow['floor']:.0f} ms |"
            )
            for command in ROUND_TRIP_COMMANDS:
                count = counted([SORTED, *command])
                took = f"{slow[command[0]]:.0f} ms" if command[0] in slow else ""
                rows.append(
                    f"| `sorted {' '.join(command)}` | {count} | +{count - floor} | {took} |"
                )
    return rows


def _json(value: object) -> str:
    import json

    return json.dumps(value)


# ---------------------------------------------------------------------------- the peers


def ensure_installed(program: str, package: str) -> str | None:
    """The path of PROGRAM, installing Debian's PACKAGE first when it is missing and this
    runs as root; None when it cannot be had."""
    if found := shutil.which(program):
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(f"<!-- {program} is missing: apt-get install {package} -->", file=sys.stderr)
        return None
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
    ):
        subprocess.run(command, env=environment, check=False, capture_output=True)
    return shutil.which(program)


class Taskwarrior:
    def __init__(self, program: str, home: Path, count: int) -> None:
        data = home / "task"
        data.mkdir()
        rc = home / "taskrc"
        rc.write_text(
            f"data.location={data}\nconfirmation=off\nverbose=nothing\nnews.version=2.6.2\n"
        )
        entry = int(time.time())
        with (data / "pending.data").open("w") as pending:
            for n in range(1, count + 1):
                pending.write(
                    f'[description:"Task number {n}" entry:"{entry}" modified:"{entry}" '
                    f'status:"pending" uuid:"{_uuid(n)}"]\n'
                )
        self.env = {**os.environ, "TASKRC": str(rc)}
        self.add = [program, "add", "Buy milk"]
        self.list = [program, "list"]


class TodoTxt:
    def __init__(self, program: str, home: Path, count: int) -> None:
        config = home / "todo.cfg"
        config.write_text(
            f'export TODO_DIR="{home}"\nexport TODO_FILE="$TODO_DIR/todo.txt"\n'
            'export DONE_FILE="$TODO_DIR/done.txt"\nexport REPORT_FILE="$TODO_DIR/report.txt"\n'
        )
        (home / "todo.txt").write_text(
            "".join(f"2026-01-01 Task number {n}\n" for n in range(1, count + 1))
        )
        self.env = dict(os.environ)
        self.add = [program, "-d", str(config), "add", "Buy milk"]
        self.list = [program, "-d", str(config), "ls"]


def _uuid(n: int) -> str:
    import uuid

    return str(uuid.UUID(int=n))


def peers(sizes: list[int], runs: int) -> list[str]:
    task = ensure_installed("task", "taskwarrior")
    todo = ensure_installed("todo-txt", "todotxt-cli")
    version = _taskwarrior_version(task)
    rows = [
        f"| tasks | command | sorted | Taskwarrior {version} | todo.txt-cli |",
        "|---:|---|---:|---:|---:|",
    ]
    for size in sizes:
        with tempfile.TemporaryDirectory() as scratch:
            home = Path(scratch)
            (home / "sorted").mkdir()
            database = Database(home / "sorted", None)
            with database.fresh() as env:
                database.fill(size)
                with (
                    closing(sqlite3.connect(home / "sorted" / "sorted.db")) as connection,
                    connection,
                ):
                    connection.execute("UPDATE tasks SET completed = 0")  # all pending, as theirs
                env.pop("PYTHONDONTWRITEBYTECODE", None)
                others: list[Taskwarrior | TodoTxt | None] = []
                for program, kind, name in ((task, Taskwarrior, "tw"), (todo, TodoTxt, "todo")):
                    if program is None:
                        others.append(None)
                    else:
                        (home / name).mkdir()
                        others.append(kind(program, home / name, size))
                for action in ("add", "list"):
                    own = [SORTED, "add", "Buy milk"] if action == "add" else [SORTED, "list"]
                    commands = [(own, env)]
                    commands += [
                        (other.add if action == "add" else other.list, other.env)
                        for other in others
                        if other is not None
                    ]
                    found = iter(medians_ms(commands, runs))
                    cells = [f"{next(found):.0f} ms"]
                    cells += ["" if other is None else f"{next(found):.0f} ms" for other in others]
                    rows.append(f"| {size:,} | {action} | {' | '.join(cells)} |")
    return rows


def _taskwarrior_version(program: str | None) -> str:
    if program is None:
        return ""
    found = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)
    return found.stdout.strip()


# ------------------------------------------------------------------------------- memory


def at_scale(size: int, runs: int) -> list[str]:
    """`add` and `list` among SIZE tasks (sorted alone: the others take seconds a command
    there), and the peak memory of exporting them all."""
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(Path(scratch), None)
        with database.fresh() as env:
            database.fill(size)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            add = median_ms([SORTED, "add", "Buy milk"], env, runs)
            listed = median_ms([SORTED, "list"], env, runs)
            seconds, peak = peak_export(env)
    return [
        "| what | wall time | peak memory |",
        "|---|---:|---:|",
        f"| `sorted add` among {size:,} tasks (SQLite) | {add:.0f} ms | |",
        f"| `sorted list` among {size:,} tasks | {listed:.0f} ms | |",
        f"| `sorted export --all` of {size:,} tasks | {seconds:.1f} s | {peak:.0f} MiB |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--scale", type=int, default=1_000_000)
    options = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["SORTED_SERVER"] = "off"  # sorted in its own process (benchmarks/server.py: warm)
    sizes = [int(size) for size in options.sizes.split(",")]
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )
    print(f"Machine: {machine}; {time.strftime('%Y-%m-%d')}; median of {options.runs} runs.\n")
    parts: list[tuple[str, Callable[[], list[str]]]] = [
        ("Start-up (embedded SQLite, 100 tasks)", lambda: startup(options.runs)),
        ("Round trips to PostgreSQL", lambda: round_trips(options.database_url, options.runs)),
        ("Beside Taskwarrior and todo.txt-cli", lambda: peers(sizes, options.runs)),
        (f"{options.scale:,} tasks", lambda: at_scale(options.scale, options.runs)),
    ]
    for title, part in parts:
        print(f"### {title}\n")
        print("\n".join(part()))
        print(flush=True)


if __name__ == "__main__":
    main()
