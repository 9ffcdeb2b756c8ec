"""add task tags

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 13:05:00

A new table only: existing tasks keep every value and simply carry no tags. Also indexes the
columns that `sorted list --completed-since`, `--overdue` and `sorted stats` filter on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_tags",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_tags_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_task_tags_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("task_id", "name", name=op.f("pk_task_tags")),
    )
    op.create_index(
        "ix_task_tags_user_id_name_task_id", "task_tags", ["user_id", "name", "task_id"]
    )
    op.create_index("ix_tasks_user_id_completed_at", "tasks", ["user_id", "completed_at"])
    op.create_index("ix_tasks_user_id_due", "tasks", ["user_id", "due"])


def downgrade() -> None:
    op.drop_index("ix_tasks_user_id_due", table_name="tasks")
    op.drop_index("ix_tasks_user_id_completed_at", table_name="tasks")
    op.drop_index("ix_task_tags_user_id_name_task_id", table_name="task_tags")
    op.drop_table("task_tags")
