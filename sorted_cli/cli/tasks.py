"""Task commands: add, list, show, note, done, reopen, edit, delete, restore, purge, tag,
untag, stats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sorted_cli.choices import DEFAULT_LIMIT, Priority, SortKey, View
from sorted_cli.cli import completion, editing
from sorted_cli.cli.options import (
    ASK_ABOVE,
    Asking,
    DeletedRefs,
    DoneRefs,
    Json,
    Ref,
    Refs,
    Tags,
    WordsCommand,
    Yes,
    confirm_or_refuse,
    examples,
    expanded,
    listed,
    literal_words,
    normalised_tags,
    numbered,
    parsed_due,
    priority_option,
    shortened,
)
from sorted_cli.cli.selection import (
    Filters,
    chosen,
    filtered,
)
from sorted_cli.cli.state import State
from sorted_cli.dates import DAY_FORMS
from sorted_cli.errors import InvalidInput
from sorted_cli.inline import Typed, read_words

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.dates import When
    from sorted_cli.models import Task
    from sorted_cli.services.tasks import Change, TaskInFull

app = typer.Typer()

DueOption = Annotated[
    str | None,
    typer.Option(
        "--due",
        metavar="DATE",
        help=f"Due on DATE: {DAY_FORMS}; a local time may follow (eow 17:00), or stand alone "
        "(17:00: today).",
    ),
]
WaitOption = Annotated[
    str | None,
    typer.Option(
        "--wait",
        metavar="DATE",
        help=f"Hide the task from `list` until DATE ({DAY_FORMS}: its start, or a local time "
        "on it: monday 9:00).",
    ),
]
ScheduledOption = Annotated[
    str | None,
    typer.Option(
        "--scheduled",
        metavar="DATE",
        help=f"Not to be started before DATE ({DAY_FORMS}: its start, or a local time on it: "
        "monday 9:00); `list --ready` waits for it.",
    ),
]
DescriptionOption = Annotated[
    str | None,
    typer.Option("--description", "-d", metavar="TEXT", help="Longer notes (up to 10,000 chars)."),
]
PriorityOption = Annotated[
    Priority | None,
    priority_option("Priority: none, low, medium or high, or its first letter, in any case."),
]
EveryOption = Annotated[
    str | None,
    typer.Option(
        "--every",
        metavar="RULE",
        help="Repeat: day, week, month, year (2w, 3d, 6 months), weekday or a weekday name; "
        "'... after done' counts from the day it is done.",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option("--until", metavar="DATE", help=f"Repeat up to this day ({DAY_FORMS})."),
]
TimesOption = Annotated[
    int | None,
    typer.Option("--times", metavar="N", min=1, help="Repeat N times in all.", show_default=False),
]


def _every(text: str | None) -> str | None:
    from sorted_cli.recurrence import canonical

    try:
        return None if text is None else canonical(text)
    except ValueError as exc:
        raise InvalidInput(f"Invalid --every: {exc}.") from None


def _when(text: str | None) -> When | None:
    from sorted_cli.dates import parse_when

    return None if text is None else parse_when(text)


def _due_fields(text: str | None) -> dict[str, object]:
    """`due` (the local day) and `due_at` (the moment, for a due with a time) of --due."""
    when = _when(text)
    return (
        {"due": None, "due_at": None} if when is None else {"due": when.day, "due_at": when.moment}
    )


def _start(text: str | None) -> datetime | None:
    """The moment of --wait or --scheduled: the time given, or the start of the local day."""
    when = _when(text)
    return None if when is None else when.start


_ATTRIBUTES = (
    "due:DATE, pri:h (or l, m, high, ...), wait:DATE, scheduled:DATE, every:RULE, until:DATE, "
    'times:N (quote one with a space: "due:friday 17:00"); after -- every word is the title'
)


@app.command(
    cls=WordsCommand,
    epilog=examples(
        "sorted add Buy milk",
        "sorted add Buy bread +errand due:friday pri:h",
        'sorted add "File taxes" -p high --due friday -d "Forms in the drawer"',
        'sorted add "Call mum" --tag family --tag phone',
        "sorted add Water plants due:friday every:week",
        'sorted add "Pay rent" --due 2027-01-31 --every month --until 2027-12-31',
        'sorted add "Descale the kettle" --every "3 weeks after done"',
        'sorted add Send the report "due:friday 17:00"',
        'sorted add "Renew passport" --wait 2027-01-01 --scheduled "2027-01-04 09:00"',
        "sorted add -- C++ +1 review    (after --, every word is the title)",
    ),
)
def add(
    ctx: typer.Context,
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="TITLE...",
            help=f"What to do (1-500 characters). Among the words: +TAG, {_ATTRIBUTES}.",
            show_default=False,
        ),
    ],
    description: DescriptionOption = None,
    priority: PriorityOption = None,
    due: DueOption = None,
    wait: WaitOption = None,
    scheduled: ScheduledOption = None,
    tags: Tags = None,
    every: EveryOption = None,
    until: UntilOption = None,
    times: TimesOption = None,
    as_json: Json = False,
) -> None:
    """Add a task; the words are its title, with the attributes among them understood, and it
    says what it understood: Added task 7: Buy bread (+errand, high, due Fri 4 Dec)."""
    from sorted_cli import render
    from sorted_cli.models import TaskCreate, validated
    from sorted_cli.services import tasks

    typed = read_words(words, literal=literal_words(ctx))
    if typed.title is None and (typed.tags or typed.options):
        raise InvalidInput("A task needs a title: give words besides its attributes.")
    inline = _Inline(typed)
    due, wait, scheduled = (
        inline.text("due", due),
        inline.text("wait", wait),
        inline.text("scheduled", scheduled),
    )
    data = validated(
        TaskCreate,
        title=typed.title or "",
        description=description,
        priority=inline.priority(priority) or Priority.none,
        **_due_fields(due),
        wait=_start(wait),
        scheduled=_start(scheduled),
        tags=normalised_tags([*(tags or []), *typed.tags]),
        every=_every(inline.text("every", every)),
        until=parsed_due(inline.text("until", until)),
        times=inline.times(times),
    )
    state = State.of(ctx)
    task_id = uuid.uuid4()  # fixed before the first try: a retry cannot add it twice
    task = state.db.run(
        lambda session: tasks.create_task(
            session=session, user=state.user, data=data, task_id=task_id
        ),
        repeatable=True,
    )
    if as_json:
        render.print_json(render.task_json(task, data.tags))
    else:
        render.added(task, data.tags, today=date.today())


class _Inline:
    """The options typed among a command's words, each merged with its --option (given both
    ways is refused; an empty inline value is None: removed)."""

    def __init__(self, typed: Typed) -> None:
        self._typed = typed

    def cleared(self, name: str) -> bool:
        """Whether NAME was typed with an empty value (`due:`): removed."""
        return self._typed.options.get(name) == ""

    def text(self, name: str, option: str | None) -> str | None:
        inline = self._typed.option(name, option)
        return option if inline is None else (inline or None)

    def priority(self, option: Priority | None) -> Priority | None:
        from sorted_cli.choices import parse_priority

        text = self.text("priority", None if option is None else option.value)
        try:
            return None if text is None else parse_priority(text)
        except ValueError as exc:
            raise InvalidInput(f"Invalid pri: {exc}.") from None

    def times(self, option: int | None) -> int | None:
        text = self._typed.option("times", option)
        if text is None:
            return option
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            raise InvalidInput(f"Invalid times: {text!r} is not a whole number of 1 or more.")
        return int(text)


@app.command(
    "list",
    short_help="List your tasks: open ones, or completed ones, or the trash.",
    epilog=examples(
        "sorted list",
        "sorted list --tag work --priority high --sort due",
        "sorted list --overdue",
        "sorted list --waiting    (the tasks hidden until their --wait)",
        "sorted list --ready      (open, not waiting, not scheduled later)",
        "sorted list --all --search milk --json",
        "sorted list --completed-since monday",
        "sorted list | cut -f1,7    (plain tab-separated rows when piped)",
    ),
)
@filtered()
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include completed tasks.")] = False,
    completed: Annotated[bool, typer.Option("--completed", help="Only completed tasks.")] = False,
    deleted: Annotated[bool, typer.Option("--deleted", help="Only the trash.")] = False,
    completed_since: Annotated[
        str | None,
        typer.Option(
            "--completed-since",
            metavar="DATE",
            help=f"Only tasks completed on or after DATE ({DAY_FORMS}); here it looks back: "
            "3d, 2w, 1m, 1y are that long ago, a weekday, dec 24 or 1st the latest one, today "
            "included.",
        ),
    ] = None,
    sort: Annotated[SortKey, typer.Option("--sort", help="Order (created: newest first).")] = (
        SortKey.number
    ),
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            metavar="N",
            help="Show at most N tasks; 0 shows all. Default: 50 in a table, all piped or --json.",
            show_default=False,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """List your open tasks (or completed ones, or the trash), filtered and sorted.

    Filters combine: a task is listed when it passes every one given. Open tasks that are
    waiting (`add --wait`) are left out until then, and counted on stderr. On a terminal the
    list is a table of the first 50; piped, it is one tab-separated line per task (all of
    them): number, UUID, status, priority, due, tags, title.
    """
    from sorted_cli import render
    from sorted_cli.dates import local_midnight, parse_since
    from sorted_cli.services import tasks

    view = _view(all_=all_, completed=completed, deleted=deleted)
    since = None if completed_since is None else local_midnight(parse_since(completed_since))
    if since is not None and view is View.open:
        view = View.completed  # "completed since" asks about completed tasks
    today = date.today()
    table = not as_json and render.for_people()
    if limit is None:  # a page for people; every match for scripts
        limit = DEFAULT_LIMIT if table else 0
    filters = Filters.of(ctx)
    query = filters.query(
        view, today=today, now=_now(), completed_since=since, sort=sort, limit=limit or None
    )
    state = State.of(ctx)
    filtered = filters.given or since is not None
    if query.limit is None and not table:  # streamed, as export streams: flat memory
        write = render.print_json_array if as_json else render.task_rows
        shown = state.db.run(
            lambda session: state.db.written(
                tasks.each_task(session=session, user=state.user, query=query),
                write,
                what="list",
                restartable=False,
            )
        )
        if not shown and not as_json:
            render.say_empty(view, searched=filtered)
        return
    page = state.db.run(
        lambda session: tasks.list_tasks(session=session, user=state.user, query=query)
    )
    if as_json:
        render.print_json(
            [render.task_json(task, page.tags_of(task), page.notes_of(task)) for task in page.tasks]
        )
        if page.more:
            render.notice(f"{page.more_text} more not shown (--limit 0 shows all).")
    elif table:
        render.task_table(page, view=view, now=query.now, today=today, searched=filtered)
    else:
        render.task_rows(
            render.task_json(task, page.tags_of(task), page.notes_of(task)) for task in page.tasks
        )
        render.say_more(page)
        if not page.tasks:
            render.say_empty(view, searched=filtered)
    render.say_waiting(page)


def _view(*, all_: bool, completed: bool, deleted: bool) -> View:
    views = [
        view
        for view, on in ((View.all, all_), (View.completed, completed), (View.deleted, deleted))
        if on
    ]
    if len(views) > 1:
        raise InvalidInput("Choose one of --all, --completed and --deleted.")
    return views[0] if views else View.open


def _now() -> datetime:
    from sorted_cli.models import utcnow

    return utcnow()


@app.command(epilog=examples("sorted show 3", "sorted show 1f2e --json", "sorted show 3 --history"))
def show(
    ctx: typer.Context,
    ref: Ref,
    with_history: Annotated[
        bool, typer.Option("--history", help="Also list every recorded change of the task.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Show one task in full.

    An open task's urgency is shown with the terms that make it up: what `sorted next` ranks by.
    """
    from sorted_cli import render
    from sorted_cli.services import history, tasks, urgency

    state = State.of(ctx)
    found = state.db.run(
        lambda session: tasks.require_task_in_full(session=session, user=state.user, ref=ref)
    )
    entries = (
        state.db.run(lambda session: history.task_history(session=session, task=found.task))
        if with_history
        else None
    )
    now, today = _now(), date.today()
    task = found.task
    urgent = (
        None
        if task.completed or task.is_deleted
        else urgency.explain(task, found.tags, now=now, today=today)
    )
    if as_json:
        history_json = None if entries is None else [render.change_json(*e) for e in entries]
        render.print_json(render.shown_json(found, urgent, history_json))
        return
    render.task_details(found, now=now, today=today, urgency=urgent)
    if entries is not None:
        render.task_history(entries)


def _ref_then(metavar: str, what: str, complete: Callable[..., Any]) -> Any:
    """The words of tag, untag and note: the tasks first, then WHAT (all of it with filters)."""
    return typer.Argument(
        metavar=metavar,
        help=f"The tasks (a number, a range or list of them, a UUID), then {what}.",
        show_default=False,
        autocompletion=complete,
    )


NoteWords = Annotated[
    list[str],
    _ref_then(
        "[REF] TEXT...",
        "what happened (1-10,000 characters; the words are joined with spaces); with filters, "
        "only the text",
        completion.open_tasks,
    ),
]


@app.command(
    cls=WordsCommand,
    epilog=examples(
        "sorted note 3 called the plumber, he comes on Monday",
        'sorted note 3 "Price: 40 EUR; paid"',
        "sorted note 4-6 waiting for the supplier",
        "sorted note --tag plumbing called again, no answer    (filters: every word is text)",
        "sorted show 3    (the notes, oldest first)",
    ),
)
@filtered()
def note(ctx: typer.Context, words: NoteWords, yes: Yes = False, as_json: Json = False) -> None:
    """Add a timestamped note to tasks: what happened (the description says what it is).

    With --json: the task's view as `show --json` gives it, or for a range, a list or
    filters, an array of the views."""
    from sorted_cli import render
    from sorted_cli.models import NoteCreate, validated
    from sorted_cli.services import tasks

    refs, text = _named_then(ctx, words)
    if not text:
        raise InvalidInput(
            "Name the task, then the note: sorted note 3 called the plumber (or with filters, "
            "only the note: sorted note --tag plumbing called again)."
        )
    data = validated(NoteCreate, note=" ".join(text))
    named = chosen(ctx, refs, view=View.open)
    asking = Asking(
        named,
        yes=yes,
        doing="note",
        question="Add the note to {count} tasks?",
        declined="Nothing noted.",
    )
    state = State.of(ctx)
    noted = state.db.run(
        lambda session: tasks.note_tasks(
            session=session, user=state.user, refs=named, data=data, confirm=asking.confirm
        )
    )
    if as_json:
        views = [render.task_view(found) for found in noted]
        render.print_json(views[0] if named == refs else views)
        return
    for found in noted:
        render.line(f"Noted on task {found.task.number}: {found.task.title}")


@dataclass(frozen=True)
class _Change:
    """How done, reopen, delete and restore name their work: the view their filters look in,
    the question before many tasks (asked above ASK tasks), and the line for each task."""

    view: View
    doing: str
    question: str
    declined: str
    verb: str
    unchanged: str
    ask: int = ASK_ABOVE


def _change(
    ctx: typer.Context,
    refs: list[str] | None,
    *,
    yes: bool,
    as_json: bool,
    how: _Change,
    service: Callable[..., list[Change]],
) -> None:
    """Change the tasks REFS or the filters name, with SERVICE (`tasks.complete_tasks`, ...):
    one statement for all of them (with filters, one read before it); asking first, as
    `Asking` does; each task's line, or with --json an array of their views, each with
    `changed` and `next` (the next time of a repeating task the change made or withdrew)."""
    from sorted_cli import render
    from sorted_cli.services import tasks

    named = chosen(ctx, refs, view=how.view)
    asking = Asking(
        named,
        yes=yes,
        doing=how.doing,
        question=how.question,
        declined=how.declined,
        ask=how.ask,
    )
    state = State.of(ctx)

    def run(session: Session) -> tuple[list[Change], list[TaskInFull]]:
        changes = service(session=session, user=state.user, refs=named, confirm=asking.confirm)
        if not as_json:
            return changes, []
        ids = [task.id for change in changes for task in (change.task, change.next) if task]
        return changes, tasks.tasks_in_full(session=session, user=state.user, ids=ids)

    changes, shown = state.db.run(run)
    if as_json:
        render.print_json(render.changes_json(changes, shown))
    else:
        render.changes(changes, verb=how.verb, unchanged=how.unchanged)


_DONE = _Change(
    View.open,
    "complete",
    "Mark {count} tasks as done?",
    "Nothing done.",
    "Completed",
    "was already done",
)
_REOPEN = _Change(
    View.completed,
    "reopen",
    "Reopen {count} tasks?",
    "Nothing reopened.",
    "Reopened",
    "was already open",
)
# The trash is asked about from two tasks on, at a terminal.
_DELETE = _Change(
    View.open,
    "delete",
    "Move {count} tasks to the trash?",
    "Nothing deleted.",
    "Deleted",
    "was already in the trash",
    ask=1,
)
_RESTORE = _Change(
    View.deleted,
    "restore",
    "Restore {count} tasks?",
    "Nothing restored.",
    "Restored",
    "was not in the trash",
)


@app.command(
    epilog=examples(
        "sorted done 3",
        "sorted done 3 4 7",
        "sorted done 1-3,7 --yes",
        "sorted done --tag errand --overdue    (the open tasks list shows with them)",
        "sorted done 3 --json",
    )
)
@filtered()
def done(ctx: typer.Context, refs: Refs = None, yes: Yes = False, as_json: Json = False) -> None:
    """Mark tasks as done: those named, or the open tasks the filters match."""
    from sorted_cli.services import tasks

    _change(ctx, refs, yes=yes, as_json=as_json, how=_DONE, service=tasks.complete_tasks)


@app.command(
    epilog=examples("sorted reopen 3", "sorted reopen 3-6 -y", "sorted reopen --tag errand")
)
@filtered()
def reopen(
    ctx: typer.Context, refs: DoneRefs = None, yes: Yes = False, as_json: Json = False
) -> None:
    """Mark done tasks as open again: those named, or the done tasks the filters match."""
    from sorted_cli.services import tasks

    _change(ctx, refs, yes=yes, as_json=as_json, how=_REOPEN, service=tasks.reopen_tasks)


@app.command(
    cls=WordsCommand,
    epilog=examples(
        'sorted edit 3 --title "Buy oat milk"',
        "sorted edit 3 Buy oat milk due:monday pri:h    (words: the new title)",
        "sorted edit 3 +car pri:h    (+TAG adds a tag)",
        "sorted edit 3 due: wait:    (an empty value removes it)",
        "sorted edit 3 -p low --no-due",
        "sorted edit 4 --every 2w --times 6",
        "sorted edit 4 --no-every",
        'sorted edit 3 --due "tomorrow 9:30"    (--due tomorrow: the whole day)',
        "sorted edit 3 --wait monday --no-scheduled",
        "sorted edit 1-3,7 due:friday    (ranges and lists: the words are attributes)",
        "sorted edit --tag work --priority high    (filters: no REF; -p sets, not filters)",
        "sorted edit 3    (no options: opens $VISUAL or $EDITOR)",
    ),
)
@filtered(priorities=False)
def edit(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REF] [WORDS]...",
            help="The tasks (a number, a range or list of them, a UUID), then a new title "
            f"(one task only), and among the words +TAG (added; `sorted untag` takes one off) and "
            f"{_ATTRIBUTES}; an empty value (due:) removes it. With filters, no REF.",
            show_default=False,
            autocompletion=completion.open_tasks,
        ),
    ] = None,
    title: Annotated[
        str | None, typer.Option("--title", "-t", metavar="TEXT", help="New title.")
    ] = None,
    description: DescriptionOption = None,
    priority: PriorityOption = None,
    due: DueOption = None,
    no_due: Annotated[bool, typer.Option("--no-due", help="Remove the due date.")] = False,
    wait: WaitOption = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Stop waiting: list it now.")] = False,
    scheduled: ScheduledOption = None,
    no_scheduled: Annotated[
        bool, typer.Option("--no-scheduled", help="Remove the scheduled date.")
    ] = False,
    every: EveryOption = None,
    until: UntilOption = None,
    times: TimesOption = None,
    no_every: Annotated[
        bool, typer.Option("--no-every", help="Stop repeating (this task stays).")
    ] = False,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Change tasks' title, description, priority, due date, wait or scheduled date, or how
    they repeat: the tasks named, or the open tasks the filters match. One REF and nothing
    else opens the task in your editor ($VISUAL, else $EDITOR, else vi).

    With --json: the task's view as `show --json` gives it, with `changed` added at its end
    (false when it had those values already), or for a range, a list or filters, an array of
    them."""
    alone = editing.only_ref(ctx)
    if alone is not None:
        if expanded([alone]) != [alone]:
            raise InvalidInput(
                f"The editor takes one task at a time: `sorted edit N`, or give {alone} "
                "what to change (sorted edit 1-3 due:friday)."
            )
        editing.edit_in_editor(ctx, alone)
        return
    from sorted_cli import render
    from sorted_cli.models import TaskUpdate, validated
    from sorted_cli.services import tasks

    refs, rest = _named_then(ctx, words or [], priorities=False)
    typed = read_words(rest, literal=min(literal_words(ctx), len(rest)), removes=True)
    if typed.title is not None and title is not None:
        raise InvalidInput("Give the new title once: as words or as --title, not both.")
    inline = _Inline(typed)
    removed: dict[str, object] = {}  # what an empty inline value removes
    for name in ("until", "times"):
        if inline.cleared(name):
            removed[name] = None
    due, no_due = inline.text("due", due), no_due or inline.cleared("due")
    wait, no_wait = inline.text("wait", wait), no_wait or inline.cleared("wait")
    scheduled = inline.text("scheduled", scheduled)
    no_scheduled = no_scheduled or inline.cleared("scheduled")
    every, no_every = inline.text("every", every), no_every or inline.cleared("every")
    priority = Priority.none if inline.cleared("priority") else inline.priority(priority)
    pairs = [
        ("due", due, no_due),
        ("wait", wait, no_wait),
        ("scheduled", scheduled, no_scheduled),
        ("every", every, no_every),
    ]
    for name, value, cleared in pairs:
        if value is not None and cleared:
            raise InvalidInput(f"Give either --{name} or --no-{name}, not both.")
    given = {
        "title": typed.title or title,
        "description": description,
        "priority": priority,
        "every": _every(every),
        "until": parsed_due(inline.text("until", until)),
        "times": inline.times(times),
    }
    values: dict[str, object] = {name: value for name, value in given.items() if value is not None}
    values.update(removed)
    if due is not None or no_due:  # a due without a time has no due_at: the whole day
        values.update(_due_fields(due))
    if wait is not None or no_wait:
        values["wait"] = _start(wait)
    if scheduled is not None or no_scheduled:
        values["scheduled"] = _start(scheduled)
    if no_every:
        values["every"] = None
    added = normalised_tags(typed.tags)
    data = validated(TaskUpdate, **values)
    named = chosen(ctx, refs, view=View.open, priorities=False)
    if "title" in values and (refs is None or len(set(named)) > 1):
        raise InvalidInput(
            "A new title is for one task: with a range, a list or filters, the words may "
            "only be attributes (due:friday pri:h)."
        )
    asking = Asking(
        named,
        yes=yes,
        doing="edit",
        question="Change {count} tasks?",
        declined="Nothing changed.",
    )
    state = State.of(ctx)

    def run(session: Session) -> tuple[list[Change], list[TaskInFull]]:
        changes = tasks.update_tasks(
            session=session,
            user=state.user,
            refs=named,
            data=data,
            confirm=asking.confirm,
            tags=added,
        )
        ids = [change.task.id for change in changes] if as_json else []
        return changes, tasks.tasks_in_full(session=session, user=state.user, ids=ids)

    changes, shown = state.db.run(run)
    if as_json:
        changed = {change.task.id: change.changed for change in changes}
        views = [{**render.task_view(found), "changed": changed[found.task.id]} for found in shown]
        render.print_json(views[0] if named == refs else views)
    else:
        render.changes(changes, verb="Updated", unchanged="had those values already")
    for change in changes:
        task = change.task
        if change.changed and "due" in values and task.due and task.until and task.due > task.until:
            render.notice(
                f"Task {task.number} is now due after its series ends "
                f"({task.until.isoformat()}): it is the last time."
            )


@app.command(
    short_help="Move tasks to the trash.",
    epilog=examples(
        "sorted delete 3",
        "sorted delete 3 4 -y",
        "sorted delete --search 'old plan' --yes",
        "sorted restore 3",
    ),
)
@filtered()
def delete(ctx: typer.Context, refs: Refs = None, yes: Yes = False, as_json: Json = False) -> None:
    """Move tasks to the trash: those named, or the open tasks the filters match (see them
    with `list --deleted`, undo with `restore`)."""
    from sorted_cli.services import tasks

    _change(ctx, refs, yes=yes, as_json=as_json, how=_DELETE, service=tasks.delete_tasks)


@app.command(
    epilog=examples("sorted restore 3", "sorted restore 3,5,8", "sorted restore --tag work -y")
)
@filtered()
def restore(
    ctx: typer.Context, refs: DeletedRefs = None, yes: Yes = False, as_json: Json = False
) -> None:
    """Bring tasks back from the trash: those named, or those in the trash the filters
    match."""
    from sorted_cli.services import tasks

    _change(ctx, refs, yes=yes, as_json=as_json, how=_RESTORE, service=tasks.restore_tasks)


@app.command(
    short_help="Remove tasks from the trash for good.",
    epilog=examples(
        "sorted purge 3 4",
        "sorted purge 3,5",
        "sorted purge --older-than 30d",
        "sorted purge --yes    (the whole trash, without asking)",
        "sorted purge 3 --yes --json    (the tasks as they were)",
    ),
)
def purge(
    ctx: typer.Context,
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[REF]...",
            help="Tasks in the trash (default: the whole trash).",
            show_default=False,
            autocompletion=completion.deleted_tasks,
        ),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            metavar="AGE",
            help="Only tasks deleted longer ago than AGE (30d, 2w).",
        ),
    ] = None,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove tasks from the trash for good: they, their tags and their history are gone.

    This cannot be undone, so it asks first, naming them; off a terminal it needs --yes.
    Until a task is purged, nothing is ever really deleted: `sorted restore` brings it back.
    """
    from sorted_cli import render
    from sorted_cli.dates import parse_span
    from sorted_cli.models import utcnow
    from sorted_cli.services import tasks

    before = None if older_than is None else utcnow() - parse_span(older_than)
    agreed = False  # a retry after a broken connection does not ask again

    def confirm(targets: list[Task]) -> bool:
        nonlocal agreed
        if not (agreed or yes):
            named = listed([f"#{task.number} {shortened(task.title)}" for task in targets])
            count = f"{len(targets)} task{'s' if len(targets) > 1 else ''}"
            confirm_or_refuse(
                f"Remove {count} from the trash for good? {named}. This cannot be undone.",
                declined="Nothing purged.",
                doing="purge tasks",
            )
            agreed = True
        return True

    state = State.of(ctx)
    purge = state.db.run(
        lambda session: tasks.purge_tasks(
            session=session,
            user=state.user,
            refs=expanded(refs) if refs else (),
            deleted_before=before,
            confirm=confirm,
            in_full=as_json,
        )
    )
    purged = purge.count
    if as_json:
        render.print_json([render.task_view(found) for found in purge.tasks])
    elif purged:
        render.line(f"Purged {purged} task{'s' if purged > 1 else ''} from the trash for good.")
    elif older_than is not None:
        render.line(f"Nothing to purge: no task in the trash was deleted over {older_than} ago.")
    else:
        render.line("Nothing to purge: the trash is empty.")


TagWords = Annotated[
    list[str],
    _ref_then("[REF] TAG...", "the tags; with filters, only the tags", completion.task_then_tags),
]


@app.command(
    cls=WordsCommand,
    epilog=examples(
        "sorted tag 3 work",
        "sorted tag 3 errands car",
        "sorted tag 1-4,9 urgent",
        "sorted tag --overdue --search invoice urgent    (filters: every word is a tag)",
    ),
)
@filtered()
def tag(ctx: typer.Context, words: TagWords, yes: Yes = False, as_json: Json = False) -> None:
    """Add tags to tasks (tags a task already has are left as they are)."""
    _retag(ctx, words, yes=yes, as_json=as_json, remove=False)


@app.command(
    cls=WordsCommand,
    epilog=examples("sorted untag 3 work", "sorted untag 3-5 work", "sorted untag --tag old old"),
)
@filtered()
def untag(ctx: typer.Context, words: TagWords, yes: Yes = False, as_json: Json = False) -> None:
    """Take tags off tasks."""
    _retag(ctx, words, yes=yes, as_json=as_json, remove=True)


def _named_then(
    ctx: typer.Context, words: list[str], *, priorities: bool = True
) -> tuple[list[str] | None, list[str]]:
    """A command's words as (REF, the rest): the first word names the tasks. With filters it
    does only when it names them by number (`3`, `1-3`, `1,4,7`; the named ones that match):
    else, or after `--`, every word is the rest, and the filters name the tasks."""
    if Filters.of(ctx, priorities=priorities).given:
        after_dashes = literal_words(ctx) >= len(words)
        if not words or after_dashes or not numbered(words[0]):
            return None, words
    return words[:1], words[1:]


def _retag(ctx: typer.Context, words: list[str], *, yes: bool, as_json: bool, remove: bool) -> None:
    from sorted_cli import render
    from sorted_cli.services import tasks

    refs, names = _named_then(ctx, words)
    if not names:
        command = "untag" if remove else "tag"
        raise InvalidInput(
            f"Name the task, then the tags: sorted {command} 3 work (or with filters, only the "
            f"tags: sorted {command} --overdue soon)."
        )
    wanted = normalised_tags(names)
    named = chosen(ctx, refs, view=View.open)
    asking = Asking(
        named,
        yes=yes,
        doing="untag" if remove else "tag",
        question=f"{'Untag' if remove else 'Tag'} {{count}} tasks {_listed(wanted)}?",
        declined="Nothing changed.",
    )
    state = State.of(ctx)

    def run(session: Session) -> tuple[list[tasks.Tagging], list[TaskInFull]]:
        done = tasks.tag_tasks(
            session=session,
            user=state.user,
            refs=named,
            names=wanted,
            remove=remove,
            confirm=asking.confirm,
        )
        ids = [tagging.task.id for tagging in done] if as_json else []
        return done, tasks.tasks_in_full(session=session, user=state.user, ids=ids)

    done, shown = state.db.run(run)
    if as_json:
        changed = {tagging.task.id: bool(tagging.changed) for tagging in done}
        render.print_json(
            [{**render.task_view(found), "changed": changed[found.task.id]} for found in shown]
        )
        return
    verb = "Untagged" if remove else "Tagged"
    for tagging in done:
        task = tagging.task
        if not tagging.changed:
            state_word = "has none of" if remove else "already has"
            render.line(f"Task {task.number} {state_word} {_listed(wanted)}: {task.title}")
            continue
        rest = f" (tags: {', '.join(tagging.tags)})" if tagging.tags else " (no tags left)"
        render.line(f"{verb} task {task.number} {_listed(tagging.changed)}: {task.title}{rest}")


def _listed(tags: list[str]) -> str:
    return " ".join(f"+{tag}" for tag in tags)


@app.command(
    short_help="Counts of your tasks, and tasks completed per week.",
    epilog=examples("sorted stats", "sorted stats --json"),
)
def stats(ctx: typer.Context, as_json: Json = False) -> None:
    """Counts of your tasks, and a chart of tasks completed per week for the last 8 weeks."""
    from sorted_cli import render
    from sorted_cli.services.stats import user_stats

    state = State.of(ctx)
    today = date.today()
    numbers = state.db.run(
        lambda session: user_stats(session=session, user=state.user, today=today)
    )
    if as_json:
        render.print_json(render.stats_json(numbers))
    else:
        render.stats(numbers)
