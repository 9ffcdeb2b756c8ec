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
first row is written, and rows go in a thousand at a time (one executemany each).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, TypeVar, cast

from sqlalchemy import Table, false, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from sorted_cli.db import transaction
from sorted_cli.errors import InvalidInput
from sorted_cli.models import NUMBER_MAX, Task, TaskRecord, TaskTag, User
from sorted_cli.services.tasks import stream_tasks

BATCH = 1000
# A number from a file above this is not kept: a task numbered near the column's limit would
# leave no numbers for the tasks added after it.
KEPT_MAX = 1_000_000_000
# Core tables, not ORM classes: an executemany of whole rows, a batch per statement (the ORM's
# bulk insert splits a batch wherever the set of non-null values changes).
_TASKS = cast("Table", Task.__table__)  # type: ignore[attr-defined]
_TAGGINGS = cast("Table", TaskTag.__table__)  # type: ignore[attr-defined]
T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last may be shorter); itertools.batched from 3.12 on."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


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
    records: Sequence[TaskRecord],
    advance: Callable[[int], object] = lambda _done: None,
    written: set[uuid.UUID] | None = None,
) -> ImportResult:
    """Add the records the user does not have yet, in one transaction (see module docstring).
    `advance(n)` is told as each batch of n records is dealt with.

    `written` is for a command that tries again after its COMMIT's answer was lost: it holds
    the UUIDs that its earlier tries wrote (each try adds its own before writing them), and a
    task found already there with one of them counts as added by this import, not as one the
    user had."""
    written = set() if written is None else written
    try:
        return _import(session, user, records, advance, written)
    except IntegrityError:  # pragma: postgres
        # Another user's import of the same UUIDs committed after this one found them free
        # (its rows were not visible yet) and before this one's insert: name the task as the
        # check does when they are already there.
        session.rollback()
        _new_records(session, user, records)
        raise


def _import(
    session: Session,
    user: User,
    records: Sequence[TaskRecord],
    advance: Callable[[int], object],
    written: set[uuid.UUID],
) -> ImportResult:
    with transaction(session):
        counter = session.exec(  # locks the user's row: adds wait until the import is done
            select(User.last_task_number).where(col(User.id) == user.id).with_for_update()
        ).one()
        new, found = _new_records(session, user, records)
        numbers = _numbers(session, user, new, counter)
        advance(len(records) - len(new))
        written.update(record.id for record in new)
        for batch in batched(new, BATCH):
            session.execute(_TASKS.insert(), [_task_row(user, record, numbers) for record in batch])
            tags = [
                {"task_id": record.id, "name": name, "user_id": user.id}
                for record in batch
                for name in record.tags
            ]
            if tags:
                session.execute(_TAGGINGS.insert(), tags)
            advance(len(batch))
        if numbers:
            top = max(counter, *numbers.values())
            session.execute(
                update(User).where(col(User.id) == user.id).values(last_task_number=top)
            )
        session.commit()
    mine = {r.id: r for r in reversed(records) if r.id in found and r.id in written}
    earlier = list(mine.values())  # what an earlier try of this import saved
    numbers.update((record.id, found[record.id]) for record in earlier)
    added = [*new, *earlier]
    renumbered = sum(1 for record in added if record.number not in (None, numbers[record.id]))
    return ImportResult(added=len(added), present=len(records) - len(added), renumbered=renumbered)


def _new_records(
    session: Session, user: User, records: Sequence[TaskRecord]
) -> tuple[list[TaskRecord], dict[uuid.UUID, int]]:
    """The records to add (each UUID once), and the numbers of those the user already has."""
    unique = list({record.id: record for record in reversed(records)}.values())[::-1]
    found: dict[uuid.UUID, int] = {}
    for batch in batched([record.id for record in unique], BATCH):
        query = select(Task.id, Task.user_id, Task.number).where(col(Task.id).in_(batch))
        for task_id, owner, number in session.exec(query):
            if owner != user.id:
                raise InvalidInput(f"Task {task_id} belongs to another user; nothing was imported.")
            found[task_id] = number
    return [record for record in unique if record.id not in found], found


def _numbers(
    session: Session, user: User, records: list[TaskRecord], counter: int
) -> dict[uuid.UUID, int]:
    """The number each new task gets: its own when free, else the next after all others."""
    wanted = {record.number for record in records if record.number is not None}
    taken: set[int] = set()
    for batch in batched(sorted(number for number in wanted if number <= counter), BATCH):
        used = select(Task.number).where(col(Task.user_id) == user.id, col(Task.number).in_(batch))
        taken.update(session.exec(used))
    numbers: dict[uuid.UUID, int] = {}
    kept: set[int] = set()
    for record in records:
        number = record.number
        if number is None or number > KEPT_MAX or number in taken or number in kept:
            continue
        numbers[record.id] = number
        kept.add(number)
    following = max(counter, *kept) if kept else counter
    for record in records:
        if record.id not in numbers:
            following += 1
            numbers[record.id] = following
    if following > NUMBER_MAX:
        raise InvalidInput(f"Task numbers would pass {NUMBER_MAX}; nothing was imported.")
    return numbers


def _task_row(user: User, record: TaskRecord, numbers: dict[uuid.UUID, int]) -> dict[str, Any]:
    return {
        "id": record.id,
        "user_id": user.id,
        "number": numbers[record.id],
        "title": record.title,
        "description": record.description,
        "priority": record.priority,
        "due": record.due,
        "completed": record.completed,
        "completed_at": record.completed_at,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "is_deleted": record.deleted,
        "deleted_at": record.deleted_at,
    }
