"""Two people changing the same tasks at once, on PostgreSQL: a real sorted process runs while
another connection holds a lock on its task, changes it, then commits.

Each change is one statement that locks its rows before it checks them, so what the other
connection did while sorted waited is what sorted decides on. An import checks first and
writes after, so another user's import of the same UUIDs can commit in between (on SQLite,
whose write lock an import takes before its check, it cannot).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from conftest import ADA, direct_url_of
from sqlmodel import Session, func, select
from test_processes import SORTED, TIMEOUT_S, Completed, environment

from sorted_cli.choices import Priority, View
from sorted_cli.config import load_settings
from sorted_cli.database import Database
from sorted_cli.errors import UserNotFound
from sorted_cli.models import Task, TaskCreate, User, validated
from sorted_cli.services import tasks, users

SERVER = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@contextmanager
def while_held(database_url: str, *statements: str) -> Iterator[psycopg.Connection]:
    """A transaction of another connection that has run STATEMENTS and not committed yet; it
    commits when the block ends."""
    libpq = "postgresql://" + direct_url_of(database_url).partition("://")[2]
    with psycopg.connect(libpq) as other:
        for statement in statements:
            other.execute(statement)
        yield other
        other.commit()


def started(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def wait_until_blocked(other: psycopg.Connection) -> None:
    """Until a sorted session on OTHER's database waits on a lock (as pg_stat_activity shows
    it; other tests may be waiting on other databases of the server)."""
    deadline = time.monotonic() + TIMEOUT_S
    watcher = psycopg.connect(other.info.dsn, autocommit=True)
    with watcher:
        while time.monotonic() < deadline:
            waiting = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = 'sorted' AND wait_event_type = 'Lock' "
                "AND datname = current_database()"
            ).fetchone()
            if waiting and waiting[0]:
                return
            time.sleep(0.02)
    raise AssertionError("sorted never waited on the lock")


def wait_until_asleep(process: subprocess.Popen[str]) -> None:
    """Until the process sleeps (Linux shows where: SQLite's busy wait for a lock sleeps in
    `hrtimer_nanosleep` between its tries, and a sorted command sleeps nowhere else)."""
    deadline = time.monotonic() + TIMEOUT_S
    where = Path(f"/proc/{process.pid}/wchan")
    while time.monotonic() < deadline and process.poll() is None:
        if where.read_text() == "hrtimer_nanosleep":
            return
        time.sleep(0.01)
    raise AssertionError("sorted never waited on the lock")


def finished(process: subprocess.Popen[str]) -> Completed:
    stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def add(session: Session, user: User, *titles: str) -> None:
    for title in titles:
        tasks.create_task(session=session, user=user, data=validated(TaskCreate, title=title))


@SERVER
def test_done_waits_for_a_concurrent_delete_and_then_refuses(
    database_url: str, session: Session, ada: User
) -> None:
    add(session, ada, "one", "two")
    with while_held(database_url, "UPDATE tasks SET is_deleted = true WHERE number = 2") as other:
        done = started("done", "1", "2")
        wait_until_blocked(other)
    result = finished(done)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "Error: Task 2 is in the trash: `sorted restore 2` first.\n"
    session.expire_all()
    page = tasks.list_tasks(session=session, user=ada, query=tasks.TaskQuery(view=View.all))
    assert [(task.number, task.completed) for task in page.tasks] == [(1, False)]


@SERVER
def test_a_second_done_at_the_same_moment_is_told_it_was_done_already(
    database_url: str, session: Session, ada: User
) -> None:
    add(session, ada, "one")
    with while_held(
        database_url, "UPDATE tasks SET completed = true, completed_at = now() WHERE number = 1"
    ) as other:
        done = started("done", "1")
        wait_until_blocked(other)
    result = finished(done)
    assert (result.returncode, result.stdout) == (0, "Task 1 was already done: one\n")


@SERVER
def test_tagging_waits_for_a_concurrent_tag_and_adds_nothing_twice(
    database_url: str, session: Session, ada: User
) -> None:
    add(session, ada, "one")
    with while_held(
        database_url,
        "SELECT 1 FROM tasks WHERE number = 1 FOR UPDATE",
        "INSERT INTO task_tags (task_id, name, user_id) "
        "SELECT id, 'work', user_id FROM tasks WHERE number = 1",
    ) as other:
        tagging = started("tag", "1", "work", "home")
        wait_until_blocked(other)
    result = finished(tagging)
    assert result.returncode == 0, result.stderr
    assert tasks.require_task_in_full(session=session, user=ada, ref="1").tags == ["home", "work"]


@SERVER
def test_a_change_the_server_refused_is_not_an_unknown_outcome(session: Session, ada: User) -> None:
    """An error answer means the statement was rolled back: it may be retried, or reported as
    it is, but it is never "may or may not have been saved"."""
    broken = TaskCreate.model_construct(
        title=None,  # type: ignore[arg-type]
        description=None,
        priority=Priority.none,
        due=None,
    )
    with pytest.raises(Exception, match="null value"):
        tasks.create_task(session=session, user=ada, data=broken)
    assert Database.of(session).commit_was_sent() is False


@SERVER
def test_an_import_that_loses_a_race_for_the_same_uuids_names_the_other_users_task(
    database_url: str, session: Session, ada: User, grace: User, tmp_path: Path
) -> None:
    """Grace's import has written the tasks and not committed yet when Ada's checks them: they
    are not there for Ada, so her insert waits on the key, then finds it taken."""
    taken = uuid.uuid4()
    path = tmp_path / "shared.json"
    path.write_text(
        json.dumps(
            [
                {"id": str(uuid.uuid4()), "title": "mine", "created_at": "2026-01-01T00:00Z"},
                {"id": str(taken), "title": "shared", "created_at": "2026-01-01T00:00Z"},
            ]
        )
    )
    with while_held(
        database_url,
        "SELECT 1 FROM users WHERE email = 'grace@example.com' FOR UPDATE",
        "INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, "
        f"updated_at, is_deleted) VALUES ('{taken}', '{grace.id}', 1, 'shared', 'none', false, "
        "now(), now(), false)",
    ) as other:
        importing = started("import", str(path))
        wait_until_blocked(other)
    result = finished(importing)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == f"Error: Task {taken} belongs to another user; nothing was imported.\n"
    session.expire_all()
    page = tasks.list_tasks(session=session, user=ada, query=tasks.TaskQuery(view=View.all))
    assert page.tasks == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_on_sqlite_an_import_waits_for_the_other_one_and_then_names_its_task(
    database_url: str, grace: User, ada: User, tmp_path: Path
) -> None:
    """SQLite cannot lose that race: an import checks and writes under the write lock, which
    it takes before its check, so it finds the other user's task once that one is committed."""
    taken = uuid.uuid4()
    path = tmp_path / "shared.json"
    path.write_text(json.dumps([{"id": str(taken), "title": "shared", "created_at": "2026-01-01"}]))
    other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(
            "INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, "
            "updated_at, is_deleted) VALUES (?, ?, 1, 'shared', 'NONE', 0, '2026-01-01', "
            "'2026-01-01', 0)",
            (taken.hex, grace.id.hex),
        )
        importing = started("import", str(path))
        wait_until_asleep(importing)  # on the write lock: SQLite's busy wait sleeps in between
        assert importing.poll() is None  # it really waits for the other writer
        other.execute("COMMIT")
    finally:
        other.close()
    result = finished(importing)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == f"Error: Task {taken} belongs to another user; nothing was imported.\n"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_add_after_another_command_deleted_its_user_adds_nothing(
    database_url: str, session: Session, ada: User
) -> None:
    """The add found its user before the delete committed; its counter's bump finds none."""
    other = Database(load_settings()).session
    try:
        users.delete_user(session=other, user=users.require_user_by_email(session=other, email=ADA))
    finally:
        Database.of(other).close()
    with pytest.raises(UserNotFound):
        add(session, ada, "after the delete")
    session.expire_all()
    assert session.exec(select(func.count()).select_from(Task)).one() == 0
