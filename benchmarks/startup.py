"""How long everyday sorted commands take, beside the cost of importing the stack.

Run from the repository: `uv run python benchmarks/startup.py [--runs N]`. It works in a
temporary SORTED_HOME (the embedded SQLite database), fills it with 100 tasks, then times
each command as a fresh process: one warm-up run, then the median of N runs. It prints a
Markdown table; timings depend on the machine, so it also prints what it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
SORTED = str(BIN / "sorted")
PYTHON = sys.executable


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "SORTED_HOME": home}
        env.pop("DATABASE_URL", None)
        env.pop("SORTED_USER", None)
        for number in range(100):
            subprocess.run(
                [SORTED, "add", f"task {number}"],
                env=env,
                capture_output=True,
                check=True,
                timeout=60,
            )
        with sqlite3.connect(Path(home) / "sorted.db") as database:
            assert database.execute("SELECT count(*) FROM tasks").fetchone() == (100,)
        rows = [
            ("`python -c pass`", [PYTHON, "-c", "pass"]),
            ("`python -c 'import typer'`", [PYTHON, "-c", "import typer"]),
            ("`python -c 'import sqlmodel, typer'`", [PYTHON, "-c", "import sqlmodel, typer"]),
            ("`sorted --version`", [SORTED, "--version"]),
            ("`sorted --help`", [SORTED, "--help"]),
            ("`sorted add` (100 tasks)", [SORTED, "add", "Buy milk"]),
            ("`sorted list` (100 tasks)", [SORTED, "list"]),
            ("`sorted done` (100 tasks)", [SORTED, "done", "1"]),
        ]
        print(
            f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()},"
            f" SQLite {sqlite3.sqlite_version}; median of {runs} runs after a warm-up\n"
        )
        print("| command | median |\n|---|---:|")
        for label, command in rows:
            print(f"| {label} | {median_ms(command, env, runs):.0f} ms |")


if __name__ == "__main__":
    main()
