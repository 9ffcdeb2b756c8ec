"""Several sorted processes on one SQLite file: reads never wait for a writer, a writer takes
the lock only to write and says so when it waits, and no one waits on a person's answer; an
import reads its file as it goes, in memory bounded by a batch, before it takes the lock.

Another writer is a real sqlite3 connection of the test holding BEGIN IMMEDIATE (as another
sorted's import would), or a real sorted process at its question on a real terminal.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import Run, add_plain_tasks
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
from sorted_cli.schema import HEAD

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


def test_reads_go_ahead_while_another_command_writes(
    database_url: str, session: Session, ada: User
) -> None:
    add_plain_tasks(session, ada, 1, 3)
    with write_lock_held(database_url):
        listed = run_sorted("list", env=with_lock_timeout(20))
        exported = run_sorted("export", env=with_lock_timeout(20))
        shown = run_sorted("show", "2", "--json", env=with_lock_timeout(20))
        counted = run_sorted("stats", "--json", env=with_lock_timeout(20))
        revision = run_sorted("db", "current", env=with_lock_timeout(20))
    assert (listed.returncode, listed.stderr) == (0, "")
    assert [line.split("\t")[-1] for line in listed.stdout.splitlines()] == ["t1", "t2", "t3"]
    assert (exported.returncode, exported.stderr) == (0, "")
    assert [task["title"] for task in json.loads(exported.stdout)] == ["t1", "t2", "t3"]
    assert (shown.returncode, json.loads(shown.stdout)["title"]) == (0, "t2")
    assert (counted.returncode, json.loads(counted.stdout)["open"]) == (0, 3)
    assert outcome(revision) == (0, f"{HEAD} (head)\n", "")


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


def test_a_write_given_up_in_this_process_leaves_the_session_usable(
    database_url: str, session: Session, ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The give-up above, in the test's own process: the notice and the error through the
    boundary, nothing written, and the lock taken once it is free again."""
    monkeypatch.setenv("SORTED_LOCK_TIMEOUT", "1.5")
    with write_lock_held(database_url):
        refused = run("add", "Buy milk")
    assert (refused.exit_code, refused.stdout, refused.stderr) == (
        1,
        "",
        WAITING + "Error: The database is busy: another sorted command has been writing to it for "
        "1.5 s; try again when it is done (SORTED_LOCK_TIMEOUT waits longer).\n",
    )
    added = run("add", "Buy milk")
    assert (added.exit_code, added.stdout, added.stderr) == (0, "Added task 1: Buy milk\n", "")


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


def test_a_write_waiting_for_the_lock_stops_at_once_on_sigterm(
    database_url: str, session: Session, ada: User
) -> None:
    """SIGTERM during a long lock wait ends the command within seconds, not when the wait ends."""
    with write_lock_held(database_url):
        adding = subprocess.Popen(
            [str(SORTED), "add", "Buy milk"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=with_lock_timeout(20),
        )
        try:
            assert adding.stderr is not None
            assert adding.stderr.readline() == WAITING
            time.sleep(1)  # well into the wait
            adding.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            adding.communicate(timeout=TIMEOUT_S)
            took_s = time.monotonic() - signalled
        finally:
            if adding.poll() is None:
                adding.kill()
                adding.wait()
    assert adding.returncode == 128 + signal.SIGTERM
    assert took_s < 8, took_s  # it used to wait out the whole 20 s
    assert outcome(run_sorted("list")) == (0, "", "No open tasks.\n")  # nothing written


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


def _task_lines(count: int, start: int = 0) -> str:
    return "".join(
        json.dumps(
            {
                "id": str(uuid.UUID(int=start + n + 1)),
                "number": start + n + 1,
                "title": f"Imported task number {start + n + 1}",
                "created_at": "2026-01-01T09:00:00Z",
                "tags": ["bulk", f"group{n % 20}"],
            }
        )
        + ",\n"
        for n in range(count)
    )


def test_a_bad_item_is_found_while_the_rest_of_the_file_is_still_coming(
    session: Session, ada: User
) -> None:
    """The import reads as the file comes (a stand-in for memory that does not grow with the
    file: reading it whole first would wait here for its end, forever)."""
    importing = subprocess.Popen(
        [str(SORTED), "import", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    assert importing.stdin is not None
    assert importing.stderr is not None
    try:
        importing.stdin.write(("[\n" + _task_lines(3) + '"not a task",\n').encode())
        importing.stdin.flush()  # and the file goes on: the pipe stays open
        code = importing.wait(timeout=TIMEOUT_S)
        stderr = importing.stderr.read().decode()
    finally:
        importing.stdin.close()
        if importing.poll() is None:
            importing.kill()
        importing.wait()
    assert (code, stderr) == (
        2,
        "Error: stdin, line 5: expected a task object, not 'not a task'.\n",
    )
    assert outcome(run_sorted("list")) == (0, "", "No open tasks.\n")  # nothing imported


def _peak_bytes_while_importing(run: Run, path: Path) -> tuple[str, int]:
    tracemalloc.start()
    try:
        result = run("import", str(path))
        return result.stdout, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_import_memory_does_not_grow_with_the_number_of_tasks(
    ada: User, run: Run, tmp_path: Path
) -> None:
    """A deterministic stand-in for bounded memory at a million tasks: four times the tasks
    must not take noticeably more memory to import (reading them all at once took ~4x)."""
    small, large = tmp_path / "small.json", tmp_path / "large.json"
    small.write_text("[\n" + _task_lines(3000).removesuffix(",\n") + "\n]\n")
    large.write_text("[\n" + _task_lines(12000, start=3000).removesuffix(",\n") + "\n]\n")
    small_import = _peak_bytes_while_importing(run, small)
    large_import = _peak_bytes_while_importing(run, large)
    assert (small_import[0], large_import[0]) == (
        "Imported 3000 tasks.\n",
        "Imported 12000 tasks.\n",
    )
    assert large_import[1] < small_import[1] * 1.5, (small_import, large_import)


def test_a_bad_item_far_into_a_large_file_is_named_by_its_line(
    ada: User, run: Run, tmp_path: Path
) -> None:
    """Lines are counted across the pieces the file is read in (a megabyte at a time)."""
    path = tmp_path / "large.json"
    path.write_text("[\n" + _task_lines(12000) + '{"title": "no id"}\n]\n')
    result = run("import", str(path))
    assert (result.exit_code, result.stderr) == (2, f"Error: {path}, line 12002: id is missing.\n")
