"""What each command changed, and taking it back: `undo`, `redo`, `log` and a task's history.

Recording. Every service function that changes tasks writes one `TaskChange` row per task it
changed, under one id per command (`db.command_id`), in the same statement as the change on
PostgreSQL (a data-modifying CTE beside it: no round trip of its own) and in the same
transaction on SQLite. So no change is saved without its record, nor recorded unsaved. The
row holds the fields the command changed, under their public keys, before and after; a note
is recorded under the key `note`: none before, the note after (`NoteInHistory`).

Undo takes back the user's latest command that stands, as a whole (`done 1 2 3` is one
undo): each task gets its fields from before the command, a task the command added goes to
the trash, and a note is taken off its task. Redo re-applies the command undone last, as
long as the user's latest command is an undo or a redo (a new command in between ends what
can be redone, as in an editor). Both refuse, changing nothing, when any of the tasks has
changed since, whoever changed it (a teammate working as the same user, another program, a
later command): the task's `updated_at` must still be the moment the command (or the undo)
gave it. Both run in one transaction whose task rows are locked first, so two undos at once
take back one command once. Undo and redo are recorded too, as history only: undoing twice
undoes two commands.

Undo is per user: on a shared database, each user takes back only their own commands.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, FromClause, Update, delete, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from sorted_cli.db import command_id, on_postgres, transaction
from sorted_cli.errors import NothingToUndo, UndoRefused
from sorted_cli.models import (
    PUBLIC_COLUMNS,
    NoteInHistory,
    Task,
    TaskChange,
    TaskNote,
    TaskPublic,
    TaskTag,
    User,
    UTCDateTime,
    public_value,
    utcnow,
)

UNDO, REDO, ADD, IMPORT, NOTE = "undo", "redo", "add", "import", "note"
_HISTORY_ONLY = (UNDO, REDO)  # rows of these are never undone themselves
# What an add or an import records of each task it adds: enough for `log` to name it, and
# for a redo to put it back as it came (in the trash or not).
ADDED_KEYS = ("title", "deleted", "deleted_at")
# The one key of the history that is not a key of the JSON view: the note a `note` wrote
# (None before it, and after its undo), with NotePublic's keys and its row's id.
_NOTE_KEY = "note"
_KEY_TYPES: dict[str, Any] = {_NOTE_KEY: NoteInHistory | None}
_NOT_COLUMNS = ("tags", _NOTE_KEY)  # keys `_set` writes to other tables than tasks
_TASKS = Task.__table__  # type: ignore[attr-defined]
_RECORDED = ["command_id", "user_id", "task_id", "action", "at", "before", "after", "applied_at"]


# ------------------------------------------------------------------------------ recording


class JsonObject(FunctionElement[Any]):
    """A JSON object built by the database from (key, value) pairs: PostgreSQL's
    json_build_object, SQLite's json_object."""

    type = sa.JSON()
    inherit_cache = True
    name = "json_object"


@compiles(JsonObject, "postgresql")
def _json_object_on_postgres(element: JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clause_expr, **kw)[1:-1]})"


def json_pairs(values: Mapping[str, ColumnElement[Any]]) -> JsonObject:
    """`JsonObject` of public keys (constants of this module's callers) and their columns;
    a moment goes in as UTC text (`_utc_text`)."""
    arguments: list[Any] = []
    for key, value in values.items():
        moment = isinstance(value.type, sa.DateTime | UTCDateTime)
        arguments += [sa.literal_column(f"'{key}'"), _utc_text(value) if moment else value]
    return JsonObject(*arguments)


def _utc_text(moment: ColumnElement[Any]) -> ColumnElement[str]:  # pragma: postgres
    """A PostgreSQL moment as UTC text, as the JSON view writes it: `to_json` would write it in
    the session's time zone, whose offsets in old dates have seconds (`+05:21:10`)."""
    return sa.func.to_char(
        sa.func.timezone("UTC", moment), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"', type_=sa.String()
    )


def recorded_in_statement(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    changed: FromClause,
    *,
    before: FromClause | None,
    keys: Iterable[str],
    where: ColumnElement[bool] | None = None,
) -> sa.CTE:  # pragma: postgres
    """The INSERT of the history rows of a change made by CTE `changed` (PostgreSQL), as a
    CTE to add beside it: one row per row of `changed` (that meets `where`), holding the
    public KEYS' values in `before` (a CTE of the rows as they were, joined on id; None for
    an add) and in `changed`."""
    columns = {key: PUBLIC_COLUMNS[key] for key in keys}
    source: FromClause = changed
    old: Any = sa.null()
    if before is not None:
        source = changed.join(before, before.c.id == changed.c.id)
        old = json_pairs({key: before.c[column] for key, column in columns.items()})
    new = json_pairs({key: changed.c[column] for key, column in columns.items()})
    rows = _each(session, user, action, now, changed, old, new).select_from(source)
    if where is not None:
        rows = rows.where(where)
    return sa.insert(TaskChange).from_select(_RECORDED, rows).cte(f"recorded_{action}")


def recorded_for_each(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    changed: FromClause,
    *,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
) -> sa.CTE:  # pragma: postgres
    """The INSERT of the history rows of a change made by CTE `changed` (PostgreSQL) whose
    values are known in Python though its task is not (a task named by its number): one row
    per row of `changed`, each holding BEFORE and AFTER (as `record` takes them)."""
    json = TaskChange.__table__.c.after.type  # type: ignore[attr-defined]
    rows = _each(
        session,
        user,
        action,
        now,
        changed,
        sa.literal(_as_json(before), json),
        sa.literal(_as_json(after), json),
    ).select_from(changed)
    return sa.insert(TaskChange).from_select(_RECORDED, rows).cte(f"recorded_{action}")


def _each(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    changed: FromClause,
    before: Any,
    after: Any,
) -> sa.Select[Any]:  # pragma: postgres
    """The `_RECORDED` values of a history row for each row of `changed`."""
    return sa.select(
        sa.literal(command_id(session), sa.Uuid()),
        sa.literal(user.id, sa.Uuid()),
        changed.c.id,
        sa.literal(action, sa.String()),
        sa.literal(now, UTCDateTime()),
        before,
        after,
        changed.c.updated_at,
    )


def record(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    changes: Iterable[tuple[uuid.UUID, dict[str, Any] | None, dict[str, Any]]],
    *,
    reverts: uuid.UUID | None = None,
    applied_at: Mapping[uuid.UUID, datetime] | None = None,
    command: uuid.UUID | None = None,
) -> None:
    """Write the history rows of a change known in Python: (task id, before, after) each,
    values as the task's attributes hold them (`public_value` makes them JSON). The change
    gave each task `updated_at` NOW, unless `applied_at` says another moment (an import keeps
    the file's)."""
    rows = _rows(session, user, action, now, changes, reverts, command)
    for row in rows if applied_at else ():
        row["applied_at"] = applied_at[row["task_id"]]  # type: ignore[index]
    if rows:
        session.execute(sa.insert(TaskChange), rows)


def record_beside(
    session: Session,
    statement: Update,
    user: User,
    action: str,
    now: datetime,
    changes: Iterable[tuple[uuid.UUID, dict[str, Any] | None, dict[str, Any]]],
) -> None:
    """Run STATEMENT (a change of tasks) and write the history rows of CHANGES (as `record`)
    with it: on PostgreSQL in the same statement, as a CTE; on SQLite just before it."""
    rows = _rows(session, user, action, now, changes, None, None)
    if on_postgres(session):  # pragma: postgres
        session.execute(statement.add_cte(sa.insert(TaskChange).values(rows).cte("recorded")))
        return
    if rows:
        session.execute(sa.insert(TaskChange), rows)
    session.execute(statement)


def _rows(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    changes: Iterable[tuple[uuid.UUID, dict[str, Any] | None, dict[str, Any]]],
    reverts: uuid.UUID | None,
    command: uuid.UUID | None,
) -> list[dict[str, Any]]:
    command = command or command_id(session)
    return [
        {
            "command_id": command,
            "user_id": user.id,
            "task_id": task_id,
            "action": action,
            "at": now,
            "before": None if before is None else _as_json(before),
            "after": _as_json(after),
            "applied_at": now,
            "reverts": reverts,
        }
        for task_id, before, after in changes
    ]


def record_more(
    session: Session,
    user: User,
    action: str,
    now: datetime,
    more: Mapping[uuid.UUID, tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    """Add to the rows just recorded of a change (ACTION at NOW) what more it changed of each
    task in MORE, (before, after) (an edit's `+tag`: its tags): a task has one row per
    command, so one undo takes back all of it."""
    if not more:
        return
    rows = session.exec(
        select(TaskChange).where(
            col(TaskChange.user_id) == user.id,
            col(TaskChange.task_id).in_(list(more)),
            col(TaskChange.action) == action,
            col(TaskChange.at) == now,
        )
    )
    for row in rows:
        before, after = more[row.task_id]
        row.before = {**(row.before or {}), **_as_json(before)}
        row.after = {**(row.after or {}), **_as_json(after)}
    session.flush()


def public_keys(columns: Iterable[str]) -> list[str]:
    """The public keys of these Task columns (those that have one)."""
    wanted = set(columns)
    return [key for key, column in PUBLIC_COLUMNS.items() if column in wanted]


def _as_json(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _stored(value) for key, value in values.items()}


def _stored(value: Any) -> Any:
    """A value as a history row holds it: as the JSON view writes it, a note with its id."""
    if isinstance(value, NoteInHistory):
        return {**public_value(value), "id": str(value.id)}  # type: ignore[dict-item]
    return public_value(value)


def noted(note: NoteInHistory) -> tuple[dict[str, Any], dict[str, Any]]:
    """(before, after) of a `note` that wrote NOTE, as `record` takes them."""
    return {_NOTE_KEY: None}, {_NOTE_KEY: note}


def note_row(user: User, note: NoteInHistory) -> dict[str, Any]:
    """The task_notes values of NOTE, but its task: as `note` writes it and a redo again."""
    return {"id": note.id, "user_id": user.id, "created_at": note.at, "text": note.text}


def public_fields(task: Task, keys: Iterable[str]) -> dict[str, Any]:
    """The task's values of public KEYS (not the computed tags)."""
    return {key: getattr(task, PUBLIC_COLUMNS[key]) for key in keys}


# -------------------------------------------------------------------------------- reading


@cache
def _adapter(key: str) -> TypeAdapter[Any]:
    annotation = _KEY_TYPES.get(key) or TaskPublic.model_fields[key].annotation
    assert annotation is not None
    return TypeAdapter(annotation)


def stored_value(key: str, raw: Any) -> Any:
    """A value as a history row holds it (JSON, written by Python or by either database) back
    as the task's attribute holds it: a UTC moment, a date, a Priority, a bool; a note as a
    NoteInHistory."""
    value = _adapter(key).validate_python(raw)
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def stored_values(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: stored_value(key, raw) for key, raw in (values or {}).items()}


@dataclass(frozen=True)
class TaskStep:
    """One task in a command of the history, as it is now (number and title) and what the
    command did to it."""

    task_id: uuid.UUID
    number: int
    title: str
    before: dict[str, Any] | None  # None: the command added the task
    after: dict[str, Any]


@dataclass(frozen=True)
class Command:
    """One command of a user's history."""

    id: uuid.UUID
    action: str
    at: datetime
    undone_at: datetime | None
    reverts: str | None  # undo/redo: the action of the command they reverted
    steps: list[TaskStep]


def _steps(rows: Iterable[tuple[TaskChange, Task]]) -> list[TaskStep]:
    """The tasks of one command, in number order."""
    steps = [
        TaskStep(
            task.id,
            task.number,
            task.title,
            None if change.before is None else stored_values(change.before),
            stored_values(change.after),
        )
        for change, task in rows
    ]
    return sorted(steps, key=lambda step: step.number)


def recent_commands(*, session: Session, user: User, limit: int) -> list[Command]:
    """The user's latest LIMIT commands, newest first, with the tasks each changed."""
    latest = (
        sa.select(col(TaskChange.command_id), sa.func.max(col(TaskChange.id)).label("last"))
        .where(col(TaskChange.user_id) == user.id)
        .group_by(col(TaskChange.command_id))
        .order_by(sa.desc("last"))
        .limit(limit)
        .subquery()
    )
    rows = session.exec(
        select(TaskChange, Task)
        .join(Task, col(Task.id) == col(TaskChange.task_id))
        .join(latest, latest.c.command_id == col(TaskChange.command_id))
        .order_by(latest.c.last.desc(), col(TaskChange.id))
    ).all()
    return _commands(session, rows)


def task_history(*, session: Session, task: Task) -> list[tuple[TaskChange, str | None]]:
    """Every recorded change of TASK, oldest first, each with the action an undo or redo
    reverted."""
    rows = session.exec(
        select(TaskChange).where(col(TaskChange.task_id) == task.id).order_by(col(TaskChange.id))
    ).all()
    actions = _actions_of(session, {row.reverts for row in rows if row.reverts is not None})
    return [(row, actions.get(row.reverts) if row.reverts else None) for row in rows]


def _commands(session: Session, rows: Iterable[tuple[TaskChange, Task]]) -> list[Command]:
    grouped: dict[uuid.UUID, list[tuple[TaskChange, Task]]] = {}
    for change, task in rows:
        grouped.setdefault(change.command_id, []).append((change, task))
    actions = _actions_of(
        session, {group[0][0].reverts for group in grouped.values() if group[0][0].reverts}
    )
    return [
        Command(
            id=command,
            action=group[0][0].action,
            at=group[0][0].at,
            undone_at=group[0][0].undone_at,
            reverts=actions.get(group[0][0].reverts) if group[0][0].reverts else None,
            steps=_steps(group),
        )
        for command, group in grouped.items()
    ]


def _actions_of(session: Session, commands: set[Any]) -> dict[uuid.UUID, str]:
    if not commands:
        return {}
    found = session.exec(
        select(TaskChange.command_id, TaskChange.action).where(
            col(TaskChange.command_id).in_(commands)
        )
    )
    return dict(found.all())


# ---------------------------------------------------------------------------- undo, redo


def undo_last(*, session: Session, user: User) -> Command:
    """Take back the user's latest command that stands (see the module docstring)."""
    return _revert(session, user, UNDO)


def redo_last(*, session: Session, user: User) -> Command:
    """Re-apply the command the user undid last (see the module docstring)."""
    return _revert(session, user, REDO)


# How many times an undo looks for its command again when a concurrent undo took the one it
# found first: each time, another undo has committed, so this bounds nothing but a bug.
_TRIES = 100


def _revert(session: Session, user: User, what: str) -> Command:
    with transaction(session):
        for _ in range(_TRIES):
            target = _target(session, user, what)
            rows = _locked(session, target)
            # Locked, the rows are as the undos before this one left them: a concurrent undo
            # may have taken this command back meanwhile (PostgreSQL), then look again.
            if all((change.undone_at is None) == (what == UNDO) for change, _, _ in rows):
                break
        else:  # pragma: no cover - see _TRIES
            raise UndoRefused(f"Cannot {what}: the history kept changing; try again.")
        _refuse_if_changed(rows, what)
        now = utcnow()
        changes = [(task.id, *_sides(change, task, what, now)) for change, task, _ in rows]
        _refuse_if_series_lost(session, rows, changes, what)
        _set(session, user, {task.id: task for _, task, _ in rows}, changes, now)
        session.execute(
            update(TaskChange)
            .where(col(TaskChange.command_id) == target)
            .values({"undone_at": now} if what == UNDO else {"undone_at": None, "applied_at": now})
            .execution_options(synchronize_session=False)
        )
        made = command_id(session)
        record(session, user, what, now, changes, reverts=target, command=made)
        session.commit()
    return _done(made, rows, changes, what, now)


def _target(session: Session, user: User, what: str) -> uuid.UUID:
    """The command an undo takes back (the latest that stands) or a redo re-applies: the one
    the latest undo since the user's last command took back, if it is still undone. (Row ids
    order a user's history: no clock is compared.)"""
    mine = [col(TaskChange.user_id) == user.id, col(TaskChange.action).not_in(_HISTORY_ONLY)]
    if what == UNDO:
        found = session.exec(
            select(TaskChange.command_id)
            .where(*mine, col(TaskChange.undone_at).is_(None))
            .order_by(col(TaskChange.id).desc())
            .limit(1)
        ).first()
        if found is None:
            anything = session.exec(select(TaskChange.id).where(*mine).limit(1)).first()
            raise NothingToUndo(
                "Nothing to undo: every command of yours that changed tasks is undone."
                if anything is not None
                else "Nothing to undo: no command of yours has changed a task yet."
            )
        return found
    last_command = (
        sa.select(sa.func.coalesce(sa.func.max(col(TaskChange.id)), 0))
        .where(*mine)
        .scalar_subquery()
    )
    original = sa.orm.aliased(TaskChange)
    found = session.exec(
        select(TaskChange.reverts)
        .where(
            col(TaskChange.user_id) == user.id,
            col(TaskChange.action) == UNDO,
            col(TaskChange.id) > last_command,
            sa.exists().where(
                col(original.command_id) == col(TaskChange.reverts),
                col(original.undone_at).is_not(None),
            ),
        )
        .order_by(col(TaskChange.id).desc())
        .limit(1)
    ).first()
    if found is None:
        raise NothingToUndo(
            "Nothing to redo: redo re-applies what `sorted undo` took back, until a new change."
        )
    return found


def _sides(
    change: TaskChange, task: Task, what: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the task has, what it gets) as an undo or a redo of CHANGE gives it. A task the
    command added (`add`, `import`) goes to the trash when it is undone (one that came in the
    trash keeps its moment there), and back as the command left it on redo. A note's undo
    takes it off (`note`: None) and its redo puts it back."""
    if change.before is None:
        has = {"deleted": task.is_deleted, "deleted_at": task.deleted_at}
        if what == UNDO:
            return has, {"deleted": True, "deleted_at": task.deleted_at or now}
        added = stored_values(change.after)
        return has, {"deleted": added.get("deleted", False), "deleted_at": added.get("deleted_at")}
    before, after = stored_values(change.before), stored_values(change.after)
    return (after, before) if what == UNDO else (before, after)


def _locked(session: Session, command: uuid.UUID) -> list[tuple[TaskChange, Task, Any]]:
    """The command's rows with their tasks and the moment the history last left each task
    at, both locked (PostgreSQL; on SQLite the transaction holds the write lock) and read as
    they are once locked."""
    statement = (
        sa.select(TaskChange, Task, _last_recorded_moment())
        .join(Task, col(Task.id) == col(TaskChange.task_id))
        .where(col(TaskChange.command_id) == command)
        .order_by(col(Task.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return [(change, task, moment) for change, task, moment in session.execute(statement)]


def _last_recorded_moment() -> Any:
    """The `updated_at` the history last gave the task: that of its latest row (a change, an
    undo or a redo; rows of one task are written in the order its changes were made, each
    under the task's row lock). A task whose `updated_at` is another has changed unrecorded
    since. Only equality of stored moments is asked, never clocks compared."""
    latest = sa.orm.aliased(TaskChange)
    return (
        sa.select(col(latest.applied_at))
        .where(col(latest.task_id) == col(Task.id))
        .order_by(col(latest.id).desc())
        .limit(1)
        .scalar_subquery()
    )


def _refuse_if_changed(rows: list[tuple[TaskChange, Task, Any]], what: str) -> None:
    changed = [task for _change, task, moment in rows if task.updated_at != moment]
    if changed:
        action = _action(rows)
        named = ", ".join(f"{task.number} ({task.title})" for task in changed[:5])
        more = " and more" if len(changed) > 5 else ""
        raise UndoRefused(
            f"Cannot {what} `{action}`: task{'s' if len(changed) > 1 else ''} {named}{more} "
            f"changed since, and {what} would overwrite that; nothing was changed."
        )


def _refuse_if_series_lost(
    session: Session,
    rows: list[tuple[TaskChange, Task, Any]],
    changes: list[tuple[uuid.UUID, dict[str, Any], dict[str, Any]]],
    what: str,
) -> None:
    """Refuse an undo or redo that would complete a repeating task whose next occurrence is
    gone for good (purged since its `reopen` withdrew it): its series would have no open task
    left. (`sorted done` of the task makes a new next one.)"""
    from sorted_cli.services import recurring  # it records through this module

    tasks = {task.id: task for _change, task, _moment in rows}
    completing = [tasks[task_id] for task_id, _was, becomes in changes if becomes.get("completed")]
    lost = recurring.without_their_next(session, completing) if completing else []
    if lost:
        named = ", ".join(f"{task.number} ({task.title})" for task in lost[:5])
        raise UndoRefused(
            f"Cannot {what} `{_action(rows)}`: the next time of task {named} was purged since, "
            f"and {what} would leave its series with no open task; nothing was changed. "
            f"`sorted done {lost[0].number}` makes a new one."
        )


def _set(
    session: Session,
    user: User,
    tasks: Mapping[uuid.UUID, Task],
    changes: list[tuple[uuid.UUID, dict[str, Any], dict[str, Any]]],
    now: datetime,
) -> None:
    """Give each task the public values it becomes (tags and a note too) and `updated_at`
    NOW: one batch of UPDATEs per set of fields, one DELETE and one batch of INSERTs for tags,
    and for notes (a batch is one round trip on PostgreSQL, however many tasks)."""
    batches: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for task_id, _was, becomes in changes:
        columns = {
            PUBLIC_COLUMNS[key]: value for key, value in becomes.items() if key not in _NOT_COLUMNS
        }
        batches.setdefault(tuple(sorted(columns)), []).append(
            {"task": task_id, **{f"new_{name}": value for name, value in columns.items()}}
        )
        for name, value in columns.items():
            setattr(tasks[task_id], name, value)
        tasks[task_id].updated_at = now
    for names, rows in batches.items():
        session.execute(
            update(_TASKS)
            .where(_TASKS.c.id == sa.bindparam("task"))
            .values({**{name: sa.bindparam(f"new_{name}") for name in names}, "updated_at": now}),
            rows,
        )
    retagged = [(task_id, becomes["tags"]) for task_id, _, becomes in changes if "tags" in becomes]
    if retagged:
        session.execute(
            delete(TaskTag).where(col(TaskTag.task_id).in_([task_id for task_id, _ in retagged]))
        )
        tags = [
            {"task_id": task_id, "name": name, "user_id": user.id}
            for task_id, names in retagged
            for name in names
        ]
        if tags:
            session.execute(sa.insert(TaskTag), tags)
    _set_notes(session, user, changes)


def _set_notes(
    session: Session,
    user: User,
    changes: list[tuple[uuid.UUID, dict[str, Any], dict[str, Any]]],
) -> None:
    """Take off the notes an undo takes back, and put back those a redo re-applies (the same
    rows: id, moment and text)."""
    noted = [(task_id, was, becomes) for task_id, was, becomes in changes if _NOTE_KEY in becomes]
    gone = [was[_NOTE_KEY].id for _, was, becomes in noted if becomes[_NOTE_KEY] is None]
    if gone:
        session.execute(delete(TaskNote).where(col(TaskNote.id).in_(gone)))
    back = [
        {**note_row(user, note), "task_id": task_id}
        for task_id, _was, becomes in noted
        if (note := becomes[_NOTE_KEY]) is not None
    ]
    if back:
        session.execute(sa.insert(TaskNote), back)


def _done(
    made: uuid.UUID,
    rows: list[tuple[TaskChange, Task, Any]],
    changes: list[tuple[uuid.UUID, dict[str, Any], dict[str, Any]]],
    what: str,
    now: datetime,
) -> Command:
    """The undo or redo just made, as `recent_commands` will list it: each task's fields as
    it found and left them."""
    tasks = {task.id: task for _change, task, _moment in rows}
    steps = [
        TaskStep(task_id, tasks[task_id].number, tasks[task_id].title, was, becomes)
        for task_id, was, becomes in changes
    ]
    return Command(
        id=made,
        action=what,
        at=now,
        undone_at=None,
        reverts=_action(rows),
        steps=sorted(steps, key=lambda step: step.number),
    )


def _action(rows: list[tuple[TaskChange, Task, Any]]) -> str:
    """What the command of ROWS was: the action of its first row (a `done` that made the
    next occurrence of a task also wrote a `recur` row)."""
    first: TaskChange = min((change for change, _, _ in rows), key=lambda change: change.id or 0)
    return first.action
