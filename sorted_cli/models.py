"""Tables and the shapes of data going in and out of them.

Per entity: a Base with the user-editable fields, a Create (and Update) shape that validates
what the user typed, the table model, and a Public shape that is the stable JSON view.
Validation happens in the Create/Update shapes; table models trust what the services give them.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import ValidationError, field_validator, model_validator
from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Index, Integer, String, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from sorted_cli.choices import Priority
from sorted_cli.errors import InvalidInput
from sorted_cli.recurrence import RULE_MAX, canonical, needs_a_due_date
from sorted_cli.tags import TAG_MAX, normalise_tags

# Deterministic constraint names, so migrations (and SQLite batch mode) can refer to them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TITLE_MAX = 500
DESCRIPTION_MAX = 10_000
NOTE_MAX = 10_000
EMAIL_MAX = 320
NAME_MAX = 200
NUMBER_MAX = 2**31 - 1  # the number column is a 32-bit integer
# Local part: anything but white space, control characters and `@`; domain: DNS labels.
_EMAIL = re.compile(
    r"[^@\s\x00-\x1f\x7f-\x9f]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*"
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone: store UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("sorted stores timezone-aware timestamps only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PriorityType(TypeDecorator[Priority]):
    """Priority stored as its name in a short string column."""

    impl = String(6)
    cache_ok = True

    def process_bind_param(self, value: Priority | str | None, dialect: Dialect) -> str | None:
        return None if value is None else Priority(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> Priority | None:
        return None if value is None else Priority(value)


# ---------------------------------------------------------------------------------- users


class UserBase(SQLModel):
    email: str = Field(max_length=EMAIL_MAX)
    name: str | None = Field(default=None, max_length=NAME_MAX)


def normalise_email(value: str) -> str:
    """Emails are unique case-insensitively: store and compare them stripped and lower-case."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise ValueError(f"{value.strip()!r} is not a valid email address")
    return email


class UserCreate(UserBase):
    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return (value.strip() or None) if isinstance(value, str) else value


class User(UserBase, table=True):
    __tablename__: ClassVar[str] = "users"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    email: str = Field(max_length=EMAIL_MAX, unique=True, index=True)
    last_task_number: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    is_deleted: bool = Field(default=False)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserPublic(SQLModel):
    """The stable JSON view of a user."""

    id: uuid.UUID
    email: str
    name: str | None
    created_at: datetime
    updated_at: datetime


# ---------------------------------------------------------------------------------- tasks


class TaskBase(SQLModel):
    title: str = Field(max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    priority: Priority = Field(default=Priority.none, sa_type=PriorityType, nullable=False)
    due: date | None = None
    # UTC moments: hidden from the open list until `wait`; not to be started before
    # `scheduled`; due at `due_at` when the due has a time (`due` is then its local day).
    wait: datetime | None = Field(default=None, sa_type=UTCDateTime)
    scheduled: datetime | None = Field(default=None, sa_type=UTCDateTime)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def _storable(field: str, text: str) -> str:
    """Text every backend can store: PostgreSQL refuses NUL, and a lone surrogate (half of a
    UTF-16 pair, possible in JSON) is not Unicode text at all."""
    if "\x00" in text:
        raise ValueError(f"the {field} contains a NUL character (\\u0000)")
    if any("\ud800" <= character <= "\udfff" for character in text):
        raise ValueError(f"the {field} contains a lone surrogate, which is not text")
    return text


def _required_text(field: str, value: object, maximum: int) -> object:
    """Text that must hold something once stripped, and at most MAXIMUM characters."""
    if not isinstance(value, str):
        return value
    text = _storable(field, value).strip()
    if not text:
        raise ValueError(f"the {field} must not be empty")
    if len(text) > maximum:
        raise ValueError(f"the {field} is {len(text)} characters long; at most {maximum} fit")
    return text


def _clean_title(value: object) -> object:
    return _required_text("title", value, TITLE_MAX)


def _clean_description(value: object) -> object:
    if not isinstance(value, str):
        return value
    description = _storable("description", value).strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValueError(
            f"the description is {len(description)} characters long; at most {DESCRIPTION_MAX} fit"
        )
    return description or None


def _clean_note(value: object) -> object:
    return _required_text("note", value, NOTE_MAX)


def _clean_rule(value: object) -> object:
    return canonical(value) if isinstance(value, str) else value


def _ends_need_a_rule(every: str | None, until: date | None, times: int | None) -> None:
    if every is None and (until is not None or times is not None):
        raise ValueError("--until and --times end a repeating task: give --every too")


def ends_after_due(until: date | None, due: date | None) -> None:
    """Refuse (ValueError) a series' end before its due date (add, edit)."""
    if until is not None and due is not None and until < due:
        raise ValueError(
            f"--until {until.isoformat()} is before the due date {due.isoformat()}: "
            "a series cannot end before it starts"
        )


def _utc(value: datetime | None) -> datetime | None:
    """A moment from a file in UTC; one without a zone is taken to be UTC already."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first UTC moment
        raise ValueError(f"{value.isoformat()} is out of range") from None


class TaskCreate(TaskBase):
    tags: list[str] = []
    every: str | None = None
    until: date | None = None
    times: int | None = Field(default=None, ge=1, le=NUMBER_MAX)

    _title = field_validator("title", mode="before")(_clean_title)
    _description = field_validator("description", mode="before")(_clean_description)
    _tags = field_validator("tags", mode="before")(normalise_tags)
    _every = field_validator("every", mode="before")(_clean_rule)

    @model_validator(mode="after")
    def _repeats(self) -> TaskCreate:
        _ends_need_a_rule(self.every, self.until, self.times)
        ends_after_due(self.until, self.due)
        if self.every is not None and self.due is None and needs_a_due_date(self.every):
            raise ValueError(
                "a task that repeats from its due date needs one: give --due, "
                f"or --every '{self.every} after done'"
            )
        return self


class TaskUpdate(SQLModel):
    """Only the fields that were set change; `due=None` set explicitly clears the due date."""

    title: str | None = None
    description: str | None = None
    priority: Priority | None = None
    due: date | None = None
    wait: datetime | None = None
    scheduled: datetime | None = None
    due_at: datetime | None = None
    every: str | None = None  # None set explicitly: the task stops repeating
    until: date | None = None
    times: int | None = Field(default=None, ge=1, le=NUMBER_MAX)

    _title = field_validator("title", mode="before")(_clean_title)
    _description = field_validator("description", mode="before")(_clean_description)
    _every = field_validator("every", mode="before")(_clean_rule)


class Task(TaskBase, table=True):
    __tablename__: ClassVar[str] = "tasks"
    __table_args__ = (
        UniqueConstraint("user_id", "number"),
        # Serves `sorted list` (open, completed or trash; ordered by number) for one user.
        Index(
            "ix_tasks_user_id_is_deleted_completed_number",
            "user_id",
            "is_deleted",
            "completed",
            "number",
        ),
        # Serve `list --completed-since` and `stats` (completed_at), `--overdue`, `--today`
        # and `--due-before` (due) without reading the user's other tasks.
        Index("ix_tasks_user_id_completed_at", "user_id", "completed_at"),
        Index("ix_tasks_user_id_due", "user_id", "due"),
        # Serves the count of waiting tasks the open list hides, and `list --waiting`.
        Index("ix_tasks_user_id_wait", "user_id", "wait"),
        # One task per occurrence of a series: a retried or a concurrent `done` of a
        # recurring task can never make its successor twice (sorted_cli.services.recurring).
        Index("uq_tasks_series_id_iteration", "series_id", "iteration", unique=True),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False)
    number: int = Field(nullable=False)
    completed: bool = Field(default=False)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    is_deleted: bool = Field(default=False)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Recurrence (sorted_cli.recurrence): the rule, its end, the day monthly rules count
    # from, and which occurrence of which series this task is.
    every: str | None = Field(default=None, max_length=RULE_MAX)
    until: date | None = None
    times: int | None = None
    anchor: date | None = None
    series_id: uuid.UUID | None = None
    iteration: int | None = None


class TaskTag(SQLModel, table=True):
    """One tag on one task.

    There is no table of tag names: a tag exists while some task carries it, so nothing is
    left to tidy when the last task loses it. The owner is kept on the row so that both
    questions asked of tags are one index range each, on SQLite and PostgreSQL alike: "which
    of my tasks carry tag X" (`user_id, name` -> `task_id`) and "which tags do I use"
    (completion, `user_id` -> distinct `name`). The primary key `(task_id, name)` serves
    "which tags does this task carry".
    """

    __tablename__: ClassVar[str] = "task_tags"
    __table_args__ = (Index("ix_task_tags_user_id_name_task_id", "user_id", "name", "task_id"),)

    task_id: uuid.UUID = Field(foreign_key="tasks.id", primary_key=True, ondelete="CASCADE")
    name: str = Field(max_length=TAG_MAX, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, ondelete="CASCADE")


class TaskChange(SQLModel, table=True):
    """What one command did to one task: the history behind `undo`, `redo`, `log` and
    `show --history` (see `sorted_cli.services.history`).

    `before` and `after` hold the fields the command changed, under their public keys (the
    JSON view's), before and after it; `before` is null for a task the command added. A note
    is held under `note` (a `NoteInHistory`; null where there is none: before a `note`). A
    command's rows share its `command_id`; the row is written in the statement or the
    transaction that makes the change. `applied_at` is the task's `updated_at` once the change
    took effect (again, after a redo), `undone_at` when it was undone (null while it stands).
    Rows of `undo` and `redo` themselves (`action` "undo" or "redo", naming in `reverts` the
    command they reverted) are history only: they are never undone.
    """

    __tablename__: ClassVar[str] = "task_changes"
    __table_args__ = (
        # A retried command never records a change twice; one command may change a task in
        # more than one way (a script's session, the successor of a recurring task).
        UniqueConstraint("command_id", "task_id", "action"),
        Index("ix_task_changes_user_id_id", "user_id", "id"),  # a user's latest commands
        Index("ix_task_changes_task_id_id", "task_id", "id"),  # a task's history
    )

    id: int | None = Field(
        default=None,
        primary_key=True,
        sa_type=BigInteger().with_variant(Integer(), "sqlite"),  # SQLite: its rowid
    )
    command_id: uuid.UUID = Field(nullable=False)
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, ondelete="CASCADE")
    task_id: uuid.UUID = Field(foreign_key="tasks.id", nullable=False, ondelete="CASCADE")
    action: str = Field(max_length=16)
    at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    applied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    undone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reverts: uuid.UUID | None = None


class TaskNote(SQLModel, table=True):
    """One note on one task: what happened, when (the description says what the task is).

    The owner is kept on the row, as on task_tags, so that deleting a user takes their notes
    without a join. A task's notes are read in time order through `(task_id, created_at)`.
    """

    __tablename__: ClassVar[str] = "task_notes"
    __table_args__ = (Index("ix_task_notes_task_id_created_at", "task_id", "created_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    task_id: uuid.UUID = Field(foreign_key="tasks.id", nullable=False, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="users.id", nullable=False, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    text: str = Field(max_length=NOTE_MAX)


class NoteCreate(SQLModel):
    """A note the user typed: its text (named `note` so that an error says "Invalid note")."""

    note: str

    _note = field_validator("note", mode="before")(_clean_note)


class NotePublic(SQLModel):
    """A note in the JSON view of its task: when it was written (UTC) and what it says."""

    at: datetime
    text: str


class NoteInHistory(NotePublic):
    """A note as the history keeps it (the `note` key of a `TaskChange`): its JSON view and
    the id of its row, so that a redo puts back that very row (notes of one moment are read
    in id order). The views of the history show NotePublic's keys only (`public_value`)."""

    id: uuid.UUID


class NoteRecord(NotePublic):
    """A note coming in from a file, checked as a typed one is."""

    _text = field_validator("text", mode="before")(_clean_note)
    _at = field_validator("at")(_utc)


class TaskPublic(SQLModel):
    """The stable JSON view of a task: these keys, in this order, across versions (new keys
    are only ever added at the end). Export writes it and import reads it back."""

    id: uuid.UUID
    number: int
    title: str
    description: str | None
    priority: Priority
    due: date | None
    completed: bool
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted: bool
    deleted_at: datetime | None = None
    tags: list[str] = []
    notes: list[NotePublic] = []  # oldest first
    every: str | None = None  # the repeat rule's canonical text (sorted_cli.recurrence)
    until: date | None = None  # no occurrence after this day
    times: int | None = None  # at most this many occurrences in all
    anchor: date | None = None  # the day a monthly or yearly rule counts from
    series_id: uuid.UUID | None = None  # the series this task is an occurrence of
    iteration: int | None = None  # which occurrence: 1 for the first
    wait: datetime | None = None
    scheduled: datetime | None = None
    due_at: datetime | None = None  # the moment of a due with a time; null for a whole day

    @classmethod
    def of(
        cls,
        task: Task,
        tags: list[str] | tuple[str, ...] = (),
        notes: list[NotePublic] | tuple[NotePublic, ...] = (),
    ) -> TaskPublic:
        values = {key: getattr(task, column) for key, column in PUBLIC_COLUMNS.items()}
        return cls.model_validate({**values, "tags": list(tags), "notes": list(notes)})


# The one definition of a task's public shape is TaskPublic; everything that reads or writes
# that shape derives from it: `list --json` and `show --json` (TaskPublic.of), the streamed
# `list` and `export` (the columns below, turned into JSON by `public_value`), CSV (the keys),
# and import (TaskRecord, written back through the same columns). A new field is added to the
# table and to TaskPublic, and reaches all of them. Where a key and its column differ in name:
_COLUMN_OF_KEY = {"deleted": "is_deleted"}
_COMPUTED_KEYS = frozenset({"tags", "notes"})  # not columns of tasks: task_tags, task_notes
# Each public key but the computed ones -> the Task column it comes from, in the view's order.
PUBLIC_COLUMNS: dict[str, str] = {
    key: _COLUMN_OF_KEY.get(key, key)
    for key in TaskPublic.model_fields
    if key not in _COMPUTED_KEYS
}


PUBLIC_KEYS: tuple[str, ...] = tuple(TaskPublic.model_fields)  # the view's keys, in order


def public_value(value: object) -> object:
    """A column's value as the JSON view writes it: what `TaskPublic.model_dump(mode="json")`
    makes of it (UUIDs and dates as text, a UTC moment as `2026-11-23T09:30:00.123456Z`), for
    the paths that stream rows without building a model per task. A note is its JSON view."""
    if isinstance(value, NotePublic):
        return {key: public_value(getattr(value, key)) for key in NotePublic.model_fields}
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Priority):
        return value.value
    return value


class TaskRecord(TaskPublic):
    """A whole task coming in from a file (`sorted import`): the JSON view, checked.

    Only `id`, `title` and `created_at` are required. `number: null` (or a number the user
    already has) takes the next free number; `updated_at` defaults to `created_at`; a completed
    or deleted task without its moment gets `updated_at`. Timestamps without a zone are UTC.
    Notes are checked as typed ones are and put oldest first (those of one moment in file order).
    A `due_at` without a `due` gives it its local calendar day.
    """

    number: int | None = Field(default=None, ge=1, le=NUMBER_MAX)  # type: ignore[assignment]
    description: str | None = None
    priority: Priority = Priority.none
    due: date | None = None
    completed: bool = False
    completed_at: datetime | None = None
    updated_at: datetime | None = None  # type: ignore[assignment]
    deleted: bool = False

    _title = field_validator("title", mode="before")(_clean_title)
    _description = field_validator("description", mode="before")(_clean_description)
    notes: list[NoteRecord] = []  # type: ignore[assignment]
    times: int | None = Field(default=None, ge=1, le=NUMBER_MAX)
    iteration: int | None = Field(default=None, ge=1, le=NUMBER_MAX)

    _tags = field_validator("tags", mode="before")(normalise_tags)
    _moments = field_validator(
        "created_at", "updated_at", "completed_at", "deleted_at", "wait", "scheduled", "due_at"
    )(_utc)
    _every = field_validator("every", mode="before")(_clean_rule)

    @field_validator("notes")
    @classmethod
    def _oldest_first(cls, notes: list[NoteRecord]) -> list[NoteRecord]:
        return sorted(notes, key=lambda note: note.at)  # stable: notes of one moment keep order

    @model_validator(mode="after")
    def _consistent(self) -> TaskRecord:
        if self.updated_at is None:
            self.updated_at = self.created_at
        if self.due_at is not None and self.due is None:
            try:
                self.due = self.due_at.astimezone().date()
            except OverflowError:  # a moment at the very ends of the calendar
                raise ValueError(f"due_at {self.due_at.isoformat()} is out of range") from None
        if self.completed and self.completed_at is None:
            self.completed_at = self.updated_at
        if not self.completed:
            self.completed_at = None
        if self.deleted and self.deleted_at is None:
            self.deleted_at = self.updated_at
        if not self.deleted:
            self.deleted_at = None
        if self.every is not None and self.series_id is None:
            self.series_id = self.id  # the first occurrence of its own series
        if self.series_id is not None and self.iteration is None:
            self.iteration = 1
        return self


Shape = TypeVar("Shape", bound=SQLModel)


def validated(shape: type[Shape], **values: Any) -> Shape:
    """Build a Create/Update shape from user input; a bad value raises InvalidInput."""
    try:
        return shape.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = error.get("ctx", {}).get("error") or error["msg"]
        if not error["loc"]:  # a rule of the whole shape, not of one field
            text = str(reason)
            raise InvalidInput(f"{text[:1].upper()}{text[1:]}.") from None
        field = error["loc"][0]
        if error["type"] == "string_too_long":  # the same wording as the title's own check
            reason = (
                f"the {field} is {len(error['input'])} characters long; "
                f"at most {error['ctx']['max_length']} fit"
            )
        raise InvalidInput(f"Invalid {field}: {reason}.") from None
