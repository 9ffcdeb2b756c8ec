"""The database's owner (`sorted_cli.database.Database`), over a real session: the schema check
on a session's first statement, which statements count as writing, and the connection checked
after a question."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from conftest import ADA, direct_url_of
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from sorted_cli import migrate
from sorted_cli.config import Settings, load_settings
from sorted_cli.database import Database
from sorted_cli.db import writes
from sorted_cli.errors import SchemaError
from sorted_cli.models import Task, TaskCreate, User, validated
from sorted_cli.services import tasks, users

SERVER = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
BEHIND = "The database is at 0001; this sorted needs 0003: an admin must run `sorted db upgrade`."


def libpq(url: str) -> str:
    return "postgresql://" + direct_url_of(url).partition("://")[2]


@pytest.fixture
def stamped_behind(blank_database_url: str, blank_engine: Engine) -> str:
    """A database with the newest tables whose alembic_version says 0001: any command that
    writes to it works, so only the schema check can stop one."""
    migrate.upgrade(blank_engine)
    with blank_engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    return blank_database_url


def first_statements() -> dict[str, Callable[[Session], object]]:
    return {
        "read": lambda session: users.get_user_by_email(session=session, email=ADA),
        "write": lambda session: session.execute(
            text(
                "INSERT INTO users (id, email, is_deleted, created_at, updated_at) VALUES "
                "('00000000000000000000000000000001', 'ada@example.com', false, now(), now())"
            )
        ),
    }


@SERVER
@pytest.mark.parametrize("first", ["read", "write"])
def test_the_first_statement_stops_on_a_schema_behind_head_and_writes_nothing(
    stamped_behind: str, first: str
) -> None:
    database = Database(Settings(database_url=stamped_behind))
    try:
        with pytest.raises(SchemaError) as raised:
            database.run(first_statements()[first])
    finally:
        database.close()
    assert raised.value.message == BEHIND
    with psycopg.connect(libpq(stamped_behind)) as connection:
        assert connection.execute("SELECT count(*) FROM users").fetchone() == (0,)


@SERVER
def test_a_read_carries_the_schema_check_in_the_same_message(stamped_behind: str) -> None:
    """What the driver is handed for the first statement: the revision query, then the
    statement, as one simple query (one round trip)."""
    sent: list[str] = []

    def capture(_conn: object, _cursor: object, sql: str, *_rest: object) -> None:
        sent.append(sql)

    database = Database(Settings(database_url=stamped_behind))
    event.listen(Engine, "after_cursor_execute", capture)
    try:
        with pytest.raises(SchemaError):
            database.run(lambda session: session.execute(text("SELECT count(*) FROM tasks")))
    finally:
        event.remove(Engine, "after_cursor_execute", capture)
        database.close()
    assert sent == ["SELECT version_num FROM alembic_version; SELECT count(*) FROM tasks"]


@SERVER
def test_an_add_in_one_statement_counts_as_writing(session: Session, ada: User) -> None:
    """`add` on PostgreSQL is one SELECT over data-modifying CTEs: it writes, so a connection
    lost while it is unanswered leaves its outcome unknown."""
    seen: list[tuple[str, bool]] = []

    def capture(_conn: object, _cursor: object, sql: str, _p: Any, context: Any, _m: bool) -> None:
        seen.append((sql.split(None, 1)[0], writes(sql, context)))

    event.listen(Engine, "before_cursor_execute", capture)
    try:
        tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title="t"))
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert seen == [("WITH", True)]
    assert writes("WITH recent AS (SELECT 1) SELECT * FROM recent", None) is True  # unknown


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_reads_do_not_count_as_writing(session: Session, ada: User) -> None:
    seen: list[bool] = []

    def capture(_conn: object, _cursor: object, sql: str, _p: Any, context: Any, _m: bool) -> None:
        if sql not in ("BEGIN", "COMMIT"):
            seen.append(writes(sql, context))

    tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title="t"))
    event.listen(Engine, "before_cursor_execute", capture)
    try:
        tasks.list_tasks(session=session, user=ada, query=tasks.TaskQuery())
    finally:
        event.remove(Engine, "before_cursor_execute", capture)
    assert seen
    assert not any(seen)


@pytest.fixture
def owner(database_url: str) -> Iterator[Database]:
    database = Database(load_settings())
    yield database
    database.close()


@SERVER
def test_a_connection_dropped_during_a_question_is_found_before_the_change_is_sent(
    owner: Database, ada: User
) -> None:
    """The server drops the connection while the person decides: the change is retried on a
    new connection, not reported as one that may or may not have been saved."""
    for title in ("one", "two"):
        tasks.create_task(session=owner.session, user=ada, data=validated(TaskCreate, title=title))
    pid = owner.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    dropped: list[int] = []

    def confirm(_targets: list[Task]) -> bool:
        if not dropped:
            with psycopg.connect(libpq(owner.settings.url), autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            dropped.append(pid)
        return True

    changes = owner.run(
        lambda s: tasks.delete_tasks(session=s, user=ada, refs=["1", "2"], confirm=confirm)
    )
    assert [(change.task.number, change.changed) for change in changes] == [(1, True), (2, True)]
    assert len(dropped) == 1
