"""Counts for `sorted stats`, computed by the database in one statement."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import and_, false, func, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from sorted_cli.dates import local_midnight
from sorted_cli.models import Task, User, utcnow
from sorted_cli.services.tasks import overdue

WEEKS = 8


@dataclass(frozen=True)
class Stats:
    open: int
    completed: int
    overdue: int  # open and past due (`services.tasks.overdue`), as `list --overdue` counts
    due_today: int  # open and due today
    deleted: int  # in the trash
    weeks: list[tuple[date, int]]  # (Monday, tasks completed that week), oldest first


def week_starts(today: date, weeks: int = WEEKS) -> list[date]:
    """The Mondays of the last `weeks` weeks, this week's last."""
    this_monday = today - timedelta(days=today.weekday())
    return [this_monday - timedelta(weeks=back) for back in range(weeks - 1, -1, -1)]


def user_stats(*, session: Session, user: User, today: date, now: datetime | None = None) -> Stats:
    def count(*conditions: ColumnElement[bool]) -> Any:
        return func.count().filter(and_(*conditions))

    live, trash = col(Task.is_deleted) == false(), col(Task.is_deleted) == true()
    done, not_done = col(Task.completed) == true(), col(Task.completed) == false()
    mondays = week_starts(today)
    bounds = [local_midnight(monday) for monday in mondays]
    bounds.append(local_midnight(mondays[-1] + timedelta(weeks=1)))
    completed_at = col(Task.completed_at)
    per_week = [
        count(live, done, completed_at >= start, completed_at < end)
        for start, end in pairwise(bounds)
    ]
    statement = select(
        count(live, not_done),
        count(live, done),
        count(live, not_done, overdue(today=today, now=now or utcnow())),
        count(live, not_done, col(Task.due) == today),
        count(trash),
        *per_week,
    ).where(col(Task.user_id) == user.id)
    row = session.execute(statement).one()
    numbers = [int(value) for value in row]
    return Stats(
        open=numbers[0],
        completed=numbers[1],
        overdue=numbers[2],
        due_today=numbers[3],
        deleted=numbers[4],
        weeks=list(zip(mondays, numbers[5:], strict=True)),
    )
