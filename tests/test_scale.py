"""sorted stays flat as a user's tasks grow: every statement of the everyday commands is
answered from an index, never by reading all of a user's tasks (or everyone's).

PostgreSQL's planner picks a sequential scan for small tables whatever the indexes, so these
tests fill the database to a size where a full scan would show (200,000 tasks for one user,
100 other users with 100 each), ANALYZE it, capture the statements the commands really send
and ask the planner (EXPLAIN, which runs nothing) how it would answer each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from conftest import Run
from sqlalchemy import event, text
from sqlmodel import Session

from sorted_cli.models import User

SERVER = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
TASKS = 200_000
OTHERS = 100

FILL = """
INSERT INTO users (id, email, last_task_number, created_at, updated_at, is_deleted)
SELECT gen_random_uuid(), 'other' || u || '@example.com', 100, now(), now(), false
FROM generate_series(1, :others) AS u;
INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, updated_at,
                   is_deleted, due)
SELECT gen_random_uuid(), users.id, n, 'Task ' || n, 'none', n % 4 = 1, now(), now(),
       n % 50 = 0, CASE WHEN n % 3 = 0 THEN current_date + (n % 30) END
FROM users, generate_series(1, CASE WHEN users.id = :ada THEN :tasks ELSE 100 END) AS n;
INSERT INTO task_tags (task_id, name, user_id)
SELECT id, 'tag' || (number % 20), user_id FROM tasks WHERE number % 2 = 0;
INSERT INTO task_notes (id, task_id, user_id, created_at, text)
SELECT gen_random_uuid(), id, user_id, now() - n * interval '1 day', 'note ' || n
FROM tasks, generate_series(1, 2) AS n WHERE number % 5 = 0;
UPDATE users SET last_task_number = :tasks WHERE id = :ada;
ANALYZE users; ANALYZE tasks; ANALYZE task_tags; ANALYZE task_notes;
"""

COMMANDS = [
    ["list"],
    ["list", "--tag", "tag4"],
    ["list", "--tag", "tag4", "--tag", "tag8"],
    ["list", "--overdue"],
    ["list", "--completed-since", "2026-01-01"],
    ["list", "--deleted"],
    ["show", "20000"],
    ["add", "Buy milk", "--tag", "home"],
    ["done", "20001"],
    ["edit", "20002", "--title", "Call Bob"],
    ["delete", "20003", "--yes"],
    ["tag", "20004", "work"],
    ["note", "20005", "called", "the", "plumber"],
]


@pytest.fixture
def crowded(session: Session, ada: User) -> None:
    for statement in FILL.strip().split(";\n"):
        session.execute(text(statement), {"others": OTHERS, "tasks": TASKS, "ada": ada.id})
    session.commit()


@contextmanager
def statements(session: Session) -> Iterator[list[tuple[str, Any]]]:
    """The statements every sorted engine sends meanwhile, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_rest: Any) -> None:
        if not sql.lstrip().upper().startswith(("SELECT VERSION_NUM", "BEGIN", "COMMIT")):
            sent.append((sql, params))

    engine_class = type(session.get_bind().engine)
    event.listen(engine_class, "before_cursor_execute", capture)
    try:
        yield sent
    finally:
        event.remove(engine_class, "before_cursor_execute", capture)


def scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(node type, relation) of every node of a JSON plan."""
    yield plan["Node Type"], plan.get("Relation Name", "")
    for child in plan.get("Plans", []):
        yield from scans(child)


@SERVER
@pytest.mark.usefixtures("crowded")
@pytest.mark.in_process  # it explains the statements this process sends
def test_everyday_statements_are_answered_from_indexes(
    session: Session, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One filled database for all the commands (filling it takes a few seconds). The
    commands run as typed at a terminal, where `list` shows a page; piped, it reads every
    match (10,000 for a tag here), for which a sequential scan can be the better plan."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    raw = session.connection().connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    full_scans = []
    for command in COMMANDS:
        with statements(session) as sent:
            result = run(*command)
        assert result.exit_code == 0, result.stderr
        assert sent, f"{command} sent nothing to the database"
        for sql, params in sent:
            found = raw.execute(f"EXPLAIN (FORMAT JSON) {sql}", params).fetchone()
            assert found is not None
            plan = found[0][0]["Plan"]
            if any(
                node == "Seq Scan" and table in ("tasks", "task_tags", "task_notes")
                for node, table in scans(plan)
            ):
                full_scans.append(f"sorted {' '.join(command)}:\n{sql}\n{json.dumps(plan)[:3000]}")
    assert full_scans == []
