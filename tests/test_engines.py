"""Engines and connections kept from one command to the next, as a command server's worker keeps
them (`sorted_cli.engines`): here in-process, with keeping turned on, so each step can be seen;
tests/test_server.py counts the same through a real server.

On PostgreSQL a warm everyday command opens no connection and makes at most one round trip
(the user known from an earlier command, checked by a guard that rides on the work's
statement); on SQLite each command still opens and closes the file, as in its own process.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from conftest import ADA, Run, add_plain_tasks, admin_url
from faultproxy import FaultProxy, server_address
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from sorted_cli import engines
from sorted_cli.models import User
from sorted_cli.urls import sqlite_path

pytestmark = pytest.mark.in_process  # keeping is this process's, not a server's
POSTGRES = pytest.mark.parametrize("backend", ["postgresql", "tls"], indirect=True)
SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
# An everyday command of each kind, run warm: at most one round trip, no new connection.
EVERYDAY = [
    ["list"],
    ["show", "2"],
    ["add", "Buy milk"],
    ["done", "3"],
    ["reopen", "3"],
    ["edit", "4", "--title", "Call Bob"],
    ["delete", "5", "--yes"],
    ["restore", "5"],
    ["stats"],
]


@pytest.fixture
def kept() -> Iterator[None]:
    """Engines kept across this test's commands, as in a worker; none kept after it."""
    engines.keep()
    yield
    engines.keep(False)


@pytest.fixture
def proxy(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=server_address(database_url)) as counter:
        monkeypatch.setenv("DATABASE_URL", counter.url_for(database_url))
        yield counter


def open_connections(database_url: str) -> int:
    """sorted's connections to this database, as the server sees them."""
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        found = admin.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'sorted' "
            "AND pid != pg_backend_pid()"
        ).fetchone()
    assert found is not None
    return int(found[0])


@POSTGRES
def test_a_warm_everyday_command_opens_no_connection_and_makes_one_round_trip(
    proxy: FaultProxy, session: Session, ada: User, run: Run, kept: None
) -> None:
    add_plain_tasks(session, ada, 1, 80)
    ada.last_task_number = 80
    session.add(ada)
    session.commit()
    proxy.reset_counters()
    first = run("list")
    assert first.exit_code == 0, first.stderr
    assert proxy.connections == 1
    for args in EVERYDAY:
        proxy.reset_counters()
        result = run(*args)
        assert result.exit_code == 0, (args, result.stderr)
        assert (proxy.connections, proxy.round_trips) == (0, 1), args


@POSTGRES
def test_without_keeping_every_command_connects_again(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    for _ in range(2):
        proxy.reset_counters()
        assert run("list").exit_code == 0
        assert proxy.connections == 1
    assert not engines.keeping()


@POSTGRES
def test_a_kept_connection_is_closed_after_its_idle_time(
    database_url: str,
    ada: User,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    kept: None,
) -> None:
    monkeypatch.setenv("SORTED_CONNECTION_IDLE_TIMEOUT", "0.3")
    before = open_connections(database_url)  # the test's own session
    assert run("list").exit_code == 0
    assert open_connections(database_url) == before + 1
    due = engines.close_idle()
    assert due is not None
    assert 0 < due <= 0.3
    time.sleep(due + 0.05)
    assert engines.close_idle() is None
    assert open_connections(database_url) == before
    monkeypatch.setenv("SORTED_CONNECTION_IDLE_TIMEOUT", "0")  # closed as the command ends
    assert run("list").exit_code == 0
    assert open_connections(database_url) == before


@POSTGRES
def test_a_connection_the_server_ended_while_idle_is_replaced_before_use(
    proxy: FaultProxy, database_url: str, ada: User, run: Run, kept: None
) -> None:
    assert run("add", "Buy milk").exit_code == 0
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'sorted'"
        )
    time.sleep(0.2)  # the server's last words reach the idle connection
    proxy.reset_counters()
    result = run("add", "Pay rent")
    assert (result.exit_code, result.stderr) == (0, "")  # no retry was needed, none said
    assert result.stdout == "Added task 2: Pay rent\n"
    assert proxy.connections == 1


@POSTGRES
def test_a_known_user_deleted_meanwhile_is_looked_up_again_and_nothing_is_done(
    database_url: str, session: Session, ada: User, run: Run, kept: None
) -> None:
    assert run("add", "Buy milk").exit_code == 0
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute("UPDATE users SET is_deleted = true WHERE email = %s", [ADA])
        for args in (["done", "1"], ["list"]):  # neither would look at the user by itself
            result = run(*args)
            assert (result.exit_code, result.stdout, result.stderr) == (
                1,
                "",
                f"Error: No user {ADA}: add one with `sorted user add EMAIL`.\n",
            ), args
        rows = admin.execute("SELECT title, completed FROM tasks").fetchall()
    assert rows == [("Buy milk", False)]


@POSTGRES
def test_a_known_user_changed_meanwhile_is_shown_as_they_are_now(
    database_url: str, ada: User, run: Run, kept: None
) -> None:
    assert run("user", "show").exit_code == 0
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute(
            "UPDATE users SET name = 'Countess', updated_at = now() WHERE email = %s", [ADA]
        )
    shown = run("user", "show")
    assert shown.exit_code == 0
    assert "Countess" in shown.stdout


@POSTGRES
def test_a_kept_connection_left_out_of_autocommit_is_put_back_before_use(
    proxy: FaultProxy, ada: User, run: Run, kept: None
) -> None:
    assert run("list").exit_code == 0
    (kept_one,) = engines._KEPT.values()
    raw = kept_one.engine.raw_connection()  # as a command stopped inside a transaction leaves it
    raw.driver_connection.autocommit = False  # type: ignore[union-attr]
    raw.close()
    proxy.reset_counters()
    assert run("list").exit_code == 0  # in autocommit again: one statement, no BEGIN
    assert (proxy.connections, proxy.round_trips) == (0, 1)


@POSTGRES
def test_a_kept_connection_on_a_descriptor_over_1023_is_still_checked(
    ada: User, run: Run, kept: None
) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine allows {hard} open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        engines.close_all()  # the next connection gets a descriptor past 1023
        for _ in range(2):
            result = run("list")
            assert (result.exit_code, result.output) == (0, "No open tasks.\n")
    finally:
        for descriptor in held:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@POSTGRES
def test_a_known_user_whose_email_now_names_another_row_is_not_acted_for(
    database_url: str, session: Session, ada: User, run: Run, kept: None
) -> None:
    """A database made afresh (restored, rebuilt): the same email, another user."""
    assert run("add", "Buy milk").exit_code == 0
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        admin.execute("UPDATE users SET email = 'old-ada@example.com' WHERE email = %s", [ADA])
        admin.execute(
            "INSERT INTO users (id, email, last_task_number, created_at, updated_at, is_deleted)"
            " VALUES (gen_random_uuid(), %s, 0, now(), now(), false)",
            [ADA],
        )
    listed = run("list")
    assert (listed.exit_code, listed.output) == (0, "No open tasks.\n")
    added = run("add", "Pay rent")
    assert added.stdout == "Added task 1: Pay rent\n"


@POSTGRES
def test_a_schema_moved_on_meanwhile_stops_a_warm_command_before_it_runs(
    database_url: str, session: Session, ada: User, run: Run, kept: None
) -> None:
    assert run("add", "Buy milk").exit_code == 0
    with psycopg.connect(admin_url(database_url), autocommit=True) as admin:
        (head,) = admin.execute("SELECT version_num FROM alembic_version").fetchone() or ("",)
        admin.execute("UPDATE alembic_version SET version_num = '9999'")
        try:
            for args in (["add", "Pay rent"], ["list"], ["tag", "1", "home"]):
                result = run(*args)
                assert result.exit_code == 1, args
                assert "The database is at 9999" in result.stderr, args
            titles = admin.execute("SELECT title FROM tasks").fetchall()
        finally:
            admin.execute("UPDATE alembic_version SET version_num = %s", [head])
    assert titles == [("Buy milk",)]


@SQLITE
def test_on_sqlite_the_engine_is_kept_and_the_file_closed_after_each_command(
    database_url: str, ada: User, run: Run, kept: None
) -> None:
    path = sqlite_path(database_url)
    assert path is not None
    seen = set()
    for title in ("Buy milk", "Pay rent", "Call Bob"):
        assert run("add", title).exit_code == 0
        seen |= {id(kept_one.engine) for kept_one in engines._KEPT.values()}
        pool = next(iter(engines._KEPT.values())).engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.checkedin(), pool.checkedout()) == (0, 0)  # closed with the command
    assert len(seen) == 1
    path.unlink()  # a file removed between commands is made again, empty, as a process would
    result = run("list")
    assert (result.exit_code, result.stderr) == (
        1,
        f"Error: No user {ADA}: add one with `sorted user add EMAIL`.\n",
    )
    assert path.exists()
