"""Round trips to PostgreSQL per everyday command, counted by a loopback proxy.

Against Neon every round trip is a trip across a wide-area network, so what each command
exchanges with the server is counted (tests/faultproxy.py: one round trip per time the client
speaks and the server answers) and held to a budget over the floor: a bare psycopg connection
with the same settings (TLS and SCRAM on the "tls" backend) that runs one statement. This is a
deterministic count, not a timing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from conftest import Run, add_plain_tasks
from faultproxy import FaultProxy, server_address
from sqlmodel import Session

from sorted_cli.models import User
from sorted_cli.pgdialect import server_version
from sorted_cli.urls import libpq_url, normalise_url, postgres_connect_args

# The machine's server in plain text, and a cluster that takes only TLS with SCRAM (as Neon).
SERVERS = pytest.mark.parametrize("backend", ["postgresql", "tls"], indirect=True)

# Beyond the floor, each command may make one round trip: who the user is (with the schema
# check in the same statement), then the one statement that does the work, which commits by
# itself (see sorted_cli.db.open_session).
BUDGET = 1
# Counted in-process, a command on a connection of its own: through the command server the
# connection is a warm one (no handshake at all), and its budget, one round trip, is counted by
# tests/test_engines.py and tests/test_server.py.
IN_PROCESS = pytest.mark.in_process
COMMANDS = {
    "list": ["list"],
    "next": ["next"],
    "show": ["show", "2"],
    "add": ["add", "Buy milk"],
    "done": ["done", "3"],
    "edit": ["edit", "4", "--title", "Call Bob"],
    "delete": ["delete", "5", "--yes"],
    "note": ["note", "6", "called", "the", "plumber"],
}


@pytest.fixture
def proxy(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with FaultProxy(upstream=server_address(database_url)) as counter:
        monkeypatch.setenv("DATABASE_URL", counter.url_for(database_url))
        yield counter


def floor(proxy: FaultProxy, url: str) -> int:
    """Round trips of a bare psycopg connection with sorted's settings and one statement (in
    autocommit: no BEGIN)."""
    proxy.reset_counters()
    libpq = libpq_url(normalise_url(url))
    args = postgres_connect_args(url, connect_timeout=10)
    with psycopg.connect(libpq, autocommit=True, **args) as connection:
        connection.execute("SELECT 1").fetchall()
    return proxy.round_trips


@SERVERS
@IN_PROCESS
@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_everyday_command_stays_within_its_round_trip_budget(
    proxy: FaultProxy,
    database_url: str,
    session: Session,
    ada: User,
    run: Run,
    command: str,
) -> None:
    add_plain_tasks(session, ada, 1, 80)  # more than a page: `list` counts the rest too
    ada.last_task_number = 80
    session.add(ada)
    session.commit()
    bare = floor(proxy, proxy.url_for(database_url))
    proxy.reset_counters()
    result = run(*COMMANDS[command])
    assert result.exit_code == 0, result.stderr
    assert proxy.connections == 1
    assert proxy.round_trips <= bare + BUDGET, (proxy.round_trips, bare)


# Work of several statements runs in one transaction whose BEGIN carries the timeouts
# (sorted_cli.pgwaits): beyond the floor, who the user is, BEGIN, the work's statements (a
# batch is one) and COMMIT, with no statement of its own to set the timeouts for a batch.
# A command given filters reads the numbers of the tasks they match, then changes those in
# its one statement.
BATCHED = {
    "tag": (["tag", "2", "p2", "p3", "p4"], 5),
    "tag of a range": (["tag", "1-3", "p2", "p3"], 6),  # the tasks, then locked with their tags
    "done of a filter": (["done", "--search", "t2"], 2),
    "edit of a filter": (["edit", "--search", "t3", "-p", "h"], 2),
    "import": (["import", "{file}"], 6),
}


@SERVERS
@IN_PROCESS
@pytest.mark.parametrize("command", list(BATCHED))
def test_work_of_several_statements_stays_within_its_round_trip_budget(
    proxy: FaultProxy,
    database_url: str,
    session: Session,
    ada: User,
    run: Run,
    command: str,
    tmp_path: Path,
) -> None:
    add_plain_tasks(session, ada, 1, 3)
    ada.last_task_number = 3
    session.add(ada)
    session.commit()
    file = tmp_path / "tasks.json"
    file.write_text(
        "".join(
            json.dumps({"id": str(uuid.uuid4()), "title": f"t{n}", "created_at": "2030-01-01"})
            + "\n"
            for n in range(3)
        )
    )
    args, budget = BATCHED[command]
    bare = floor(proxy, proxy.url_for(database_url))
    proxy.reset_counters()
    result = run(*(arg.format(file=file) for arg in args))
    assert result.exit_code == 0, result.stderr
    assert proxy.connections == 1
    assert proxy.round_trips - bare == budget, (proxy.round_trips, bare)


@pytest.mark.parametrize(
    ("number", "expected"), [(150004, (15, 4)), (180000, (18, 0)), (90624, (9, 6, 24))]
)
def test_the_server_version_is_read_from_what_the_server_reported(
    number: int, expected: tuple[int, ...]
) -> None:
    assert server_version(number) == expected


# A done of a repeating task that makes its next time: who the user is; the one statement,
# which leaves the task alone (it needs the follow-up); then one transaction: the change with
# its history (one statement), the task's tags, whether the next one is there already, the next
# task with its number, tags and history (one statement), COMMIT (sorted_cli.services.tasks
# `_Change.with_follow_up`). Only a repeating task pays these.
REPEATING_DONE_BUDGET = 7


@SERVERS
@IN_PROCESS
def test_done_of_a_repeating_task_makes_the_next_in_a_few_round_trips(
    proxy: FaultProxy, database_url: str, session: Session, ada: User, run: Run
) -> None:
    assert (
        run("add", "Water plants", "--due", "today", "--every", "week", "--tag", "home").exit_code
        == 0
    )
    bare = floor(proxy, proxy.url_for(database_url))
    proxy.reset_counters()
    result = run("done", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Completed task 1: Water plants\nNext: task 2, due ")
    assert proxy.connections == 1
    assert proxy.round_trips <= bare + REPEATING_DONE_BUDGET, (proxy.round_trips, bare)
