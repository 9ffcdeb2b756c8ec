"""Import and export at scale: a Taskwarrior import's wall time, and both one's peak memory.

Run from the repository: `uv run python benchmarks/transfer.py [--database-url URL] [--runs N]
[--sizes 100000,1000000] [--import-sizes 10000,200000]`. Without a URL it works on the
embedded SQLite database of a temporary SORTED_HOME; with a PostgreSQL URL it makes a
throwaway database beside the one named (the URL's role must be allowed to create databases)
and drops it at the end.

- Import: `sorted import --from taskwarrior` of a 10,000-task `task export` file (every task
  tagged, with a project), into an empty database each time: one warm-up, median of N runs.
- Export: for each size, that many tasks are written straight into the database (SQL, not
  sorted, so building a million takes seconds), then `sorted export --all > /dev/null` runs
  once; its peak resident memory (ru_maxrss) and wall time are reported. Flat memory means
  the peak barely moves from the smallest size to the largest.
- Import memory: for each import size, `sorted import` of a sorted JSON file of that many
  tasks into an empty database, once, with its peak resident memory and wall time.

It prints a Markdown table and the machine it ran on: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

SORTED = str(Path(sys.executable).parent / "sorted")
USER = "bench@example.com"
IMPORT_SIZE = 10_000


def taskwarrior_file(path: Path, count: int) -> None:
    items = (
        {
            "id": n,
            "uuid": str(uuid.UUID(int=n)),
            "description": f"Imported task number {n}",
            "status": "pending" if n % 5 else "completed",
            "entry": "20260101T090000Z",
            "modified": "20260102T090000Z",
            **({"end": "20260103T090000Z"} if n % 5 == 0 else {}),
            "priority": "HML"[n % 3],
            "tags": ["bulk", f"group{n % 20}"],
            "project": "Bench.Import",
            "urgency": 4.2,
        }
        for n in range(1, count + 1)
    )
    path.write_text("[\n" + ",\n".join(json.dumps(item) for item in items) + "\n]\n")


def sorted_run(args: list[str], env: dict[str, str]) -> float:
    """Seconds one `sorted ARGS` process took (it must succeed; its output is dropped)."""
    start = time.perf_counter()
    # No timeout: with one, subprocess polls with sleeps of up to 50 ms, which would be timed.
    subprocess.run(
        [SORTED, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def peak_run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MiB) of `sorted ARGS > /dev/null`."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [SORTED, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"sorted {' '.join(args)} failed ({status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024  # Linux: KiB


def peak_export(env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak MiB) of `sorted export --all > /dev/null`."""
    return peak_run(["export", "--all"], env)


def sorted_file(path: Path, count: int) -> None:
    """COUNT tasks as `sorted export` writes them, one a line, written as they are made."""
    with path.open("w") as out:
        out.write("[")
        for n in range(1, count + 1):
            task = {
                "id": str(uuid.UUID(int=n)),
                "number": n,
                "title": f"Imported task number {n}",
                "priority": ("high", "medium", "low")[n % 3],
                "created_at": "2026-01-01T09:00:00Z",
                "tags": ["bulk", f"group{n % 20}"],
            }
            out.write(("\n" if n == 1 else ",\n") + json.dumps(task))
        out.write("\n]\n")


class Database:
    """A fresh database for sorted: the embedded file, or a throwaway PostgreSQL one."""

    def __init__(self, home: Path, server_url: str | None) -> None:
        self.home, self.server_url, self.url = home, server_url, ""
        self.admin = ""

    @contextmanager
    def fresh(self) -> Iterator[dict[str, str]]:
        env = {**os.environ, "SORTED_HOME": str(self.home), "SORTED_USER": USER}
        env.pop("DATABASE_URL", None)
        if self.server_url is None:
            for leftover in self.home.glob("sorted.db*"):
                leftover.unlink()
            self.url = f"sqlite:///{self.home / 'sorted.db'}"
        else:
            url = make_url(self.server_url)
            name = f"sorted_bench_{os.getpid()}"
            self.admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(self.admin, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {name}")
                connection.execute(f"CREATE DATABASE {name}")
            self.url = url.set(database=name).render_as_string(hide_password=False)
        env["DATABASE_URL"] = self.url
        sorted_run(["db", "upgrade"], env)
        sorted_run(["user", "add", USER], env)
        try:
            yield env
        finally:
            if self.server_url is not None:
                with psycopg.connect(self.admin, autocommit=True) as connection:
                    connection.execute(f"DROP DATABASE {make_url(self.url).database} WITH (FORCE)")

    def fill(self, count: int) -> None:
        """COUNT tasks for the user, every tenth one tagged, written with SQL."""
        if self.server_url is None:
            import sqlite3

            with closing(sqlite3.connect(self.home / "sorted.db")) as database, database:
                database.executescript(SQLITE_FILL.replace(":count", str(count)))
        else:
            with psycopg.connect(
                make_url(self.url)
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            ) as connection:
                for statement in (POSTGRES_FILL, POSTGRES_COUNTER):
                    connection.execute(statement, {"count": count, "email": USER})


SQLITE_FILL = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, updated_at,
                   is_deleted)
SELECT lower(hex(randomblob(16))), (SELECT id FROM users), i, 'Task number ' || i, 'none',
       i % 4 = 0, '2026-01-01 09:00:00.000000', '2026-01-01 09:00:00.000000', 0
FROM n;
INSERT INTO task_tags (task_id, name, user_id)
SELECT id, 'tag' || (number % 7), user_id FROM tasks WHERE number % 10 = 0;
UPDATE users SET last_task_number = :count;
"""

POSTGRES_FILL = """
WITH who AS (SELECT id FROM users WHERE email = %(email)s), made AS (
  INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, updated_at,
                     is_deleted)
  SELECT gen_random_uuid(), who.id, i, 'Task number ' || i, 'none', i %% 4 = 0,
         '2026-01-01 09:00:00+00', '2026-01-01 09:00:00+00', false
  FROM who, generate_series(1, %(count)s) AS i
  RETURNING id, user_id, number
)
INSERT INTO task_tags (task_id, name, user_id)
SELECT id, 'tag' || (number %% 7), user_id FROM made WHERE number %% 10 = 0
"""
POSTGRES_COUNTER = "UPDATE users SET last_task_number = %(count)s WHERE email = %(email)s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--import-sizes", default="10000,200000")
    options = parser.parse_args()
    os.environ["SORTED_SERVER"] = "off"  # each command in its own process, as measured before
    sizes = [int(size) for size in options.sizes.split(",")]
    import_sizes = [int(size) for size in options.import_sizes.split(",")]
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch)
        database = Database(home, options.database_url)
        backend = "SQLite" if options.database_url is None else "PostgreSQL"
        exported = home / "tw.json"
        taskwarrior_file(exported, IMPORT_SIZE)
        times = []
        for run in range(options.runs + 1):  # the first is the warm-up
            with database.fresh() as env:
                took = sorted_run(["import", "--from", "taskwarrior", str(exported)], env)
                if run:
                    times.append(took)
        rows.append(
            f"| `sorted import --from taskwarrior` of {IMPORT_SIZE:,} tasks ({backend}) "
            f"| {statistics.median(times):.2f} s | |"
        )
        for size in sizes:
            with database.fresh() as env:
                database.fill(size)
                seconds, peak = peak_export(env)
            rows.append(
                f"| `sorted export --all` of {size:,} tasks ({backend}) | {seconds:.1f} s "
                f"| {peak:.0f} MiB |"
            )
        for size in import_sizes:
            sorted_file(exported, size)
            with database.fresh() as env:
                seconds, peak = peak_run(["import", str(exported)], env)
            rows.append(
                f"| `sorted import` of {size:,} tasks ({backend}) | {seconds:.1f} s "
                f"| {peak:.0f} MiB |"
            )
    system = f"{platform.system()} {platform.release()}"
    python = f"Python {platform.python_version()}"
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {python}, {system}")
    print()
    print("| what | wall time | peak memory |")
    print("|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
