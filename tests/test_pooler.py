"""sorted through PgBouncer when PgBouncer itself answers: its own errors.

PgBouncer (as Neon's pooled endpoint runs it) sends nearly every error of its own with SQLSTATE
08P01, whatever happened; only its text says when it happened: before the statement reached a
server (nothing written: safe to try again) or after (the change is in flight: it may have been
committed). Here a PgBouncer of the test's own, in transaction mode, stands in front of the
fault proxy (tests/faultproxy.py), which stands in front of the real server: the proxy breaks
PgBouncer's link to the server, so PgBouncer, not the server, answers sorted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest
from conftest import Run, add_plain_tasks
from faultproxy import FaultProxy, server_address
from servers import PgBouncer, start_pgbouncer
from sqlalchemy import make_url, text
from test_concurrency import wait_until_blocked
from test_neon import UNKNOWN, stored
from test_processes import SORTED, TIMEOUT_S, environment

from sorted_cli.choices import View

# The pooler's faults are about how sorted reaches the database, the same code in a worker of
# the command server: these tests run their commands in-process only (each waits out faults).
pytestmark = pytest.mark.in_process

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

# The pooler runs in front of the machine's server, reached directly.
DIRECT = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
Pooler = Callable[..., PgBouncer]
WAITED = "query_wait_timeout"  # PgBouncer's word for a client that waited too long for a server


@pytest.fixture
def proxy(database_url: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test database: PgBouncer's upstream."""
    with FaultProxy(upstream=server_address(database_url)) as faults:
        yield faults


@pytest.fixture
def pooler(
    database_url: str, ada: User, proxy: FaultProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Pooler]:
    """Starts a PgBouncer in front of `proxy` (with the settings given) that sorted's commands
    go through; the test's own session stays on the direct URL."""
    started: list[tuple[PgBouncer, Path]] = []

    def start(**settings: str) -> PgBouncer:
        workdir = Path(tempfile.mkdtemp(prefix="sorted-pgbouncer-"))  # reachable by `postgres`
        bouncer = start_pgbouncer(
            workdir, proxy.port, settings={"server_tls_sslmode": "disable", **settings}
        )
        started.append((bouncer, workdir))
        url = make_url(database_url).set(host=bouncer.host, port=bouncer.port)
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        return bouncer

    yield start
    for bouncer, workdir in started:
        bouncer.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------- after the change reached the server


@DIRECT
def test_add_whose_server_link_crashed_after_the_insert_is_added_once(
    pooler: Pooler, proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    pooler()
    proxy.cut_on(b"INSERT INTO tasks", forward=True)  # committed; PgBouncer: server conn crashed?
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n"), result.stderr
    assert "server conn crashed?" in result.stderr  # the notice that it tries again
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
@pytest.mark.parametrize(
    ("command", "view", "after"),
    [("done", View.all, (1, "t1", True)), ("delete", View.deleted, (1, "t1", False))],
)
def test_a_change_whose_server_link_crashed_may_or_may_not_be_saved(
    pooler: Pooler,
    proxy: FaultProxy,
    session: Session,
    ada: User,
    run: Run,
    command: str,
    view: View,
    after: tuple[int, str, bool],
) -> None:
    add_plain_tasks(session, ada, 1, 1)
    pooler()
    proxy.cut_on(b"UPDATE tasks", forward=True)  # the server commits; sorted never hears
    result = run(command, "1")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", UNKNOWN)
    assert proxy.pending_faults == 0
    assert stored(session, ada, view) == [after]  # it was in fact saved


@DIRECT
def test_a_change_the_pooler_cut_off_behind_a_lock_may_or_may_not_be_saved(
    pooler: Pooler,
    session: Session,
    ada: User,
    database_url: str,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another connection holds the task's row; sorted's own lock timeout is far off, so
    # PgBouncer's query_timeout comes first: it cuts off the UPDATE while the server runs it
    # ("query timeout"), and the server goes on with it once the lock is free.
    add_plain_tasks(session, ada, 1, 1)
    bouncer = pooler(query_timeout="1")
    monkeypatch.setenv("SORTED_LOCK_TIMEOUT", "60")
    direct = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(direct) as locker:
        locker.execute("SELECT 1 FROM tasks WHERE number = 1 FOR UPDATE")
        result = run("done", "1")
    assert (result.exit_code, result.stdout) == (1, ""), result.stderr
    assert result.stderr.endswith(UNKNOWN), result.stderr  # after the waiting notice, if any
    assert "closing because: query timeout" in bouncer.log.read_text()
    _until(lambda: stored(session, ada) == [(1, "t1", True)], "the cut-off UPDATE to be saved")


# --------------------------------------------------- before anything reached the server


@DIRECT
def test_a_server_refusing_the_poolers_first_login_is_retried(
    pooler: Pooler, proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    # The server is full when PgBouncer first logs in: PgBouncer passes the refusal on to the
    # client waiting to log in, in an 08P01 of its own, and logs in again for the next one.
    pooler(server_login_retry="1")
    proxy.postgres_error(sqlstate="53300", message="sorry, too many clients already")
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n"), result.stderr
    assert result.stderr == (
        "The database is not answering (sorry, too many clients already); "
        "retrying for up to 15 s.\n"
    )
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_statements_the_pooler_turns_away_while_its_logins_fail_are_retried(
    pooler: Pooler, proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    # PgBouncer has logged in before, then lost its server connection, and its next login
    # fails: until it tries again (server_login_retry), it turns away every statement that
    # finds no server connection, before forwarding it ("server login has been failing").
    bouncer = pooler(server_login_retry="2", admin_users="postgres")
    pooled = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql")
    other = psycopg.connect(
        pooled.render_as_string(False), autocommit=True, application_name="other-client"
    )
    waiting: threading.Thread | None = None
    try:
        other.execute("SELECT 1")  # PgBouncer has logged in: clients log in without a server
        session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'other-client' AND datname = current_database()"
            )
        )
        session.commit()
        _until(lambda: _servers(bouncer) == 0, "PgBouncer to drop its server connection")
        proxy.postgres_error(sqlstate="53300", message="sorry, too many clients already")
        waiting = threading.Thread(target=lambda: other.execute("SELECT 1"), daemon=True)
        waiting.start()  # its statement waits while PgBouncer's login for it fails
        _until(lambda: "login failed: FATAL" in bouncer.log.read_text(), "the failed login")
        result = run("add", "Buy milk")
        waiting.join(timeout=TIMEOUT_S)
    finally:
        other.close()
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n"), result.stderr
    assert result.stderr == (
        "The database is not answering (server login has been failing, try again later "
        "(server_login_retry)); retrying for up to 15 s.\n"
    )
    assert "closing because: server login has been failing" in bouncer.log.read_text()
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_a_login_the_server_refuses_through_the_pooler_fails_at_once(
    pooler: Pooler, proxy: FaultProxy, run: Run
) -> None:
    pooler()
    proxy.postgres_error(
        sqlstate="28P01", message='password authentication failed for user "postgres"'
    )
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: Cannot connect to postgresql+psycopg://postgres@")
    assert result.stderr.endswith(
        'password authentication failed for user "postgres" '
        "(check the user name and password in the URL)\n"
    )
    assert proxy.connections == 1  # never tried again


def _admin(bouncer: PgBouncer, query: str) -> list[tuple[str | None, ...]]:
    """Rows of a query on PgBouncer's admin console (which speaks only the simple protocol)."""
    with psycopg.connect(
        host=bouncer.host, port=bouncer.port, dbname="pgbouncer", user="postgres", autocommit=True
    ) as console:
        result = console.pgconn.exec_(query.encode())
        return [
            tuple(
                None if value is None else value.decode()
                for value in (result.get_value(row, column) for column in range(result.nfields))
            )
            for row in range(result.ntuples)
        ]


def _until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.05)


@DIRECT
def test_a_change_that_waited_in_vain_for_a_server_connection_is_retried(
    pooler: Pooler, session: Session, ada: User, database_url: str
) -> None:
    # One server connection. `done` reads who Ada is (held up by a lock meanwhile), then its
    # UPDATE waits for the connection that another client took in between: PgBouncer gives up
    # on it ("query_wait_timeout") without having sent it anywhere, so it is safe to repeat.
    add_plain_tasks(session, ada, 1, 1)
    bouncer = pooler(default_pool_size="1", query_wait_timeout="2", admin_users="postgres")
    pooled = os.environ["DATABASE_URL"]
    direct = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    holder = psycopg.connect(make_url(pooled).set(drivername="postgresql").render_as_string(False))
    done: subprocess.Popen[str] | None = None
    try:
        with psycopg.connect(direct) as locker:
            locker.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            done = subprocess.Popen(
                [str(SORTED), "done", "1"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment(),
            )
            wait_until_blocked(locker)
            taking = threading.Thread(target=lambda: holder.execute("SELECT 1"), daemon=True)
            taking.start()  # waits in PgBouncer's queue, ahead of done's UPDATE
            _until(lambda: _waiting(bouncer) == 1, "the other client to queue")
        # The lock is gone: done's read ends, the other client gets the connection and keeps
        # its transaction open while done's UPDATE waits.
        _until(lambda: WAITED in bouncer.log.read_text(), WAITED)
        holder.rollback()
        taking.join(timeout=20)
        stdout, stderr = done.communicate(timeout=TIMEOUT_S)
    finally:
        holder.close()
        if done is not None and done.poll() is None:
            done.kill()
            done.wait(timeout=TIMEOUT_S)
    assert (done.returncode, stdout) == (0, "Completed task 1: t1\n"), stderr
    # It waited over a second (behind the lock, then in the pooler's queue): it said so.
    assert stderr == (
        "Waiting for the database (another sorted command may be changing these tasks)...\n"
        "The database is not answering (query_wait_timeout); retrying for up to 15 s.\n"
    )
    assert stored(session, ada) == [(1, "t1", True)]


def _waiting(bouncer: PgBouncer) -> int:
    """Clients waiting for a server connection, on PgBouncer's pools of the test's user."""
    rows = _admin(bouncer, "SHOW POOLS")
    return sum(int(row[3] or 0) for row in rows if row[0] != "pgbouncer")


def _servers(bouncer: PgBouncer) -> int:
    """PgBouncer's server connections, of the test's user's pools."""
    return sum(1 for row in _admin(bouncer, "SHOW SERVERS") if row[2] != "pgbouncer")


# ------------------------------------- what other PgBouncer versions say (a stand-in says it)
# The PgBouncer here (1.18) words these otherwise or not at all, so the fault proxy answers in
# a pooler's place as PgBouncer does: an 08P01 instead of passing the statement on, then it
# hangs up.


@pytest.fixture
def stand_in(proxy: FaultProxy, database_url: str, monkeypatch: pytest.MonkeyPatch) -> FaultProxy:
    """The fault proxy as the pooler sorted's commands go through (in plain text)."""
    monkeypatch.setenv("DATABASE_URL", proxy.url_for(database_url))
    monkeypatch.setenv("PGSSLMODE", "disable")
    return proxy


@DIRECT
@pytest.mark.parametrize(
    "message",
    [
        "pgbouncer cannot connect to server",  # server_login_retry's fast fail before 1.17
        "server shutting down",  # 1.23 and later, to statements waiting for a server
    ],
)
def test_a_change_the_pooler_turned_away_before_any_server_is_retried(
    stand_in: FaultProxy, session: Session, ada: User, run: Run, message: str
) -> None:
    add_plain_tasks(session, ada, 1, 1)
    stand_in.terminate_on(b"UPDATE tasks", sqlstate="08P01", message=message)
    result = run("done", "1")
    assert (result.exit_code, result.stdout) == (0, "Completed task 1: t1\n"), result.stderr
    assert result.stderr == (
        f"The database is not answering ({message}); retrying for up to 15 s.\n"
    )
    assert stand_in.pending_faults == 0
    assert stored(session, ada) == [(1, "t1", True)]


@DIRECT
def test_a_commit_that_met_the_poolers_idle_transaction_timeout_is_retried(
    stand_in: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    # PgBouncer closes the server connection of a transaction left idle only while none of
    # the client's statements is with the server: the server rolled back, and a COMMIT sent
    # then was never passed on. So `tag`, which is not repeated after a COMMIT that may have
    # been done, is repeated here.
    add_plain_tasks(session, ada, 1, 1)
    stand_in.terminate_on(b"COMMIT", sqlstate="08P01", message="idle transaction timeout")
    result = run("tag", "1", "home")
    # "Tagged", not "already has": the first try's COMMIT did not take.
    expected = "Tagged task 1 +home: t1 (tags: home)\n"
    assert (result.exit_code, result.stdout) == (0, expected), result.stderr
    assert result.stderr == (
        "The database is not answering (idle transaction timeout); retrying for up to 15 s.\n"
    )
    assert stand_in.pending_faults == 0
    assert stored(session, ada) == [(1, "t1", False)]
