"""Files sorted reads and writes (no database here): JSON exports and imports, CSV exports.

A JSON file is either one array of task objects (what `sorted export` and Taskwarrior's
`task export` write) or one object per line (JSON Lines); both are read item by item as the
file is read (a file of a million tasks is never in memory at once), and every item knows
the line it starts on, so a bad file is reported by line.
"""

from __future__ import annotations

import codecs
import csv
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any

from pydantic import ValidationError

from sorted_cli.errors import InvalidInput, SortedError
from sorted_cli.render import json_safe, notes_text
from sorted_cli.wording import field_name, field_reason, not_a_task

if TYPE_CHECKING:
    from sorted_cli.models import TaskRecord

_DECODER = json.JSONDecoder()
_SPACE = " \t\r\n"
_CHUNK = 1 << 20  # characters read at a time
# An item may be cut off at the end of what has been read: more is read until it decodes, up
# to this much text for one item (a task is a few kilobytes), so a broken file is not read
# whole into memory to find that out.
_ITEM_MAX = 16 << 20


class _Text:
    """A file's text, decoded from UTF-8 as the reader asks for more, and the line reached."""

    def __init__(self, binary: IO[bytes], name: str) -> None:
        self.name = name
        # read1: what a pipe has now, so an item is dealt with as soon as it arrives
        self._read = getattr(binary, "read1", binary.read)
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._bytes_read = 0
        self.text = ""  # what has been read and not yet consumed, from `at` on
        self.at = 0
        self.ended = False
        self._line = 1  # the line `_counted_to` is on
        self._counted_to = 0

    def more(self) -> bool:
        """Read on (dropping what was consumed); False at the end of the file."""
        if self.ended:
            return False
        try:
            chunk = self._read(_CHUNK)
        except OSError as exc:
            raise SortedError(f"Cannot read {self.name}: {exc.strerror}.") from None
        pending = len(self._decoder.getstate()[0])
        try:
            decoded = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            byte = self._bytes_read - pending + exc.start + 1
            raise InvalidInput(
                f"{self.name}: not UTF-8 text (byte {byte} cannot be read)."
            ) from None
        self._bytes_read += len(chunk)
        self.line_at(self.at)
        self.text = self.text[self.at :] + decoded
        self._counted_to -= self.at
        self.at = 0
        self.ended = not chunk
        return bool(chunk) or bool(decoded)

    def line_at(self, at: int) -> int:
        """The line of position AT (at or after what was asked before)."""
        self._line += self.text.count("\n", self._counted_to, at)
        self._counted_to = at
        return self._line

    def peek(self) -> str:
        """The next character that is not white space ("" at the end), consuming the space."""
        while True:
            while self.at < len(self.text) and self.text[self.at] in _SPACE:
                self.at += 1
            if self.at < len(self.text) or not self.more():
                return self.text[self.at : self.at + 1]

    def bad(self, at: int, reason: str) -> InvalidInput:
        return InvalidInput(f"{self.name}, line {self.line_at(at)}: {reason}.")

    def decode(self) -> tuple[int, Any]:
        """(line, value) of the JSON value at the reading position, read on as far as needed."""
        line = self.line_at(self.at)
        while True:
            try:
                item, end = _DECODER.raw_decode(self.text, self.at)
            except json.JSONDecodeError as exc:
                if self._may_be_cut_off() and self.more():
                    continue
                raise self.bad(exc.pos, f"not valid JSON ({exc.msg})") from None
            except (ValueError, RecursionError) as exc:  # a 5,000-digit number; [[[[... deep
                if self._may_be_cut_off() and self.more():
                    continue
                raise self.bad(self.at, f"not JSON sorted can read ({_reason(exc)})") from None
            if end == len(self.text) and self._may_be_cut_off() and self.more():
                continue  # a number or a word may go on in what is not read yet
            self.at = end
            return line, item

    def _may_be_cut_off(self) -> bool:
        return not self.ended and len(self.text) - self.at < _ITEM_MAX


def read_items(binary: IO[bytes], *, name: str) -> Iterator[tuple[int, Any]]:
    """(line, item) for each item of a JSON array or of JSON Lines, read as it goes (memory
    stays that of an item); InvalidInput at the first place that is not JSON or not UTF-8,
    naming the file and the line. An empty file is an error too (a failed
    `sorted export > FILE` leaves one); an empty array is not."""
    text = _Text(binary, name)
    first = text.peek()
    if not first:
        raise InvalidInput(f"{name} is empty: expected a JSON array or JSON lines of tasks.")
    if first == "[":
        text.at += 1
        yield from _array_items(text)
    else:
        yield from _lines(text)


def _reason(exc: BaseException) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]


def _array_items(text: _Text) -> Iterator[tuple[int, Any]]:
    if text.peek() == "]":
        text.at += 1
    else:
        while True:
            yield text.decode()
            following = text.peek()
            text.at += len(following)
            if following == ",":
                text.peek()
                continue
            if following == "]":
                break
            raise text.bad(text.at - len(following), "expected `,` or `]` after an item")
    if text.peek():
        raise text.bad(text.at, "unexpected text after the array")


def _lines(text: _Text) -> Iterator[tuple[int, Any]]:
    # Split on newlines only: U+2028, form feeds and the like may stand raw inside strings.
    while True:
        end = text.text.find("\n", text.at)
        while end == -1 and len(text.text) - text.at < _ITEM_MAX and text.more():
            end = text.text.find("\n", text.at)
        end = len(text.text) if end == -1 else end
        number, line = text.line_at(text.at), text.text[text.at : end]
        text.at = min(end + 1, len(text.text))
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(
                    f"{text.name}, line {number}: not valid JSON ({exc.msg})."
                ) from None
            except (ValueError, RecursionError) as exc:
                reason = f"not JSON sorted can read ({_reason(exc)})"
                raise InvalidInput(f"{text.name}, line {number}: {reason}.") from None
        if text.at >= len(text.text) and not text.more():
            return


def read_records(
    binary: IO[bytes], *, name: str, taskwarrior: bool, ignored: Counter[str]
) -> Iterator[tuple[int, TaskRecord]]:
    """(line, task) for each task of a file, read as it goes and checked: sorted's own JSON
    (`TaskRecord`), or Taskwarrior's `task export`. Fields sorted does not keep are counted in
    `ignored`. A bad item is InvalidInput naming its line (a UUID that comes twice is found
    where the tasks are staged: `sorted_cli.staging`)."""
    from sorted_cli.models import TaskRecord
    from sorted_cli.taskwarrior import TaskwarriorSeries, record_from_taskwarrior

    known = TaskRecord.model_fields.keys()
    series = TaskwarriorSeries(ignored)
    for line, item in read_items(binary, name=name):
        try:
            if not isinstance(item, dict):
                raise not_a_task(item)
            if taskwarrior:
                record = record_from_taskwarrior(item, ignored=ignored)
                template = item.get("status") == "recurring"
                yield from series.take(line, record, template=template)
                continue
            record = TaskRecord.model_validate(item)
            ignored.update(sorted(item.keys() - known))
        except ValueError as exc:
            raise invalid_item(name, line, exc) from None
        yield line, record
    yield from series.rest()


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
    no value. The notes cell holds one line per note, oldest first: the note's UTC moment as
    in the JSON view, one space, and its text with backslashes doubled and control characters
    written as escapes (`\\n`, `\\t`, `\\x1b`), so each note is one line and reads back:
    `2026-12-01T09:30:00Z called the plumber`."""
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
    if key == "notes":
        return notes_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
