"""Export and import of one user's tasks.

Export streams (`services.tasks.stream_tasks`, as `list` does for every match): rows come
from the database in batches and go out as they come, so memory stays flat.

Import is one transaction and idempotent: a task's UUID is its identity, so a task the user
already has is left exactly as it is, and importing the same file twice changes nothing (a
try repeated after its COMMIT's answer was lost still counts what its first try saved: see
`written`).
Numbers are kept when the user has no task with that number (and it is at most a billion);
the others (and tasks that come without one) take the next free numbers, after every kept
one. A UUID that belongs to another user's task is an error. Everything is checked before the
first row is written: the file while it is staged (`sorted_cli.staging`, before the database
is touched), the UUIDs and numbers against the user's tasks at the start of the transaction.
Rows go in a thousand tasks at a time (one executemany each, and one each for their tags and
their notes), read from the stage as they go, so memory stays that of a batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy import Table, false, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sorted_cli.db import on_postgres, transaction
from sorted_cli.errors import InvalidInput
from sorted_cli.models import (
    NUMBER_MAX,
    PUBLIC_COLUMNS,
    Task,
    TaskNote,
    TaskRecord,
    TaskTag,
    User,
    utcnow,
)
from sorted_cli.services import history
from sorted_cli.services.tasks import stream_tasks

if TYPE_CHECKING:
    from sorted_cli.staging import StagedTasks

# A number from a file above this is not kept: a task numbered near the column's limit would
# leave no numbers for the tasks added after it.
KEPT_MAX = 1_000_000_000
# Core tables, not ORM classes: an executemany of whole rows, a batch per statement (the ORM's
# bulk insert splits a batch wherever the set of non-null values changes).
_TASKS = cast("Table", Task.__table__)  # type: ignore[attr-defined]
_TAGGINGS = cast("Table", TaskTag.__table__)  # type: ignore[attr-defined]
_NOTES = cast("Table", TaskNote.__table__)  # type: ignore[attr-defined]


def count_tasks(*, session: Session, user: User, include_deleted: bool) -> int:
    statement = select(func.count()).select_from(Task).where(*_scope(user, include_deleted))
    return int(session.exec(statement).one())


def _scope(user: User, include_deleted: bool) -> list[Any]:
    owned = [col(Task.user_id) == user.id]
    return owned if include_deleted else [*owned, col(Task.is_deleted) == false()]


def export_tasks(
    *, session: Session, user: User, include_deleted: bool
) -> Iterator[dict[str, Any]]:
    """The user's tasks (open and completed; the trash too with `include_deleted`), in
    number order, each as its JSON view, streamed (`stream_tasks`)."""
    return stream_tasks(session, _scope(user, include_deleted), [col(Task.number).asc()])


@dataclass(frozen=True)
class ImportResult:
    added: int
    present: int  # tasks the user already had (same UUID), left as they are
    renumbered: int  # added tasks that could not keep their number


def import_tasks(
    *,
    session: Session,
    user: User,
    staged: StagedTasks,
    advance: Callable[[int], object] = lambda _done: None,
) -> ImportResult:
    """Add the staged tasks the user does not have yet, in one transaction (see module
    docstring), reading them from the stage a batch at a time. `advance(n)` is told as each
    batch of n tasks is dealt with.

    A command that tries again after its COMMIT's answer was lost passes the same stage: it
    remembers what earlier tries wrote, and a task found already there among those counts as
    added by this import, not as one the user had."""
    try:
        return _import(session, user, staged, advance)
    except IntegrityError:  # pragma: postgres
        # Another user's import of the same UUIDs committed after this one found them free
        # (its rows were not visible yet) and before this one's insert: name the task as the
        # check does when they are already there.
        session.rollback()
        staged.start_over()
        _find_present(session, user, staged)
        raise


def _import(
    session: Session, user: User, staged: StagedTasks, advance: Callable[[int], object]
) -> ImportResult:
    staged.start_over()  # an attempt that failed was rolled back: what it learnt may be stale
    with transaction(session):  # on SQLite: the write lock, from here to the commit
        counter = session.exec(  # locks the user's row: adds wait until the import is done
            select(User.last_task_number).where(col(User.id) == user.id).with_for_update()
        ).one()
        _find_present(session, user, staged)
        _find_taken(session, user, staged, counter)
        top = staged.number(counter=counter, kept_max=KEPT_MAX)
        if top > NUMBER_MAX:
            raise InvalidInput(f"Task numbers would pass {NUMBER_MAX}; nothing was imported.")
        staged.mark_written()
        added, present, renumbered = staged.counts()
        advance(staged.count - staged.new_count())  # those the user has: nothing to do
        now = utcnow()
        occurrences: set[tuple[uuid.UUID, int]] = set()  # taken by this import so far
        for batch in staged.new():
            batch = _free_occurrences(session, batch, occurrences)
            _insert_recorded(session, user, now, [(record, number) for record, number in batch])
            tags = [
                {"task_id": record.id, "name": name, "user_id": user.id}
                for record, _number in batch
                for name in record.tags
            ]
            if tags:
                session.execute(_TAGGINGS.insert(), tags)
            notes = [row for record, _number in batch for row in _note_rows(user, record)]
            if notes:
                session.execute(_NOTES.insert(), notes)
            advance(len(batch))
        if top > counter:
            session.execute(
                update(User).where(col(User.id) == user.id).values(last_task_number=top)
            )
        session.commit()
    return ImportResult(added=added, present=present, renumbered=renumbered)


def _insert_recorded(
    session: Session, user: User, now: datetime, batch: list[tuple[TaskRecord, int]]
) -> None:
    """Insert a batch of tasks and their history rows (an import, undone by moving them to
    the trash): on PostgreSQL in one statement, on SQLite in two of the same transaction."""
    rows = [_task_row(user, record, number) for record, number in batch]
    if on_postgres(session):  # pragma: postgres
        inserted = _TASKS.insert().values(rows).returning(*_TASKS.c).cte("inserted")
        recorded = history.recorded_in_statement(
            session, user, history.IMPORT, now, inserted, before=None, keys=history.ADDED_KEYS
        )
        session.execute(sa.select(sa.func.count()).select_from(inserted).add_cte(recorded))
        return
    session.execute(_TASKS.insert(), rows)
    history.record(
        session,
        user,
        history.IMPORT,
        now,
        [
            (record.id, None, {key: getattr(record, key) for key in history.ADDED_KEYS})
            for record, _number in batch
        ],
        applied_at={record.id: record.updated_at for record, _number in batch},  # type: ignore[misc]
    )


def _free_occurrences(
    session: Session,
    batch: list[tuple[TaskRecord, int]],
    taken: set[tuple[uuid.UUID, int]],
) -> list[tuple[TaskRecord, int]]:
    """BATCH, each task that comes as an occurrence some task already is (in the database,
    or earlier in this import: no two tasks share an occurrence of a series) coming in without
    its iteration: it keeps its series, but not that place in it (a Taskwarrior instance of
    a series whose next time `done` has made already)."""

    def occurrence(record: TaskRecord) -> tuple[uuid.UUID, int] | None:
        if record.series_id is None or record.iteration is None:
            return None
        return (record.series_id, record.iteration)

    wanted = {pair for record, _number in batch if (pair := occurrence(record)) is not None}
    if not wanted:
        return batch
    there = session.exec(
        select(Task.series_id, Task.iteration).where(
            col(Task.series_id).in_({pair[0] for pair in wanted})
        )
    )
    taken |= {pair for pair in there if pair in wanted}
    freed = []
    for record, number in batch:
        pair = occurrence(record)
        if pair in taken:
            record = record.model_copy(update={"iteration": None})
        elif pair is not None:
            taken.add(pair)
        freed.append((record, number))
    return freed


def _find_present(session: Session, user: User, staged: StagedTasks) -> None:
    """Mark the staged tasks the user has already, with their numbers; one of another user's
    is an error."""
    for batch in staged.ids():
        query = select(Task.id, Task.user_id, Task.number).where(col(Task.id).in_(batch))
        found: dict[uuid.UUID, int] = {}
        for task_id, owner, number in session.exec(query):
            if owner != user.id:
                raise InvalidInput(f"Task {task_id} belongs to another user; nothing was imported.")
            found[task_id] = number
        staged.mark_present(found)


def _find_taken(session: Session, user: User, staged: StagedTasks, counter: int) -> None:
    """Tell the stage which of the numbers its new tasks ask for the user's tasks have."""
    for batch in staged.wanted_numbers(up_to=counter):
        used = select(Task.number).where(col(Task.user_id) == user.id, col(Task.number).in_(batch))
        staged.mark_taken(session.exec(used))


def _task_row(user: User, record: TaskRecord, number: int) -> dict[str, Any]:
    """The row of a task coming in: its public fields in their columns (`PUBLIC_COLUMNS`)."""
    row = {column: getattr(record, key) for key, column in PUBLIC_COLUMNS.items()}
    return {**row, "user_id": user.id, "number": number}


def _note_rows(user: User, record: TaskRecord) -> list[dict[str, Any]]:
    """The rows of a task's notes. Notes of one moment are read back in the order of their
    ids: given in ascending order here, they keep the file's order."""
    ids = sorted(uuid.uuid4() for _ in record.notes)
    return [
        {
            "id": note_id,
            "task_id": record.id,
            "user_id": user.id,
            "created_at": note.at,
            "text": note.text,
        }
        for note_id, note in zip(ids, record.notes, strict=True)
    ]
