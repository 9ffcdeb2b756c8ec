"""The text form `sorted edit REF` opens in the user's editor, and reading it back.

Pure functions, no I/O: `form_text` writes a task as the form, `read_form` reads the form the
user saved into the changes it asks for. The form:

    # comment lines at the top say how to fill it in (and, when the editor is opened again,
    # what was wrong with the last try: the `# Error:` line)
    Title: Buy oat milk
    Priority: high
    Due: 2026-12-04 17:00
    Wait:
    Scheduled:
    Tags: errand shop
    Every:
    Until:
    Times:
    Description: first line
      more lines, indented by two spaces (a title with line breaks in it goes on so too)

- One `Key: value` line per key, in any order and any case; a line starting with `#` is left
  out, and so is a byte-order mark some editors write first. An empty value removes the
  attribute (the title cannot be empty).
- Every key must stay: a deleted line is an error, so nothing is removed by surprise; an
  unknown key is an error naming it, and so is a key given twice.
- Dates are local, in any form `sorted_cli.dates` reads (2026-12-04, friday, tomorrow 9:30):
  the form writes them as ISO days with an HH:MM time where the task has one.
- Tags are separated by spaces; a leading `+` is taken too (`+errand`).
- Only what the user changed counts: a key whose text is as the form wrote it is left out of
  the changes, so a form saved as it was changes nothing, and a date is not rewritten to the
  minute it was shown at.

Values are checked as `edit`'s options are: priorities by `choices.parse_priority`, dates by
`dates.parse_when`/`parse_due`, rules by `recurrence.canonical`, tags by `tags.normalise_tag`
and the whole by `models.TaskUpdate` (through `validated`). A bad one is InvalidInput, whose
message the editor shows at the top of the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from sorted_cli.errors import InvalidInput

if TYPE_CHECKING:
    from sorted_cli.models import Task, TaskUpdate

# The keys of the form, in the order it lists them.
KEYS = (
    "Title",
    "Priority",
    "Due",
    "Wait",
    "Scheduled",
    "Tags",
    "Every",
    "Until",
    "Times",
    "Description",
)
_BY_NAME = {key.casefold(): key for key in KEYS}
_CONTINUED = "  "  # a line of the title or the description after its first starts with this
_GOES_ON = ("Title", "Description")  # the keys whose text may have more lines
_COMMENT = "#"
_ERROR = "# Error: "
_AGAIN = "# Correct the form and save again; quit without saving to change nothing."


def form_text(task: Task, tags: list[str]) -> str:
    """The form for TASK with its TAGS, comments on top."""
    values = _values_of(task, tags)
    lines = [
        f"# Editing task {task.number}. Change the values after the colons, then save and quit.",
        "# An empty value removes it (the title cannot be empty); keep every key's line.",
        "# Dates are local: 2026-12-04, friday, tomorrow 9:30 (a time is optional).",
        "# Tags are separated by spaces. More lines of the description start with two spaces.",
        "# Lines starting with # are left out. Quit without saving to change nothing.",
    ]
    for key in KEYS:
        first, *more = values[key].split("\n") if values[key] else [""]
        lines.append(f"{key}: {first}".rstrip() if first else f"{key}:")
        lines += [f"{_CONTINUED}{line}".rstrip() for line in more]
    return "\n".join(lines) + "\n"


def with_error(text: str, error: str) -> str:
    """The form TEXT the user saved, shown again with ERROR at its top as comment lines (the
    error of an earlier try taken off)."""
    kept = [line for line in text.splitlines() if not (line.startswith(_ERROR) or line == _AGAIN)]
    shown = [f"{_ERROR}{line}" for line in error.splitlines() or [error]]
    return "\n".join([*shown, _AGAIN, *kept]) + "\n"


@dataclass(frozen=True)
class Edited:
    """What a saved form asks for: the task's fields to set (None removes one) and its new
    tags (None: the tags are as they were)."""

    data: TaskUpdate
    tags: list[str] | None

    @property
    def changes_anything(self) -> bool:
        return self.tags is not None or bool(self.data.model_dump(exclude_unset=True))


def read_form(text: str, *, task: Task, tags: list[str], now: datetime | None = None) -> Edited:
    """The changes the form TEXT asks of TASK (which has TAGS): only keys whose text differs
    from what `form_text` wrote count. Dates relative to NOW (default: the clock). Raises
    InvalidInput saying what is wrong."""
    from sorted_cli.models import TaskUpdate, validated

    wrote = _fields(form_text(task, tags))
    given = _fields(text)
    missing = [key for key in KEYS if key not in given]
    if missing:
        raise InvalidInput(
            f"The line of {_listed(missing)} is missing: keep every key's line (an empty value "
            "removes it)."
        )
    changed = {key: value for key, value in given.items() if value != wrote[key]}
    values: dict[str, object] = {}
    new_tags: list[str] | None = None
    for key, value in changed.items():
        if key == "Tags":
            new_tags = _tags(value)
        else:
            values.update(_field_values(key, value, now))
    if new_tags is not None and new_tags == sorted(tags):
        new_tags = None
    return Edited(validated(TaskUpdate, **values), new_tags)


def _listed(keys: list[str]) -> str:
    return keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"


def _values_of(task: Task, tags: list[str]) -> dict[str, str]:
    """Each key's text for TASK, as the form shows it."""
    from sorted_cli.choices import Priority

    due = "" if task.due is None else task.due.isoformat()
    if task.due_at is not None:
        due = _moment_text(task.due_at)
    return {
        "Title": task.title,
        "Priority": "" if task.priority is Priority.none else task.priority.value,
        "Due": due,
        "Wait": "" if task.wait is None else _moment_text(task.wait, day_alone=True),
        "Scheduled": "" if task.scheduled is None else _moment_text(task.scheduled, day_alone=True),
        "Tags": " ".join(tags),
        "Every": task.every or "",
        "Until": "" if task.until is None else task.until.isoformat(),
        "Times": "" if task.times is None else str(task.times),
        "Description": task.description or "",
    }


def _moment_text(moment: datetime, *, day_alone: bool = False) -> str:
    """A moment as its local day and HH:MM; with DAY_ALONE, the day alone at midnight (the
    start of a day, as `--wait monday` gives)."""
    local = moment.astimezone()
    if day_alone and local.time() == time():
        return local.date().isoformat()
    return f"{local.date().isoformat()} {local.strftime('%H:%M')}"


def _fields(text: str) -> dict[str, str]:
    """Each key of the form TEXT and its value (continued lines joined with line breaks);
    raises InvalidInput for an unknown key, a key given twice, or a line that is no key's."""
    fields: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if line.startswith(_COMMENT):
            continue
        if line.startswith(_CONTINUED) or not line.strip():
            if current in _GOES_ON:
                fields[current].append(line.removeprefix(_CONTINUED).rstrip())
                continue
            if not line.strip():
                continue
            raise InvalidInput(
                f"Line {number} ({line.strip()!r}) is indented: only the title and the "
                "description go on over more lines."
            )
        name, colon, value = line.partition(":")
        key = _BY_NAME.get(name.strip().casefold())
        if not colon or key is None:
            what = name.strip() if colon else line.strip()
            raise InvalidInput(
                f"Unknown key {what!r} on line {number}: the keys are {', '.join(KEYS)}."
            )
        if key in fields:
            raise InvalidInput(f"{key} is given twice (line {number}): give each key once.")
        fields[key] = [value.strip()]
        current = key
    return {key: "\n".join(lines).strip() for key, lines in fields.items()}


def _tags(text: str) -> list[str]:
    from sorted_cli.tags import normalise_tag

    try:
        return sorted({normalise_tag(name) for name in text.split()})
    except ValueError as exc:
        raise InvalidInput(f"Invalid tag: {exc}.") from None


def _field_values(key: str, text: str, now: datetime | None) -> dict[str, object]:
    """The TaskUpdate fields the text of KEY sets (an empty text removes the attribute)."""
    from sorted_cli.choices import Priority, parse_priority
    from sorted_cli.dates import parse_when
    from sorted_cli.recurrence import canonical

    if key == "Title":
        if not text:
            raise InvalidInput("The title cannot be empty.")
        return {"title": text}
    if key == "Description":
        return {"description": text or None}
    if key == "Priority":
        try:
            return {"priority": parse_priority(text) if text else Priority.none}
        except ValueError as exc:
            raise InvalidInput(f"Invalid Priority: {exc}.") from None
    if key == "Due":
        if not text:
            return {"due": None, "due_at": None}
        when = parse_when(text, now=now)
        return {"due": when.day, "due_at": when.moment}
    if key in ("Wait", "Scheduled"):
        return {key.lower(): parse_when(text, now=now).start if text else None}
    if key == "Every":
        try:
            return {"every": canonical(text) if text else None}
        except ValueError as exc:
            raise InvalidInput(f"Invalid Every: {exc}.") from None
    if key == "Until":
        return {"until": _day(text, now) if text else None}
    assert key == "Times", key
    if text and not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"Invalid Times {text!r}: give a whole number, 1 or more.")
    return {"times": int(text) if text else None}


def _day(text: str, now: datetime | None) -> date:
    from sorted_cli.dates import parse_due

    return parse_due(text, today=None if now is None else now.astimezone().date())
