"""add task history

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 04:10:00

A new table only: what each command changes from now on. Existing tasks keep every value and
have no history yet, so `undo` reaches back to the first command run after the upgrade.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_changes",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("command_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reverts", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_task_changes_task_id_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_task_changes_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_changes")),
        sa.UniqueConstraint(
            "command_id",
            "task_id",
            "action",
            name=op.f("uq_task_changes_command_id_task_id_action"),
        ),
    )
    op.create_index("ix_task_changes_user_id_id", "task_changes", ["user_id", "id"])
    op.create_index("ix_task_changes_task_id_id", "task_changes", ["task_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_task_changes_task_id_id", table_name="task_changes")
    op.drop_index("ix_task_changes_user_id_id", table_name="task_changes")
    op.drop_table("task_changes")
