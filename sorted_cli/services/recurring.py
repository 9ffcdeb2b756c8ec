"""Series of repeating tasks: the next occurrence when one is done, and withdrawing it again.

A series has one open task at a time. `done` of an occurrence makes the next one in the same
transaction: due as the rule says (`sorted_cli.recurrence`), with the same title,
description, priority, tags and rule, and the series' next iteration. Its id is derived from
the series and the iteration, and no two tasks share a series and an iteration (a unique
index), so a retried `done`, or eight at once, make it once. It is recorded in the history
as `recur`, in the command of the `done`: undoing that `done` moves the successor to the
trash, redo brings it back.

The next occurrence has the fields of the one done as they are at its `done` (title,
description, priority, tags, rule and its end); its wait, scheduled and due time move with
its due date (`recurrence.moved_dates`).

`reopen` of an occurrence withdraws (moves to the trash) its successor when that is as the
series made it: nothing but the series (and undos of the user's own changes) has touched it
(`_untouched`). One that was edited, tagged, noted or done is the user's and stays. A
successor in the trash as the series left it (withdrawn, or its `done` undone) comes back when
its occurrence is done again, due anew and with the done one's fields, instead of a second one
being made. One the user deleted stays deleted: that `done` makes no next occurrence
(`sorted restore` brings it back).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import false, or_, update
from sqlmodel import Session, col, select

from sorted_cli.db import on_postgres
from sorted_cli.models import PUBLIC_COLUMNS, Task, TaskChange, TaskTag, User
from sorted_cli.recurrence import moved_dates, occurrence_after, parse_rule, successor_id
from sorted_cli.services import history

RECUR, WITHDRAW = "recur", "withdraw"
_THE_SERIES_OWN = (RECUR, WITHDRAW, history.UNDO, history.REDO)

# Makes a task (its number, its tags, its history row as ACTION): services.tasks's own add.
Create = Callable[[Session, User, Task, list[str], str], Task | None]


def in_series(task: Task) -> bool:
    return task.every is not None or task.series_id is not None


def series_of(task: Task) -> uuid.UUID:
    """The series TASK belongs to: a first occurrence is the series' own id."""
    return task.series_id or task.id


def spawn_successors(
    session: Session, user: User, done: list[Task], now: datetime, *, create: Create
) -> dict[uuid.UUID, Task]:
    """Make the next occurrence of each repeating task in DONE (just completed, in this
    transaction), unless its series ends there or the next one is there already; returns
    those made (or brought back, or left in the trash by the user), by the id of the task
    each follows."""
    repeating = sorted((task for task in done if task.every is not None), key=lambda t: t.number)
    tags = _tags_of(session, [task.id for task in repeating]) if repeating else {}
    made: dict[uuid.UUID, Task] = {}
    for task in repeating:
        successor = _spawn(session, user, task, now, tags.get(task.id, []), create)
        if successor is not None:
            made[task.id] = successor
    return made


def _spawn(
    session: Session, user: User, task: Task, now: datetime, tags: list[str], create: Create
) -> Task | None:
    done_on = now.astimezone().date()
    due = occurrence_after(task, done_on=done_on)
    if due is None:
        return None
    iteration = (task.iteration or 1) + 1
    series = series_of(task)
    values = _next_values(task, due, done_on)
    there = _occurrence(session, series, iteration)
    if there is not None:
        # In the trash as the series left it (withdrawn, or its `done` undone): it comes back.
        # One open stands as it is; one the user deleted stays in the trash, and is returned
        # so that `done` can say where the series' next time is.
        if not there.is_deleted:
            return None
        if _untouched(session, there):
            _bring_back(session, user, there, values, tags, now)
        return there
    successor = Task(
        id=successor_id(series, iteration),
        user_id=user.id,
        number=0,
        **{PUBLIC_COLUMNS[key]: value for key, value in values.items()},
        series_id=series,
        iteration=iteration,
        created_at=now,
        updated_at=now,
    )
    return create(session, user, successor, tags, RECUR)


def _next_values(task: Task, due: date, done_on: date) -> dict[str, Any]:
    """The public fields of the occurrence after TASK, due DUE: TASK's own as they are now
    (title, description, priority, rule and its end), its dates moved with the due."""
    assert task.every is not None
    anchor = task.anchor or task.due
    return {
        "title": task.title,
        "description": task.description,
        "priority": task.priority,
        "every": task.every,
        "until": task.until,
        "times": task.times,
        "anchor": anchor if parse_rule(task.every).counts_from_anchor else None,
        **moved_dates(task, due=due, since=task.due or done_on),
    }


def _occurrence(session: Session, series: uuid.UUID, iteration: int) -> Task | None:
    statement = select(Task).where(col(Task.series_id) == series, col(Task.iteration) == iteration)
    if on_postgres(session):  # pragma: postgres
        statement = statement.with_for_update()
    found: Task | None = session.exec(statement.execution_options(populate_existing=True)).first()
    return found


def _bring_back(
    session: Session,
    user: User,
    task: Task,
    values: dict[str, Any],
    tags: list[str],
    now: datetime,
) -> None:
    """A withdrawn successor out of the trash again, with the VALUES and TAGS a new one would
    get (the series may have been edited since it was withdrawn)."""
    had = _tags_of(session, [task.id]).get(task.id, [])
    retag = {"tags": (had, tags)} if had != tags else {}
    _set(session, user, task, RECUR, now, {"deleted": False, "deleted_at": None, **values}, retag)
    if retag:
        session.execute(sa.delete(TaskTag).where(col(TaskTag.task_id) == task.id))
        if tags:
            session.execute(
                sa.insert(TaskTag),
                [{"task_id": task.id, "name": name, "user_id": user.id} for name in tags],
            )


def _set(
    session: Session,
    user: User,
    task: Task,
    action: str,
    now: datetime,
    values: dict[str, Any],
    also: dict[str, tuple[Any, Any]] | None = None,
) -> None:
    """Give TASK the public VALUES (and `updated_at` NOW), recorded as ACTION with the
    changes ALSO made beside it (key: (before, after), as of tags)."""
    columns = {PUBLIC_COLUMNS[key]: value for key, value in values.items()}
    before = history.public_fields(task, values)
    after = dict(values)
    for key, (was, becomes) in (also or {}).items():
        before[key], after[key] = was, becomes
    history.record_beside(
        session,
        update(Task).where(col(Task.id) == task.id).values(**columns, updated_at=now),
        user,
        action,
        now,
        [(task.id, before, after)],
    )
    for name, value in {**columns, "updated_at": now}.items():
        setattr(task, name, value)


def withdraw_successors(
    session: Session, user: User, reopened: list[Task], now: datetime
) -> dict[uuid.UUID, Task]:
    """Move to the trash the successor of each task in REOPENED (just reopened, in this
    transaction) that is still as its series made it; returns those, by the id of the task
    each followed."""
    withdrawn: dict[uuid.UUID, Task] = {}
    for task in reopened:
        if not in_series(task):
            continue
        successor = _occurrence(session, series_of(task), (task.iteration or 1) + 1)
        if successor is None or successor.is_deleted or successor.completed:
            continue
        if _untouched(session, successor):
            _set(session, user, successor, WITHDRAW, now, {"deleted": True, "deleted_at": now})
            withdrawn[task.id] = successor
    return withdrawn


def without_their_next(session: Session, tasks: list[Task]) -> list[Task]:
    """Of TASKS (open, about to be completed by an undo or a redo), the repeating ones whose
    series goes on after them but would have no open task: their next occurrence is not there
    at all (made when the task was done, then withdrawn and purged), nor another open one."""
    today = date.today()
    lost = []
    for task in sorted(tasks, key=lambda task: task.number):
        if task.every is None or occurrence_after(task, done_on=today) is None:
            continue
        series = series_of(task)
        if _occurrence(session, series, (task.iteration or 1) + 1) is None and not _open_beside(
            session, series, task
        ):
            lost.append(task)
    return lost


def _open_beside(session: Session, series: uuid.UUID, task: Task) -> bool:
    """Whether the series has an open task besides TASK (one the user kept at a reopen)."""
    found = session.exec(
        select(Task.id)
        .where(
            or_(col(Task.series_id) == series, col(Task.id) == series),
            col(Task.id) != task.id,
            col(Task.completed) == false(),
            col(Task.is_deleted) == false(),
        )
        .limit(1)
    ).first()
    return found is not None


def _untouched(session: Session, task: Task) -> bool:
    """Whether TASK is as its series made it: the history holds nothing standing done to it
    but by the series (made, withdrawn, brought back; what was undone does not count), and
    undos and redos, and its latest
    row left the task at the `updated_at` it still has (nothing unrecorded changed it)."""
    rows = col(TaskChange.task_id) == task.id
    standing = col(TaskChange.undone_at).is_(None)  # an undone edit is no touch
    others = session.exec(
        select(TaskChange.id)
        .where(rows, standing, col(TaskChange.action).not_in(_THE_SERIES_OWN))
        .limit(1)
    ).first()
    latest = session.exec(
        select(TaskChange.applied_at).where(rows).order_by(col(TaskChange.id).desc()).limit(1)
    ).first()
    return others is None and latest == task.updated_at


def _tags_of(session: Session, task_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    tags: dict[uuid.UUID, list[str]] = {}
    rows = session.execute(
        sa.select(col(TaskTag.task_id), col(TaskTag.name))
        .where(col(TaskTag.task_id).in_(task_ids))
        .order_by(col(TaskTag.name))
    )
    for task_id, name in rows:
        tags.setdefault(task_id, []).append(name)
    return tags
