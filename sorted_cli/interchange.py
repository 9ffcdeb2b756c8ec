"""Files sorted reads and writes (no database here): JSON exports and imports, CSV exports.

A JSON file is either one array of task objects (what `sorted export` and Taskwarrior's
`task export` write) or one object per line (JSON Lines); both are read item by item, and
every item knows the line it starts on, so a bad file is reported by line.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from sorted_cli.errors import InvalidInput
from sorted_cli.render import json_safe
from sorted_cli.wording import field_name, field_reason, not_a_task

if TYPE_CHECKING:
    from sorted_cli.models import TaskRecord

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"


def read_items(text: str, *, name: str) -> Iterator[tuple[int, Any]]:
    """(line, item) for each item of a JSON array or of JSON Lines; InvalidInput at the first
    place that is not JSON, naming the file and the line. An empty file is an error too (a
    failed `sorted export > FILE` leaves one); an empty array is not."""
    start = _skip_space(text, 0)
    if start == len(text):
        raise InvalidInput(f"{name} is empty: expected a JSON array or JSON lines of tasks.")
    if text[start] == "[":
        yield from _array_items(text, start + 1, name=name)
    else:
        yield from _lines(text, start, name=name)


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _line_of(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _bad(name: str, text: str, at: int, reason: str) -> InvalidInput:
    return InvalidInput(f"{name}, line {_line_of(text, at)}: {reason}.")


def _decode(text: str, at: int, *, name: str) -> tuple[Any, int]:
    try:
        return _DECODER.raw_decode(text, at)
    except json.JSONDecodeError as exc:
        raise _bad(name, text, exc.pos, f"not valid JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; [[[[... nested deep
        raise _bad(name, text, at, f"not JSON sorted can read ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]


def _array_items(text: str, at: int, *, name: str) -> Iterator[tuple[int, Any]]:
    line, counted_to = 1, 0
    at = _skip_space(text, at)
    if at < len(text) and text[at] == "]":
        at += 1
    else:
        while True:
            line += text.count("\n", counted_to, at)  # counted as we go: linear in the file
            counted_to = at
            item, at = _decode(text, at, name=name)
            yield line, item
            at = _skip_space(text, at)
            if at < len(text) and text[at] == ",":
                at = _skip_space(text, at + 1)
                continue
            if at < len(text) and text[at] == "]":
                at += 1
                break
            raise _bad(name, text, at, "expected `,` or `]` after an item")
    if _skip_space(text, at) != len(text):
        raise _bad(name, text, _skip_space(text, at), "unexpected text after the array")


def _lines(text: str, at: int, *, name: str) -> Iterator[tuple[int, Any]]:
    # Split on newlines only: U+2028, form feeds and the like may stand raw inside strings.
    for number, line in enumerate(text[at:].split("\n"), start=_line_of(text, at)):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{name}, line {number}: not valid JSON ({exc.msg}).") from None
            except (ValueError, RecursionError) as exc:
                reason = f"not JSON sorted can read ({_reason(exc)})"
                raise InvalidInput(f"{name}, line {number}: {reason}.") from None


def read_records(
    text: str, *, name: str, taskwarrior: bool, ignored: Counter[str]
) -> list[TaskRecord]:
    """The tasks of a file, each checked: sorted's own JSON (`TaskRecord`), or Taskwarrior's
    `task export`. Fields sorted does not keep are counted in `ignored`. A bad item, or a
    UUID that comes twice, is InvalidInput naming its line."""
    from sorted_cli.models import TaskRecord
    from sorted_cli.taskwarrior import record_from_taskwarrior

    known = TaskRecord.model_fields.keys()
    records: list[TaskRecord] = []
    lines: dict[uuid.UUID, int] = {}
    for line, item in read_items(text, name=name):
        try:
            if not isinstance(item, dict):
                raise not_a_task(item)
            if taskwarrior:
                record = record_from_taskwarrior(item, ignored=ignored)
            else:
                record = TaskRecord.model_validate(item)
                ignored.update(sorted(item.keys() - known))
        except ValueError as exc:
            raise invalid_item(name, line, exc) from None
        if (first := lines.setdefault(record.id, line)) != line:
            raise InvalidInput(f"{name}, line {line}: task {record.id} is also on line {first}.")
        records.append(record)
    return records


def invalid_item(name: str, line: int, exc: ValueError) -> InvalidInput:
    """A bad item's error: the file, the line it starts on, the field and the reason."""
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        reason = field_reason(error)
        message = f"{field_name(error)}{'' if reason.startswith(':') else ' '}{reason}"
    else:
        message = str(exc)
    return InvalidInput(f"{name}, line {line}: {message}.")


def write_json(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """A JSON array, one task per line, written as the rows arrive; returns how many."""
    count = 0
    out.write("[")
    for row in rows:
        out.write(",\n" if count else "\n")
        out.write(json_safe(json.dumps(row, ensure_ascii=False)))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """CSV with a header row of the JSON view's keys; tags joined with commas, empty cells for
    no value."""
    from sorted_cli.models import TaskPublic

    fields = list(TaskPublic.model_fields)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    count = 0
    for row in rows:
        writer.writerow(_csv_cell(row[key], key) for key in fields)
        count += 1
    return count


def _csv_cell(value: Any, key: str) -> str:
    if value is None:
        return ""
    if key == "tags":
        return ",".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
