"""One task of Taskwarrior's `task export` as a sorted task.

The mapping, field by field:

- `uuid` is the id. `id`, the working-set number (0 once a task is finished), is the number
  when it is positive, so that `task 3` is `sorted show 3` after switching.
- `description` is the title. One too long for a title is cut at a word and ends in `…`; the
  whole text then opens the description.
- `status`: `pending` and `waiting` are open (a waiting task keeps its `wait`); `completed` and
  `deleted` end at `end`, else `modified`, else `entry`.
- Recurrence: a template (status `recurring`) and its instances (`parent`: the template's
  uuid) become one series (`TaskwarriorSeries`): the series' id is the template's uuid, each
  instance is occurrence `imask` + 1 with the rule `recur` (`rtype` `chained`: counted
  `after done`) and `until` (its own, else the template's) as a local date. The template
  itself comes in only when no instance of it is open (all done, or none made yet): then it is
  the series' open task, occurrence `len(mask)` + 1, due `len(mask)` periods after its own
  due. Monthly and yearly instances count from the template's due (their anchor). A `recur`
  sorted cannot read (`sorted_cli.recurrence`) leaves the task without a rule: a template then
  comes in tagged `recurring`, its description saying `Recurs: <recur>`, and an instance's
  `recur` is counted in `ignored`.
- `entry` is when the task was created, `modified` when it last changed.
- Timestamps are UTC `YYYYMMDDTHHMMSSZ`; ISO 8601 with a zone is accepted too. `due` is the
  local calendar date of its moment: Taskwarrior keeps `due:friday` as local midnight in UTC.
  A due at another local time (`due:friday+17h`) is that day with its moment as `due_at`.
- `wait` and `scheduled` are kept as the moments they are.
- `priority` H/M/L is high/medium/low. `tags` (a list, or a comma-separated string in old
  exports) and the project, as `project:<project>`, are sorted tags; a character a tag cannot
  hold becomes `-`, and a tag that is still not one (`🔥`) is dropped and reported as
  `tag '🔥'` in `ignored`, so one odd tag does not stop an import.
- `annotations` are notes, each with its own moment (`entry`) and text (`description`); an
  annotation with no text is left out.

Every other field (start, depends, user-defined attributes, ...) is
counted in `ignored`, once per task, and only for tasks that convert; `id` and `urgency` are
computed by Taskwarrior, not stored, so they are not.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, time
from typing import Any

from sorted_cli.choices import Priority
from sorted_cli.models import TITLE_MAX, TaskRecord
from sorted_cli.recurrence import advance, canonical, moved_dates, parse_rule
from sorted_cli.tags import in_tag, normalise_tag
from sorted_cli.wording import must_be, not_a_task

_DERIVED = frozenset({"id", "urgency"})
_PRIORITIES = {"h": Priority.high, "m": Priority.medium, "l": Priority.low}
_STATUSES = frozenset({"pending", "waiting", "completed", "deleted", "recurring"})
_STATUS_NAMES = "pending, waiting, completed, deleted or recurring"
_LAST_WORD = re.compile(r"\s+\S*\Z")


def record_from_taskwarrior(item: Mapping[str, Any], *, ignored: Counter[str]) -> TaskRecord:
    """The sorted task for one exported Taskwarrior task; fields sorted cannot keep are counted
    in `ignored`. Raises ValueError when the task cannot be imported."""
    if not isinstance(item, Mapping):
        raise not_a_task(item)
    rest = dict(item)  # what is left once a field is used is what sorted drops
    uuid = _required(rest, "uuid")
    text = _required(rest, "description")
    if not isinstance(text, str):
        raise ValueError(f"description {must_be('text', text)}")
    created_at = _moment("entry", _required(rest, "entry"))
    updated_at = _pop_moment(rest, "modified") or created_at
    status = rest.pop("status", None) or "pending"
    if not isinstance(status, str) or status not in _STATUSES:
        raise ValueError(f"status {must_be(_STATUS_NAMES, status)}")
    number = item.get("id")

    text = text.strip()
    title, paragraphs = text, []  # of the description
    if len(text) > TITLE_MAX:
        title, paragraphs = _shorten(text), [text]
    unusable: list[str] = []  # tags sorted cannot hold: dropped, and reported
    tags = _tags(rest.pop("tags", None), unusable)
    if project := rest.pop("project", None):
        if not isinstance(project, str):
            raise ValueError(f"project {must_be('text', project)}")
        tags += _usable([f"project:{project}"], unusable)

    finished_at = None
    if status in {"completed", "deleted"}:
        finished_at = _pop_moment(rest, "end") or updated_at
    until = _pop_moment(rest, "until")
    repeats = _repeats(rest, status, uuid)
    if status == "recurring" and repeats is None:
        tags.append("recurring")
        paragraphs.append(_recurrence(rest, until))
    annotations = _annotations(rest.pop("annotations", None))
    due = _pop_moment(rest, "due")
    local_due = due.astimezone() if due else None

    record = TaskRecord.model_validate(
        {
            "id": uuid,
            "number": number if _is_positive_int(number) else None,
            "title": title,
            "description": "\n\n".join(paragraphs) or None,
            "priority": _priority(rest.pop("priority", None)),
            "due": local_due.date() if local_due else None,
            "completed": status == "completed",
            "completed_at": finished_at if status == "completed" else None,
            "created_at": created_at,
            "updated_at": updated_at,
            "deleted": status == "deleted",
            "deleted_at": finished_at if status == "deleted" else None,
            "tags": tags,
            "notes": annotations,
            "until": until.astimezone().date() if until else None,
            **(repeats or {}),
            "wait": _pop_moment(rest, "wait"),
            "scheduled": _pop_moment(rest, "scheduled"),
            # Local midnight is Taskwarrior's whole day; any other time is the moment due.
            "due_at": due if local_due and local_due.time() != time() else None,
        }
    )
    ignored.update(sorted(rest.keys() - _DERIVED))
    ignored.update(f"tag {tag!r}" for tag in unusable)
    return record


def _required(rest: dict[str, Any], field: str) -> Any:
    value = rest.pop(field, None)
    if value is None:
        raise ValueError(f"{field} is missing")
    return value


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _moment(field: str, value: object) -> datetime:
    """A Taskwarrior timestamp as an aware UTC datetime."""
    try:  # since Python 3.11 fromisoformat also reads the basic form Taskwarrior writes
        moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ValueError(f"{field} {must_be('a Taskwarrior date (YYYYMMDDTHHMMSSZ)', value)}")
    return moment.astimezone(UTC)


def _pop_moment(rest: dict[str, Any], field: str) -> datetime | None:
    value = rest.pop(field, None)
    return None if value is None else _moment(field, value)


def _shorten(text: str) -> str:
    """The start of `text` cut after a whole word, with `…`, in at most TITLE_MAX characters."""
    window = text[:TITLE_MAX]  # one more character than fits before `…`: does a word end there?
    return _LAST_WORD.sub("", window)[: TITLE_MAX - 1] + "…"


def _usable(names: list[str], unusable: list[str]) -> list[str]:
    """The names as sorted tags; a character a tag cannot hold becomes `-`, and a name that is
    still not a tag (`🔥` becomes a bare `-`) goes to `unusable` instead."""
    tags = []
    for name in names:
        try:
            # white space is left for normalise_tag to turn into -
            dashed = "".join(c if c.isspace() or in_tag(c) else "-" for c in name)
            tags.append(normalise_tag(dashed))
        except ValueError:
            unusable.append(name)
    return tags


def _tags(value: object, unusable: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError(f"tags {must_be('a list of tags', value)}")
    return _usable([tag for tag in value if tag.strip()], unusable)


def _priority(value: object) -> Priority:
    if value is None or value == "":
        return Priority.none
    if isinstance(value, str) and value.lower() in _PRIORITIES:
        return _PRIORITIES[value.lower()]
    raise ValueError(f"priority {must_be('H, M or L', value)}")


def _recurrence(rest: dict[str, Any], until: datetime | None) -> str:
    """The line a template whose rule sorted cannot read leaves in its description."""
    recur = _required(rest, "recur")
    line = f"Recurs: {recur.strip()}"
    if until is not None:
        line += f" until {until.astimezone().date().isoformat()}"
    return line


def _repeats(rest: dict[str, Any], status: str, uuid: object) -> dict[str, Any] | None:
    """The series fields of a template or an instance (None for another task, or when its
    `recur` is not a rule sorted reads: then `recur` stays in REST)."""
    if status != "recurring" and "parent" not in rest:
        return None
    recur = rest.get("recur")
    if status == "recurring" and (not isinstance(recur, str) or not recur.strip()):
        _required(rest, "recur")  # missing: refused as such
        raise ValueError(f"recur {must_be('a Taskwarrior period', recur)}")
    try:
        rule = canonical(recur) if isinstance(recur, str) else None
    except ValueError:
        rule = None
    if rule is None:
        return None
    del rest["recur"]
    if rest.pop("rtype", None) == "chained":
        rule += " after done"
    if status == "recurring":
        mask = rest.pop("mask", "")
        done = len(mask) if isinstance(mask, str) else 0
        return {"every": rule, "series_id": uuid, "iteration": done + 1}
    return {"every": rule, "series_id": rest.pop("parent"), "iteration": _imask(rest) + 1}


def _imask(rest: dict[str, Any]) -> int:
    """Which instance of its template a task is, from 0 (Taskwarrior writes a number, old
    versions a string or a float)."""
    value = rest.pop("imask", None)
    try:
        index = int(float(value)) if isinstance(value, int | float | str) else -1
    except ValueError:
        index = -1
    if index < 0 or isinstance(value, bool):
        raise ValueError(f"imask {must_be('the number of the instance', value)}")
    return index


class TaskwarriorSeries:
    """Folds Taskwarrior's recurrence into sorted's series as a file is read.

    Each template is held back, and comes in at the end only if no instance of it is open: as
    the series' next occurrence, its due (and wait, scheduled) moved on by as many periods as
    instances were made of it (`len(mask)`: what Taskwarrior would make next; for a chained
    rule too, as the day the last one was done is not the template's to know). An instance
    gets its template's `until` when it has none, and the template's due as its anchor when
    its rule counts from one (monthly, yearly). An open instance read before its template is
    held until the template comes (or the file ends): there are few of those, one or two a
    series; a finished one comes in as it is read. A template folded into its open instance
    is counted in `ignored` as FOLDED."""

    FOLDED = "recurrence template (its open instance carries the series)"

    def __init__(self, ignored: Counter[str]) -> None:
        self._ignored = ignored
        self._templates: dict[str, tuple[int, TaskRecord]] = {}
        self._open: set[str] = set()  # templates with an open instance
        self._held: dict[str, list[tuple[int, TaskRecord]]] = {}

    def take(
        self, line: int, record: TaskRecord, *, template: bool
    ) -> list[tuple[int, TaskRecord]]:
        """What to import now of RECORD (read at LINE), itself or instances held for it."""
        series = None if record.series_id is None else str(record.series_id)
        if series is None:
            return [(line, record)]
        if template:
            self._templates[series] = (line, record)
            return [(at, self._joined(held)) for at, held in self._held.pop(series, [])]
        still_open = not (record.completed or record.deleted)
        if still_open:
            self._open.add(series)
        if series in self._templates:
            return [(line, self._joined(record))]
        if still_open:
            self._held.setdefault(series, []).append((line, record))
            return []
        return [(line, record)]

    def rest(self) -> list[tuple[int, TaskRecord]]:
        """At the end of the file: the instances still held, and the templates with no open
        instance, as the next occurrence of their series."""
        items = [item for held in self._held.values() for item in held]
        items += [
            (line, _next_of(template))
            for series, (line, template) in self._templates.items()
            if series not in self._open
        ]
        folded = len(self._templates.keys() & self._open)
        if folded:
            self._ignored[self.FOLDED] += folded
        return sorted(items, key=lambda item: item[0])

    def _joined(self, instance: TaskRecord) -> TaskRecord:
        """INSTANCE with what it takes from its template: the series' end, and its anchor."""
        _line, template = self._templates[str(instance.series_id)]
        update: dict[str, Any] = {}
        if instance.until is None and template.until is not None:
            update["until"] = template.until
        if instance.anchor is None and template.due is not None and _counts_from_anchor(template):
            update["anchor"] = template.due
        return instance.model_copy(update=update) if update else instance


def _counts_from_anchor(record: TaskRecord) -> bool:
    return record.every is not None and parse_rule(record.every).counts_from_anchor


def _next_of(template: TaskRecord) -> TaskRecord:
    """A template with no open instance as the occurrence Taskwarrior would make next: its
    due moved on by the periods of the instances already made (its iteration - 1)."""
    made = (template.iteration or 1) - 1
    if template.due is None or template.every is None or made == 0:
        return template
    anchor = template.due if _counts_from_anchor(template) else None
    due = advance(parse_rule(template.every), template.due, anchor=anchor, periods=made)
    dates = moved_dates(template, due=due, since=template.due)
    return template.model_copy(update={**dates, "anchor": anchor})


def _annotations(value: object) -> list[dict[str, Any]]:
    """Annotations as notes (`at`, `text`); TaskRecord puts them oldest first."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(note, Mapping) for note in value):
        raise ValueError(f"annotations {must_be('a list of objects', value)}")
    notes = []
    for note in value:
        text = note.get("description")
        if not isinstance(text, str):
            raise ValueError(f"annotations: description {must_be('text', text)}")
        moment = _moment("annotations: entry", note.get("entry"))
        if text.strip():
            notes.append({"at": moment, "text": text})
    return notes
