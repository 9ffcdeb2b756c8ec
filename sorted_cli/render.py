"""What sorted shows: Rich views for people, and a stable JSON view for scripts.

User text is always shown literally: it never goes through Rich markup, and control characters
(terminal escapes, newlines in a title) are shown as `\\x1b`-style escapes instead of acting.
Results go to stdout; notices (a created user, how many more tasks there are) go to stderr, so
`--json` output is nothing but JSON.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any, TextIO

from sorted_cli.dates import age, past_due

if TYPE_CHECKING:
    from rich.console import Console, JustifyMethod
    from rich.text import Text

    from sorted_cli.models import NotePublic, Task, TaskChange, User
    from sorted_cli.services.history import Command
    from sorted_cli.services.stats import Stats
    from sorted_cli.services.tasks import Change, TaskInFull, TaskPage
    from sorted_cli.services.urgency import Urgency

from sorted_cli.choices import Priority, View

# Characters user text must not carry to a terminal or a script's line reader as they are: C0
# and C1 controls and DEL (terminal escapes, BEL, NEL), the bidirectional formatting characters
# that reorder what a reader sees (U+061C, U+200E/F, U+202A-E, U+2066-9) and the line and
# paragraph separators U+2028/9. Each is written as Python writes it: `\x1b`, `\u202e`.
_UNSAFE = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_CONTROL = re.compile(f"[{_UNSAFE}]")
_CONTROL_EXCEPT_LINES = re.compile(f"(?![\t\n])[{_UNSAFE}]")
_CONTROL_AND_BACKSLASH = re.compile(f"[\\\\{_UNSAFE}]")
# JSON escapes the C0 controls itself; these it would leave as they are.
_UNSAFE_IN_JSON = re.compile(f"(?![\x00-\x1f])[{_UNSAFE}]")
_PRIORITY_STYLE = {Priority.high: "bold red", Priority.medium: "yellow", Priority.low: "dim"}
_EMPTY = {
    View.open: "No open tasks.",
    View.all: "No tasks.",
    View.completed: "No completed tasks.",
    View.deleted: "The trash is empty.",
}
_NOUN = {
    View.open: "open tasks",
    View.all: "tasks",
    View.completed: "completed tasks",
    View.deleted: "deleted tasks",
}


def clean(text: str, *, keep_lines: bool = False) -> str:
    """The text with control characters replaced by visible escapes, for people (a
    backslash stays as it is)."""
    pattern = _CONTROL_EXCEPT_LINES if keep_lines else _CONTROL
    return pattern.sub(_escape, text)


def escaped(text: str) -> str:
    """The text for scripts, on one line: control characters escaped as `clean` does them
    (`\t`, `\n`, `\x1b`, `\u202e`) and a backslash doubled, so the escapes read back."""
    return _CONTROL_AND_BACKSLASH.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode()


def stdout() -> Console:
    from rich.console import Console  # Rich only for Rich views: it costs a command 15 ms

    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def line(message: str) -> None:
    """A one-line result on stdout, shown literally."""
    sys.stdout.write(clean(message) + "\n")


def notice(message: str) -> None:
    """A side note on stderr, shown literally (dimmed on a terminal)."""
    if not is_terminal(sys.stderr):
        sys.stderr.write(clean(message) + "\n")
        return
    from rich.text import Text

    stderr().print(Text(clean(message), style="dim"))


def error(message: str) -> None:
    sys.stderr.write(clean(message) + "\n")


def json_safe(text: str) -> str:
    """JSON text with the characters of user text that would act on a terminal (DEL, C1, the
    bidirectional controls, U+2028/9) written as `\\u` escapes, as JSON writes C0 controls:
    a parser reads the same strings, and `--json` at a terminal cannot drive it. They can only
    stand inside strings, so the whole text is safe to go over."""
    return _UNSAFE_IN_JSON.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def print_json(data: object) -> None:
    sys.stdout.write(json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n")


def print_json_array(items: Iterable[dict[str, Any]]) -> int:
    """`print_json` of a list of JSON views (tasks), the same text, written item by item as
    they come (memory stays flat); returns how many there were."""
    count = 0
    for item in items:
        sys.stdout.write(("[\n" if count == 0 else ",\n") + _indented(item))
        count += 1
    sys.stdout.write("\n]\n" if count else "[]\n")
    return count


_SCALARS: dict[object, str] = {None: "null", True: "true", False: "false"}


def _scalar(value: object) -> str:
    """VALUE as json.dumps(ensure_ascii=False) writes it, quicker for the usual kinds."""
    if isinstance(value, str):
        return json_safe(json.encoder.encode_basestring(value))  # the C encoder
    if value is None or isinstance(value, bool):
        return _SCALARS[value]
    return json.dumps(value)


def _indented(item: dict[str, Any]) -> str:
    """ITEM (values: scalars, and lists of scalars or of objects of scalars) as
    `json.dumps(indent=2)` writes it inside an array. Not json.dumps itself: with an indent it
    encodes in Python, through closures that refer to each other, and sorted runs with the
    cycle collector off (sorted_cli.process), so each call would leave its cycle behind: 1 GB
    for 400,000 tasks."""
    fields = []
    for key, value in item.items():
        if not isinstance(value, list):
            text = _scalar(value)
        elif value:
            text = "[\n      " + ",\n      ".join(map(_in_list, value)) + "\n    ]"
        else:
            text = "[]"
        fields.append(f"    {_scalar(key)}: {text}")
    return "  {\n" + ",\n".join(fields) + "\n  }"


def _in_list(value: object) -> str:
    """An item of a list in ITEM (`_indented`): a scalar, or an object of scalars (a note)."""
    if not isinstance(value, dict):
        return _scalar(value)
    fields = ",\n".join(f"        {_scalar(key)}: {_scalar(item)}" for key, item in value.items())
    return "{\n" + fields + "\n      }"


def is_terminal(stream: TextIO) -> bool:
    """Does STREAM reach a terminal, as Rich decides it (without importing Rich):
    `TTY_COMPATIBLE=1` or a non-empty `FORCE_COLOR` make a pipe count as one,
    `TTY_COMPATIBLE=0` a terminal count as a pipe."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "1"
    if (force := os.environ.get("FORCE_COLOR")) is not None:
        return force != ""
    try:
        return stream.isatty()
    except ValueError:  # closed
        return False


def for_people() -> bool:
    """Tables for people (stdout is a terminal), plain tab-separated rows for scripts."""
    return is_terminal(sys.stdout)


@contextmanager
def progress(total: int | None, what: str) -> Iterator[Callable[[int], object]]:
    """A progress bar on stderr while long work runs, when stderr is a terminal; the work
    calls the yielded function with how many more items are done. Off a terminal: nothing."""
    if not is_terminal(sys.stderr):
        yield lambda _done: None
        return
    console = stderr()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.advance(task, done)


# ---------------------------------------------------------------------------------- tasks


def task_json(
    task: Task, tags: list[str] | None = None, notes: list[NotePublic] | None = None
) -> dict[str, Any]:
    from sorted_cli.models import TaskPublic

    return TaskPublic.of(task, tags or [], notes or []).model_dump(mode="json")


def task_view(found: TaskInFull) -> dict[str, Any]:
    """The JSON view of a task read in full (`show --json` of it)."""
    return task_json(found.task, found.tags, found.notes)


def changes_json(results: list[Change], shown: list[TaskInFull]) -> list[dict[str, Any]]:
    """`--json` of done, reopen, delete and restore: the view of each task named, read after
    the change (SHOWN), with two keys added at its end: `changed` (false when it already was
    so) and `next` (the view of the next time of a repeating task the change made or
    withdrew, else null)."""
    views = {found.task.id: task_view(found) for found in shown}
    return [
        {
            **views[item.task.id],
            "changed": item.changed,
            "next": None if item.next is None else views[item.next.id],
        }
        for item in results
    ]


def tags_text(tags: list[str]) -> Text:
    from rich.text import Text

    return Text(clean(" ".join(f"+{tag}" for tag in tags)), style="magenta")


def short_tags_text(tags: list[str]) -> Text:
    """The first tag and how many others there are (`+home +2`), for a narrow table."""
    from rich.text import Text

    if not tags:
        return Text("")
    others = f" +{len(tags) - 1}" if len(tags) > 1 else ""
    return Text(clean(f"+{tags[0]}{others}"), style="magenta")


def task_line(verb: str, task: Task) -> None:
    line(f"{verb} task {task.number}: {task.title}")


def added(task: Task, tags: list[str], *, today: date) -> None:
    """`Added task 7: Buy bread (+errand, high, due Fri 4 Dec)`: the task and what was
    understood of it (its tags, priority, dates, rule and its end), so a mistyped attribute
    shows."""
    understood = [f"+{tag}" for tag in tags]
    if task.priority is not Priority.none:
        understood.append(task.priority.value)
    if task.due is not None:
        understood.append(f"due {day_words(task.due, today=today, at=task.due_at)}")
    for word, moment in (("waits until", task.wait), ("scheduled", task.scheduled)):
        if moment is not None:
            local = moment.astimezone()
            at = None if local.time() == time() else moment
            understood.append(f"{word} {day_words(local.date(), today=today, at=at)}")
    if task.every is not None:
        understood.append(f"every {task.every}")
        if task.until is not None:
            understood.append(f"until {day_words(task.until, today=today)}")
        if task.times is not None:
            understood.append(f"{task.times} time{'s' if task.times > 1 else ''}")
    said = f" ({', '.join(understood)})" if understood else ""
    line(f"Added task {task.number}: {task.title}{said}")


def day_words(day: date, *, today: date, at: datetime | None = None) -> str:
    """A day as people say it: `Fri 4 Dec`, with its year when not this one, and a local
    time when AT is given (`Fri 4 Dec 17:00`)."""
    text = f"{_WEEKDAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
    if day.year != today.year:
        text += f" {day.year}"
    return text if at is None else f"{text} {at.astimezone():%H:%M}"


# English whatever the locale, as the rest of the output is.
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def changes(results: list[Change], *, verb: str, unchanged: str) -> None:
    """One line per task: what happened, or that it already was so; and a line for the next
    occurrence of a repeating task the change made (done) or withdrew (reopen)."""
    for item in results:
        if item.changed:
            task_line(verb, item.task)
        else:
            line(f"Task {item.task.number} {unchanged}: {item.task.title}")
        if item.next is None:
            continue
        following = item.next
        if following.is_deleted and item.task.completed:  # done: one the user had deleted
            line(
                f"Its next time, task {following.number}, is in the trash: "
                f"`sorted restore {following.number}` brings it back."
            )
        elif following.is_deleted:  # reopened
            line(f"Withdrew task {following.number}, its next time, to the trash.")
        else:
            due = f", due {following.due.isoformat()}" if following.due else ""
            line(f"Next: task {following.number}{due}.")


def due_text(
    due: date | None,
    *,
    today: date,
    completed: bool = False,
    at: datetime | None = None,
    now: datetime | None = None,
) -> Text:
    """The due day (`today`, `tomorrow`, `2026-12-04`) and, for a due with a time AT, that
    local time beside it; red once past due (AT before NOW, or a whole day before TODAY)."""
    from rich.text import Text

    if due is None:
        return Text("")
    days = (due - today).days
    label = {-1: "yesterday", 0: "today", 1: "tomorrow"}.get(days, due.isoformat())
    if at is not None:
        label += f" {at.astimezone():%H:%M}"
    if completed:
        return Text(label, style="dim")
    past = past_due(due, at, today=today, now=now) if now is not None else days < 0
    return Text(label, style="bold red" if past else "yellow" if days == 0 else "")


def priority_text(priority: Priority) -> Text:
    from rich.text import Text

    return Text(
        "" if priority is Priority.none else priority.value, style=_PRIORITY_STYLE.get(priority, "")
    )


def task_table(
    page: TaskPage,
    *,
    view: View,
    now: datetime,
    today: date,
    searched: bool = False,
    urgency: Callable[[Task], float] | None = None,
) -> None:
    """The Rich table of `sorted list`, or a one-line note when there is nothing to show; with
    URGENCY (`sorted next`), an Urgency column last, which never gives way.

    The table fits the terminal's width, and the title has the room: the number and the title
    always show, and the title keeps at least `TITLE_ROOM` cells (or its widest title's, when
    that is less). When the other columns would leave it less, the table narrows a step at a
    time (`_NARROWING`) until they do not: Age goes; Tags shorten to the first tag and a count
    of the others (`+home +2`); the Done header becomes `✓`; a due time goes under its day;
    then Tags, Priority, the `✓` marks and Due go, in that order. So the columns matter in the
    order number and title, Due, Done, Priority, Tags, Age. A title wider than its column
    wraps at spaces; only a word longer than the whole column is broken.
    """
    from rich.table import Table

    if not page.tasks:
        say_empty(view, searched=searched)
        return
    console = stdout()
    columns = _task_columns(page, view=view, now=now, today=today, urgency=urgency)
    shown = _narrowed(columns, width=console.width)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in shown:
        table.add_column(
            column.header,
            justify=column.justify,
            style=column.style,
            no_wrap=not column.wraps,
            max_width=column.max_width,
            overflow="fold",  # in a wrapping column, breaks only a word longer than the column
        )
    for cells in zip(*(column.cells for column in shown), strict=True):
        table.add_row(*cells)
    console.print(table)
    say_more(page)


TITLE_ROOM = 20  # cells the title of `sorted list` keeps before other columns give way

# How `sorted list` narrows its table, one step at a time, until the title has its room (see
# `task_table`): each step puts the second column in place of the first, or drops it (None).
# A step whose column is not in the table (Done in the open view, Tags when no task shown has
# tags) is skipped.
_NARROWING: tuple[tuple[str, str | None], ...] = (
    ("Age", None),
    ("Tags", "Tags short"),
    ("Done", "Done short"),
    ("Due", "Due wrapped"),
    ("Tags short", None),
    ("Priority", None),
    ("Done short", None),
    ("Due wrapped", None),
)


@dataclass(frozen=True)
class _Column:
    """A column of `sorted list`'s table: its header, a cell for each task, and the width it
    needs (its widest cell, or for a column that wraps at spaces, its widest word)."""

    header: str
    cells: list[Text]
    width: int
    justify: JustifyMethod = "left"
    style: str = ""
    wraps: bool = False
    max_width: int | None = None  # Rich gives it no more (a due time then goes under its day)


def _column(
    header: str,
    cells: list[Text],
    *,
    justify: JustifyMethod = "left",
    style: str = "",
    wraps: bool = False,
) -> _Column:
    """A column as wide as its widest cell, or when it WRAPS, its widest word (and no wider)."""
    from rich.cells import cell_len

    if wraps:
        widths = [cell_len(word) for cell in cells for word in cell.plain.split()]
    else:
        widths = [cell.cell_len for cell in cells]
    width = max([cell_len(header), *widths])
    limit = width if wraps else None
    return _Column(header, cells, width, justify, style, wraps=wraps, max_width=limit)


def _task_columns(
    page: TaskPage,
    *,
    view: View,
    now: datetime,
    today: date,
    urgency: Callable[[Task], float] | None = None,
) -> dict[str, _Column]:
    """Every column `sorted list` may show, by name, the widest layout's in its order, then
    the narrower forms `_NARROWING` may put in their place."""
    from rich.text import Text

    tasks = page.tasks
    titles = []
    for task in tasks:
        title = Text(clean(task.title), style="dim" if task.completed else "")
        if task.every is not None:
            title.append(f" {REPEATS_MARK}", style="magenta")
        titles.append(title)
    widest_title = max([len("Title"), *(title.cell_len for title in titles)])
    columns = {
        "#": _column(
            "#", [Text(str(task.number)) for task in tasks], justify="right", style="cyan"
        ),
    }
    if view is not View.open:
        done = [Text("✓" if task.completed else "", style="green") for task in tasks]
        columns["Done"] = _column("Done", done, justify="center")
    # The title's room, not its width: it has what the other columns leave it.
    columns["Title"] = _Column("Title", titles, min(TITLE_ROOM, widest_title), wraps=True)
    if page.tags:  # a Tags column only when some task shown has tags
        columns["Tags"] = _column("Tags", [tags_text(page.tags_of(task)) for task in tasks])
    columns["Priority"] = _column("Priority", [priority_text(task.priority) for task in tasks])
    due = [
        due_text(task.due, today=today, completed=task.completed, at=task.due_at, now=now)
        for task in tasks
    ]
    columns["Due"] = _column("Due", due)
    ages = [Text(age(task.created_at, now=now)) for task in tasks]
    columns["Age"] = _column("Age", ages, justify="right", style="dim")
    if urgency is not None:
        scores = [Text(f"{urgency(task):.1f}") for task in tasks]
        columns["Urgency"] = _column("Urgency", scores, justify="right", style="bold")
    if "Done" in columns:
        columns["Done short"] = _column("✓", columns["Done"].cells, justify="center")
    if "Tags" in columns:
        short = [short_tags_text(page.tags_of(task)) for task in tasks]
        columns["Tags short"] = _column("Tags", short)
    columns["Due wrapped"] = _column("Due", due, wraps=True)
    return columns


def _narrowed(columns: dict[str, _Column], *, width: int) -> list[_Column]:
    """The columns of the widest layout that leaves the title its room in WIDTH cells, or of
    the narrowest (the number and the title) when none does."""
    widest = ("#", "Done", "Title", "Tags", "Priority", "Due", "Age", "Urgency")
    shown = [name for name in widest if name in columns]
    for name, narrower in _NARROWING:
        if _table_width([columns[shown_name] for shown_name in shown]) <= width:
            break
        if name in shown:
            at = shown.index(name)
            shown[at : at + 1] = [] if narrower is None else [narrower]
    return [columns[name] for name in shown]


def _table_width(columns: list[_Column]) -> int:
    """Cells a row takes: each column's width and a gap of two between columns."""
    return sum(column.width for column in columns) + 2 * (len(columns) - 1)


def say_empty(view: View, *, searched: bool) -> None:
    notice(f"No {_NOUN[view]} match." if searched else _EMPTY[view])


def say_more(page: TaskPage) -> None:
    if page.more:
        notice(f"… and {page.more_text} more (--limit N shows more, --limit 0 shows all).")


def say_waiting(page: TaskPage) -> None:
    """How many waiting tasks the list left out, as a notice (stderr)."""
    if page.waiting:
        tasks, them = ("task", "it") if page.waiting == 1 else ("tasks", "them")
        notice(f"{page.waiting_text} waiting {tasks} hidden: sorted list --waiting shows {them}.")


def task_rows(tasks: Iterable[dict[str, Any]], *, also: tuple[str, ...] = ()) -> int:
    """`sorted list` for scripts: one line per task (given as its JSON view), tab-separated,
    no header, no styling; returns how many tasks there were.

    Columns: number, UUID, status (open, done or deleted), priority, due (YYYY-MM-DD or
    empty), tags (comma-separated or empty), title, each `escaped`, so every task is one line;
    then the values of the keys ALSO names (`sorted next`: urgency).
    """
    count = 0
    for task in tasks:
        status = "deleted" if task["deleted"] else "done" if task["completed"] else "open"
        fields = (task["number"], task["id"], status, task["priority"], task["due"] or "")
        tags, title = escaped(",".join(task["tags"])), escaped(task["title"])
        more = "".join(f"\t{escaped(_plain(task[key]))}" for key in also)
        sys.stdout.write("\t".join(map(str, fields)) + f"\t{tags}\t{title}{more}\n")
        count += 1
    return count


def task_details(
    found: TaskInFull, *, now: datetime, today: date, urgency: Urgency | None = None
) -> None:
    """Everything about one task, for `sorted show`: a panel at a terminal, else `key: value`
    lines for scripts (`task_lines`). URGENCY is None for a done or a deleted task."""
    if for_people():
        task_panel(
            found.task, now=now, today=today, tags=found.tags, notes=found.notes, urgency=urgency
        )
    else:
        task_lines(found, urgency)


def shown_json(
    found: TaskInFull, urgency: Urgency | None, history: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`sorted show --json`: the task's JSON view, then its `history` when asked for, then its
    `urgency` (null for a done or a deleted task): keys added at the end, as they came."""
    shown = task_json(found.task, found.tags, found.notes)
    if history is not None:
        shown["history"] = history
    shown["urgency"] = None if urgency is None else urgency.total
    return shown


def urgency_text(urgency: Urgency) -> str:
    """An urgency and what makes it, for people: `8.4 (due in 2 days 9.2, priority medium
    3.5, age 12 days 0.1)`."""
    shown = [f"{term} {value:.1f}" for term, value in urgency.terms]
    terms = ", ".join(text for text in shown if not text.endswith(" 0.0"))
    return f"{urgency.total:.1f}" + (f" ({terms})" if terms else "")


def task_panel(
    task: Task,
    *,
    now: datetime,
    today: date,
    tags: list[str] | None = None,
    notes: list[NotePublic] | None = None,
    urgency: Urgency | None = None,
) -> None:
    """A task in a panel; the title is in it in full, wrapped (a border would cut it). The
    notes come last, oldest first, each after its local date and time."""
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    state = "in the trash" if task.is_deleted else "done" if task.completed else "open"
    rows: list[tuple[str, Text | str]] = [
        ("Title", Text(clean(task.title), style="bold")),
        ("Status", state),
        ("Priority", priority_text(task.priority) if task.priority is not Priority.none else "-"),
        ("Due", _due_cell(task, now=now, today=today)),
    ]
    if task.wait:
        rows.append(("Wait", _moment(task.wait)))
    if task.scheduled:
        rows.append(("Scheduled", _moment(task.scheduled)))
    rows += [
        ("Tags", tags_text(tags) if tags else "-"),
        *([("Repeats", repeats_text(task, today=today))] if task.every is not None else []),
        *([("Urgency", urgency_text(urgency))] if urgency is not None else []),
        ("Created", f"{_moment(task.created_at)} ({_ago(task.created_at, now=now)})"),
        ("Updated", _moment(task.updated_at)),
    ]
    if task.completed_at:
        rows.append(("Completed", _moment(task.completed_at)))
    if task.deleted_at:
        rows.append(("Deleted", _moment(task.deleted_at)))
    rows.append(("ID", str(task.id)))
    for name, value in rows:
        grid.add_row(name, value)
    if task.description:
        grid.add_row("", "")
        grid.add_row("Description", Text(clean(task.description, keep_lines=True)))
    if notes:
        grid.add_row("", "")
    for number, note in enumerate(notes or []):
        written = Text().append(_moment(note.at), style="dim").append("  ")
        written.append(clean(note.text, keep_lines=True))
        grid.add_row("" if number else "Notes", written)
    title = Text(f"Task {task.number}", style="cyan")
    stdout().print(Panel(grid, title=title, title_align="left", expand=False))


def _due_cell(task: Task, *, now: datetime, today: date) -> Text | str:
    if task.due is None:
        return "-"
    return due_text(task.due, today=today, completed=task.completed, at=task.due_at, now=now)


REPEATS_MARK = "↻"  # beside the title of a repeating task in `sorted list`


def repeats_text(task: Task, *, today: date) -> str:
    """How a task repeats, for people: `every week until 2027-06-30 (3 of 6); next due
    2026-12-11 if done today`."""
    from sorted_cli.recurrence import occurrence_after

    assert task.every is not None
    text = f"every {task.every}"
    if task.until is not None:
        text += f" until {task.until.isoformat()}"
    if task.times is not None:
        text += f" ({task.iteration or 1} of {task.times})"
    if task.completed or task.is_deleted:
        return text
    after = occurrence_after(task, done_on=today)
    if after is None:
        return f"{text}; this is the last time"
    return f"{text}; next due {after.isoformat()} if done today"


def task_lines(found: TaskInFull, urgency: Urgency | None = None) -> None:
    """`sorted show` for scripts: a `key: value` line for each key of the JSON view, in its
    order; null is empty, true and false are `true` and `false`, tags are comma-separated,
    notes as in a CSV export's cell (`notes_text`), and every value is `escaped`."""
    _key_value_lines(shown_json(found, urgency))


def _key_value_lines(data: dict[str, Any]) -> None:
    """A JSON view for scripts: a `key: value` line for each key, in its order; null is empty,
    true and false are `true` and `false`, lists are comma-separated, every value `escaped`."""
    sys.stdout.write("".join(f"{key}: {escaped(_plain(value))}\n" for key, value in data.items()))


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return notes_text(value) if value and isinstance(value[0], dict) else ",".join(value)
    return str(value)


def notes_text(notes: list[dict[str, str]]) -> str:
    """A task's notes (from its JSON view) as text that reads back: one line per note, oldest
    first, its UTC moment, a space and its text `escaped` (so a line break in a note is `\\n`
    and the note stays on its line)."""
    return "\n".join(f"{note['at']} {escaped(note['text'])}" for note in notes)


def _ago(moment: datetime, *, now: datetime) -> str:
    how_long = age(moment, now=now)
    return "just now" if how_long == "now" else f"{how_long} ago"


def _moment(moment: datetime) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


# -------------------------------------------------------------------------------- history

_PAST = {"undo": "Undid", "redo": "Redid"}


_REVERTED_SHOWN = 20  # tasks named one a line; past that, the first ones and a count


def reverted(command: Command) -> None:
    """What `undo` or `redo` took back or re-applied: a line per task (of a big import, the
    first ones and how many more)."""
    verb = _PAST[command.action]
    steps = command.steps
    shown = steps if len(steps) <= _REVERTED_SHOWN else steps[: _REVERTED_SHOWN // 2]
    for step in shown:
        where = ""
        if "deleted" in step.after:  # an undone add or restore, a redone add or delete...
            where = " (moved to the trash)" if step.after["deleted"] else " (out of the trash)"
        if "note" in step.after:  # an undone or a redone note
            was, becomes = (step.before or {}).get("note"), step.after["note"]
            done = "put back" if becomes else "taken off"
            where = f" (note {_field_text(becomes or was)} {done})"
        line(f"{verb} {command.reverts} of task {step.number}: {step.title}{where}")
    if len(shown) < len(steps):
        line(f"... and {len(steps) - len(shown):,} more tasks.")


def changes_text(before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    """What a change did to a task, for people: `completed: no -> yes; tags: +a -> +a +b`,
    `note: - -> "called the plumber"`."""
    if before is None:
        return "added"
    return "; ".join(
        f"{key}: {_field_text(before.get(key))} -> {_field_text(after.get(key))}" for key in after
    )


_NOTE_SHOWN = 60  # characters of a note a line of the history shows


def _field_text(value: object) -> str:
    from sorted_cli.models import NotePublic

    if value is None or value == []:
        return "-"
    if isinstance(value, NotePublic):
        text = value.text
        return f'"{text if len(text) <= _NOTE_SHOWN else text[: _NOTE_SHOWN - 1] + "…"}"'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return _moment(value)
    if isinstance(value, list):
        return " ".join(f"+{item}" for item in value)
    if isinstance(value, Priority):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def command_json(command: Command) -> dict[str, Any]:
    """A command of the history for `log --json`, `undo --json` and `redo --json` (for an
    undo or a redo, `reverts` names the action of the command it reverted)."""
    from sorted_cli.models import public_value

    def values(fields: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if fields is None else {k: public_value(v) for k, v in fields.items()}

    return {
        "command": str(command.id),
        "action": command.action,
        "at": public_value(command.at),
        "undone_at": public_value(command.undone_at),
        "reverts": command.reverts,
        "tasks": [
            {
                "id": str(step.task_id),
                "number": step.number,
                "title": step.title,
                "before": values(step.before),
                "after": values(step.after),
            }
            for step in command.steps
        ],
    }


def history_log(commands: list[Command]) -> None:
    """`sorted log`: a table of the user's latest commands, newest first; for scripts a
    tab-separated line per task of each: when (UTC), the command's id, what, the task's
    number, title, and `undone` or nothing."""
    if not for_people():
        for command in commands:
            for step in command.steps:
                _tab_line(
                    _utc_text(command.at),
                    str(command.id),
                    _what(command),
                    str(step.number),
                    step.title,
                    "undone" if command.undone_at else "",
                )
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("When", no_wrap=True)
    table.add_column("Command", no_wrap=True)
    table.add_column("Task", justify="right", no_wrap=True)
    table.add_column("Change", overflow="fold")
    for command in commands:
        style = "dim strike" if command.undone_at else ""
        for index, step in enumerate(command.steps):
            first = index == 0
            table.add_row(
                _moment(command.at) if first else "",
                Text(_what(command) if first else "", style=style),
                str(step.number),
                Text(clean(f"{step.title}: {changes_text(step.before, step.after)}"), style=style),
            )
    stdout().print(table)


def _what(command: Command) -> str:
    return f"{command.action} {command.reverts}" if command.reverts else command.action


def _utc_text(moment: datetime) -> str:
    from sorted_cli.models import public_value

    return str(public_value(moment))


def _tab_line(*cells: str) -> None:
    sys.stdout.write("\t".join(escaped(cell) for cell in cells) + "\n")


def change_json(change: TaskChange, reverted_action: str | None) -> dict[str, Any]:
    """One recorded change of a task, for `show --history --json`."""
    from sorted_cli.models import public_value
    from sorted_cli.services.history import stored_values

    def values(fields: dict[str, Any] | None) -> dict[str, Any] | None:
        return (
            None
            if fields is None
            else {key: public_value(value) for key, value in stored_values(fields).items()}
        )

    return {
        "command": str(change.command_id),
        "action": change.action,
        "at": public_value(change.at),
        "undone_at": public_value(change.undone_at),
        "reverts": reverted_action,
        "before": values(change.before),
        "after": values(change.after),
    }


def task_history(entries: list[tuple[TaskChange, str | None]]) -> None:
    """`sorted show --history`: the task's changes, oldest first, one line each."""
    from sorted_cli.services.history import stored_values

    if not entries:
        line("No recorded changes.")
        return
    for change, reverted_action in entries:
        what = f"{change.action} {reverted_action}" if reverted_action else change.action
        undone = " (undone)" if change.undone_at else ""
        before = None if change.before is None else stored_values(change.before)
        text = changes_text(before, stored_values(change.after))
        line(f"{_moment(change.at)}  {what}{undone}: {text}")


# ---------------------------------------------------------------------------------- stats

_BAR_WIDTH = 30


def stats_json(numbers: Stats) -> dict[str, Any]:
    return {
        "open": numbers.open,
        "completed": numbers.completed,
        "overdue": numbers.overdue,
        "due_today": numbers.due_today,
        "deleted": numbers.deleted,
        "completed_per_week": [
            {"week_of": monday.isoformat(), "completed": count} for monday, count in numbers.weeks
        ],
    }


def stats(numbers: Stats) -> None:
    """The counts, then one bar per week (Monday's date, a bar scaled to the busiest week); for
    scripts, `key: value` lines (`stats_lines`)."""
    if not for_people():
        stats_lines(numbers)
        return
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_row("Open", str(numbers.open))
    grid.add_row("Overdue", Text(str(numbers.overdue), style="bold red" if numbers.overdue else ""))
    grid.add_row("Due today", str(numbers.due_today))
    grid.add_row("Completed", str(numbers.completed))
    grid.add_row("In the trash", str(numbers.deleted))
    console = stdout()
    console.print(grid)
    console.print(Text("\nCompleted per week", style="bold"))
    busiest = max((count for _, count in numbers.weeks), default=0)
    digits = len(str(busiest))
    for monday, count in numbers.weeks:
        width = max(round(count / busiest * _BAR_WIDTH), 1) if count else 0
        row = Text(f"{monday:%b %d}", style="dim").append(f" {count:>{digits}}")
        if width:
            row.append(" ").append("█" * width, style="green")
        console.print(row)


def stats_lines(numbers: Stats) -> None:
    """`sorted stats` for scripts: `key: N` for the counts of the JSON view, then a line
    `week_of MONDAY: N` for each week, oldest first."""
    data = stats_json(numbers)
    weeks = data.pop("completed_per_week")
    lines = [f"{key}: {value}\n" for key, value in data.items()]
    lines += [f"week_of {week['week_of']}: {week['completed']}\n" for week in weeks]
    sys.stdout.write("".join(lines))


# ---------------------------------------------------------------------------------- users


def user_json(user: User, *, current: bool) -> dict[str, Any]:
    from sorted_cli.models import UserPublic

    return {**UserPublic.model_validate(user).model_dump(mode="json"), "current": current}


def user_table(users: list[User], *, current: str | None, now: datetime) -> None:
    """Everyone, the current user starred: a table at a terminal; for scripts, one line per
    user, tab-separated: `*` for the current user (else empty), email, name (or empty), each
    `escaped`."""
    from rich.table import Table
    from rich.text import Text

    if not users:
        notice("No users yet: add one with `sorted user add EMAIL`.")
        return
    if not for_people():
        sys.stdout.write(
            "".join(
                f"{'*' if user.email == current else ''}\t{escaped(user.email)}"
                f"\t{escaped(user.name or '')}\n"
                for user in users
            )
        )
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("", no_wrap=True, style="green")
    table.add_column("Email", no_wrap=True)
    table.add_column("Name")
    table.add_column("Age", justify="right", style="dim", no_wrap=True)
    for user in users:
        table.add_row(
            "*" if user.email == current else "",
            Text(clean(user.email)),
            Text(clean(user.name or "")),
            age(user.created_at, now=now),
        )
    stdout().print(table)


def user_panel(user: User, *, current: bool, open_tasks: int, completed_tasks: int) -> None:
    """A user in a panel at a terminal; for scripts, `key: value` lines of the user's JSON view
    and then `open_tasks: N` and `completed_tasks: N`."""
    if not for_people():
        counts = {"open_tasks": open_tasks, "completed_tasks": completed_tasks}
        _key_value_lines({**user_json(user, current=current), **counts})
        return
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    grid.add_row("Name", Text(clean(user.name or "-")))
    grid.add_row("Current", "yes" if current else "no")
    grid.add_row("Tasks", f"{open_tasks} open, {completed_tasks} done")
    grid.add_row("Created", _moment(user.created_at))
    grid.add_row("ID", str(user.id))
    stdout().print(
        Panel(grid, title=Text(clean(user.email), style="bold"), title_align="left", expand=False)
    )


def key_values(rows: list[tuple[str, str]]) -> None:
    """Aligned `name  value` lines (plain text, so scripts can read them too)."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        line(f"{name.ljust(width)}  {value}")
