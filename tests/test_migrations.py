"""The Alembic migrations, run directly on a blank database of each backend."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import table_names
from sqlalchemy import DateTime, bindparam, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import sorted_cli.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from sorted_cli import migrate, schema
from sorted_cli.errors import InvalidInput

USERS_COLUMNS = {
    "id",
    "email",
    "name",
    "last_task_number",
    "created_at",
    "updated_at",
    "is_deleted",
    "deleted_at",
}
TASKS_COLUMNS = {
    "id",
    "user_id",
    "number",
    "title",
    "description",
    "priority",
    "due",
    "completed",
    "completed_at",
    "created_at",
    "updated_at",
    "is_deleted",
    "deleted_at",
    "every",
    "until",
    "times",
    "anchor",
    "series_id",
    "iteration",
    "wait",
    "scheduled",
    "due_at",
}


@pytest.fixture
def engine(blank_engine: Engine) -> Engine:
    return blank_engine


def column_names(engine: Engine, table: str) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns(table)}


def indexes(engine: Engine, table: str) -> dict[str, tuple[list[Any], bool]]:
    """Plain indexes by name: (columns, unique); those backing a constraint are left out."""
    return {
        str(index["name"]): (list(index["column_names"]), bool(index["unique"]))
        for index in inspect(engine).get_indexes(table)
        if "duplicates_constraint" not in index
    }


def version_rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())


def assert_schema_at_head(engine: Engine) -> None:
    assert table_names(engine) == {
        "users",
        "tasks",
        "task_tags",
        "task_changes",
        "task_notes",
        "alembic_version",
    }
    assert column_names(engine, "users") == USERS_COLUMNS
    assert column_names(engine, "tasks") == TASKS_COLUMNS
    assert indexes(engine, "users") == {"ix_users_email": (["email"], True)}
    assert indexes(engine, "tasks") == {
        "ix_tasks_user_id_is_deleted_completed_number": (
            ["user_id", "is_deleted", "completed", "number"],
            False,
        ),
        "ix_tasks_user_id_completed_at": (["user_id", "completed_at"], False),
        "ix_tasks_user_id_due": (["user_id", "due"], False),
        "ix_tasks_user_id_wait": (["user_id", "wait"], False),
        "uq_tasks_series_id_iteration": (["series_id", "iteration"], True),
    }
    assert indexes(engine, "task_tags") == {
        "ix_task_tags_user_id_name_task_id": (["user_id", "name", "task_id"], False)
    }
    unique = inspect(engine).get_unique_constraints("tasks")
    assert [(u["name"], u["column_names"]) for u in unique] == [
        ("uq_tasks_user_id_number", ["user_id", "number"])
    ]
    for table in ("users", "tasks"):
        primary_key = inspect(engine).get_pk_constraint(table)
        assert (primary_key["name"], primary_key["constrained_columns"]) == (f"pk_{table}", ["id"])
    foreign_keys = inspect(engine).get_foreign_keys("tasks")
    assert [
        (fk["name"], fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
        for fk in foreign_keys
    ] == [("fk_tasks_user_id_users", ["user_id"], "users", ["id"])]
    primary_key = inspect(engine).get_pk_constraint("task_tags")
    assert (primary_key["name"], primary_key["constrained_columns"]) == (
        "pk_task_tags",
        ["task_id", "name"],
    )
    tag_keys = inspect(engine).get_foreign_keys("task_tags")
    assert sorted(
        (fk["name"], fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
        for fk in tag_keys
    ) == [
        ("fk_task_tags_task_id_tasks", ["task_id"], "tasks", "CASCADE"),
        ("fk_task_tags_user_id_users", ["user_id"], "users", "CASCADE"),
    ]
    assert indexes(engine, "task_changes") == {
        "ix_task_changes_user_id_id": (["user_id", "id"], False),
        "ix_task_changes_task_id_id": (["task_id", "id"], False),
    }
    unique = inspect(engine).get_unique_constraints("task_changes")
    assert [(u["name"], u["column_names"]) for u in unique] == [
        ("uq_task_changes_command_id_task_id_action", ["command_id", "task_id", "action"])
    ]
    change_keys = inspect(engine).get_foreign_keys("task_changes")
    assert sorted(
        (fk["name"], fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
        for fk in change_keys
    ) == [
        ("fk_task_changes_task_id_tasks", ["task_id"], "tasks", "CASCADE"),
        ("fk_task_changes_user_id_users", ["user_id"], "users", "CASCADE"),
    ]
    assert column_names(engine, "task_notes") == {"id", "task_id", "user_id", "created_at", "text"}
    assert indexes(engine, "task_notes") == {
        "ix_task_notes_task_id_created_at": (["task_id", "created_at"], False)
    }
    primary_key = inspect(engine).get_pk_constraint("task_notes")
    assert (primary_key["name"], primary_key["constrained_columns"]) == ("pk_task_notes", ["id"])
    note_keys = inspect(engine).get_foreign_keys("task_notes")
    assert sorted(
        (fk["name"], fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
        for fk in note_keys
    ) == [
        ("fk_task_notes_task_id_tasks", ["task_id"], "tasks", "CASCADE"),
        ("fk_task_notes_user_id_users", ["user_id"], "users", "CASCADE"),
    ]
    assert version_rows(engine) == [schema.HEAD]


# ------------------------------------------------------------------- the scripts themselves


def test_script_location_holds_env_and_versions() -> None:
    location = migrate.script_location()
    assert (location / "env.py").is_file()
    assert (location / "versions" / "0001_create_users_and_tasks.py").is_file()


def test_schema_revisions_are_the_scripts_oldest_first() -> None:
    scripts_oldest_first = tuple(reversed([revision.id for revision in migrate.history()]))
    assert scripts_oldest_first == schema.REVISIONS


def test_schema_head_is_the_script_directory_head() -> None:
    scripts = ScriptDirectory(str(migrate.script_location()))
    heads = [revision.id for revision in migrate.history() if revision.is_head]
    assert heads == [schema.HEAD]
    assert scripts.get_current_head() == schema.HEAD


def test_history_describes_each_revision() -> None:
    assert migrate.history() == [
        migrate.Revision(id="0006", message="add task recurrence", is_head=True),
        migrate.Revision(id="0005", message="add task dates", is_head=False),
        migrate.Revision(id="0004", message="add task notes", is_head=False),
        migrate.Revision(id="0003", message="add task history", is_head=False),
        migrate.Revision(id="0002", message="add task tags", is_head=False),
        migrate.Revision(id="0001", message="create users and tasks", is_head=False),
    ]


# ------------------------------------------------------------------------- on a database


def test_blank_database_has_no_revision(engine: Engine) -> None:
    assert migrate.current(engine) is None
    assert table_names(engine) == set()


def test_upgrade_blank_database_to_head(engine: Engine) -> None:
    steps: list[str] = []
    migrate.upgrade(engine, progress=steps.append)
    assert steps == [
        "Applied 0001: create users and tasks",
        "Applied 0002: add task tags",
        "Applied 0003: add task history",
        "Applied 0004: add task notes",
        "Applied 0005: add task dates",
        "Applied 0006: add task recurrence",
    ]
    assert migrate.current(engine) == schema.HEAD
    assert_schema_at_head(engine)


def test_upgrade_at_head_does_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    steps: list[str] = []
    migrate.upgrade(engine, progress=steps.append)
    assert steps == []
    assert_schema_at_head(engine)


def test_downgrade_to_base_and_back(engine: Engine) -> None:
    migrate.upgrade(engine)
    steps: list[str] = []
    migrate.downgrade(engine, "base", progress=steps.append)
    assert steps == [
        "Reverted 0006: add task recurrence",
        "Reverted 0005: add task dates",
        "Reverted 0004: add task notes",
        "Reverted 0003: add task history",
        "Reverted 0002: add task tags",
        "Reverted 0001: create users and tasks",
    ]
    assert table_names(engine) == {"alembic_version"}
    assert version_rows(engine) == []
    assert migrate.current(engine) is None

    migrate.upgrade(engine)
    assert migrate.current(engine) == schema.HEAD
    assert_schema_at_head(engine)


def test_models_match_migrations(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_unknown_revision_is_invalid_input_and_changes_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidInput, match=r"^Cannot migrate: .*'nosuchrev'"):
        migrate.upgrade(engine, "nosuchrev")
    assert table_names(engine) == set()
    with pytest.raises(InvalidInput, match=r"^Cannot migrate: .*'nosuchrev'"):
        migrate.downgrade(engine, "nosuchrev")
    assert table_names(engine) == set()


# Typed, so the dialect writes the moment as the schema stores it (sqlite3's own datetime adapter
# is deprecated since Python 3.12).
_MOMENT = bindparam("now", type_=DateTime(timezone=True))


def _insert_user(engine: Engine, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, last_task_number, created_at, updated_at, "
                "is_deleted) VALUES (:id, :email, 0, :now, :now, false)"
            ).bindparams(_MOMENT),
            {"id": _uuid_param(engine, user_id), "email": email, "now": now},
        )
    return user_id


def _insert_task(engine: Engine, user_id: uuid.UUID, number: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tasks (id, user_id, number, title, priority, completed, "
                "created_at, updated_at, is_deleted) "
                "VALUES (:id, :user_id, :number, 'x', 'none', false, :now, :now, false)"
            ).bindparams(_MOMENT),
            {
                "id": _uuid_param(engine, uuid.uuid4()),
                "user_id": _uuid_param(engine, user_id),
                "number": number,
                "now": now,
            },
        )


def _uuid_param(engine: Engine, value: uuid.UUID) -> object:
    """How sa.Uuid stores a UUID: 32 hex digits on SQLite, a native uuid on PostgreSQL."""
    return value.hex if engine.dialect.name == "sqlite" else value


def test_migrated_schema_enforces_its_constraints(engine: Engine) -> None:
    migrate.upgrade(engine)
    ada = _insert_user(engine, "ada@example.com")
    _insert_task(engine, ada, 1)
    _insert_task(engine, ada, 2)

    with pytest.raises(IntegrityError):
        _insert_user(engine, "ada@example.com")  # ix_users_email is unique
    with pytest.raises(IntegrityError):
        _insert_task(engine, ada, 1)  # uq_tasks_user_id_number
    with pytest.raises(IntegrityError):
        _insert_task(engine, uuid.uuid4(), 1)  # fk_tasks_user_id_users

    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tasks")).scalar() == 2
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1


# ------------------------------------------------------------------- with data in place


# The columns tasks had at 0001: later revisions add columns, and must keep these as they were.
_TASK_COLUMNS_0001 = (
    "id, user_id, number, title, description, priority, due, completed, completed_at, "
    "created_at, updated_at, is_deleted, deleted_at"
)


def _rows(engine: Engine, table: str, order: str = "id") -> list[tuple[Any, ...]]:
    columns = _TASK_COLUMNS_0001 if table == "tasks" else "*"
    with engine.connect() as connection:
        rows = connection.execute(text(f"SELECT {columns} FROM {table} ORDER BY {order}"))
        return [tuple(row) for row in rows]


def _fill_at_0001(engine: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """Two users with tasks in every state, written as sorted 0001 would have."""
    ada, bob = _insert_user(engine, "ada@example.com"), _insert_user(engine, "bob@example.com")
    for number in range(1, 41):
        _insert_task(engine, ada if number % 3 else bob, number)
    first = _uuid_param(engine, uuid.UUID(int=1))
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO tasks (id, user_id, number, title, description, priority, due, "
                "completed, completed_at, created_at, updated_at, is_deleted, deleted_at) "
                "VALUES (:id, :user, 99, 'Grüße ✓', :description, 'high', '2026-12-24', true, "
                ":when, :when, :when, true, :when)"
            ).bindparams(bindparam("when", type_=DateTime(timezone=True))),
            {
                "id": first,
                "user": _uuid_param(engine, ada),
                "description": "line one\nline two",
                "when": when,
            },
        )
    return ada, bob


def test_upgrade_to_tags_keeps_every_task_and_user(engine: Engine) -> None:
    migrate.upgrade(engine, "0001")
    ada, _bob = _fill_at_0001(engine)
    tasks_before, users_before = _rows(engine, "tasks"), _rows(engine, "users")
    assert len(tasks_before) == 41

    migrate.upgrade(engine)
    assert_schema_at_head(engine)
    assert _rows(engine, "tasks") == tasks_before
    assert _rows(engine, "users") == users_before
    assert _rows_count(engine, "task_tags") == 0

    # The upgraded rows take tags, and a tag names a real task of its user.
    task = _uuid_param(engine, uuid.UUID(int=1))
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, 'home', :user)"),
            {"task": task, "user": _uuid_param(engine, ada)},
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, 'x', :user)"),
            {"task": _uuid_param(engine, uuid.uuid4()), "user": _uuid_param(engine, ada)},
        )

    # Down again: the tags (and the notes) go, the tasks stay exactly as they were; and back up.
    migrate.downgrade(engine, "0002")
    migrate.downgrade(engine, "0001")
    assert not {"task_tags", "task_notes"} & table_names(engine)
    assert _rows(engine, "tasks") == tasks_before
    migrate.upgrade(engine)
    assert _rows(engine, "tasks") == tasks_before
    assert _rows(engine, "users") == users_before


def _rows_count(engine: Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_upgrade_to_history_keeps_every_task_tag_and_user(engine: Engine) -> None:
    migrate.upgrade(engine, "0001")
    ada, _bob = _fill_at_0001(engine)
    migrate.upgrade(engine, "0002")
    task = _uuid_param(engine, uuid.UUID(int=1))
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, 'home', :user)"),
            {"task": task, "user": _uuid_param(engine, ada)},
        )
    before = {table: _rows(engine, table) for table in ("tasks", "users")}
    tagged = _rows_count(engine, "task_tags")

    migrate.upgrade(engine)
    assert_schema_at_head(engine)
    assert {table: _rows(engine, table) for table in before} == before
    assert _rows_count(engine, "task_tags") == tagged == 1
    assert _rows_count(engine, "task_changes") == 0  # history starts with the next command

    # A change of an upgraded task is recorded against it; one of no task is refused.
    row = {"task": task, "user": _uuid_param(engine, ada), "command": _uuid_param(engine, ada)}
    insert = text(
        "INSERT INTO task_changes (command_id, user_id, task_id, action, at) "
        "VALUES (:command, :user, :task, 'done', CURRENT_TIMESTAMP)"
    )
    with engine.begin() as connection:
        connection.execute(insert, row)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, row)  # the same change of the same command twice
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert, {**row, "task": _uuid_param(engine, uuid.uuid4())})

    migrate.downgrade(engine, "0002")
    assert "task_changes" not in table_names(engine)
    assert {table: _rows(engine, table) for table in before} == before
    migrate.upgrade(engine)
    assert {table: _rows(engine, table) for table in before} == before


def test_upgrade_to_notes_keeps_every_task_tag_and_user(engine: Engine) -> None:
    migrate.upgrade(engine, "0003")
    ada, bob = _fill_at_0001(engine)
    task = _uuid_param(engine, uuid.UUID(int=1))
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, :name, :user)"),
            [{"task": task, "name": name, "user": _uuid_param(engine, ada)} for name in "ab"],
        )
    order = {"tasks": "id", "users": "id", "task_tags": "name"}
    before = {table: _rows(engine, table, by) for table, by in order.items()}
    assert [len(rows) for rows in before.values()] == [41, 2, 2]

    migrate.upgrade(engine)
    assert_schema_at_head(engine)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
    assert _rows_count(engine, "task_notes") == 0

    # The upgraded tasks take notes; a note names a real task, and goes with its task.
    note = text(
        "INSERT INTO task_notes (id, task_id, user_id, created_at, text) "
        "VALUES (:id, :task, :user, :now, 'called')"
    ).bindparams(_MOMENT)
    row = {"task": task, "user": _uuid_param(engine, ada), "now": datetime.now(UTC)}
    with engine.begin() as connection:
        connection.execute(note, {**row, "id": _uuid_param(engine, uuid.uuid4())})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            note,
            {**row, "id": _uuid_param(engine, uuid.uuid4()), "task": _uuid_param(engine, bob)},
        )
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM tasks WHERE id = :task"), {"task": task})
    assert _rows_count(engine, "task_notes") == 0

    migrate.downgrade(engine, "0003")
    assert "task_notes" not in table_names(engine)
    assert _rows(engine, "users") == before["users"]
    assert len(_rows(engine, "tasks")) == 40


def test_upgrade_to_recurrence_keeps_every_task_tag_note_and_change(engine: Engine) -> None:
    migrate.upgrade(engine, "0004")
    ada, _bob = _fill_at_0001(engine)
    task = _uuid_param(engine, uuid.UUID(int=1))
    user = _uuid_param(engine, ada)
    now = {"now": datetime.now(UTC)}
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, 'home', :user)"),
            {"task": task, "user": user},
        )
        connection.execute(
            text(
                "INSERT INTO task_notes (id, task_id, user_id, created_at, text) "
                "VALUES (:id, :task, :user, :now, 'called')"
            ).bindparams(_MOMENT),
            {"id": _uuid_param(engine, uuid.uuid4()), "task": task, "user": user, **now},
        )
        connection.execute(
            text(
                "INSERT INTO task_changes (command_id, user_id, task_id, action, at) "
                "VALUES (:command, :user, :task, 'done', :now)"
            ).bindparams(_MOMENT),
            {"command": _uuid_param(engine, uuid.uuid4()), "task": task, "user": user, **now},
        )
    order = {"tasks": "id", "users": "id", "task_tags": "name", "task_notes": "id"}
    before = {table: _rows(engine, table, by) for table, by in order.items()}
    changes = _rows_count(engine, "task_changes")
    assert [len(rows) for rows in before.values()] == [41, 2, 1, 1]
    assert changes == 1

    migrate.upgrade(engine)
    assert_schema_at_head(engine)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
    assert _rows_count(engine, "task_changes") == changes
    with engine.connect() as connection:  # no upgraded task repeats
        assert (
            connection.execute(
                text("SELECT count(*) FROM tasks WHERE every IS NOT NULL OR series_id IS NOT NULL")
            ).scalar_one()
            == 0
        )

    # One task per occurrence of a series.
    series = _uuid_param(engine, uuid.uuid4())
    occurrence = text("UPDATE tasks SET series_id = :series, iteration = 2 WHERE number = :n")
    with engine.begin() as connection:
        connection.execute(occurrence, {"series": series, "n": 1})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(occurrence, {"series": series, "n": 2})

    migrate.downgrade(engine, "0004")
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
    assert _rows_count(engine, "task_changes") == changes
    migrate.upgrade(engine)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before


_DATES = {"wait", "scheduled", "due_at"}
_RECURRENCE = {"every", "until", "times", "anchor", "series_id", "iteration"}


def test_upgrade_to_dates_keeps_every_task_tag_note_and_user(engine: Engine) -> None:
    migrate.upgrade(engine, "0004")
    ada, _bob = _fill_at_0001(engine)
    task = _uuid_param(engine, uuid.UUID(int=1))
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO task_tags (task_id, name, user_id) VALUES (:task, 'home', :user)"),
            {"task": task, "user": _uuid_param(engine, ada)},
        )
        connection.execute(
            text(
                "INSERT INTO task_notes (id, task_id, user_id, created_at, text) "
                "VALUES (:id, :task, :user, :now, 'called')"
            ).bindparams(_MOMENT),
            {
                "id": _uuid_param(engine, uuid.uuid4()),
                "task": task,
                "user": _uuid_param(engine, ada),
                "now": datetime.now(UTC),
            },
        )
    order = {"tasks": "id", "users": "id", "task_tags": "name", "task_notes": "id"}
    before = {table: _rows(engine, table, by) for table, by in order.items()}
    assert [len(rows) for rows in before.values()] == [41, 2, 1, 1]

    migrate.upgrade(engine, "0005")
    assert column_names(engine, "tasks") == TASKS_COLUMNS - _RECURRENCE
    assert indexes(engine, "tasks")["ix_tasks_user_id_wait"] == (["user_id", "wait"], False)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
    with engine.connect() as connection:
        dates = connection.execute(text("SELECT wait, scheduled, due_at FROM tasks")).all()
    assert [tuple(row) for row in dates] == [(None, None, None)] * 41

    # The upgraded tasks take the new moments.
    moment = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE tasks SET wait = :now, scheduled = :now, due_at = :now WHERE id = :task"
            ).bindparams(_MOMENT),
            {"task": task, "now": moment},
        )
    migrate.upgrade(engine)
    assert_schema_at_head(engine)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before

    # Down again: the moments go, and nothing else (no tag or note cascades away); and back up.
    migrate.downgrade(engine, "0004")
    assert column_names(engine, "tasks") == TASKS_COLUMNS - _DATES - _RECURRENCE
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
    migrate.upgrade(engine)
    assert {table: _rows(engine, table, by) for table, by in order.items()} == before
