"""The command server's speed in one run: everyday commands through a warm server beside the
same commands in their own process and beside Taskwarrior, the server's CPU per command, and
its memory over many commands.

Run from the repository:

    uv run python benchmarks/server.py [--runs 20] [--memory-commands 10000]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Everything runs on an embedded database of 100 tasks in a temporary SORTED_HOME, with a server
of its own in a temporary runtime folder (stopped at the end); the PostgreSQL part runs on a
throwaway database of 100 tasks made beside the one --database-url names (`--database-url ""`
leaves it out), reached through a loopback proxy that counts round trips and holds every answer
30 ms, as a link to a Neon region would (benchmarks/speed.py's round trips, through a server).
Timings are medians of RUNS fresh processes after a warm-up, the commands of a table taking
turns (benchmarks/speed.py's `medians_ms`); PYTHONDONTWRITEBYTECODE is dropped, so bytecode is
compiled as an installed sorted has it. Server CPU is the time the server's workers ran
on a CPU (/proc/PID/schedstat) over RUNS commands, divided by RUNS. Memory is the
proportional set size of the server and its workers together (what `sorted server status`
reports) after each step of MEMORY_COMMANDS `sorted list` runs. Taskwarrior (`task`) comes from
Debian's package, installed when missing and this runs as root; its column is empty otherwise.

It prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from speed import WAN_LATENCY_S, Taskwarrior, ensure_installed, medians_ms
from transfer import SORTED, Database

# isort: split
from faultproxy import FaultProxy, server_address  # on the path once speed is imported


def server_pids(env: dict[str, str]) -> tuple[int, list[int]]:
    status = subprocess.run(
        [SORTED, "server", "status"], env=env, capture_output=True, text=True, check=True
    )
    pid = int(re.findall(r"pid (\d+)", status.stdout)[0])
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return pid, [int(child) for child in children]


def cpu_s(pids: list[int]) -> float:
    """Seconds the processes PIDS have run on a CPU: the scheduler's own count, in nanoseconds
    (/proc/PID/schedstat), finer than the clock ticks of /proc/PID/stat."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as stat:  # noqa: PTH123
            total += int(stat.read().split()[0])
    return total / 1e9


def memory_mb(env: dict[str, str]) -> float:
    status = subprocess.run(
        [SORTED, "server", "status"], env=env, capture_output=True, text=True, check=True
    )
    return float(re.findall(r"(\d+) MB of memory", status.stdout)[0])


def speed(env: dict[str, str], runs: int, task: Taskwarrior | None) -> list[str]:
    served = {**env, "SORTED_SERVER": "require", "SORTED_SERVER_WAIT": "5"}
    own = {**env, "SORTED_SERVER": "off"}
    rows = [
        "| command | through the server | in its own process | own / server | Taskwarrior |"
        " server / Taskwarrior |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, args in (
        ("add", ["add", "Buy milk"]),
        ("list", ["list"]),
        ("done", ["done", "1"]),
        ("show", ["show", "1"]),
    ):
        commands = [([SORTED, *args], served), ([SORTED, *args], own)]
        theirs = None
        if task is not None and name in ("add", "list"):
            theirs = task.add if name == "add" else task.list
            commands.append((theirs, task.env))
        found = medians_ms(commands, runs)
        through, alone = found[0], found[1]
        cells = [f"{through:.0f} ms", f"{alone:.0f} ms", f"{alone / through:.1f}x"]
        if theirs is not None:
            cells += [f"{found[2]:.0f} ms", f"{through / found[2]:.1f}x"]
        else:
            cells += ["", ""]
        rows.append(f"| `sorted {' '.join(args)}` | {' | '.join(cells)} |")
    return rows


POSTGRES_COMMANDS = (["add", "Buy milk"], ["list"], ["done", "1"], ["show", "1"])


def on_postgres(server_url: str, runtime: Path, runs: int) -> list[str]:
    """Everyday commands on PostgreSQL 30 ms away: through a warm server, and in their own
    process; with the round trips each makes."""
    with tempfile.TemporaryDirectory() as scratch:
        database = Database(Path(scratch), server_url)
        with database.fresh() as env, FaultProxy(upstream=server_address(database.url)) as proxy:
            database.fill(100)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env.update(
                DATABASE_URL=proxy.url_for(database.url),
                XDG_RUNTIME_DIR=str(runtime),
                SORTED_SERVER_WORKERS="1",  # one worker, so one warm connection serves all
            )
            served = {**env, "SORTED_SERVER": "require", "SORTED_SERVER_WAIT": "5"}
            own = {**env, "SORTED_SERVER": "off"}
            subprocess.run([SORTED, "server", "start"], env=served, check=True, capture_output=True)
            try:
                return _postgres_rows(proxy, served, own, runs)
            finally:
                subprocess.run([SORTED, "server", "stop"], env=served, check=False)


def _postgres_rows(
    proxy: FaultProxy, served: dict[str, str], own: dict[str, str], runs: int
) -> list[str]:
    def counted(args: list[str], env: dict[str, str]) -> int:
        proxy.reset_counters()
        subprocess.run([SORTED, *args], env=env, check=True, capture_output=True)
        return proxy.round_trips

    rows = [
        "| command | round trips, server | round trips, own process | through the server, 30 ms"
        " a round trip | in its own process, 30 ms a round trip | own / server |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    counted(["list"], served)  # the worker connects
    trips = [(counted(args, served), counted(args, own)) for args in POSTGRES_COMMANDS]
    proxy.latency(WAN_LATENCY_S)
    try:
        for args, (through_trips, own_trips) in zip(POSTGRES_COMMANDS, trips, strict=True):
            through, alone = medians_ms([([SORTED, *args], served), ([SORTED, *args], own)], runs)
            rows.append(
                f"| `sorted {' '.join(args)}` | {through_trips} | {own_trips} | {through:.0f} ms"
                f" | {alone:.0f} ms | {alone / through:.1f}x |"
            )
    finally:
        proxy.latency(0)
    return rows


def server_cpu(env: dict[str, str], runs: int) -> list[str]:
    served = {**env, "SORTED_SERVER": "require", "SORTED_SERVER_WAIT": "5"}
    rows = ["| command | server CPU per command |", "|---|---:|"]
    for args in (["list"], ["add", "Buy milk"]):
        _, workers = server_pids(env)
        before = cpu_s(workers)
        for _ in range(runs):
            subprocess.run([SORTED, *args], env=served, check=True, capture_output=True)
        _, after_workers = server_pids(env)
        if after_workers != workers:
            rows.append(f"| `sorted {' '.join(args)}` | (a worker was replaced meanwhile) |")
            continue
        per_command = (cpu_s(workers) - before) / runs * 1000
        rows.append(f"| `sorted {' '.join(args)}` | {per_command:.1f} ms |")
    return rows


def memory(env: dict[str, str], commands: int) -> list[str]:
    """Memory after each step of COMMANDS `sorted list` runs; the workers are never replaced
    meanwhile (the server runs with SORTED_SERVER_WORKER_COMMANDS above COMMANDS), so growth
    would show."""
    served = {**env, "SORTED_SERVER": "require", "SORTED_SERVER_WAIT": "5"}
    rows = [
        "| commands run | server memory (all processes) | workers replaced |",
        "|---:|---:|---:|",
    ]
    _, first = server_pids(env)
    rows.append(f"| 0 | {memory_mb(env):.0f} MB | |")
    steps = sorted({commands // 10, commands // 2, commands} - {0})
    done = 0
    for step in steps:
        while done < step:
            subprocess.run([SORTED, "list"], env=served, check=True, stdout=subprocess.DEVNULL)
            done += 1
        _, now = server_pids(env)
        rows.append(f"| {done:,} | {memory_mb(env):.0f} MB | {len(set(first) - set(now))} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--memory-commands", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    options = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # Setting up (migrating, adding the user) runs in its own process and starts no server
    # outside this run's runtime folder; the measured commands say which way they go.
    os.environ["SORTED_SERVER"] = "off"
    machine = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )
    print(f"Machine: {machine}; {time.strftime('%Y-%m-%d')}; median of {options.runs} runs.\n")
    program = ensure_installed("task", "taskwarrior")
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        runtime = home / "run"
        runtime.mkdir(mode=0o700)
        (home / "sorted").mkdir()
        database = Database(home / "sorted", None)
        task = None
        if program is not None:
            (home / "tw").mkdir()
            task = Taskwarrior(program, home / "tw", 100)
        with database.fresh() as env:
            database.fill(100)
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env.update(
                XDG_RUNTIME_DIR=str(runtime),
                SORTED_SERVER="on",
                SORTED_SERVER_WORKER_COMMANDS=str(options.memory_commands + 1000),
            )
            subprocess.run([SORTED, "server", "start"], env=env, check=True, capture_output=True)
            title = "Through the command server (embedded SQLite, 100 tasks)"
            parts: list[tuple[str, Callable[[], list[str]]]] = [
                (title, lambda: speed(env, options.runs, task)),
                ("The server's CPU per command", lambda: server_cpu(env, options.runs)),
                ("The server's memory", lambda: memory(env, options.memory_commands)),
            ]
            try:
                for title, rows in parts:
                    print(f"### {title}\n")
                    print("\n".join(rows()))
                    print(flush=True)
            finally:
                subprocess.run([SORTED, "server", "stop"], env=env, check=False)
    if options.database_url:
        with tempfile.TemporaryDirectory() as scratch:
            runtime = Path(scratch)
            runtime.chmod(0o700)
            print("### On PostgreSQL, 30 ms away (100 tasks)\n")
            print("\n".join(on_postgres(options.database_url, runtime, options.runs)))


if __name__ == "__main__":
    main()
