"""Urgency: how much a task asks to be done now, for `sorted next` and `sorted show`.

A task's urgency is the sum of these terms (weights in `WEIGHTS`), rounded to one decimal:

    due       12.0 when overdue or due now, falling linearly to 2.4 (0.2x) at 14 days out,
              and 2.4 beyond; 0 without a due date. A due with a time counts from that moment;
              a whole-day due counts in whole days from today (due today is due now).
    priority  high 6.0, medium 3.5, low 1.5, none 0.
    age       2.0 * min(age in days, 365) / 365: up to 2.0 for a task a year old or older.
    +next     15.0 for a task tagged `next`: it goes to the top.
    tagged    0.5 for a task with any tag.
    started   1.0 for a task scheduled for now or earlier (`--scheduled` has come).

The database computes it for `next` (`urgency_column`, so the order and the limit are the
database's), and Python computes it term by term for `show` (`explain`). Both evaluate the same
formula (`_terms`), over the same whole seconds (`_epoch_seconds`, `_EpochSeconds`), with the
same floating-point operations in the same order, so they agree to the last digit; the total
is rounded half away from zero (`floor(10 * total + 0.5) / 10`: every term is 0 or more).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import reduce
from operator import add
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from sorted_cli.choices import DEFAULT_NEXT, Priority, SortKey
from sorted_cli.models import NotePublic, Task, TaskTag, User
from sorted_cli.services.tasks import (
    JOINED_TAGS,
    TASK_NOTES,
    TaskPage,
    TaskQuery,
    query_conditions,
    sort_ordering,
    split_notes,
    split_tags,
)

WEIGHTS: dict[str, float] = {
    "due": 12.0,  # overdue or due now
    "due far": 2.4,  # due DUE_DAYS or more days out (0.2x)
    Priority.high.value: 6.0,
    Priority.medium.value: 3.5,
    Priority.low.value: 1.5,
    "age": 2.0,  # AGE_DAYS old or older
    "next": 15.0,  # tagged NEXT_TAG
    "tagged": 0.5,  # any tag
    "started": 1.0,  # scheduled for now or earlier
}
DUE_DAYS = 14  # the due term falls from WEIGHTS["due"] to WEIGHTS["due far"] over these days
AGE_DAYS = 365  # the age term grows to WEIGHTS["age"] over these days
NEXT_TAG = "next"

_DAY = 86400.0
_SLOPE = (WEIGHTS["due"] - WEIGHTS["due far"]) / DUE_DAYS
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Choose = Callable[[Any, Any, Any], Any]  # (condition, value if it holds, value otherwise)


@dataclass(frozen=True)
class Urgency:
    """A task's urgency (`total`) and its terms, each with what it counts: `due in 2 days`."""

    total: float
    terms: list[tuple[str, float]]


@dataclass(frozen=True)
class NextTasks:
    """What `sorted next` shows: the tasks most urgent first (a page of `list`'s kind, with
    nothing left out counted) and the urgency of each."""

    page: TaskPage
    urgency: dict[uuid.UUID, float]

    def urgency_of(self, task: Task) -> float:
        return self.urgency[task.id]


def _terms(
    *,
    has_due: Any,
    due_days: Any,
    priority: Any,
    age_days: Any,
    has_next: Any,
    has_tags: Any,
    started: Any,
    choose: Choose,
) -> list[Any]:
    """The terms of the urgency, in the order they are added up, over floats (for Python) or
    over SQL expressions (for the database), with CHOOSE as `if` or as CASE."""
    due_score = choose(
        due_days <= 0,
        WEIGHTS["due"],
        choose(due_days >= DUE_DAYS, WEIGHTS["due far"], WEIGHTS["due"] - _SLOPE * due_days),
    )
    aged = choose(age_days >= AGE_DAYS, float(AGE_DAYS), choose(age_days <= 0, 0.0, age_days))
    return [
        choose(has_due, due_score, 0.0),
        priority,
        WEIGHTS["age"] * aged / float(AGE_DAYS),
        choose(has_next, WEIGHTS["next"], 0.0),
        choose(has_tags, WEIGHTS["tagged"], 0.0),
        choose(started, WEIGHTS["started"], 0.0),
    ]


def _total(terms: Sequence[Any], floor: Callable[[Any], Any]) -> Any:
    """The sum of TERMS rounded to one decimal, half away from zero (the terms are >= 0)."""
    return floor(reduce(add, terms) * 10.0 + 0.5) / 10.0


# ------------------------------------------------------------------------------ in Python


def _if(condition: Any, then: Any, otherwise: Any) -> Any:
    return then if condition else otherwise


def _epoch_seconds(moment: datetime) -> float:
    """Whole seconds since 1970 of MOMENT, as the database counts them (`_EpochSeconds`):
    rounded to the millisecond first, then down to the second."""
    microseconds = (moment - _EPOCH) // timedelta(microseconds=1)
    return float(((microseconds + 500) // 1000) // 1000)


def _due_days(task: Task, *, now: datetime, today: date) -> float:
    if task.due_at is not None:
        return (_epoch_seconds(task.due_at) - _epoch_seconds(now)) / _DAY
    assert task.due is not None
    return float((task.due - today).days)


def explain(task: Task, tags: list[str], *, now: datetime, today: date | None = None) -> Urgency:
    """TASK's urgency and its terms (those that count), as `next` computes it in the
    database; TODAY is the local day whole-day dues count from (by default NOW's)."""
    today = today if today is not None else now.astimezone().date()
    has_due = task.due is not None
    age_days = (_epoch_seconds(now) - _epoch_seconds(task.created_at)) / _DAY
    terms = _terms(
        has_due=has_due,
        due_days=_due_days(task, now=now, today=today) if has_due else 0.0,
        priority=WEIGHTS.get(task.priority.value, 0.0),
        age_days=age_days,
        has_next=NEXT_TAG in tags,
        has_tags=bool(tags),
        started=task.scheduled is not None and task.scheduled <= now,
        choose=_if,
    )
    total = _total(terms, math.floor)
    words = [
        _due_words(task, now=now, today=today) if has_due else "",
        f"priority {task.priority.value}",
        f"age {_days_words(age_days)}",
        f"+{NEXT_TAG}",
        "tagged",
        "started",
    ]
    return Urgency(
        total, [(word, value) for word, value in zip(words, terms, strict=True) if value]
    )


def _due_words(task: Task, *, now: datetime, today: date) -> str:
    days = _due_days(task, now=now, today=today)
    if days < 0:
        return f"overdue {_days_words(-days)}"
    if task.due_at is None:
        return {0: "due today", 1: "due tomorrow"}.get(int(days), f"due in {int(days)} days")
    return "due now" if days < 1 / 24 else f"due in {_days_words(days)}"


def _days_words(days: float) -> str:
    """A span of DAYS for people: `3 hours`, `1 day`, `12 days`."""
    if days < 1:
        hours = max(int(days * 24), 1) if days > 0 else 0
        return f"{hours} hour{'' if hours == 1 else 's'}"
    whole = int(days)
    return f"{whole} day{'' if whole == 1 else 's'}"


# --------------------------------------------------------------------------- in the database


class _EpochSeconds(FunctionElement[float]):
    """Whole seconds since 1970 of a stored moment, as a float: rounded to the millisecond
    first, as SQLite's strftime('%s') does, then down to the second."""

    name = "epoch_seconds"
    inherit_cache = True
    type = sa.Float()


@compiles(_EpochSeconds)
def _epoch_seconds_on_sqlite(element: _EpochSeconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS REAL)"


@compiles(_EpochSeconds, "postgresql")
def _epoch_seconds_on_postgres(
    element: _EpochSeconds, compiler: SQLCompiler, **kw: Any
) -> str:  # pragma: postgres
    moment = compiler.process(element.clauses, **kw)
    milliseconds = f"round(CAST(EXTRACT(EPOCH FROM {moment}) AS NUMERIC) * 1000)"
    return f"CAST(floor({milliseconds} / 1000) AS DOUBLE PRECISION)"


class _DaysBetween(FunctionElement[float]):
    """Whole days from the second day to the first, as a float."""

    name = "days_between"
    inherit_cache = True
    type = sa.Float()


@compiles(_DaysBetween)
def _days_between_on_sqlite(element: _DaysBetween, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


@compiles(_DaysBetween, "postgresql")
def _days_between_on_postgres(
    element: _DaysBetween, compiler: SQLCompiler, **kw: Any
) -> str:  # pragma: postgres
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(({later} - {earlier}) AS DOUBLE PRECISION)"


class _Floor(FunctionElement[float]):
    """The largest whole number at most a value of 0 or more, as a float."""

    name = "floor"
    inherit_cache = True
    type = sa.Float()


@compiles(_Floor)
def _floor_on_sqlite(element: _Floor, compiler: SQLCompiler, **kw: Any) -> str:
    # floor() is SQLite's only when built with its math functions; CAST truncates (x >= 0).
    return f"CAST(CAST({compiler.process(element.clauses, **kw)} AS INTEGER) AS REAL)"


@compiles(_Floor, "postgresql")
def _floor_on_postgres(
    element: _Floor, compiler: SQLCompiler, **kw: Any
) -> str:  # pragma: postgres
    return f"floor({compiler.process(element.clauses, **kw)})"


def _case(condition: Any, then: Any, otherwise: Any) -> Any:
    return sa.case((condition, _real(then)), else_=_real(otherwise))


def _real(value: Any) -> Any:
    """A float as a typed bind (PostgreSQL: double precision), an expression as it is."""
    return sa.literal(value, sa.Float()) if isinstance(value, float) else value


def _tagged(*names: str) -> ColumnElement[bool]:
    tags = (
        sa.select(col(TaskTag.task_id))
        .where(col(TaskTag.task_id) == col(Task.id))
        .correlate(Task)  # the task of the row
    )
    if names:
        tags = tags.where(col(TaskTag.name).in_(names))
    return tags.exists()


def urgency_column(now: datetime, *, today: date | None = None) -> ColumnElement[float]:
    """The urgency of each task as the database computes it (equal to `explain`'s total)."""
    today = today if today is not None else now.astimezone().date()
    now_seconds = sa.literal(_epoch_seconds(now), sa.Float())
    due_at = col(Task.due_at)
    due_days = sa.case(
        (due_at.is_not(None), (_EpochSeconds(due_at) - now_seconds) / _real(_DAY)),
        else_=_DaysBetween(col(Task.due), sa.literal(today, sa.Date())),
    )
    priority = sa.case(
        {p.value: _real(WEIGHTS[p.value]) for p in (Priority.high, Priority.medium, Priority.low)},
        value=col(Task.priority),
        else_=_real(0.0),
    )
    terms = _terms(
        has_due=col(Task.due).is_not(None),
        due_days=due_days,
        priority=priority,
        age_days=(now_seconds - _EpochSeconds(col(Task.created_at))) / _real(_DAY),
        has_next=_tagged(NEXT_TAG),
        has_tags=_tagged(),
        started=sa.and_(col(Task.scheduled).is_not(None), col(Task.scheduled) <= now),
        choose=_case,
    )
    total: ColumnElement[float] = _total([_real(term) for term in terms], _Floor)
    return total.label("urgency")


def next_tasks(
    *,
    session: Session,
    user: User,
    now: datetime,
    today: date | None = None,
    limit: int | None = DEFAULT_NEXT,
    tags: tuple[str, ...] = (),
    priorities: tuple[Priority, ...] = (),
) -> NextTasks:
    """The LIMIT open tasks to do now, most urgent first (then by due, then by number), with
    their tags, notes and urgency, in one statement: waiting tasks and those scheduled later
    are left out, as `list --ready` leaves them; TAGS and PRIORITIES filter as `list`'s do."""
    today = today if today is not None else now.astimezone().date()
    query = TaskQuery(ready=True, tags=tags, priorities=priorities, now=now, today=today)
    urgency = urgency_column(now, today=today)
    statement = (
        sa.select(Task, JOINED_TAGS, TASK_NOTES, urgency)
        .where(*query_conditions(user, query))
        .order_by(urgency.desc(), *sort_ordering(SortKey.due))
        .limit(limit)  # None: all of them
    )
    rows = list(session.execute(statement))
    found_tags = {row[0].id: split_tags(row[1]) for row in rows if row[1]}
    notes: dict[uuid.UUID, list[NotePublic]] = {
        row[0].id: split_notes(row[2]) for row in rows if row[2]
    }
    page = TaskPage(tasks=[row[0] for row in rows], more=0, tags=found_tags, notes=notes)
    return NextTasks(page, {row[0].id: float(row[3]) for row in rows})
