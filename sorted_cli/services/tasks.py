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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NoReturn

import sqlalchemy as sa
from sqlalchemy import (
    Row,
    Select,
    and_,
    case,
    delete,
    false,
    func,
    insert,
    nulls_last,
    or_,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from sorted_cli.choices import DEFAULT_LIMIT, Priority, SortKey, View
from sorted_cli.db import before_question, long_read, on_postgres, transaction
from sorted_cli.errors import (
    AmbiguousReference,
    Cancelled,
    InvalidInput,
    InvalidReference,
    SortedError,
    TaskChangedMeanwhile,
    TaskInTrash,
    TaskNotFound,
    TaskNotInTrash,
)
from sorted_cli.models import (
    NUMBER_MAX,
    PUBLIC_COLUMNS,
    PUBLIC_KEYS,
    NoteCreate,
    NoteInHistory,
    NotePublic,
    Task,
    TaskCreate,
    TaskNote,
    TaskTag,
    TaskUpdate,
    User,
    ends_after_due,
    public_value,
    utcnow,
)
from sorted_cli.recurrence import needs_a_due_date
from sorted_cli.services import history, recurring, users

_MIN_PREFIX = 4
_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII digits only: int() would take "²" or "٣"
_HEX_DIGITS = frozenset("0123456789abcdef")
_AMBIGUOUS_SHOWN = 5


@dataclass(frozen=True)
class TaskQuery:
    """What `sorted list` asks for; every filter given must hold (they combine with AND).

    `tags`: carries all of these; `priorities`: has one of these; `due_before`: due before
    that day; `due_on`: due that day; `overdue`: open and past due (`due_at` before `now`, or
    for a whole day, `due` before `today`); `completed_since`: completed at or after that
    moment; `waiting`: only tasks whose `wait` is after `now` (the open view hides them
    otherwise); `ready`: open, not waiting, and not scheduled after `now`. `limit=None` means
    every match.
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
    waiting: bool = False
    ready: bool = False
    now: datetime = field(default_factory=utcnow)

    @property
    def hides_waiting(self) -> bool:
        """Does the list leave out waiting tasks (the open view, unless asked for them)."""
        return self.view is View.open and not self.waiting


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    more: int  # matching tasks left out by the limit (at most MORE_COUNTED of them counted)
    tags: dict[uuid.UUID, list[str]] = field(default_factory=dict)
    more_counted_in_full: bool = True  # False: there are `more` or more
    notes: dict[uuid.UUID, list[NotePublic]] = field(default_factory=dict)
    # Tasks the filters match that are left out as waiting (counted as `more` is).
    waiting: int = 0
    waiting_counted_in_full: bool = True

    @property
    def more_text(self) -> str:
        """How many more, for people: `12`, or `500+` when counting stopped there."""
        return _counted(self.more, in_full=self.more_counted_in_full)

    @property
    def waiting_text(self) -> str:
        """How many are waiting, for people: `2`, or `500+`."""
        return _counted(self.waiting, in_full=self.waiting_counted_in_full)

    def tags_of(self, task: Task) -> list[str]:
        return self.tags.get(task.id, [])

    def notes_of(self, task: Task) -> list[NotePublic]:
        return self.notes.get(task.id, [])


def _counted(number: int, *, in_full: bool) -> str:
    """A count for people: `12`, or `500+` when counting stopped there."""
    return f"{number:,}" + ("" if in_full else "+")


@dataclass(frozen=True)
class TaskInFull:
    """A task with its tags and its notes (oldest first): all its JSON view shows."""

    task: Task
    tags: list[str]
    notes: list[NotePublic]


@dataclass(frozen=True)
class Change:
    task: Task
    changed: bool  # False when the task already was in the asked-for state
    next: Task | None = None  # the next occurrence the change made (done of a repeating task)


def create_task(
    *, session: Session, user: User, data: TaskCreate, task_id: uuid.UUID | None = None
) -> Task:
    """Add a task with the user's next number.

    Numbers come from a counter on the user's row, incremented with the insert, atomically:
    the row lock (PostgreSQL) or the write lock (SQLite) orders concurrent adds, so numbers are
    unique, never reused, and a failed add leaves no gap. On PostgreSQL the counter, the task
    and its tags are one statement (`_create_in_one_statement`); on SQLite, three in the
    command's transaction.

    Safe to repeat with the same `task_id` (the caller makes it once, before the first try):
    when an earlier try was committed but its answer was lost, the repeat finds that task
    instead of adding a second one.
    """
    now = utcnow()
    fields = data.model_dump(exclude={"tags"})
    task = Task(user_id=user.id, number=0, created_at=now, updated_at=now, **fields)
    if task_id is not None:
        task.id = task_id
    if data.every is not None:  # the first occurrence of a series of its own
        task.series_id, task.iteration = task.id, 1
    try:
        if on_postgres(session):  # pragma: postgres
            added = _create_in_one_statement(session, user, task, data.tags)
        else:
            added = _create_in_steps(session, user, task, data.tags)
        session.commit()
    except IntegrityError:
        session.rollback()  # also undoes this try's bump of the counter
        earlier = session.get(Task, task.id) if task_id is not None else None
        if earlier is None or earlier.user_id != user.id:
            raise
        return earlier
    if added is None:  # another command deleted the user meanwhile, or the numbers ran out
        users.require_user_by_email(session=session, email=user.email)
        raise SortedError(f"No task numbers are left: {NUMBER_MAX} is the last one.")
    return added


def _next_number(user: User) -> Any:
    """UPDATE of the user's counter, returning the number it gives out (none when spent, or
    when the user was deleted since the command found them: no task is added for them)."""
    return (
        update(User)
        .where(
            col(User.id) == user.id,
            col(User.is_deleted) == false(),
            col(User.last_task_number) < NUMBER_MAX,
        )
        .values(last_task_number=User.last_task_number + 1)
        .returning(col(User.last_task_number))
    )


def _create_in_one_statement(
    session: Session, user: User, task: Task, tags: list[str], action: str = history.ADD
) -> Task | None:  # pragma: postgres
    """The counter's bump, the task and its tags as one PostgreSQL statement (data-modifying
    CTEs), atomic without a transaction: one round trip."""
    table = Task.__table__  # type: ignore[attr-defined]
    bump = _next_number(user).cte("bump")
    given = [column for column in table.c if column.name != "number"]
    values = [sa.literal(getattr(task, column.name), column.type) for column in given]
    row = sa.select(*values, bump.c.last_task_number)
    inserted = (
        insert(Task)
        .from_select([*(column.name for column in given), "number"], row)
        .returning(*table.c)
        .cte("inserted")
    )
    recorded = history.recorded_in_statement(
        session, user, action, task.created_at, inserted, before=None, keys=history.ADDED_KEYS
    )
    statement = select(sa.orm.aliased(Task, inserted, adapt_on_names=True)).add_cte(recorded)
    if tags:
        names = sa.values(sa.column("name", sa.String), name="names").data([(n,) for n in tags])
        tagged = insert(TaskTag).from_select(
            ["task_id", "name", "user_id"],
            sa.select(inserted.c.id, names.c.name, sa.literal(user.id, table.c.user_id.type))
            .select_from(inserted)
            .join(names, sa.true()),  # each name beside the one new task
        )
        statement = statement.add_cte(tagged.cte("tagged"))
    added: Task | None = session.exec(statement).first()
    return added


def _create_in_steps(
    session: Session, user: User, task: Task, tags: list[str], action: str = history.ADD
) -> Task | None:
    """The counter's bump, the task, its tags and its history row (as ACTION), in the
    session's transaction."""
    number = session.exec(_next_number(user)).scalar_one_or_none()
    if number is None:
        session.rollback()
        return None
    task.number = number
    session.add(task)
    session.flush()  # the task row first: its tags and its history refer to it
    if tags:
        _insert_tags(session, user, task.id, tags)
    history.record(
        session,
        user,
        action,
        task.created_at,
        [(task.id, None, history.public_fields(task, history.ADDED_KEYS))],
    )
    return task


def require_task(*, session: Session, user: User, ref: str, lock: bool = False) -> Task:
    """The user's task (trash included) that REF names, or TaskNotFound/AmbiguousReference.

    With `lock`, the row is locked until the transaction ends (PostgreSQL), so two processes
    changing the same task take turns instead of both reporting success.
    """
    task: Task = _resolve(session, user, ref, lock=lock)[0]
    return task


def require_task_in_full(*, session: Session, user: User, ref: str) -> TaskInFull:
    """The task REF names with its tags and notes, read together in one statement (`show`)."""
    row = _resolve(session, user, ref, also=(JOINED_TAGS, TASK_NOTES))
    return TaskInFull(row[0], split_tags(row[1]), split_notes(row[2]))


def _resolve(
    session: Session, user: User, ref: str, *, lock: bool = False, also: Sequence[Any] = ()
) -> Sequence[Any]:
    """The row of the task REF names (see require_task): the task, then the columns `also`
    asks for beside it (JOINED_TAGS, TASK_NOTES)."""
    text = ref.strip()
    owned = sa.select(Task, *also).where(col(Task.user_id) == user.id)
    if lock:
        owned = owned.with_for_update()
    if _NUMBER.fullmatch(text.removeprefix("#")):  # digits are a number, never a UUID prefix
        number = _number(text)  # None past NUMBER_MAX: no task has it
        found = (
            None
            if number is None
            else session.execute(owned.where(col(Task.number) == number)).first()
        )
    else:
        found = _find_by_id(session, owned, _uuid_digits(text))
    if found is None:
        raise TaskNotFound(f"No task {text}.")
    return found


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
    numbers = [_number(ref) for ref in refs]
    if all(number is not None for number in numbers):  # all numbers: read in one statement
        by_number = {
            task.number: task
            for task in session.exec(
                select(Task).where(col(Task.user_id) == user.id, col(Task.number).in_(numbers))
            )
        }
        missing = next(
            (ref for ref, n in zip(refs, numbers, strict=True) if n not in by_number), None
        )
        if missing is not None:
            raise TaskNotFound(f"No task {missing.strip()}.")
        for number in numbers:
            tasks.setdefault(by_number[number].id, by_number[number])  # type: ignore[index]
    for ref in refs if not tasks else ():
        task = require_task(session=session, user=user, ref=ref)
        tasks.setdefault(task.id, task)
    if lock and tasks:
        _locked_in_order(session, list(tasks))
    return list(tasks.values())


def _locked_in_order(
    session: Session, ids: list[uuid.UUID], *, also: Sequence[Any] = ()
) -> dict[uuid.UUID, Sequence[Any]]:
    """Lock the tasks of IDS in one statement, in UUID order (see `require_tasks`), and re-read
    them as they are once locked; each task's row (the task, then the columns `also` asks for)
    by its id."""
    in_order = (
        sa.select(Task, *also)
        .where(col(Task.id).in_(ids))
        .order_by(col(Task.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return {row[0].id: row for row in session.execute(in_order)}


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
    action: str,
    in_trash_ok: bool,
    eligible: ColumnElement[bool],
    values: Callable[[datetime], dict[str, Any]],
    confirm: Callable[[list[Task]], bool] | None = None,
    then: FollowUp | None = None,
) -> list[Change]:
    """Change the named tasks in one UPDATE statement: the `eligible` ones get `values(now)`
    and their `updated_at`; the rest are left as they are (Change.changed is False). What
    changed is recorded as ACTION (`sorted_cli.services.history`): on PostgreSQL in the same
    statement, on SQLite in the same transaction.

    Nothing changes unless every REF names a task (outside the trash, unless `in_trash_ok`):
    the statement checks that on the rows it has locked, so it holds even against a concurrent
    command, and only when it fails are the references looked at one by one to say which is
    wrong. Task numbers go straight into the statement; UUIDs, and tasks a `confirm` must see
    first, are read beforehand.

    `then` is a follow-up in the same transaction, for the tasks the change changed (the next
    occurrence of a repeating task that is done): on PostgreSQL the one statement then leaves
    alone any task the follow-up is for (`FollowUp.needed`), and if there is one, the change
    is made again in a transaction of a few statements, as on SQLite.
    """
    refs = list(refs)
    numbers = [_number(ref) for ref in refs]
    keys: list[object]
    key: Callable[[Task], object]
    if confirm is None and all(number is not None for number in numbers):
        keys, key = list(dict.fromkeys(numbers)), lambda task: task.number
        targets = col(Task.number).in_(keys)
    else:
        tasks = require_tasks(session=session, user=user, refs=refs)
        if not in_trash_ok:
            tasks = [_outside_trash(task) for task in tasks]
        if confirm is not None:
            before_question(session)  # nothing held while a person decides
            if not confirm(tasks):
                raise Cancelled("Nothing changed.")
        keys, key = [task.id for task in tasks], lambda task: task.id
        targets = col(Task.id).in_(keys)
    now = utcnow()
    new_values = values(now)
    recorded = history.public_keys(new_values)
    follow = () if then is None else then.columns
    old_names = list(dict.fromkeys(("id", "is_deleted", *new_values, *follow)))
    old_columns = [col(getattr(Task, name)) for name in old_names]
    # The named rows, locked first (in UUID order, so commands naming the same tasks queue
    # instead of deadlocking), as they are once locked: the guard counts those, so a task a
    # concurrent command moved to the trash meanwhile stops the change; the history takes
    # their values before it. (On SQLite the statement takes the write lock, which keeps
    # everyone else out; FOR UPDATE is left out.)
    locked = (
        sa.select(*old_columns)
        .where(col(Task.user_id) == user.id, targets)
        .order_by(col(Task.id))
        .with_for_update()
        .cte("locked")
    )
    usable = sa.select(func.count()).select_from(locked)
    if not in_trash_ok:
        usable = usable.where(locked.c.is_deleted == false())
    changes = {
        name: case(
            (eligible, sa.literal(value, getattr(Task, name).type)), else_=getattr(Task, name)
        )
        for name, value in new_values.items()
    }
    statement: Update = (
        update(Task)
        .where(col(Task.id).in_(sa.select(locked.c.id)), usable.scalar_subquery() == len(keys))
        .values(**changes, updated_at=case((eligible, now), else_=col(Task.updated_at)))
    )
    change = _Change(user, action, now, statement, locked, old_names, recorded, then)
    found: list[Task] = []
    made: dict[uuid.UUID, Task] = {}
    if on_postgres(session) and then is not None and then.always:  # pragma: postgres
        found, made = change.with_follow_up(session, expected=len(keys))
    elif on_postgres(session):  # pragma: postgres
        alone = statement
        if then is not None:  # none of the named tasks needs the follow-up
            needing = sa.select(func.count()).select_from(locked).where(then.needed(locked.c))
            alone = statement.where(needing.scalar_subquery() == 0)
        found = change.in_one_statement(session, alone)
        if then is not None and len(found) != len(keys):  # one needs the follow-up
            found, made = change.with_follow_up(session, expected=len(keys))
    else:
        found, made = change.in_steps(session, targets, expected=len(keys))
    changed: dict[object, Task] = {key(task): task for task in found}
    if len(changed) != len(keys):
        _explain_refs(session, user, refs, in_trash_ok=in_trash_ok)
    return [Change(changed[k], changed[k].updated_at == now, made.get(changed[k].id)) for k in keys]


@dataclass(frozen=True)
class FollowUp:
    """More of one change, in its transaction, for the tasks it changed (`_apply`)."""

    columns: tuple[str, ...]  # of Task, that `needed` looks at
    needed: Callable[[Any], ColumnElement[bool]]  # of the named rows' old COLUMNS: one needs it
    run: Callable[[Session, User, list[Task], datetime], dict[uuid.UUID, Task]]  # -> made
    always: bool = False  # every change needs it: no one statement is tried first


_IN_SERIES = ("every", "series_id", "completed")


def _repeating(columns: Any) -> ColumnElement[bool]:
    return sa.and_(columns.completed == false(), columns.every.is_not(None))


def _in_series(columns: Any) -> ColumnElement[bool]:
    return sa.and_(
        columns.completed == true(),
        or_(columns.every.is_not(None), columns.series_id.is_not(None)),
    )


def _create_here(
    session: Session, user: User, task: Task, tags: list[str], action: str
) -> Task | None:
    """Add TASK in the caller's transaction, recorded as ACTION: on PostgreSQL in one
    statement (`_create_in_one_statement`), on SQLite in a few."""
    if on_postgres(session):  # pragma: postgres
        return _create_in_one_statement(session, user, task, tags, action)
    return _create_in_steps(session, user, task, tags, action)


_NEXT_OCCURRENCE = FollowUp(
    _IN_SERIES,
    _repeating,
    lambda session, user, done, now: recurring.spawn_successors(
        session, user, done, now, create=_create_here
    ),
)
_WITHDRAW_NEXT = FollowUp(_IN_SERIES, _in_series, recurring.withdraw_successors)


@dataclass(frozen=True)
class _Change:
    """One `_apply` UPDATE and the history it records (`sorted_cli.services.history`)."""

    user: User
    action: str
    now: datetime
    statement: Update
    locked: sa.CTE  # the named rows as they were, locked
    old_names: list[str]  # the columns `locked` holds
    recorded: list[str]  # the public keys the change sets
    then: FollowUp | None

    def with_follow_up(
        self, session: Session, *, expected: int
    ) -> tuple[list[Task], dict[uuid.UUID, Task]]:  # pragma: postgres
        """PostgreSQL: the change and its history as one statement, then the follow-up, in
        one transaction; the follow-up only when the change found all EXPECTED rows."""
        made: dict[uuid.UUID, Task] = {}
        with transaction(session):
            tasks = self.in_one_statement(session, self.statement, commit=False)
            if len(tasks) == expected:
                made = self._follow_up(session, tasks)
            session.commit()
        return tasks, made

    def _follow_up(self, session: Session, tasks: list[Task]) -> dict[uuid.UUID, Task]:
        """The follow-up, for those of TASKS the change changed; the tasks it made."""
        if self.then is None:
            return {}
        changed = [task for task in tasks if task.updated_at == self.now]
        return self.then.run(session, self.user, changed, self.now)

    def in_one_statement(
        self, session: Session, statement: Update, *, commit: bool = True
    ) -> list[Task]:  # pragma: postgres
        """PostgreSQL: STATEMENT (the UPDATE) and its history rows in one statement (CTEs),
        committed unless COMMIT is false (in a transaction of the caller's)."""
        table = Task.__table__  # type: ignore[attr-defined]
        changed = statement.returning(*table.c).cte("changed")
        record = history.recorded_in_statement(
            session,
            self.user,
            self.action,
            self.now,
            changed,
            before=self.locked,
            keys=self.recorded,
            where=changed.c.updated_at == self.now,
        )
        tasks = list(
            session.exec(
                select(sa.orm.aliased(Task, changed, adapt_on_names=True))
                .add_cte(record)
                .execution_options(populate_existing=True)
            )
        )
        if commit:
            session.commit()
        return tasks

    def in_steps(
        self, session: Session, targets: ColumnElement[bool], *, expected: int
    ) -> tuple[list[Task], dict[uuid.UUID, Task]]:
        """SQLite: the rows as they were, the UPDATE, then the history rows, in one write
        transaction; the history only when the UPDATE changed all EXPECTED rows (else it
        changed none: its guard). Also the follow-up, and the tasks it made, by the id of the
        task each follows."""
        made: dict[uuid.UUID, Task] = {}
        with transaction(session):
            columns = [col(getattr(Task, name)) for name in self.old_names]
            owned = sa.select(*columns).where(col(Task.user_id) == self.user.id, targets)
            before = {
                row[0]: dict(zip(self.old_names, row, strict=True))
                for row in session.execute(owned)
            }
            tasks = list(
                session.execute(
                    self.statement.returning(Task).execution_options(
                        synchronize_session=False, populate_existing=True
                    )
                ).scalars()
            )
            if len(tasks) == expected:
                history.record(
                    session,
                    self.user,
                    self.action,
                    self.now,
                    [
                        (
                            task.id,
                            {key: before[task.id][PUBLIC_COLUMNS[key]] for key in self.recorded},
                            history.public_fields(task, self.recorded),
                        )
                        for task in tasks
                        if task.updated_at == self.now
                    ],
                )
                made = self._follow_up(session, tasks)
            session.commit()
        return tasks, made


def _number(ref: str) -> int | None:
    """The task number REF is (`3`, `#3`), or None for any other reference."""
    text = ref.strip().removeprefix("#")
    return int(text) if _NUMBER.fullmatch(text) and int(text) <= NUMBER_MAX else None


def _explain_refs(session: Session, user: User, refs: list[str], *, in_trash_ok: bool) -> NoReturn:
    """Raise what is wrong with REFS, after a change that found them unusable."""
    for ref in refs:
        task = require_task(session=session, user=user, ref=ref)
        if not in_trash_ok:
            _outside_trash(task)
    raise SortedError("The tasks changed while this command ran: nothing was changed; try again.")


def complete_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Change]:
    """`confirm`, when given, sees the resolved tasks and may decline (raising Cancelled)."""
    return _apply(
        session,
        user,
        refs,
        action="done",
        in_trash_ok=False,
        eligible=col(Task.completed) == false(),
        values=lambda now: {"completed": True, "completed_at": now},
        then=_NEXT_OCCURRENCE,
        confirm=confirm,
    )


def reopen_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Change]:
    """`confirm`, when given, sees the resolved tasks and may decline (raising Cancelled)."""
    return _apply(
        session,
        user,
        refs,
        action="reopen",
        in_trash_ok=False,
        eligible=col(Task.completed) == true(),
        values=lambda _now: {"completed": False, "completed_at": None},
        then=_WITHDRAW_NEXT,
        confirm=confirm,
    )


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
    return _apply(
        session,
        user,
        refs,
        action="delete",
        in_trash_ok=True,
        eligible=col(Task.is_deleted) == false(),
        values=lambda now: {"is_deleted": True, "deleted_at": now},
        confirm=confirm,
    )


def restore_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Change]:
    """`confirm`, when given, sees the resolved tasks and may decline (raising Cancelled)."""
    return _apply(
        session,
        user,
        refs,
        action="restore",
        in_trash_ok=True,
        eligible=col(Task.is_deleted) == true(),
        values=lambda _now: {"is_deleted": False, "deleted_at": None},
        confirm=confirm,
    )


def update_task(*, session: Session, user: User, ref: str, data: TaskUpdate) -> Task:
    """`update_tasks` of one task."""
    [change] = update_tasks(session=session, user=user, refs=[ref], data=data)
    return change.task


def update_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    data: TaskUpdate,
    confirm: Callable[[list[Task]], bool] | None = None,
    tags: Sequence[str] = (),
) -> list[Change]:
    """Change the fields set in `data` of every named task, in one UPDATE statement
    (`_apply`); a task in the trash must be restored first. A task that has those values
    already is left as it is, so a repeated edit changes nothing and records nothing.

    A new rule (`every`) or due date also moves the day a monthly rule counts from to the due
    date; `every=None` stops the series (and its end goes with it). `confirm`, when given,
    sees the resolved tasks and may decline (raising Cancelled).

    TAGS (edit's `+tag`) are added too, in the same transaction: a task changes when a field
    differs or it lacks one of them, and its tags are recorded beside its fields, so one undo
    takes back both. Tags alone are `tag_tasks`."""
    refs = list(refs)
    values = data.model_dump(exclude_unset=True)
    if tags and not values:
        tagged = tag_tasks(session=session, user=user, refs=refs, names=list(tags), confirm=confirm)
        return [Change(tagging.task, bool(tagging.changed)) for tagging in tagged]
    if not values:
        raise InvalidInput(
            "Nothing to change: give words (a new title, +TAG, due:friday, pri:h) or --title, "
            "--description, --priority, --due, --no-due, --wait, --no-wait, --scheduled, "
            "--no-scheduled, --every, --until, --times or --no-every; `sorted edit N` alone "
            "opens your editor."
        )
    for ref in dict.fromkeys(refs):
        _check_repeats(session, user, ref, values)
    _with_what_follows(values)
    differs = or_(
        *(
            col(getattr(Task, name)).is_distinct_from(sa.literal(value, getattr(Task, name).type))
            for name, value in values.items()
        )
    )
    if tags:
        has = sa.select(func.count()).where(
            col(TaskTag.task_id) == col(Task.id), col(TaskTag.name).in_(list(tags))
        )
        differs = or_(differs, has.scalar_subquery() < len(set(tags)))
    return _apply(
        session,
        user,
        refs,
        action="edit",
        in_trash_ok=False,
        eligible=differs,
        values=lambda _now: values,
        confirm=confirm,
        then=_adding_tags(sorted(set(tags))) if tags else None,
    )


def _adding_tags(names: list[str]) -> FollowUp:
    """The follow-up of an edit with `+tag`: NAMES added to the tasks the edit changed, and
    their tags before and after recorded in the edit's own rows."""

    def run(
        session: Session, user: User, changed: list[Task], now: datetime
    ) -> dict[uuid.UUID, Task]:
        ids = [task.id for task in changed]
        statement = sa.select(col(Task.id), JOINED_TAGS).where(col(Task.id).in_(ids))
        joined: dict[uuid.UUID, str | None] = dict(session.execute(statement).all())
        recorded: dict[uuid.UUID, tuple[dict[str, Any], dict[str, Any]]] = {}
        pairs = []
        for task in changed:
            before = split_tags(joined.get(task.id))
            missing = sorted(set(names) - set(before))
            if missing:
                pairs += [(task.id, name) for name in missing]
                recorded[task.id] = ({"tags": before}, {"tags": sorted({*before, *names})})
        _insert_tag_pairs(session, user, pairs)
        history.record_more(session, user, "edit", now, recorded)
        return {}

    return FollowUp(("id",), lambda _columns: true(), run, always=True)


def _with_what_follows(values: dict[str, Any]) -> None:
    """Add to an edit's VALUES what they bring with them: a new due date or rule moves the day
    a monthly rule counts from (the anchor) to the due date; no rule ends the series' end."""
    if "due" in values or "every" in values:
        values["anchor"] = None
    if values.get("every", "") is None:
        values.update(until=None, times=None)


def _check_repeats(session: Session, user: User, ref: str, values: dict[str, Any]) -> None:
    """Refuse an edit that would leave a rule without what it needs: a due date (unless it
    counts from the day of done), or an end (`until`, `times`) without a rule. The task is
    read only for an edit that touches these."""
    ends = values.get("until") is not None or values.get("times") is not None
    if "every" in values and values["every"] is None:
        if ends:
            raise InvalidInput("Give either --no-every or an end (--until, --times), not both.")
        return
    if not ("every" in values or ends or ("due" in values and values["due"] is None)):
        return
    task = require_task(session=session, user=user, ref=ref)
    every = values.get("every", task.every)
    due = values.get("due", task.due)
    if every is None and ends:
        raise InvalidInput(
            f"Task {task.number} does not repeat: give --every with --until or --times."
        )
    try:
        ends_after_due(values.get("until"), due)
    except ValueError as exc:
        raise InvalidInput(f"Task {task.number}: {exc}.") from None
    if values.get("times") is not None and values["times"] < (task.iteration or 1):
        raise InvalidInput(
            f"Task {task.number} is time {task.iteration} of its series: --times must be "
            f"at least {task.iteration}."
        )
    if every is not None and due is None and needs_a_due_date(every):
        raise InvalidInput(
            f"Task {task.number} repeats every {every} from its due date, so it needs one: "
            f"give --due, or --every '{every} after done'."
        )


def purge_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str] = (),
    deleted_before: datetime | None = None,
    confirm: Callable[[list[Task]], bool] = lambda _tasks: True,
    in_full: bool = False,
) -> Purge:
    """Remove tasks in the trash for good, with their tags, notes and history (the foreign
    keys cascade); returns how many, and with IN_FULL the purged tasks as they were, read in
    the same transaction. Named by REFS (each must be in the trash), or else the whole trash;
    with `deleted_before`, only those deleted before that moment. `confirm` sees them first,
    with nothing held, and may decline (Cancelled). A task restored meanwhile is kept: the
    DELETE takes only those read that are still in the trash."""
    in_trash = [col(Task.user_id) == user.id, col(Task.is_deleted) == true()]
    if deleted_before is not None:
        in_trash.append(col(Task.deleted_at) < deleted_before)
    tasks = _purgeable(session, user, list(refs), in_trash)
    if not tasks:
        return Purge(0)
    before_question(session)  # nothing held while a person decides
    if not confirm(tasks):
        raise Cancelled("Nothing purged.")
    purged: set[uuid.UUID] = set()
    with transaction(session):
        ids = [task.id for task in tasks]
        shown = tasks_in_full(session=session, user=user, ids=ids) if in_full else []
        for start in range(0, len(ids), STREAMED_AT_ONCE):
            batch = ids[start : start + STREAMED_AT_ONCE]
            statement = delete(Task).where(col(Task.id).in_(batch), *in_trash)
            purged.update(session.execute(statement.returning(col(Task.id))).scalars())
        session.commit()
    return Purge(len(purged), [found for found in shown if found.task.id in purged])


@dataclass(frozen=True)
class Purge:
    """What `purge_tasks` removed: how many tasks, and (when asked) them in full, as they were."""

    count: int
    tasks: list[TaskInFull] = field(default_factory=list)


def _purgeable(
    session: Session, user: User, refs: list[str], in_trash: list[ColumnElement[bool]]
) -> list[Task]:
    """The tasks a purge would remove: those REFS name (an error for one outside the trash)
    or the whole trash, that meet IN_TRASH."""
    if not refs:
        return list(session.exec(select(Task).where(*in_trash).order_by(col(Task.number))))
    named = require_tasks(session=session, user=user, refs=refs)
    for task in named:
        if not task.is_deleted:
            raise TaskNotInTrash(
                f"Task {task.number} is not in the trash: only tasks in the trash can be "
                f"purged (`sorted delete {task.number}` first); nothing was purged."
            )
    ids = [task.id for task in named]
    return list(
        session.exec(
            select(Task).where(col(Task.id).in_(ids), *in_trash).order_by(col(Task.number))
        )
    )


def _changeable(session: Session, user: User, ref: str) -> list[ColumnElement[bool]]:
    """WHERE of the one task REF names, outside the trash: a number goes into the statement as
    it is; another reference is looked up first."""
    number = _number(ref)
    target = (
        col(Task.number) == number
        if number is not None
        else col(Task.id) == require_task(session=session, user=user, ref=ref).id
    )
    return [col(Task.user_id) == user.id, target, col(Task.is_deleted) == false()]


def note_task(*, session: Session, user: User, ref: str, data: NoteCreate) -> TaskInFull:
    """Add a note to a task (a task in the trash must be restored first) and move its
    `updated_at` to the note's moment, recorded in the history as `note` (undo takes the
    note off); returns the task in full, the new note last.

    On PostgreSQL one statement does it all (data-modifying CTEs); on SQLite, four in one
    transaction.
    """
    written = NoteInHistory(id=uuid.uuid4(), at=utcnow(), text=data.note)
    touched = update(Task).where(*_changeable(session, user, ref)).values(updated_at=written.at)
    if on_postgres(session):  # pragma: postgres
        found = _note_in_one_statement(session, user, touched, written)
    else:
        with transaction(session):
            found = _note_in_steps(session, user, touched, written)
    session.commit()
    if found is None:
        _explain_refs(session, user, [ref], in_trash_ok=False)
    return found


def _ask_first(
    session: Session, user: User, refs: list[str], confirm: Callable[[list[Task]], bool] | None
) -> None:
    """Show CONFIRM, when given, the tasks REFS name (none in the trash), with nothing held
    while a person decides; its no is Cancelled."""
    if confirm is None:
        return
    named = [_outside_trash(task) for task in require_tasks(session=session, user=user, refs=refs)]
    before_question(session)
    if not confirm(named):
        raise Cancelled("Nothing changed.")


def note_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    data: NoteCreate,
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[TaskInFull]:
    """Add the same note to every named task (as `note_task` does to one), in one
    transaction; returns them in full. `confirm`, when given, sees the resolved tasks first,
    with nothing held, and may decline (raising Cancelled)."""
    refs = list(refs)
    _ask_first(session, user, refs, confirm)
    if len(refs) == 1:
        return [note_task(session=session, user=user, ref=refs[0], data=data)]
    at = utcnow()
    with transaction(session):
        found = [
            _outside_trash(task)
            for task in require_tasks(session=session, user=user, refs=refs, lock=True)
        ]
        notes = {task.id: NoteInHistory(id=uuid.uuid4(), at=at, text=data.note) for task in found}
        session.execute(
            insert(TaskNote),
            [
                {**history.note_row(user, note), "task_id": task_id}
                for task_id, note in notes.items()
            ],
        )
        history.record_beside(
            session,
            update(Task).where(col(Task.id).in_(list(notes))).values(updated_at=at),
            user,
            history.NOTE,
            at,
            [(task_id, *history.noted(note)) for task_id, note in notes.items()],
        )
        session.commit()
    return tasks_in_full(session=session, user=user, ids=list(notes))


def _note_in_one_statement(
    session: Session, user: User, touched: sa.Update, note: NoteInHistory
) -> TaskInFull | None:  # pragma: postgres
    """The task's new `updated_at`, its note, the note's history row, and the task's tags and
    notes as one PostgreSQL statement: one round trip. Its parts share one snapshot, in which
    the new note is not yet among the task's notes: it is added to them here."""
    columns = TaskNote.__table__.c  # type: ignore[attr-defined]
    task = touched.returning(*Task.__table__.c).cte("task")  # type: ignore[attr-defined]
    row_values = history.note_row(user, note)
    values = [sa.literal(value, columns[name].type) for name, value in row_values.items()]
    inserted = insert(TaskNote).from_select(
        [*row_values, "task_id"], sa.select(*values, task.c.id).select_from(task)
    )
    before, after = history.noted(note)
    recorded = history.recorded_for_each(
        session, user, history.NOTE, note.at, task, before=before, after=after
    )
    statement = (
        sa.select(
            sa.orm.aliased(Task, task, adapt_on_names=True),
            joined_tags(task.c.id),
            task_notes(task.c.id),
        )
        .add_cte(inserted.cte("noted"))
        .add_cte(recorded)
    )
    row = session.execute(statement).first()
    if row is None:
        return None
    written = NotePublic(at=note.at, text=note.text)
    return TaskInFull(row[0], split_tags(row[1]), [*split_notes(row[2]), written])


def _note_in_steps(
    session: Session, user: User, touched: sa.Update, note: NoteInHistory
) -> TaskInFull | None:
    statement = touched.returning(Task).execution_options(
        synchronize_session=False, populate_existing=True
    )
    task: Task | None = session.execute(statement).scalars().first()
    if task is None:
        return None
    session.execute(insert(TaskNote).values(**history.note_row(user, note), task_id=task.id))
    history.record(session, user, history.NOTE, note.at, [(task.id, *history.noted(note))])
    joined, notes = session.execute(
        sa.select(JOINED_TAGS, TASK_NOTES).where(col(Task.id) == task.id)
    ).one()
    return TaskInFull(task, split_tags(joined), split_notes(notes))


def list_tasks(*, session: Session, user: User, query: TaskQuery) -> TaskPage:
    """One page of the user's tasks with their tags, filtered and sorted by the database, in
    one statement. With a limit, the same statement counts the matches the page leaves out,
    up to MORE_COUNTED of them: counting every match would read all of a user's tasks. When
    the list leaves out waiting tasks, it counts those the filters match too (as many)."""
    conditions = query_conditions(user, query)
    columns: list[Any] = [Task, JOINED_TAGS, TASK_NOTES]
    if query.limit is not None:
        # In number order, as the list index has them: the count walks that index and stops.
        matching = (
            sa.select(col(Task.id))
            .where(*conditions)
            .order_by(col(Task.number))
            .limit(query.limit + MORE_COUNTED + 1)  # one more: to tell "500" from "500+"
        )
        columns.append(select(func.count()).select_from(matching.subquery()).scalar_subquery())
    waiting = _waiting_count(user, query) if query.hides_waiting else None
    if waiting is not None:
        columns.append(waiting)
    statement = sa.select(*columns).where(*conditions).order_by(*sort_ordering(query.sort))
    if query.limit is not None:
        statement = statement.limit(query.limit)
    rows = list(session.execute(statement))
    tags = {row[0].id: split_tags(row[1]) for row in rows if row[1]}
    notes = {row[0].id: split_notes(row[2]) for row in rows if row[2]}
    tasks = [row[0] for row in rows]
    hidden = 0
    if waiting is not None:  # an empty page has no row to carry the count: one more statement
        hidden = int(rows[0][-1] if rows else session.execute(sa.select(waiting)).scalar_one())
    waiting_shown, waiting_in_full = min(hidden, MORE_COUNTED), hidden <= MORE_COUNTED
    if query.limit is None or not rows:
        return TaskPage(
            tasks=tasks,
            more=0,
            tags=tags,
            notes=notes,
            waiting=waiting_shown,
            waiting_counted_in_full=waiting_in_full,
        )
    more = int(rows[0][3]) - len(tasks)
    return TaskPage(
        tasks=tasks,
        more=min(more, MORE_COUNTED),
        tags=tags,
        more_counted_in_full=more <= MORE_COUNTED,
        notes=notes,
        waiting=waiting_shown,
        waiting_counted_in_full=waiting_in_full,
    )


def matching_numbers(
    *, session: Session, user: User, query: TaskQuery, refs: Iterable[str] = ()
) -> list[int]:
    """The numbers of the tasks QUERY matches (of those REFS name, when given), in number
    order, up to its limit: what a command that changes tasks given `list` filters changes.
    A number of REFS is one of those the filters look among (`1-20`: any of them that
    match), so one that names no task is no error; a UUID must name one."""
    conditions = query_conditions(user, query)
    refs = list(refs)
    if refs:
        read = [(ref, _number(ref)) for ref in refs]
        numbers = sorted({number for _, number in read if number is not None})
        others = [ref for ref, number in read if number is None]
        named: ColumnElement[bool] = col(Task.number).in_(numbers)
        if others:
            ids = [task.id for task in require_tasks(session=session, user=user, refs=others)]
            named = or_(named, col(Task.id).in_(ids))
        conditions.append(named)
    statement = sa.select(col(Task.number)).where(*conditions).order_by(col(Task.number))
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return list(session.execute(statement).scalars())


def _waiting_count(user: User, query: TaskQuery) -> Any:
    """A scalar subquery: how many tasks the query would match but for waiting (up to
    MORE_COUNTED and one), found through `ix_tasks_user_id_wait`."""
    waiting = sa.select(col(Task.id)).where(*query_conditions(user, query, hidden=True))
    return (
        select(func.count())
        .select_from(waiting.limit(MORE_COUNTED + 1).subquery())
        .scalar_subquery()
    )


def each_task(*, session: Session, user: User, query: TaskQuery) -> Iterator[dict[str, Any]]:
    """Every task the query matches (its limit aside), filtered and sorted as `list_tasks`
    does, each as its JSON view, streamed (`stream_tasks`): `list` piped or with `--json`.

    Up to STREAMED_AT_ONCE matches are read in one statement, as a page is: a server-side
    cursor costs PostgreSQL six more round trips (BEGIN, DECLARE, FETCH until empty, CLOSE,
    COMMIT), most of a piped `list` on Neon. With more matches than that, the cursor reads
    them all afresh (from one snapshot) and this first read is dropped unused."""
    conditions, ordering = query_conditions(user, query), sort_ordering(query.sort)
    first = _viewed_statement(conditions, ordering).limit(STREAMED_AT_ONCE + 1)
    rows = session.execute(first).all()
    if len(rows) <= STREAMED_AT_ONCE:
        yield from (_viewed(row) for row in rows)
        return
    del rows
    yield from stream_tasks(session, conditions, ordering)


STREAMED_AT_ONCE = 1000  # rows fetched from the database at a time while streaming


def _viewed_statement(
    conditions: list[ColumnElement[bool]], ordering: list[ColumnElement[Any]]
) -> Select[Any]:
    columns: list[Any] = [*_VIEWED, JOINED_TAGS, TASK_NOTES]
    return sa.select(*columns).where(*conditions).order_by(*ordering)


def stream_tasks(
    session: Session, conditions: list[ColumnElement[bool]], ordering: list[ColumnElement[Any]]
) -> Iterator[dict[str, Any]]:
    """The tasks matching CONDITIONS in ORDERING, each as its JSON view (`TaskPublic`: the
    same keys and values as `list --json`), as the database returns them: batches from a
    server-side cursor on PostgreSQL, and plain rows, not ORM objects, so nothing accumulates
    in the session and memory stays flat however many tasks there are. Shared by `export`."""
    statement = _viewed_statement(conditions, ordering).execution_options(
        yield_per=STREAMED_AT_ONCE
    )
    with long_read(session):  # a slow reader of the output holds up no one
        yield from (_viewed(row) for row in session.execute(statement))
        session.commit()


def _viewed(row: Sequence[Any]) -> dict[str, Any]:
    """A row of `_VIEWED`, JOINED_TAGS and TASK_NOTES as the task's JSON view."""
    *values, joined, notes = row
    view = {key: public_value(value) for key, value in zip(PUBLIC_COLUMNS, values, strict=True)}
    view["tags"] = split_tags(joined)
    view["notes"] = (
        [{"at": public_value(at), "text": text} for at, text in _note_pairs(notes)] if notes else []
    )
    return {key: view[key] for key in PUBLIC_KEYS}


_VIEWED = [col(getattr(Task, column)) for column in PUBLIC_COLUMNS.values()]


MORE_COUNTED = 500  # matches beyond a page that `list` counts; past that it says "500+"


def joined_tags(task_id: Any) -> Any:
    """The tags of the task TASK_ID in one string, computed by the database beside each task
    row, so one statement lists tasks with their tags (string_agg on PostgreSQL, group_concat
    on SQLite)."""
    return (
        select(func.aggregate_strings(col(TaskTag.name), ","))
        .where(col(TaskTag.task_id) == task_id)
        .scalar_subquery()
        .label("tags")
    )


JOINED_TAGS = joined_tags(col(Task.id))


def split_tags(joined: str | None) -> list[str]:
    """The tags of one task from the joined string (names never hold commas)."""
    return sorted(joined.split(",")) if joined else []


class _NotePairs(FunctionElement[Any]):
    """The aggregate of task_notes rows (given: created_at, text, id) as one JSON array of
    `[moment, text]` pairs, the moment in UTC without a zone. An empty one is NULL on
    PostgreSQL and `[]` on SQLite."""

    name = "note_pairs"
    inherit_cache = True
    type = sa.JSON()


@compiles(_NotePairs)
def _note_pairs_on_sqlite(element: _NotePairs, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite before 3.44 cannot order an aggregate: split_notes puts them in time order.
    moment, text, _id = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"json_group_array(json_array({moment}, {text}))"


@compiles(_NotePairs, "postgresql")
def _note_pairs_on_postgres(
    element: _NotePairs, compiler: SQLCompiler, **kw: Any
) -> str:  # pragma: postgres
    moment, text, key = (compiler.process(clause, **kw) for clause in element.clauses)
    pairs = f"json_build_array(timezone('UTC', {moment}), {text})"
    return f"json_agg({pairs} ORDER BY {moment}, {key})"


def task_notes(task_id: Any) -> Any:
    """The notes of the task TASK_ID as one JSON value, computed by the database beside each
    task row (as `joined_tags`), read with `split_notes`. With no notes it is one index probe."""
    pairs = _NotePairs(col(TaskNote.created_at), col(TaskNote.text), col(TaskNote.id))
    return sa.select(pairs).where(col(TaskNote.task_id) == task_id).scalar_subquery().label("notes")


TASK_NOTES = task_notes(col(Task.id))


def _note_pairs(pairs: list[list[str]] | None) -> list[tuple[datetime, str]]:
    """(UTC moment, text) of each note of TASK_NOTES's value, oldest first (notes of one moment
    in the order the database gave them)."""
    notes = [(datetime.fromisoformat(at).replace(tzinfo=UTC), text) for at, text in pairs or ()]
    notes.sort(key=lambda note: note[0])
    return notes


def split_notes(pairs: list[list[str]] | None) -> list[NotePublic]:
    """The notes of one task from TASK_NOTES's value, oldest first."""
    return [NotePublic(at=at, text=text) for at, text in _note_pairs(pairs)] if pairs else []


def query_conditions(
    user: User, query: TaskQuery, *, hidden: bool = False
) -> list[ColumnElement[bool]]:
    """WHERE of what QUERY matches; with `hidden`, of the waiting tasks it leaves out."""
    waiting = col(Task.wait) > query.now
    not_waiting = or_(col(Task.wait).is_(None), col(Task.wait) <= query.now)
    conditions: list[ColumnElement[bool]] = [
        col(Task.user_id) == user.id,
        *_view_conditions(query.view),
    ]
    if query.waiting or hidden:
        conditions.append(waiting)
    elif query.hides_waiting or query.ready:
        conditions.append(not_waiting)
    if query.ready:
        conditions += [
            col(Task.completed) == false(),
            or_(col(Task.scheduled).is_(None), col(Task.scheduled) <= query.now),
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
        conditions += [overdue(today=query.today, now=query.now), col(Task.completed) == false()]
    if query.completed_since is not None:
        conditions.append(col(Task.completed_at) >= query.completed_since)
    return conditions


def overdue(*, today: date, now: datetime) -> ColumnElement[bool]:
    """Past due: a due with a time is past at `due_at`, a whole-day due once its day is."""
    return and_(
        # A bound the (user_id, due) index can serve: a task whose due_at has passed has its
        # local day at most a day or so after today even where the time zone has changed.
        col(Task.due) < today + timedelta(days=2),
        or_(
            and_(col(Task.due_at).is_not(None), col(Task.due_at) < now),
            and_(col(Task.due_at).is_(None), col(Task.due) < today),
        ),
    )


def _insert_tags(session: Session, user: User, task_id: uuid.UUID, names: Iterable[str]) -> None:
    """Tag the task; a tag it has already (a concurrent `tag` added it a moment ago) is left."""
    _insert_tag_pairs(session, user, [(task_id, name) for name in names])


def _insert_tag_pairs(session: Session, user: User, pairs: Iterable[tuple[uuid.UUID, str]]) -> None:
    """Give each (task, tag) of PAIRS, in one statement; one already there is left."""
    rows = [{"task_id": task_id, "name": name, "user_id": user.id} for task_id, name in pairs]
    if not rows:
        return
    if on_postgres(session):  # pragma: postgres
        from sqlalchemy.dialects import postgresql as dialect
    else:
        from sqlalchemy.dialects import sqlite as dialect  # type: ignore[no-redef]
    session.execute(dialect.insert(TaskTag).on_conflict_do_nothing(), rows)


@dataclass(frozen=True)
class Tagging:
    """What `tag` or `untag` did to one task: the tags that changed (none: it already had,
    or lacked, them all) and its tags now."""

    task: Task
    changed: list[str]
    tags: list[str]


def tag_task(
    *, session: Session, user: User, ref: str, names: list[str], remove: bool = False
) -> tuple[Task, list[str], list[str]]:
    """`tag_tasks` of one task: the task, the tags that changed, and its tags now."""
    [done] = tag_tasks(session=session, user=user, refs=[ref], names=names, remove=remove)
    return done.task, done.changed, done.tags


def tag_tasks(
    *,
    session: Session,
    user: User,
    refs: Iterable[str],
    names: list[str],
    remove: bool = False,
    confirm: Callable[[list[Task]], bool] | None = None,
) -> list[Tagging]:
    """Add (or with `remove`, take off) tags of every named task, in one transaction, each
    task's change recorded for undo. Tags a task already has (or lacks) are left alone, so
    repeating is harmless. `confirm`, when given, sees the resolved tasks first, with nothing
    held, and may decline (raising Cancelled)."""
    refs = list(refs)
    _ask_first(session, user, refs, confirm)
    with transaction(session):  # the tags and the tasks' updated_at together
        if len(refs) == 1:  # the task and its tags locked in one statement
            row = _resolve(session, user, refs[0], lock=True, also=[JOINED_TAGS])
            rows = [(row[0], row[1])]
        else:
            found = require_tasks(session=session, user=user, refs=refs)
            locked = _locked_in_order(session, [task.id for task in found], also=[JOINED_TAGS])
            rows = [(task, locked[task.id][1]) for task in found]
        wanted, results = set(names), []
        for task, tags in rows:
            _outside_trash(task)
            before = set(split_tags(tags))
            changed = sorted(wanted & before if remove else wanted - before)
            after = sorted(before - wanted if remove else before | wanted)
            results.append((Tagging(task, changed, after), sorted(before)))
        _retag(session, user, results, remove=remove)
        session.commit()
    return [tagging for tagging, _before in results]


def _retag(
    session: Session, user: User, results: list[tuple[Tagging, list[str]]], *, remove: bool
) -> None:
    """Write the tag changes of RESULTS (each with the task's tags before) and record them."""
    changes = [(tagging, before) for tagging, before in results if tagging.changed]
    if not changes:
        return
    ids = [tagging.task.id for tagging, _before in changes]
    if remove:
        names = sorted({name for tagging, _before in changes for name in tagging.changed})
        session.execute(
            delete(TaskTag).where(col(TaskTag.task_id).in_(ids), col(TaskTag.name).in_(names))
        )
    else:
        _insert_tag_pairs(
            session,
            user,
            [(tagging.task.id, name) for tagging, _before in changes for name in tagging.changed],
        )
    now = utcnow()
    history.record_beside(
        session,
        update(Task).where(col(Task.id).in_(ids)).values(updated_at=now),
        user,
        "untag" if remove else "tag",
        now,
        [
            (tagging.task.id, {"tags": before}, {"tags": tagging.tags})
            for tagging, before in changes
        ],
    )
    for tagging, _before in changes:
        tagging.task.updated_at = now


def tasks_in_full(*, session: Session, user: User, ids: Iterable[uuid.UUID]) -> list[TaskInFull]:
    """The user's tasks of IDS with their tags and notes, in one statement, in IDS' order:
    what a changing command's `--json` shows of the tasks it changed."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    rows = session.execute(
        sa.select(Task, JOINED_TAGS, TASK_NOTES)
        .where(col(Task.user_id) == user.id, col(Task.id).in_(ids))
        .execution_options(populate_existing=True)
    )
    found = {row[0].id: TaskInFull(row[0], split_tags(row[1]), split_notes(row[2])) for row in rows}
    return [found[task_id] for task_id in ids if task_id in found]


def _view_conditions(view: View) -> list[ColumnElement[bool]]:
    not_deleted = col(Task.is_deleted) == false()
    views: dict[View, list[ColumnElement[bool]]] = {
        View.open: [not_deleted, col(Task.completed) == false()],
        View.all: [not_deleted],
        View.completed: [not_deleted, col(Task.completed) == true()],
        View.deleted: [col(Task.is_deleted) == true()],
    }
    return views[view]


_PRIORITY_RANK = case(
    {Priority.high.value: 0, Priority.medium.value: 1, Priority.low.value: 2},
    value=col(Task.priority),
    else_=3,
)


def sort_ordering(sort: SortKey) -> list[ColumnElement[Any]]:
    """ORDER BY for each sort key; the task number breaks ties so the order is stable."""
    first: dict[SortKey, list[ColumnElement[Any]]] = {
        SortKey.number: [],
        SortKey.due: [nulls_last(col(Task.due).asc()), nulls_last(col(Task.due_at).asc())],
        SortKey.priority: [_PRIORITY_RANK],
        SortKey.created: [col(Task.created_at).desc()],
    }
    return [*first[sort], col(Task.number).asc()]


def rewrite_task(
    *,
    session: Session,
    user: User,
    ref: str,
    data: TaskUpdate,
    tags: list[str] | None,
    seen_updated_at: datetime,
) -> tuple[Task, bool]:
    """Apply a form the user edited in their editor (`sorted edit REF` without options): the
    fields set in DATA and, unless None, TAGS as the task's whole set of tags; returns the task
    and whether anything changed. One transaction and one history row (`edit`), so one undo
    takes it all back.

    The task is locked first; if its `updated_at` is no longer SEEN_UPDATED_AT (the moment it
    had when the form was written) it changed while the editor was open, and nothing is
    changed (TaskChangedMeanwhile): saving the form would overwrite that change. The rules of
    `update_task` hold: a task in the trash must be restored first, a rule needs what it needs
    (`_check_repeats`), a new rule or due date moves the anchor, no rule means no end."""
    values = data.model_dump(exclude_unset=True)
    with transaction(session):
        row = _resolve(session, user, ref, lock=True, also=[JOINED_TAGS])
        task, tags_before = row[0], split_tags(row[1])
        _outside_trash(task)
        if task.updated_at != seen_updated_at:
            raise TaskChangedMeanwhile(
                f"Task {task.number} changed while it was open in the editor; nothing was "
                f"saved: run `sorted edit {task.number}` again."
            )
        _check_repeats(session, user, ref, values)
        _with_what_follows(values)
        fields = {name: value for name, value in values.items() if getattr(task, name) != value}
        retag = tags is not None and sorted(tags) != tags_before
        if not fields and not retag:
            session.commit()
            return task, False
        keys = history.public_keys(fields)
        before = history.public_fields(task, keys)
        after = {key: fields[PUBLIC_COLUMNS[key]] for key in keys}
        if tags is not None and retag:
            before["tags"], after["tags"] = tags_before, sorted(tags)
            session.execute(delete(TaskTag).where(col(TaskTag.task_id) == task.id))
            _insert_tags(session, user, task.id, sorted(tags))
        now = utcnow()
        history.record_beside(
            session,
            update(Task).where(col(Task.id) == task.id).values(**fields, updated_at=now),
            user,
            "edit",
            now,
            [(task.id, before, after)],
        )
        for name, value in fields.items():
            setattr(task, name, value)
        task.updated_at = now
        session.commit()
    return task, True


def task_to_rewrite(*, session: Session, user: User, ref: str) -> TaskInFull:
    """The task REF names with its tags, to be edited in the user's editor (`rewrite_task`
    saves it): outside the trash, with nothing held while the editor is open. The task is let
    go of the session, so that `rewrite_task` reads it afresh, with a change made meanwhile."""
    found = require_task_in_full(session=session, user=user, ref=ref)
    _outside_trash(found.task)
    session.expunge(found.task)
    before_question(session)
    return found
