"""add task recurrence

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:20:00

New nullable columns only: existing tasks keep every value and simply do not repeat. The
one-task-per-occurrence rule is a unique index, which SQLite can add to a table in place
(a unique constraint would make Alembic copy the table, and dropping the old copy would
cascade to the tags, notes and history that refer to it).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("every", sa.String(length=40)),
    ("until", sa.Date()),
    ("times", sa.Integer()),
    ("anchor", sa.Date()),
    ("series_id", sa.Uuid()),
    ("iteration", sa.Integer()),
)


def upgrade() -> None:
    for name, type_ in _COLUMNS:
        op.add_column("tasks", sa.Column(name, type_, nullable=True))
    op.create_index(
        "uq_tasks_series_id_iteration", "tasks", ["series_id", "iteration"], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_tasks_series_id_iteration", table_name="tasks")
    for name, _type in reversed(_COLUMNS):  # SQLite drops a column in place since 3.35
        op.drop_column("tasks", name)
