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
from sqlalchemy import inspect, text
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
    assert table_names(engine) == {"users", "tasks", "alembic_version"}
    assert column_names(engine, "users") == USERS_COLUMNS
    assert column_names(engine, "tasks") == TASKS_COLUMNS
    assert indexes(engine, "users") == {"ix_users_email": (["email"], True)}
    assert indexes(engine, "tasks") == {
        "ix_tasks_user_id_is_deleted_completed_number": (
            ["user_id", "is_deleted", "completed", "number"],
            False,
        )
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
        migrate.Revision(id="0001", message="create users and tasks", is_head=True)
    ]


# ------------------------------------------------------------------------- on a database


def test_blank_database_has_no_revision(engine: Engine) -> None:
    assert migrate.current(engine) is None
    assert table_names(engine) == set()


def test_upgrade_blank_database_to_head(engine: Engine) -> None:
    steps: list[str] = []
    migrate.upgrade(engine, progress=steps.append)
    assert steps == ["Applied 0001: create users and tasks"]
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
    assert steps == ["Reverted 0001: create users and tasks"]
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


def _insert_user(engine: Engine, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, email, last_task_number, created_at, updated_at, "
                "is_deleted) VALUES (:id, :email, 0, :now, :now, false)"
            ),
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
            ),
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
