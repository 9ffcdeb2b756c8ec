"""add task dates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:45:00

Three nullable moments on tasks (UTC): `wait` (hidden from the open list until then),
`scheduled` (not to be started before) and `due_at` (the moment a task with a time is due;
null when `due` is a whole day). Existing tasks keep every value and have none of them.
`ix_tasks_user_id_wait` finds a user's waiting tasks (hidden from `sorted list`, counted).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("wait", "scheduled", "due_at")


def upgrade() -> None:
    for name in _COLUMNS:
        op.add_column("tasks", sa.Column(name, sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_tasks_user_id_wait", "tasks", ["user_id", "wait"])


def downgrade() -> None:
    op.drop_index("ix_tasks_user_id_wait", table_name="tasks")
    for name in reversed(_COLUMNS):
        # Plain ALTER TABLE on SQLite too (3.35+), not batch mode: rebuilding tasks would drop
        # it, and the foreign keys would cascade that to its tags, history and notes.
        op.drop_column("tasks", name)
