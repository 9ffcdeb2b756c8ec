"""Several sorted processes on one SQLite file: reads never wait for a writer, a writer takes
the lock only to write and says so when it waits, and no one waits on a person's answer.

Another writer is a real sqlite3 connection of the test holding BEGIN IMMEDIATE (as another
sorted's import would), or a real sorted process at its question on a real terminal.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import add_plain_tasks
from sqlmodel import Session
from test_processes import (
    QUESTION_END,
    SORTED,
    TIMEOUT_S,
    _read_until,
    _take_the_terminal,
    environment,
    outcome,
    run_sorted,
)

from sorted_cli.models import User

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

WAITING = "Waiting for another sorted command to finish writing to this database...\n"


def path_of(database_url: str) -> Path:
    return Path(database_url.removeprefix("sqlite:///"))


@contextmanager
def write_lock_held(database_url: str) -> Iterator[sqlite3.Connection]:
    """Another connection in the middle of a write: it holds the write lock, with a change
    not committed yet, until the block ends (then it rolls back)."""
    other = sqlite3.connect(path_of(database_url), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE users SET name = 'busy elsewhere'")
        yield other
        if other.in_transaction:
            other.execute("ROLLBACK")
    finally:
        other.close()


def with_lock_timeout(seconds: float) -> dict[str, str]:
    return environment(SORTED_LOCK_TIMEOUT=str(seconds))


def test_list_and_export_read_while_another_command_writes(
    database_url: str, session: Session, ada: User
) -> None:
    add_plain_tasks(session, ada, 1, 3)
    with write_lock_held(database_url):
        listed = run_sorted("list", env=with_lock_timeout(20))
        exported = run_sorted("export", env=with_lock_timeout(20))
        shown = run_sorted("show", "2", "--json", env=with_lock_timeout(20))
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [line.split("\t")[-1] for line in listed.stdout.splitlines()] == ["t1", "t2", "t3"]
    assert (exported.returncode, exported.stderr) == (0, "")
    assert [task["title"] for task in json.loads(exported.stdout)] == ["t1", "t2", "t3"]
    assert (shown.returncode, json.loads(shown.stdout)["title"]) == (0, "t2")


def test_a_write_that_cannot_get_the_lock_says_so_once_and_gives_up(
    database_url: str, session: Session, ada: User
) -> None:
    with write_lock_held(database_url):
        added = run_sorted("add", "Buy milk", env=with_lock_timeout(3))
    assert outcome(added) == (
        1,
        "",
        WAITING
        + "Error: The database is busy: another sorted command has been writing to it for 3 s; "
        "try again when it is done (SORTED_LOCK_TIMEOUT waits longer).\n",
    )
    assert outcome(run_sorted("list")) == (0, "", "No open tasks.\n")  # nothing written


def test_a_write_waits_for_the_lock_saying_so_once_then_goes_ahead(
    database_url: str, session: Session, ada: User
) -> None:
    with write_lock_held(database_url) as other:
        adding = subprocess.Popen(
            [str(SORTED), "add", "Buy milk"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=with_lock_timeout(TIMEOUT_S),
        )
        try:
            assert adding.stderr is not None
            assert adding.stderr.readline() == WAITING  # after about a second
            other.execute("COMMIT")
            stdout, stderr = adding.communicate(timeout=TIMEOUT_S)
        finally:
            if adding.poll() is None:
                adding.kill()
                adding.wait()
    assert (adding.returncode, stdout, stderr) == (0, "Added task 1: Buy milk\n", "")


def test_a_delete_at_its_question_holds_up_no_other_command(
    database_url: str, session: Session, ada: User
) -> None:
    """While a person decides, another `add` goes through at once, and the database is not
    held in any way: a checkpoint can empty the write-ahead log (an open read would keep the
    frames it may still read)."""
    import pty

    add_plain_tasks(session, ada, 1, 2)
    ada.last_task_number = 2
    session.add(ada)
    session.commit()
    leader, follower = pty.openpty()
    try:
        deleting = subprocess.Popen(
            [str(SORTED), "delete", "1", "2"],
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
            env=with_lock_timeout(5),
            start_new_session=True,
            preexec_fn=_take_the_terminal,
        )
        os.close(follower)
        follower = -1
        _read_until(leader, QUESTION_END)
        added = run_sorted("add", "Another", env=with_lock_timeout(5))
        assert outcome(added) == (0, "Added task 3: Another\n", "")
        checker = sqlite3.connect(path_of(database_url), isolation_level=None)
        try:
            checker.execute("PRAGMA busy_timeout = 5000")
            busy, _frames, _moved = checker.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            checker.close()
        assert busy == 0  # no reader holds a snapshot
        os.write(leader, b"y\n")
        stdout, _ = deleting.communicate(timeout=TIMEOUT_S)
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert (deleting.returncode, stdout) == (0, b"Deleted task 1: t1\nDeleted task 2: t2\n")
    listed = run_sorted("list")
    assert outcome(listed)[0] == 0
    assert [line.split("\t")[-1] for line in listed.stdout.splitlines()] == ["Another"]
