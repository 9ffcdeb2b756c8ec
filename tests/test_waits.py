"""Bounded waits on PostgreSQL: a write stuck behind a lock, and a network that goes silent.

Real `sorted` processes against the real server, directly and through PgBouncer in transaction
mode (Neon's pooled endpoint): another connection holds the user's row `FOR UPDATE`, as a
running `sorted import` does; the fault proxy freezes a link after a statement went out. Each
test checks what the user sees and what the database holds once the lock is released: a
change sorted called not saved never appears later, whatever happened to the process.
"""

from __future__ import annotations

import json
import select
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

import psycopg
import pytest
from conftest import ADA, add_plain_tasks, direct_url_of
from faultproxy import FaultProxy, server_address
from sqlmodel import Session
from test_concurrency import finished, while_held
from test_processes import SORTED, WAITING, environment

from sorted_cli.models import User
from sorted_cli.pgwaits import Waits

BACKENDS = pytest.mark.parametrize("backend", ["postgresql", "pgbouncer"], indirect=True)
BOUND_S = 30  # "does not hang": each case ends well within this, where it used to hang for good


def lock_ada(database_url: str) -> AbstractContextManager[psycopg.Connection]:
    """Ada's row held FOR UPDATE by another connection, as a running import holds it."""
    return while_held(database_url, f"SELECT * FROM users WHERE email = '{ADA}' FOR UPDATE")


def started(*args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(**env),
    )


def first_line(stream: IO[str], *, within_s: float) -> str:
    """The first line on STREAM, which must come within WITHIN_S seconds."""
    ready, _, _ = select.select([stream], [], [], within_s)
    assert ready, f"nothing within {within_s} s"
    return stream.readline()


def titles(database_url: str) -> list[str]:
    """Every task's title, asked directly (never through the pooler)."""
    libpq = "postgresql://" + direct_url_of(database_url).partition("://")[2]
    with psycopg.connect(libpq, autocommit=True) as connection:
        rows = connection.execute("SELECT title FROM tasks ORDER BY number").fetchall()
    return [title for (title,) in rows]


def lock_waiters(database_url: str) -> int:
    """Statements of this database that wait on a lock now, as the server sees them."""
    libpq = "postgresql://" + direct_url_of(database_url).partition("://")[2]
    with psycopg.connect(libpq, autocommit=True) as connection:
        found = connection.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return found[0] if found else 0


def until_no_lock_waiters(database_url: str, *, within_s: float) -> float:
    """Seconds until no statement waits on a lock (at most WITHIN_S, or the test fails)."""
    started_at = time.monotonic()
    while lock_waiters(database_url):
        assert time.monotonic() - started_at < within_s, "a statement still waits on the lock"
        time.sleep(0.1)
    return time.monotonic() - started_at


# ------------------------------------------------------------------------ the bounds


def test_the_timeouts_go_to_the_server_in_milliseconds_and_zero_means_no_wait() -> None:
    waits = Waits(lock_timeout=0, statement_timeout=2.5, silence=10)
    assert waits.setting_query == (
        "SELECT set_config('lock_timeout', '1', true), "
        "set_config('statement_timeout', '2500', true)"
    )  # PostgreSQL's 0 would wait for ever: 1 ms is as good as not waiting
    assert waits.deadline == 12.5  # past this, with no answer, the network went silent


def test_a_long_wait_is_said_once() -> None:
    said: list[str] = []
    waits = Waits(
        lock_timeout=30,
        statement_timeout=60,
        silence=10,
        on_lock_wait=lambda: said.append("waiting"),
    )
    waits.say_waiting()
    waits.say_waiting()
    assert said == ["waiting"]
    Waits(lock_timeout=30, statement_timeout=60, silence=10).say_waiting()  # no one to tell


# ------------------------------------------------------------------------ behind a held lock


@BACKENDS
def test_an_add_behind_a_held_lock_gives_up_and_is_never_saved(
    database_url: str, ada: User
) -> None:
    began = time.monotonic()
    with lock_ada(database_url):
        result = finished(started("add", "report", SORTED_LOCK_TIMEOUT="2"))
        assert time.monotonic() - began < BOUND_S
        assert lock_waiters(database_url) == 0  # the server gave up on it by itself
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        WAITING + "Error: The change was not saved: another sorted command held this user's "
        "tasks for 2 s (lock timeout); try again.\n",
    )
    assert titles(database_url) == []  # and it stays so once the lock is released


@BACKENDS
def test_an_import_behind_a_held_lock_is_not_saved(
    database_url: str, ada: User, tmp_path: Path
) -> None:
    tasks = [{"id": str(uuid.uuid4()), "title": "report", "created_at": "2026-11-30T09:00:00Z"}]
    given = tmp_path / "tasks.json"
    given.write_text(json.dumps(tasks))
    with lock_ada(database_url):  # as a first import holds it while it writes
        result = finished(started("import", str(given), SORTED_LOCK_TIMEOUT="2"))
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        WAITING + "Error: The change was not saved: another sorted command held this user's "
        "tasks for 2 s (lock timeout); try again.\n",
    )
    assert titles(database_url) == []


@BACKENDS
@pytest.mark.parametrize("command", [["export"], ["list", "--all"]])
def test_a_streamed_read_behind_a_held_lock_gives_up_on_the_server(
    database_url: str, session: Session, ada: User, command: list[str]
) -> None:
    # A server-side cursor (export, a list of more than a page) declared behind a lock that
    # keeps every reader out: its transaction's BEGIN set the lock timeout, so the server
    # gives up in 2 s, not the client after 60 s + 10 s of silence.
    add_plain_tasks(session, ada, 1, 1200)
    session.commit()
    began = time.monotonic()
    with while_held(database_url, "LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE"):
        result = finished(started(*command, SORTED_LOCK_TIMEOUT="2"))
        assert time.monotonic() - began < BOUND_S
        assert lock_waiters(database_url) == 0
    assert result.returncode == 1, result.stderr
    assert "(lock timeout)" in result.stderr, result.stderr
    assert result.stdout in ("", "[\n"), result.stdout


@BACKENDS
def test_a_statement_timeout_is_not_saved_either(database_url: str, ada: User) -> None:
    with lock_ada(database_url):
        result = finished(started("add", "report", SORTED_STATEMENT_TIMEOUT="2"))
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        WAITING + "Error: Nothing was saved: the database took more than 2 s "
        "(statement timeout); try again, or allow longer with SORTED_STATEMENT_TIMEOUT.\n",
    )
    assert titles(database_url) == []


@BACKENDS
def test_a_statement_cancelled_on_the_server_is_not_saved(database_url: str, ada: User) -> None:
    with lock_ada(database_url) as other:
        process = started("add", "report")
        assert first_line(process.stderr, within_s=20) == WAITING  # type: ignore[arg-type]
        other.execute(  # as an admin cancels it: an answer (57014), not a broken connection
            "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        result = finished(process)
    assert (result.returncode, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Nothing was saved: the database cancelled the statement; try again.\n",
    )
    assert titles(database_url) == []


@BACKENDS
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_a_waiting_add_cancels_its_statement_on_the_server(
    database_url: str, ada: User, number: signal.Signals
) -> None:
    with lock_ada(database_url):
        process = started("add", "report")  # the default lock timeout: 30 s
        assert first_line(process.stderr, within_s=20) == WAITING  # type: ignore[arg-type]
        assert process.poll() is None  # still waiting, and it said so after about a second
        assert lock_waiters(database_url) == 1
        process.send_signal(number)
        result = finished(process)
        assert until_no_lock_waiters(database_url, within_s=10) < 10  # cancelled, not left
    assert (result.returncode, result.stdout, result.stderr) == (128 + number, "", "")
    assert titles(database_url) == []


@BACKENDS
def test_a_killed_add_cannot_commit_later(database_url: str, ada: User) -> None:
    with lock_ada(database_url):
        process = started("add", "report", SORTED_LOCK_TIMEOUT="5")
        assert first_line(process.stderr, within_s=20) == WAITING  # type: ignore[arg-type]
        process.kill()  # nothing of sorted runs any more: only the server can give up
        process.wait(timeout=BOUND_S)
        assert lock_waiters(database_url) == 1  # the statement outlives its process
        assert until_no_lock_waiters(database_url, within_s=BOUND_S) < BOUND_S
    assert titles(database_url) == []


# ------------------------------------------------------------------------ a silent network


@pytest.fixture
def silent_proxy(database_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the server (or of PgBouncer); `through` sends sorted to it."""
    with FaultProxy(upstream=server_address(database_url)) as proxy:
        yield proxy


def through(proxy: FaultProxy, database_url: str) -> dict[str, str]:
    """The environment that sends sorted through PROXY with small bounds: the statement
    timeout and the connect timeout 2 s (so a silent link is given up on after 4 s), retries
    for 3 s."""
    return {
        "DATABASE_URL": proxy.url_for(database_url) + "?sslmode=disable",
        "SORTED_STATEMENT_TIMEOUT": "2",
        "SORTED_CONNECT_TIMEOUT": "2",
        "SORTED_RETRY_TIMEOUT": "3",
    }


def run_bounded(*args: str, env: dict[str, str]) -> tuple[int, str, str, float]:
    began = time.monotonic()
    result = subprocess.run(
        [str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(**env),
        timeout=BOUND_S,
        check=False,
    )
    return result.returncode, result.stdout, result.stderr, time.monotonic() - began


RETRYING = (
    "The database is not answering (could not receive data from server: no answer in 4 s); "
    "retrying for up to 3 s.\n"
)
MAY_OR_MAY_NOT = (
    "Error: The connection broke while saving, so the change may or may not have been saved: "
    "check (for example with `sorted list`) before repeating it.\n"
)


@BACKENDS
def test_an_add_whose_link_goes_silent_after_the_insert_may_or_may_not_be_saved(
    database_url: str, ada: User, silent_proxy: FaultProxy
) -> None:
    silent_proxy.freeze_on(b"INSERT INTO tasks")
    silent_proxy.freeze(times=10)  # and every connection after it: the network is gone
    code, stdout, stderr, took = run_bounded(
        "add", "report", env=through(silent_proxy, database_url)
    )
    assert took < BOUND_S
    assert (code, stdout) == (1, "")
    assert stderr == WAITING + RETRYING + MAY_OR_MAY_NOT
    assert titles(database_url) == ["report"]  # it was: the INSERT reached the server


@BACKENDS
def test_an_add_whose_link_went_silent_once_is_saved_once(
    database_url: str, ada: User, silent_proxy: FaultProxy
) -> None:
    silent_proxy.freeze_on(b"INSERT INTO tasks")  # the next connection works again
    code, stdout, stderr, took = run_bounded(
        "add", "report", env=through(silent_proxy, database_url)
    )
    assert took < BOUND_S
    assert (code, stdout, stderr) == (0, "Added task 1: report\n", WAITING + RETRYING)
    assert titles(database_url) == ["report"]  # the retry found its own earlier success


@BACKENDS
def test_a_done_whose_link_goes_silent_may_or_may_not_be_saved(
    database_url: str, ada: User, silent_proxy: FaultProxy
) -> None:
    assert run_bounded("add", "report", env={})[0] == 0
    silent_proxy.freeze_on(b"UPDATE tasks")
    code, stdout, stderr, took = run_bounded("done", "1", env=through(silent_proxy, database_url))
    assert took < BOUND_S
    assert (code, stdout, stderr) == (1, "", WAITING + MAY_OR_MAY_NOT)


@BACKENDS
def test_a_link_silent_from_the_start_is_a_connect_failure(
    database_url: str, ada: User, silent_proxy: FaultProxy
) -> None:
    silent_proxy.freeze(times=10)
    env = through(silent_proxy, database_url)
    code, stdout, stderr, took = run_bounded("add", "report", env=env)
    assert took < BOUND_S
    assert (code, stdout) == (1, "")
    assert stderr == (
        f"Error: Cannot connect to {env['DATABASE_URL'].replace('://', '+psycopg://')}: "
        "connection timeout expired (set SORTED_CONNECT_TIMEOUT to wait longer)\n"
    )
    assert titles(database_url) == []
