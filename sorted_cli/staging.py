"""The tasks of an import, staged on disk before any is written to the database.

An import reads and checks its whole file before it writes anything (all or nothing), and
numbers the new tasks only once it knows all of them: so the checked tasks wait in a private
scratch SQLite file (a temporary file, removed when closed, that nobody else can open) rather
than in memory, which then stays bounded by a batch however large the file. Reading the file
takes no lock on the user's database; only the writing does (`services.transfer`).

The stage lives where SQLite puts temporary files (SQLITE_TMPDIR, else TMPDIR, else /var/tmp,
/usr/tmp or /tmp) and takes up to about twice the room of the file (each task is kept as compact
JSON without its defaults, plus its UUID and number indexed); a stage that cannot grow there
(a full folder) stops the import with one line, before anything is written.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import ParamSpec, TypeVar

from sorted_cli.errors import InvalidInput, SortedError
from sorted_cli.models import TaskRecord

P = ParamSpec("P")
R = TypeVar("R")

BATCH = 1000

_SCHEMA = """
CREATE TABLE staged (
    seq INTEGER PRIMARY KEY,   -- the order of the file
    id BLOB NOT NULL UNIQUE,
    line INTEGER NOT NULL,
    number INTEGER,            -- the number the file gives, if any
    record TEXT NOT NULL,      -- the checked TaskRecord: compact JSON, defaults left out
    present INTEGER NOT NULL DEFAULT 0,  -- the user has it already
    final INTEGER,             -- the number it gets (or has, when present)
    written INTEGER NOT NULL DEFAULT 0   -- a try of this import wrote it
);
CREATE INDEX staged_number ON staged (number);
CREATE TABLE taken (number INTEGER PRIMARY KEY);  -- numbers the user's tasks have
"""


class StageFailed(SortedError):
    """The import's working copy could not be written: nothing was imported."""


def _stage_folder() -> str:
    """Where SQLite makes its temporary files (its own order, for the message only)."""
    for name in ("SQLITE_TMPDIR", "TMPDIR"):
        if folder := os.environ.get(name):
            return f"{name}={folder}"
    return "the system's temporary folder"


# Where SQLite puts temporary files when neither variable names a usable folder (os_unix.c).
_SQLITE_TEMPORARY_FOLDERS = ("/var/tmp", "/usr/tmp", "/tmp", ".")  # noqa: S108 - SQLite's list


def _temporary_folder() -> str:
    """The folder SQLite would put temporary files in, started with this environment: the first
    of its choices that is a folder this process may write and enter. (SQLite reads the
    variables once per process; one that runs many commands tells it each command's.)"""
    named = [os.environ.get(name) for name in ("SQLITE_TMPDIR", "TMPDIR")]
    for folder in [*filter(None, named), *_SQLITE_TEMPORARY_FOLDERS]:
        if Path(folder).is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return folder
    return ""


def _stage_error(exc: sqlite3.Error) -> StageFailed:
    folder = _stage_folder()
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL:
        return StageFailed(
            f"No space left for the import's working copy in {folder}: nothing was imported; "
            "set TMPDIR to a folder with room."
        )
    return StageFailed(
        f"Cannot write the import's working copy in {folder} ({exc}): nothing was imported; "
        "set TMPDIR to a writable folder with room."
    )


def _on_disk(method: Callable[P, R]) -> Callable[P, R]:
    """METHOD, with SQLite's failures of the stage worded as one line."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            raise _stage_error(exc) from None

    return wrapper


class StagedTasks:
    """The checked tasks of one import file, in file order, each UUID once."""

    @_on_disk
    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)  # "": a private temporary file
        folder = _temporary_folder().replace("'", "''")
        self._db.execute(f"PRAGMA temp_store_directory = '{folder}'")
        self._db.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + _SCHEMA)
        self.count = 0

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StagedTasks:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @_on_disk
    def stage(self, records: Iterator[tuple[int, TaskRecord]], *, name: str) -> None:
        """Keep every (line, task) of RECORDS; a UUID that comes twice is InvalidInput naming
        both lines. Errors are raised in file order: a bad item after a repeated UUID in the
        same batch is reported after it."""
        self._db.execute("BEGIN")
        while True:
            batch: list[tuple[int, TaskRecord]] = []
            try:
                for line, record in records:
                    batch.append((line, record))
                    if len(batch) == BATCH:
                        break
            except InvalidInput:
                self._add(batch, name=name)  # a repeat before the bad item is said first
                raise
            if not batch:
                break
            self._add(batch, name=name)
        self._db.execute("COMMIT")

    def _add(self, batch: list[tuple[int, TaskRecord]], *, name: str) -> None:
        keys = [record.id.bytes for _, record in batch]
        places = ",".join("?" * len(keys))
        lines = dict(self._db.execute(f"SELECT id, line FROM staged WHERE id IN ({places})", keys))
        for line, record in batch:
            first = lines.setdefault(record.id.bytes, line)
            if first != line:
                raise InvalidInput(
                    f"{name}, line {line}: task {record.id} is also on line {first}."
                )
        self._db.executemany(
            "INSERT INTO staged (id, line, number, record) VALUES (?, ?, ?, ?)",
            [
                (
                    record.id.bytes,
                    line,
                    record.number,
                    record.model_dump_json(exclude_defaults=True),
                )
                for line, record in batch
            ],
        )
        self.count += len(batch)

    @_on_disk
    def start_over(self) -> None:
        """Forget what an earlier try at writing learnt (it was rolled back, or its outcome is
        unknown): all but what it wrote."""
        self._db.executescript("UPDATE staged SET present = 0, final = NULL; DELETE FROM taken;")

    def ids(self) -> Iterator[list[uuid.UUID]]:
        """The staged UUIDs, a batch at a time."""
        done = 0
        while batch := self._db.execute(
            "SELECT seq, id FROM staged WHERE seq > ? ORDER BY seq LIMIT ?", (done, BATCH)
        ).fetchall():
            done = batch[-1][0]
            yield [uuid.UUID(bytes=key) for _seq, key in batch]

    @_on_disk
    def mark_present(self, numbers: dict[uuid.UUID, int]) -> None:
        """The user has these tasks already, with these NUMBERS."""
        self._db.executemany(
            "UPDATE staged SET present = 1, final = ? WHERE id = ?",
            [(number, task_id.bytes) for task_id, number in numbers.items()],
        )

    @_on_disk
    def mark_written(self) -> None:
        """This try writes the new tasks: a repeat that finds them counts them as added."""
        self._db.execute("UPDATE staged SET written = 1 WHERE present = 0")

    def new_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM staged WHERE present = 0").fetchone()[0])

    def wanted_numbers(self, *, up_to: int) -> Iterator[list[int]]:
        """The numbers (up to UP_TO) the new tasks ask for, a batch at a time."""
        done = 0
        while batch := [
            row[0]
            for row in self._db.execute(
                "SELECT DISTINCT number FROM staged WHERE present = 0 AND number > ? "
                "AND number <= ? ORDER BY number LIMIT ?",
                (done, up_to, BATCH),
            )
        ]:
            done = batch[-1]
            yield batch

    @_on_disk
    def mark_taken(self, numbers: Iterable[int]) -> None:
        self._db.executemany(
            "INSERT OR IGNORE INTO taken (number) VALUES (?)", [(n,) for n in numbers]
        )

    @_on_disk
    def number(self, *, counter: int, kept_max: int) -> int:
        """Give each new task its number: its own when it asks for one that is free (not
        taken, at most KEPT_MAX, and not asked for by an earlier task of the file), else the
        next ones after the counter and every kept number, in file order. Returns the
        highest number given (COUNTER when none is)."""
        self._db.execute(
            "UPDATE staged SET final = number WHERE seq IN ("
            " SELECT min(seq) FROM staged WHERE present = 0 AND number IS NOT NULL"
            " AND number <= ? AND number NOT IN (SELECT number FROM taken) GROUP BY number)",
            (kept_max,),
        )
        (top,) = self._db.execute(
            "SELECT max(coalesce(max(final), 0), ?) FROM staged WHERE present = 0", (counter,)
        ).fetchone()
        self._db.execute(
            "UPDATE staged SET final = ? + following.place FROM ("
            " SELECT seq, row_number() OVER (ORDER BY seq) AS place FROM staged"
            " WHERE present = 0 AND final IS NULL) AS following"
            " WHERE staged.seq = following.seq",
            (top,),
        )
        (highest,) = self._db.execute(
            "SELECT max(coalesce(max(final), 0), ?) FROM staged WHERE present = 0", (counter,)
        ).fetchone()
        return int(highest)

    def new(self) -> Iterator[list[tuple[TaskRecord, int]]]:
        """The tasks to add with their numbers, in file order, a batch at a time."""
        done = 0
        while batch := self._db.execute(
            "SELECT seq, record, final FROM staged WHERE present = 0 AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (done, BATCH),
        ).fetchall():
            done = batch[-1][0]
            yield [(TaskRecord.model_validate_json(record), final) for _seq, record, final in batch]

    def counts(self) -> tuple[int, int, int]:
        """How many tasks this import adds (those an earlier try of it wrote included), how many
        the user had, and how many of the added ones have a number other than their own."""
        added, present, renumbered = self._db.execute(
            "SELECT count(*) FILTER (WHERE ours), count(*) FILTER (WHERE NOT ours),"
            " count(*) FILTER (WHERE ours AND number IS NOT NULL AND final != number)"
            " FROM (SELECT *, present = 0 OR written = 1 AS ours FROM staged)"
        ).fetchone()
        return int(added), int(present), int(renumbered)
