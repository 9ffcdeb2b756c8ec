"""Moving tasks in and out: export and import (sorted's own JSON, and Taskwarrior's)."""

from __future__ import annotations

import functools
import itertools
import os
import sys
import tempfile
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

    from sorted_cli.models import TaskRecord

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
    from sorted_cli.db import short_reason
    from sorted_cli.retry import is_transient
    from sorted_cli.services import transfer

    state = State.of(ctx)
    write = interchange.write_json if file_format is ExportFormat.json else interchange.write_csv

    def run(out: IO[str], *, restartable: bool) -> int:
        session, user = state.session, state.user
        total = None
        if render.stderr().is_terminal:
            total = transfer.count_tasks(session=session, user=user, include_deleted=all_)
        rows = transfer.export_tasks(session=session, user=user, include_deleted=all_)
        first = next(rows, None)  # the query runs, and may fail, before anything is written
        rows = itertools.chain([first] if first is not None else [], rows)
        with render.progress(total, "Exporting") as advance:
            try:
                return write(_counted(rows, advance), out)
            except Exception as exc:
                if restartable or isinstance(exc, OSError) or not is_transient(exc):
                    raise
                # Part of the export is out on stdout: trying again would repeat it.
                raise SortedError(
                    f"The connection broke during the export ({short_reason(exc)}); what was "
                    "written is incomplete: run the export again."
                ) from exc

    def to_file() -> int:
        assert output is not None
        with _replacing(output) as out:  # a fresh file each try; replaced only when complete
            return run(out, restartable=True)

    to_stdout = functools.partial(run, sys.stdout, restartable=False)
    count = state.attempt(to_file if output is not None else to_stdout)
    if render.stderr().is_terminal:  # a person watching; a script gets nothing extra
        render.notice(f"Exported {count} task{'' if count == 1 else 's'}.")


def _counted(
    rows: Iterator[dict[str, Any]], advance: Callable[[int], object]
) -> Iterator[dict[str, Any]]:
    for row in rows:
        yield row
        advance(1)


@contextmanager
def _replacing(path: Path) -> Iterator[IO[str]]:
    """A file written beside PATH and renamed over it only when everything went well, so a
    failed export never leaves a truncated file where a good one was."""
    folder = path.resolve().parent
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise SortedError(f"Cannot write to {folder}: {exc.strerror}.") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            yield out
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@app.command(
    "import",
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
    from sorted_cli import render
    from sorted_cli.services import transfer

    name = "stdin" if file == "-" else file
    text = _read(file)
    ignored: Counter[str] = Counter()
    records = _records(text, name=name, source=source, ignored=ignored)
    state = State.of(ctx)

    def run() -> transfer.ImportResult:
        with render.progress(len(records), "Importing") as advance:
            return transfer.import_tasks(
                session=state.session, user=state.user, records=records, advance=advance
            )

    result = state.attempt(run, repeatable=True)  # idempotent: a repeat finds what it added
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
        render.notice(f"Not kept (sorted has no such field): {fields}.")


def _read(file: str) -> str:
    try:
        if file == "-":
            return sys.stdin.buffer.read().decode("utf-8-sig")
        return Path(file).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"{file}: not UTF-8 text (byte {exc.start + 1} cannot be read)."
        ) from None
    except OSError as exc:
        raise SortedError(f"Cannot read {file}: {exc.strerror}.") from None


def _records(
    text: str, *, name: str, source: ImportFormat, ignored: Counter[str]
) -> list[TaskRecord]:
    from pydantic import ValidationError

    from sorted_cli.interchange import invalid_item, read_items
    from sorted_cli.models import TaskRecord

    records: list[TaskRecord] = []
    for line, item in read_items(text, name=name):
        try:
            if source is ImportFormat.taskwarrior:
                from sorted_cli.taskwarrior import record_from_taskwarrior

                records.append(record_from_taskwarrior(item, ignored=ignored))
            elif isinstance(item, dict):
                records.append(TaskRecord.model_validate(item))
            else:
                raise ValueError(f"expected a task object, found {type(item).__name__}")
        except (ValueError, ValidationError) as exc:
            raise invalid_item(name, line, exc) from None
    return records
