"""Tasks of one user. Every function works over the caller's session and commits its own
change, so one command is one transaction; nothing is half-written when a reference is bad.

Task references: a number (`3`, or `#3`), a full UUID, or a UUID prefix of at least four hex
digits that only one of the user's tasks starts with. A reference of digits only is always a
number, so a mistyped number can never reach an unrelated task through its UUID; a UUID prefix
made only of digits is written with its hyphen or more of its digits. Another user's tasks are
never found.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    Row,
    Select,
    case,
    delete,
    func,
    insert,
    nulls_last,
    or_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from sorted_cli.choices import DEFAULT_LIMIT, Priority, SortKey, View
from sorted_cli.errors import (
    AmbiguousReference,
    Cancelled,
    InvalidInput,
    InvalidReference,
    SortedError,
    TaskInTrash,
    TaskNotFound,
)
from sorted_cli.models import NUMBER_MAX, Task, TaskCreate, TaskTag, TaskUpdate, User, utcnow

_MIN_PREFIX = 4
_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() would take "²" or "٣"
_HEX_DIGITS = frozenset("0123456789abcdef")
_AMBIGUOUS_SHOWN = 5


@dataclass(frozen=True)
class TaskQuery:
    """What `sorted list` asks for; every filter given must hold (they combine with AND).

    `tags`: carries all of these; `priorities`: has one of these; `due_before`: due before
    that day; `due_on`: due that day; `overdue`: open and due before `today`;
    `completed_since`: completed at or after that moment. `limit=None` means every match.
    """

    view: View = View.open
    search: str | None = None
    tags: tuple[str, ...] = ()
    priorities: tuple[Priority, ...] = ()
    due_before: date | None = None
    due_on: date | None = None
    overdue: bool = False
    completed_since: datetime | None = None
    today: date = field(default_factory=date.today)
    sort: SortKey = SortKey.number
    limit: int | None = DEFAULT_LIMIT


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    more: int  # matching tasks left out by the limit
    tags: dict[uuid.UUID, list[str]] = field(default_factory=dict)

    def tags_of(self, task: Task) -> list[str]:
        return self.tags.get(task.id, [])


@dataclass(frozen=True)
class Change:
    task: Task
    changed: bool  # False when the task already was in the asked-for state


def create_task(
    *, session: Session, user: User, data: TaskCreate, task_id: uuid.UUID | None = None
) -> Task:
    """Add a task with the user's next number.

    Numbers come from a counter on the user's row, incremented in the same transaction: the
    row lock (PostgreSQL) or the write lock (SQLite) orders concurrent adds, so numbers are
    unique, never reused, and a failed add leaves no gap.

    Safe to repeat with the same `task_id` (the caller makes it once, before the first try):
    when an earlier try was committed but its answer was lost, the repeat finds that task
    instead of adding a second one.
    """
    bump = (
        update(User)
        .where(col(User.id) == user.id, col(User.last_task_number) < NUMBER_MAX)
        .values(last_task_number=User.last_task_number + 1)
        .returning(col(User.last_task_number))
    )
    number = session.exec(bump).scalar_one_or_none()
    if number is None:  # the user's row is there (the caller has it): the numbers ran out
        session.rollback()
        raise SortedError(f"No task numbers are left: {NUMBER_MAX} is the last one.")
    now = utcnow()
    fields = data.model_dump(exclude={"tags"})
    task = Task(user_id=user.id, number=number, created_at=now, updated_at=now, **fields)
    if task_id is not None:
        task.id = task_id
    session.add(task)
    if data.tags:
        session.flush()  # the task row first: its tags refer to it
        _insert_tags(session, user, task.id, data.tags)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # also undoes this try's bump of the counter
        earlier = session.get(Task, task.id) if task_id is not None else None
        if earlier is None or earlier.user_id != user.id:
            raise
        return earlier
    return task


def require_task(*, session: Session, user: User, ref: str, lock: bool = False) -> Task:
    """The user's task (trash included) that REF names, or TaskNotFound/AmbiguousReference.

    With `lock`, the row is locked until the transaction ends (PostgreSQL), so two processes
    changing the same task take turns instead of both reporting success.
    """
    task, _ = _resolve(session, user, ref, lock=lock)
    return task


def require_task_and_tags(*, session: Session, user: User, ref: str) -> tuple[Task, list[str]]:
    """The task REF names and its tags, read together in one statement (`sorted show`)."""
    task, joined = _resolve(session, user, ref, with_tags=True)
    return task, split_tags(joined)


def _resolve(
    session: Session, user: User, ref: str, *, lock: bool = False, with_tags: bool = False
) -> tuple[Task, str | None]:
    """The task REF names and, `with_tags`, its tags joined by commas (see require_task)."""
    text = ref.strip()
    columns: list[Any] = [Task, JOINED_TAGS] if with_tags else [Task]
    owned = sa.select(*columns).where(col(Task.user_id) == user.id)
    if lock:
        owned = owned.with_for_update()
    if _NUMBER.fullmatch(text.removeprefix("#")):
        number = int(text.removeprefix("#"))
        found = (
            None
            if number > NUMBER_MAX
            else session.execute(owned.where(col(Task.number) == number)).first()
        )
    else:
        found = _find_by_id(session, owned, _uuid_digits(text))
    if found is None:
        raise TaskNotFound(f"No task {text}.")
    return found[0], found[1] if with_tags else None


def _uuid_digits(ref: str) -> str:
    digits = ref.lower().replace("-", "")
    if not (_MIN_PREFIX <= len(digits) <= 32) or not set(digits) <= _HEX_DIGITS:
        raise InvalidReference(
            f"Invalid task reference {ref!r}: use a task number, a UUID, "
            f"or at least {_MIN_PREFIX} leading hex digits of one."
        )
    return digits


def _find_by_id(session: Session, owned: Select[Any], digits: str) -> Row[Any] | None:
    # A prefix is the range of UUIDs that start with it: an index range scan on both backends.
    low, high = uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
    statement = owned.where(col(Task.id).between(low, high)).limit(_AMBIGUOUS_SHOWN + 1)
    matches = list(session.execute(statement))
    if len(matches) > 1:
        shown = ", ".join(
            f"{t.number} ({t.id.hex[:8]}) {t.title}"
            for t in (row[0] for row in matches[:_AMBIGUOUS_SHOWN])
        )
        extra = " and more" if len(matches) > _AMBIGUOUS_SHOWN else ""
        raise AmbiguousReference(f"{digits} matches several tasks: {shown}{extra}.")
    return matches[0] if matches else None


def require_tasks(
    *, session: Session, user: User, refs: Iterable[str], lock: bool = False
) -> list[Task]:
    """Each named task once, in the order first named; any bad REF raises before any change.

    With `lock`, several tasks are locked in one statement in UUID order, whatever order they
    were named in: two commands naming the same tasks in different orders then queue one
    behind the other instead of deadlocking. The rows are re-read as they are when locked.
    """
    refs = list(refs)
    if len(refs) == 1:
        return [require_task(session=session, user=user, ref=refs[0], lock=lock)]
    tasks: dict[uuid.UUID, Task] = {}
    for ref in refs:
        task = require_task(session=session, user=user, ref=ref)
        tasks.setdefault(task.id, task)
    if lock and tasks:
        in_order = (
            select(Task)
            .where(col(Task.id).in_(list(tasks)))
            .order_by(col(Task.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        session.exec(in_order).all()
    return list(tasks.values())


def _outside_trash(task: Task) -> Task:
    if task.is_deleted:
        raise TaskInTrash(
            f"Task {task.number} is in the trash: `sorted restore {task.number}` first."
        )
    return task


def _apply(
    session: Session,
    user: User,
    refs: Iterable[str],
    *,
    in_trash_ok: bool,
    change: Callable[[Task, datetime], bool],
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Change]:
    tasks = require_tasks(session=session, user=user, refs=refs, lock=True)
    if not in_trash_ok:
        tasks = [_outside_trash(task) for task in tasks]
    if confirm is not None and not confirm(tasks):
        raise Cancelled("Nothing changed.")
    now = utcnow()
    changes = [Change(task, change(task, now)) for task in tasks]
    for item in changes:
        if item.changed:
            item.task.updated_at = now
    session.commit()
    return changes


def complete_tasks(*, session: Session, user: User, refs: Iterable[str]) -> list[Change]:
    def complete(task: Task, now: datetime) -> bool:
        if task.completed:
            return False
        task.completed, task.completed_at = True, now
        return True

    return _apply(session, user, refs, in_trash_ok=False, change=complete)


def reopen_tasks(*, session: Session, user: User, refs: Iterable[str]) -> list[Change]:
    def reopen(task: Task, _now: datetime) -> bool:
        if not task.completed:
            return False
        task.completed, task.completed_at = False, None
        return True

    return _apply(session, user, refs, in_trash_ok=False, change=reopen)


def delete_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Change]:
    """Move tasks to the trash (a soft delete: the rows stay and can be restored).

    `confirm`, when given, sees the resolved tasks and may decline (raising Cancelled).
    """

    def trash(task: Task, now: datetime) -> bool:
        if task.is_deleted:
            return False
        task.is_deleted, task.deleted_at = True, now
        return True

    return _apply(session, user, refs, in_trash_ok=True, change=trash, confirm=confirm)


def restore_tasks(*, session: Session, user: User, refs: Iterable[str]) -> list[Change]:
    def restore(task: Task, _now: datetime) -> bool:
        if not task.is_deleted:
            return False
        task.is_deleted, task.deleted_at = False, None
        return True

    return _apply(session, user, refs, in_trash_ok=True, change=restore)


def update_task(*, session: Session, user: User, ref: str, data: TaskUpdate) -> Task:
    """Change the fields set in `data`; a task in the trash must be restored first."""
    values = data.model_dump(exclude_unset=True)
    if not values:
        raise InvalidInput(
            "Nothing to change: give --title, --description, --priority, --due or --no-due."
        )
    task = _outside_trash(require_task(session=session, user=user, ref=ref, lock=True))
    for name, value in values.items():
        setattr(task, name, value)
    task.updated_at = utcnow()
    session.commit()
    return task


def list_tasks(*, session: Session, user: User, query: TaskQuery) -> TaskPage:
    """One page of the user's tasks with their tags, filtered and sorted by the database, in
    one statement (a second one counts what the limit left out, only when it did)."""
    conditions = _conditions(user, query)
    statement = select(Task, JOINED_TAGS).where(*conditions).order_by(*_ordering(query.sort))
    if query.limit is not None:
        statement = statement.limit(query.limit + 1)
    rows = list(session.exec(statement))
    tags = {task.id: split_tags(joined) for task, joined in rows if joined}
    tasks = [task for task, _ in rows]
    if query.limit is None or len(tasks) <= query.limit:
        return TaskPage(tasks=tasks, more=0, tags=tags)
    total = session.exec(select(func.count()).select_from(Task).where(*conditions)).one()
    return TaskPage(tasks=tasks[: query.limit], more=total - query.limit, tags=tags)


# A task's tags in one string, computed by the database beside each task row: one statement
# lists tasks with their tags (string_agg on PostgreSQL, group_concat on SQLite).
JOINED_TAGS = (
    select(func.aggregate_strings(col(TaskTag.name), ","))
    .where(col(TaskTag.task_id) == col(Task.id))
    .scalar_subquery()
    .label("tags")
)


def split_tags(joined: str | None) -> list[str]:
    """The tags of one task from the joined string (names never hold commas)."""
    return sorted(joined.split(",")) if joined else []


def _conditions(user: User, query: TaskQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        col(Task.user_id) == user.id,
        *_view_conditions(query.view),
    ]
    if query.search:
        conditions.append(
            or_(
                col(Task.title).icontains(query.search, autoescape=True),
                col(Task.description).icontains(query.search, autoescape=True),
            )
        )
    for tag in query.tags:  # each through ix_task_tags_user_id_name_task_id
        tagged = select(TaskTag.task_id).where(
            col(TaskTag.user_id) == user.id, col(TaskTag.name) == tag
        )
        conditions.append(col(Task.id).in_(tagged))
    if query.priorities:
        conditions.append(col(Task.priority).in_([p.value for p in query.priorities]))
    if query.due_before is not None:
        conditions.append(col(Task.due) < query.due_before)
    if query.due_on is not None:
        conditions.append(col(Task.due) == query.due_on)
    if query.overdue:
        conditions += [col(Task.due) < query.today, col(Task.completed).is_(False)]
    if query.completed_since is not None:
        conditions.append(col(Task.completed_at) >= query.completed_since)
    return conditions


def _insert_tags(session: Session, user: User, task_id: uuid.UUID, names: Iterable[str]) -> None:
    rows = [{"task_id": task_id, "name": name, "user_id": user.id} for name in names]
    if rows:
        session.execute(insert(TaskTag), rows)


def tag_task(
    *, session: Session, user: User, ref: str, names: list[str], remove: bool = False
) -> tuple[Task, list[str], list[str]]:
    """Add (or with `remove`, take off) tags; returns the task, the tags that changed, and
    its tags now. Tags it already has (or lacks) are left alone, so repeating is harmless."""
    task, joined = _resolve(session, user, ref, lock=True, with_tags=True)  # one statement
    _outside_trash(task)
    before = set(split_tags(joined))
    wanted = set(names)
    changed = sorted(wanted & before if remove else wanted - before)
    if changed:
        if remove:
            session.execute(
                delete(TaskTag).where(
                    col(TaskTag.task_id) == task.id, col(TaskTag.name).in_(changed)
                )
            )
        else:
            _insert_tags(session, user, task.id, changed)
        task.updated_at = utcnow()
        session.add(task)
    session.commit()
    after = sorted(before - wanted if remove else before | wanted)
    return task, changed, after


def _view_conditions(view: View) -> list[ColumnElement[bool]]:
    not_deleted = col(Task.is_deleted).is_(False)
    views: dict[View, list[ColumnElement[bool]]] = {
        View.open: [not_deleted, col(Task.completed).is_(False)],
        View.all: [not_deleted],
        View.completed: [not_deleted, col(Task.completed).is_(True)],
        View.deleted: [col(Task.is_deleted).is_(True)],
    }
    return views[view]


_PRIORITY_RANK = case(
    {Priority.high.value: 0, Priority.medium.value: 1, Priority.low.value: 2},
    value=col(Task.priority),
    else_=3,
)


def _ordering(sort: SortKey) -> list[ColumnElement[Any]]:
    """ORDER BY for each sort key; the task number breaks ties so the order is stable."""
    first: dict[SortKey, list[ColumnElement[Any]]] = {
        SortKey.number: [],
        SortKey.due: [nulls_last(col(Task.due).asc())],
        SortKey.priority: [_PRIORITY_RANK],
        SortKey.created: [col(Task.created_at).desc()],
    }
    return [*first[sort], col(Task.number).asc()]
