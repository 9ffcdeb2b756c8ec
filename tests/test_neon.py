"""sorted against PostgreSQL as Neon serves it, with real servers and a faulty network.

A fault-injection proxy (tests/faultproxy.py) stands between sorted and the real server and
plays what a serverless database does: a compute that cannot be woken yet, a connection cut
before or after a change (a COMMIT, or a statement that commits by itself) reached the
server, a server that terminates sessions, a slow handshake. Each test checks what the user
sees (one line, exit code) and what the database holds afterwards: nothing half-written,
nothing written twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import Run, add_plain_tasks, direct_url_of, is_postgres_backend
from faultproxy import FaultProxy, server_address
from sqlalchemy import text
from test_processes import run_together

from sorted_cli.choices import View
from sorted_cli.config import load_settings
from sorted_cli.db import make_engine
from sorted_cli.services import tasks
from sorted_cli.urls import mask_password, normalise_url

# Fault injection is about how sorted reaches the database, the same code in a worker of
# the command server: these tests run their commands in-process only (each waits out faults).
pytestmark = pytest.mark.in_process

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

COLD = "Couldn't connect to compute node"
RETRYING = f"The database is not answering ({COLD}); retrying for up to 15 s.\n"
UNKNOWN = (
    "Error: The connection broke while saving, so the change may or may not have been saved: "
    "check (for example with `sorted list`) before repeating it.\n"
)

# The proxy sits in front of the machine's server, reached directly.
DIRECT = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def proxy(database_url: str, ada: User, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test database; sorted's commands go through it.

    The test's own session (`ada` opened it) stays on the direct URL, to see what the server
    really holds. sorted talks to it in plain text (as to a server that takes no TLS), since
    the faults read the statements it sends."""
    with FaultProxy(upstream=server_address(database_url)) as faults:
        monkeypatch.setenv("DATABASE_URL", faults.url_for(database_url))
        monkeypatch.setenv("PGSSLMODE", "disable")
        yield faults


def stored(session: Session, user: User, view: View = View.all) -> list[tuple[int, str, bool]]:
    """The user's tasks as the real server has them: (number, title, completed)."""
    session.expire_all()
    page = tasks.list_tasks(
        session=session, user=user, query=tasks.TaskQuery(view=view, limit=None)
    )
    return [(task.number, task.title, task.completed) for task in page.tasks]


# --------------------------------------------------------------------------- cold starts


@DIRECT
def test_a_compute_that_is_waking_up_is_waited_for(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    proxy.postgres_error(times=2, message=COLD)
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Added task 1: Buy milk\n",
        RETRYING,
    )
    assert proxy.pending_faults == 0
    assert proxy.connections == 3
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_retrying_stops_at_the_time_budget_with_one_line(
    proxy: FaultProxy, session: Session, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_RETRY_TIMEOUT", "1")
    proxy.postgres_error(times=50, message=COLD)
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (1, "")
    notice, error = result.stderr.splitlines()
    assert notice == RETRYING.strip().replace("15 s", "1 s")
    assert error.startswith(
        f"Error: Cannot connect to postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/"
    )
    assert error.endswith(f": {COLD} (gave up after {proxy.connections} attempts)")
    assert 2 <= proxy.connections <= 5  # 0.2 s, 0.4 s, ... within one second
    assert stored(session, ada) == []


@DIRECT
def test_a_retry_timeout_of_zero_fails_at_once(
    proxy: FaultProxy, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_RETRY_TIMEOUT", "0")
    proxy.postgres_error(message=COLD)
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.startswith("Error: Cannot connect to ")
    assert result.stderr.endswith(f"FATAL: {COLD}\n")
    assert proxy.connections == 1


@DIRECT
def test_authentication_errors_are_never_retried(proxy: FaultProxy, ada: User, run: Run) -> None:
    proxy.postgres_error(
        times=3, sqlstate="28P01", message='password authentication failed for user "postgres"'
    )
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith(
        'password authentication failed for user "postgres" '
        "(check the user name and password in the URL)\n"
    )
    assert result.stderr.count("\n") == 1
    assert proxy.connections == 1


@DIRECT
def test_a_slow_handshake_times_out_in_the_configured_time(
    proxy: FaultProxy, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_CONNECT_TIMEOUT", "2")  # libpq's smallest
    proxy.delay_connect(8)
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert "timeout expired (set SORTED_CONNECT_TIMEOUT to wait longer)" in result.stderr
    assert proxy.connections == 1  # a timeout is not retried: the wait already happened


@DIRECT
def test_a_missing_database_is_one_line_and_not_retried(
    database_url: str, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = database_url.rsplit("/", 1)[0] + "/sorted_no_such_database"
    monkeypatch.setenv("DATABASE_URL", missing)
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith('database "sorted_no_such_database" does not exist\n')
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------- broken connections


@DIRECT
def test_a_session_terminated_before_the_work_is_retried(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    proxy.terminate_on(b"alembic_version")  # the first query of every command
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n")
    assert "terminating connection due to administrator command" in result.stderr
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_add_cut_before_its_statement_reached_the_server_is_retried(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    # An add is one statement in autocommit: sorted cannot know whether the server saw it,
    # and repeats it, which is safe (its UUID is fixed before the first try).
    proxy.cut_on(b"INSERT INTO tasks", forward=False)
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n")
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_add_whose_answer_was_lost_is_not_added_twice(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    proxy.cut_on(b"INSERT INTO tasks", forward=True)  # the server commits; sorted never hears
    result = run("add", "Buy milk", "--json")
    assert result.exit_code == 0
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", False)]
    assert run("add", "Call mum").stdout == "Added task 2: Call mum\n"  # no gap, no reuse


@DIRECT
def test_done_cut_before_its_change_was_sent_is_retried(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    run("add", "Buy milk")
    proxy.cut_on(b"alembic_version", forward=False)  # reading who the user is: nothing sent
    result = run("done", "1")
    assert (result.exit_code, result.stdout) == (0, "Completed task 1: Buy milk\n")
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [(1, "Buy milk", True)]


@DIRECT
def test_done_whose_answer_was_lost_says_so_and_is_not_repeated(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    run("add", "Buy milk")
    proxy.cut_on(b"UPDATE tasks", forward=True)  # the server commits; sorted never hears
    result = run("done", "1")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", UNKNOWN)
    assert proxy.connections == 2  # the add, then the done: never a second try
    assert stored(session, ada) == [(1, "Buy milk", True)]  # the server did commit it


@DIRECT
def test_nothing_is_half_written_when_the_connection_breaks_mid_command(
    proxy: FaultProxy, session: Session, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    for title in ("one", "two", "three"):
        run("add", title)
    proxy.cut_on(b"UPDATE tasks", forward=False)  # the server never sees it; sorted cannot know
    result = run("delete", "1", "2", "3")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", UNKNOWN)
    assert stored(session, ada, View.deleted) == []
    assert len(stored(session, ada)) == 3


@DIRECT
def test_add_that_gives_up_after_its_change_was_in_flight_says_it_may_be_saved(
    proxy: FaultProxy, session: Session, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first try was committed, its answer lost; the server is then out of reach until the
    # budget runs out. "Cannot connect" would have the user add it again.
    monkeypatch.setenv("SORTED_RETRY_TIMEOUT", "1")
    proxy.cut_on(b"INSERT INTO tasks", forward=True)
    proxy.refuse(times=50)
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith(UNKNOWN), result.stderr
    assert stored(session, ada) == [(1, "Buy milk", False)]


@DIRECT
def test_a_connection_error_not_worth_retrying_after_a_change_was_sent_says_it_may_be_saved(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    add_plain_tasks(session, ada, 1, 1)
    proxy.terminate_on(b"UPDATE tasks", sqlstate="08P01", message="invalid frontend message")
    result = run("done", "1")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", UNKNOWN)
    assert proxy.pending_faults == 0


# ------------------------------------------------------------------- migrations at once


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["postgresql", "pgbouncer", "tls"], indirect=True)
def test_concurrent_upgrades_take_turns_and_neither_fails(
    blank_database_url: str, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_postgres_backend(backend)
    monkeypatch.setenv("DATABASE_URL", blank_database_url)
    results = run_together(*(["db", "upgrade"] for _ in range(4)))
    assert [result.returncode for result in results] == [0] * 4, [r.stderr for r in results]
    said = sorted(result.stdout for result in results)
    assert said[0] == "Database is at 0003 (head)\n"  # somebody migrated...
    assert all(  # ...and the others found it done, or waited and then found it done
        line in {"Database is at 0003 (head)\n", "Nothing to do: database is at 0003 (head)\n"}
        for line in said
    )
    applied = [r for r in results if "Applied 0001" in r.stderr]
    assert len(applied) == 1  # the migration ran exactly once
    engine = make_engine(load_settings(database_url=blank_database_url))
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [("0003",)]


# -------------------------------------------------------- TLS, SCRAM and the pooler


def _with_query(url: str, query: str) -> str:
    return url.partition("?")[0] + query


@pytest.mark.parametrize("backend", ["tls"], indirect=True)
def test_a_server_that_requires_tls_says_so_when_the_url_turns_it_off(
    database_url: str, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", _with_query(database_url, "?sslmode=disable"))
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.endswith(
        "no encryption (the server only accepts TLS: add ?sslmode=require to the URL)\n"
    )
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("backend", ["tls"], indirect=True)
def test_a_wrong_password_over_tls_fails_at_once_and_stays_hidden(
    database_url: str, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_and_password, _, rest = database_url.partition("@")
    user, _, password = user_and_password.rpartition(":")
    port = int(rest.partition("/")[0].rpartition(":")[2])
    with FaultProxy(upstream=("127.0.0.1", port)) as counter:  # TLS passes through untouched
        wrong = counter.url_for(f"{user}:not-{password}@{rest}")
        monkeypatch.setenv("DATABASE_URL", wrong)
        result = run("--debug", "list")
        assert counter.connections == 1  # an authentication error is never retried
    assert (result.exit_code, result.stdout) == (1, "")
    last = result.stderr.splitlines()[-1]
    assert last.startswith("Error: Cannot connect to postgresql+psycopg://sorted:***@127.0.0.1:")
    assert last.endswith(
        'password authentication failed for user "sorted" '
        "(check the user name and password in the URL)"
    )
    assert password not in result.stderr  # not even in the --debug traceback


@pytest.mark.parametrize("backend", ["pgbouncer"], indirect=True)
def test_a_feature_the_pooler_refuses_is_named_with_the_way_out(
    database_url: str, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neon's pooler, like this PgBouncer, takes no `options` startup parameter.
    monkeypatch.setenv(
        "DATABASE_URL", _with_query(database_url, "?options=-cstatement_timeout%3D5s")
    )
    result = run("list")
    assert (result.exit_code, result.stdout) == (1, "")
    assert "unsupported startup parameter: options" in result.stderr
    assert result.stderr.endswith(
        "(the connection pooler does not support this: use the direct URL, "
        "for example SORTED_MIGRATION_DATABASE_URL for `sorted db`)\n"
    )
    assert result.stderr.count("\n") == 1


# ---------------------------------------------------------------- the migration URL


@pytest.mark.parametrize("backend", ["pgbouncer"], indirect=True)
@pytest.mark.parametrize("name", ["SORTED_MIGRATION_DATABASE_URL", "DATABASE_URL_UNPOOLED"])
def test_db_commands_use_the_direct_url_and_everyday_commands_the_pooled_one(
    blank_database_url: str, run: Run, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    pooled = blank_database_url
    direct = direct_url_of(pooled)
    assert direct != pooled
    with FaultProxy(upstream=server_address(pooled)) as pooler:
        monkeypatch.setenv("DATABASE_URL", pooler.url_for(pooled))
        monkeypatch.setenv(name, direct)
        upgraded = run("db", "upgrade")
        assert (upgraded.exit_code, upgraded.stdout) == (0, "Database is at 0003 (head)\n")
        assert pooler.connections == 0  # migrations never went through the pooler
        run("user", "add", "ada@example.com")
        added = run("--user", "ada@example.com", "add", "Buy milk")
        assert (added.exit_code, added.stdout) == (0, "Added task 1: Buy milk\n")
        assert pooler.connections == 2  # everyday commands did
    shown = run("config").stdout.splitlines()
    assert f"migrations      {mask_password(normalise_url(direct))}  (${name})" in shown


# ------------------------------------------------------------- export and import, cut off


@DIRECT
def test_export_cut_before_its_first_rows_is_retried_and_complete(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    add_plain_tasks(session, ada, 1, 2500)
    proxy.cut_on(b"FETCH FORWARD", forward=False)  # the first batch never arrives
    result = run("export")
    assert result.exit_code == 0, result.stderr
    assert proxy.pending_faults == 0
    assert [task["number"] for task in json.loads(result.stdout)] == list(range(1, 2501))


@DIRECT
def test_export_cut_midway_fails_instead_of_writing_it_twice(
    proxy: FaultProxy, session: Session, ada: User, run: Run
) -> None:
    add_plain_tasks(session, ada, 1, 2500)
    # The server-side cursor's first two FETCHes fill the first batch of a thousand tasks;
    # the third comes once those are written out.
    proxy.cut_on(b"FETCH FORWARD", forward=False, occurrence=3)
    result = run("export")
    assert result.exit_code == 1, (result.stderr, proxy.connections, proxy.pending_faults)
    assert proxy.pending_faults == 0
    assert proxy.connections == 1  # never tried again
    assert result.stderr.startswith("Error: The connection broke during the export (")
    assert result.stderr.endswith("what was written is incomplete: run the export again.\n")
    assert result.stdout.count('"number"') == 1000  # the first batch, once, and no more


@DIRECT
def test_export_to_a_file_cut_midway_is_tried_again_into_a_fresh_file(
    proxy: FaultProxy, session: Session, ada: User, run: Run, tmp_path: Path
) -> None:
    add_plain_tasks(session, ada, 1, 2500)
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "backup.json"
    proxy.cut_on(b"FETCH FORWARD", forward=False, occurrence=3)  # after a thousand are out
    result = run("export", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert proxy.pending_faults == 0
    assert [task["number"] for task in json.loads(target.read_text())] == list(range(1, 2501))
    assert [path.name for path in folder.iterdir()] == ["backup.json"]  # no temporary left
    assert "retrying" in result.stderr


@DIRECT
def test_import_whose_commit_answer_was_lost_is_repeated_harmlessly(
    proxy: FaultProxy, session: Session, ada: User, run: Run, tmp_path: Path
) -> None:
    items = [
        {"id": str(uuid.uuid4()), "title": f"t{n}", "created_at": "2026-01-01T00:00:00Z"}
        for n in range(1, 1501)
    ]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(items))
    proxy.cut_on(b"COMMIT", forward=True)  # the server commits; sorted never hears back
    result = run("import", str(path))
    # The repeat finds them all there, and knows that its own first try put them there.
    assert (result.exit_code, result.stdout) == (0, "Imported 1500 tasks.\n"), result.stderr
    assert proxy.pending_faults == 0
    assert len(stored(session, ada)) == 1500  # once, not twice


@DIRECT
def test_import_repeated_after_a_lost_commit_answer_counts_only_what_it_added(
    proxy: FaultProxy, session: Session, ada: User, run: Run, tmp_path: Path
) -> None:
    add_plain_tasks(session, ada, 1, 1)
    items = [
        {"id": str(uuid.uuid4()), "number": n, "title": f"i{n}", "created_at": "2026-01-01T00:00Z"}
        for n in range(1, 6)
    ]
    earlier, path = tmp_path / "earlier.json", tmp_path / "in.json"
    earlier.write_text(json.dumps(items[3:]))
    path.write_text(json.dumps(items))
    assert run("import", str(earlier)).stdout == "Imported 2 tasks.\n"  # i4 and i5
    proxy.cut_on(b"COMMIT", forward=True)
    result = run("import", str(path))
    assert (result.exit_code, result.stdout) == (
        0,
        "Imported 3 tasks (2 already there; 1 renumbered: their numbers were taken).\n",
    ), result.stderr
    assert proxy.pending_faults == 0
    assert stored(session, ada) == [
        (1, "t1", False),
        (2, "i2", False),
        (3, "i3", False),
        (4, "i4", False),
        (5, "i5", False),
        (6, "i1", False),
    ]
