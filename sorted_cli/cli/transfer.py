"""Moving tasks in and out: export and import (sorted's own JSON, and Taskwarrior's)."""

from __future__ import annotations

import stat
import sys
from collections import Counter
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from sorted_cli.cli.options import examples
from sorted_cli.cli.state import State
from sorted_cli.errors import InvalidInput, SortedError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sqlmodel import Session

app = typer.Typer()


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


class ImportFormat(StrEnum):
    sorted = "sorted"
    taskwarrior = "taskwarrior"


@app.command(
    "export",
    epilog=examples(
        "sorted export > tasks.json",
        "sorted export --all -o backup.json      (the trash too)",
        "sorted export --format csv > tasks.csv",
    ),
)
def export(
    ctx: typer.Context,
    file_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="json (lossless) or csv.")
    ] = ExportFormat.json,
    all_: Annotated[
        bool, typer.Option("--all", "-a", help="Include the trash (deleted tasks).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            dir_okay=False,
            help="Write to FILE (replaced only once the export is complete) instead of stdout.",
        ),
    ] = None,
) -> None:
    """Write your tasks (open and completed) as JSON or CSV.

    JSON keeps everything `sorted import` needs to bring the tasks back exactly: UUIDs,
    numbers, timestamps, completion, deletion and tags.
    """
    from sorted_cli import interchange, render
    from sorted_cli.services import transfer

    state = State.of(ctx)
    write = interchange.write_json if file_format is ExportFormat.json else interchange.write_csv

    def run(session: Session, out: IO[str], *, restartable: bool) -> int:
        user = state.user
        total = None
        if render.is_terminal(sys.stderr):
            total = transfer.count_tasks(session=session, user=user, include_deleted=all_)
        rows = transfer.export_tasks(session=session, user=user, include_deleted=all_)
        with render.progress(total, "Exporting") as advance:
            return state.db.written(
                _counted(rows, advance),
                lambda rows: write(rows, out),
                what="export",
                restartable=restartable,
            )

    if output is None:
        count = state.db.run(lambda session: run(session, sys.stdout, restartable=False))
    elif _replaceable(output):

        def to_file(session: Session) -> int:
            with _replacing(output) as out:  # a fresh file each try
                return run(session, out, restartable=True)

        count = state.db.run(to_file)
    else:  # a FIFO, a terminal, /dev/stdout on a pipe: opened once, written as it is
        with _opened(output) as out:
            count = state.db.run(lambda session: run(session, out, restartable=False))
    if render.is_terminal(sys.stderr):  # a person watching; a script gets nothing extra
        render.notice(f"Exported {count} task{'' if count == 1 else 's'}.")


def _counted(
    rows: Iterator[dict[str, Any]], advance: Callable[[int], object]
) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row
        advance(1)


def _replaceable(path: Path) -> bool:
    """Is PATH a regular file, or nothing yet? Those `export -o` replaces only once the export
    is complete; anything else (a FIFO, a terminal, a process substitution) it writes into.
    Either way, never through another user's link in a shared folder (`files.followed`)."""
    from sorted_cli.files import followed

    try:
        followed(path)
        return stat.S_ISREG(path.stat().st_mode)
    except FileNotFoundError:
        return True
    except OSError as exc:
        raise SortedError(f"Cannot write to {path}: {exc.strerror}.") from None


@contextmanager
def _opened(path: Path) -> Iterator[IO[str]]:
    try:
        with path.open("w", encoding="utf-8", newline="") as out:
            yield out
    except OSError as exc:
        if exc.filename is None:  # the export's own writing failed: the boundary words it
            raise
        raise SortedError(f"Cannot write to {path}: {exc.strerror}.") from None


@contextmanager
def _replacing(path: Path) -> Iterator[IO[str]]:
    """PATH's file (through any symlink) replaced once the export is complete, as
    `files.replacing` does: a failed or stopped export leaves the old file whole and no
    partial file. A new file is owner-only (0600), as the database is: it holds the same
    tasks; a replaced one keeps its mode."""
    from sorted_cli.files import replacing

    try:
        with replacing(path) as out:
            yield out
    except OSError as exc:
        if exc.filename is None:  # the export's own writing failed: the boundary words it
            raise
        raise SortedError(f"Cannot write to {path}: {exc.strerror}.") from None


@app.command(
    "import",
    short_help="Add tasks from an export of sorted or Taskwarrior.",
    epilog=examples(
        "sorted import tasks.json",
        "task export > tw.json && sorted import --from taskwarrior tw.json",
        "sorted export | sorted --database-url postgresql://... import -",
    ),
)
def import_(
    ctx: typer.Context,
    file: Annotated[
        str,
        typer.Argument(metavar="FILE", help="A JSON file, or - for stdin.", show_default=False),
    ],
    source: Annotated[
        ImportFormat,
        typer.Option(
            "--from", help="What wrote the file: sorted (`sorted export`) or taskwarrior."
        ),
    ] = ImportFormat.sorted,
) -> None:
    """Add the tasks in FILE that you do not have yet (a JSON array, or one object per line).

    Tasks are identified by UUID: importing the same file again changes nothing. All or
    nothing: a bad item stops the import, naming its line, before anything is written.
    """
    from sorted_cli import interchange, render
    from sorted_cli.services import transfer
    from sorted_cli.staging import StagedTasks

    name = "stdin" if file == "-" else file
    ignored: Counter[str] = Counter()
    taskwarrior = source is ImportFormat.taskwarrior
    with _opened_for_reading(file) as binary, StagedTasks() as staged:
        # Read and checked in full before the database is touched: no lock is held meanwhile.
        staged.stage(
            interchange.read_records(binary, name=name, taskwarrior=taskwarrior, ignored=ignored),
            name=name,
        )
        state = State.of(ctx)

        def run(session: Session) -> transfer.ImportResult:
            with render.progress(staged.count, "Importing") as advance:
                return transfer.import_tasks(
                    session=session, user=state.user, staged=staged, advance=advance
                )

        result = state.db.run(run, repeatable=True)  # idempotent: a repeat finds what it added
    details = [f"{result.present} already there"] if result.present else []
    if result.renumbered:
        details.append(f"{result.renumbered} renumbered: their numbers were taken")
    extra = f" ({'; '.join(details)})" if details else ""
    render.line(f"Imported {result.added} task{'' if result.added == 1 else 's'}{extra}.")
    if ignored and result.added:
        fields = ", ".join(
            f"{field} ({count} task{'' if count == 1 else 's'})"
            for field, count in sorted(ignored.items())
        )
        render.notice(f"Not kept: {fields}.")


@contextmanager
def _opened_for_reading(file: str) -> Iterator[IO[bytes]]:
    """FILE's bytes (stdin's for -), read as the import goes."""
    if file == "-":
        if sys.stdin.isatty():  # nothing piped in: waiting for typed JSON helps no one
            raise InvalidInput("`sorted import -` reads a piped file: sorted import - < FILE.")
        yield sys.stdin.buffer
        return
    try:
        opened = Path(file).open("rb")  # noqa: SIM115 (closed below: only opening is worded here)
    except OSError as exc:
        raise SortedError(f"Cannot read {file}: {exc.strerror}.") from None
    with opened:
        yield opened
