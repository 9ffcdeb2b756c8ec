"""Task commands: add, list, show, note, done, reopen, edit, delete, restore, purge, tag,
untag, stats."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

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
    priority_option,
    shortened,
    tags_option,
)
from sorted_cli.cli.state import State
from sorted_cli.dates import DAY_FORMS
from sorted_cli.errors import InvalidInput
from sorted_cli.inline import Typed, read_words

if TYPE_CHECKING:
    from sorted_cli.dates import When
    from sorted_cli.models import Task

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


def _due(text: str | None) -> date | None:
    from sorted_cli.dates import parse_due

    return None if text is None else parse_due(text)


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


def _tags(names: list[str] | None) -> list[str]:
    """Tags as typed, normalised; a bad one is InvalidInput naming it."""
    from sorted_cli.tags import normalise_tag

    try:
        return sorted({normalise_tag(name) for name in names or []})
    except ValueError as exc:
        raise InvalidInput(f"Invalid tag: {exc}.") from None


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
        tags=_tags([*(tags or []), *typed.tags]),
        every=_every(inline.text("every", every)),
        until=_due(inline.text("until", until)),
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
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Include completed tasks.")] = False,
    completed: Annotated[bool, typer.Option("--completed", help="Only completed tasks.")] = False,
    deleted: Annotated[bool, typer.Option("--deleted", help="Only the trash.")] = False,
    tags: Annotated[
        list[str] | None, tags_option("Only tasks with this tag (repeat: with all of them).")
    ] = None,
    priorities: Annotated[
        list[Priority] | None,
        priority_option("Only this priority (repeat: any of them); a first letter will do."),
    ] = None,
    due_before: Annotated[
        str | None,
        typer.Option(
            "--due-before", metavar="DATE", help=f"Only tasks due before DATE ({DAY_FORMS})."
        ),
    ] = None,
    overdue: Annotated[
        bool,
        typer.Option(
            "--overdue", help="Only open tasks past due: their due time, or due day, is past."
        ),
    ] = False,
    due_today: Annotated[bool, typer.Option("--today", help="Only tasks due today.")] = False,
    waiting: Annotated[
        bool,
        typer.Option(
            "--waiting",
            help="Only waiting tasks (their --wait is still to come): the open list hides them.",
        ),
    ] = False,
    ready: Annotated[
        bool,
        typer.Option(
            "--ready", help="Only open tasks to start now: not waiting, not scheduled later."
        ),
    ] = False,
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
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            "-s",
            metavar="TEXT",
            help="Only tasks whose title or description contains TEXT (any case).",
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

    if overdue and due_today:
        raise InvalidInput("Choose one of --overdue and --today: no task is both.")
    if waiting and ready:
        raise InvalidInput("Choose one of --waiting and --ready: no task is both.")
    view = _view(all_=all_, completed=completed, deleted=deleted)
    if ready and view is not View.open:
        raise InvalidInput("--ready lists open tasks: leave out --all, --completed and --deleted.")
    since = None if completed_since is None else local_midnight(parse_since(completed_since))
    if since is not None and view is View.open:
        view = View.completed  # "completed since" asks about completed tasks
    today = date.today()
    table = not as_json and render.for_people()
    if limit is None:  # a page for people; every match for scripts
        limit = DEFAULT_LIMIT if table else 0
    query = tasks.TaskQuery(
        view=view,
        search=search,
        tags=tuple(_tags(tags)),
        priorities=tuple(priorities or ()),
        due_before=_due(due_before),
        due_on=today if due_today else None,
        overdue=overdue,
        completed_since=since,
        today=today,
        sort=sort,
        limit=limit or None,
        waiting=waiting,
        ready=ready,
        now=_now(),
    )
    state = State.of(ctx)
    filtered = any(
        (search, tags, priorities, due_before, overdue, due_today, since, waiting, ready)
    )
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
    chosen = [
        view
        for view, on in ((View.all, all_), (View.completed, completed), (View.deleted, deleted))
        if on
    ]
    if len(chosen) > 1:
        raise InvalidInput("Choose one of --all, --completed and --deleted.")
    return chosen[0] if chosen else View.open


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
    """Show one task in full."""
    from sorted_cli import render
    from sorted_cli.services import history, tasks

    state = State.of(ctx)
    found = state.db.run(
        lambda session: tasks.require_task_in_full(session=session, user=state.user, ref=ref)
    )
    entries = (
        state.db.run(lambda session: history.task_history(session=session, task=found.task))
        if with_history
        else None
    )
    if as_json:
        shown = render.task_json(found.task, found.tags, found.notes)
        if entries is not None:  # an added key, at the end
            shown["history"] = [render.change_json(*entry) for entry in entries]
        render.print_json(shown)
        return
    render.task_details(found, now=_now(), today=date.today())
    if entries is not None:
        render.task_history(entries)


@app.command(
    epilog=examples(
        "sorted note 3 called the plumber, he comes on Monday",
        'sorted note 3 "Price: 40 EUR; paid"',
        "sorted show 3    (the notes, oldest first)",
    )
)
def note(
    ctx: typer.Context,
    ref: Ref,
    words: Annotated[
        list[str],
        typer.Argument(
            metavar="TEXT...",
            help="What happened (1-10,000 characters); several words are joined with spaces.",
            show_default=False,
        ),
    ],
    as_json: Json = False,
) -> None:
    """Add a timestamped note to a task: what happened (the description says what it is)."""
    from sorted_cli import render
    from sorted_cli.models import NoteCreate, validated
    from sorted_cli.services import tasks

    data = validated(NoteCreate, note=" ".join(words))
    state = State.of(ctx)
    noted = state.db.run(
        lambda session: tasks.note_task(session=session, user=state.user, ref=ref, data=data)
    )
    if as_json:
        render.print_json(render.task_json(noted.task, noted.tags, noted.notes))
    else:
        render.line(f"Noted on task {noted.task.number}: {noted.task.title}")


@app.command(epilog=examples("sorted done 3", "sorted done 3 4 7", "sorted done 1-3,7 --yes"))
def done(ctx: typer.Context, refs: Refs, yes: Yes = False) -> None:
    """Mark tasks as done."""
    from sorted_cli import render
    from sorted_cli.services import tasks

    named = expanded(refs)
    asking = _asking(named, yes, "complete", "Mark {count} tasks as done?", "Nothing done.")
    state = State.of(ctx)
    changes = state.db.run(
        lambda session: tasks.complete_tasks(
            session=session, user=state.user, refs=named, confirm=asking.confirm
        )
    )
    render.changes(changes, verb="Completed", unchanged="was already done")


def _asking(named: list[str], yes: bool, doing: str, question: str, declined: str) -> Asking:
    return Asking(
        len(set(named)), yes=yes, doing=doing, question=question, declined=declined, ask=ASK_ABOVE
    )


@app.command(epilog=examples("sorted reopen 3", "sorted reopen 3-5 -y"))
def reopen(ctx: typer.Context, refs: DoneRefs, yes: Yes = False) -> None:
    """Mark done tasks as open again."""
    from sorted_cli import render
    from sorted_cli.services import tasks

    named = expanded(refs)
    asking = _asking(named, yes, "reopen", "Reopen {count} tasks?", "Nothing reopened.")
    state = State.of(ctx)
    changes = state.db.run(
        lambda session: tasks.reopen_tasks(
            session=session, user=state.user, refs=named, confirm=asking.confirm
        )
    )
    render.changes(changes, verb="Reopened", unchanged="was already open")


@app.command(
    cls=WordsCommand,
    epilog=examples(
        'sorted edit 3 --title "Buy oat milk"',
        "sorted edit 3 Buy oat milk due:monday pri:h    (words: the new title)",
        "sorted edit 3 due: wait:    (an empty value removes it)",
        "sorted edit 3 -p low --no-due",
        "sorted edit 4 --every 2w --times 6",
        "sorted edit 4 --no-every",
        'sorted edit 3 --due "tomorrow 9:30"    (--due tomorrow: the whole day)',
        "sorted edit 3 --wait monday --no-scheduled",
        "sorted edit 3    (no options: opens $VISUAL or $EDITOR)",
    ),
)
def edit(
    ctx: typer.Context,
    ref: Ref,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[WORDS]...",
            help=f"A new title, and among the words {_ATTRIBUTES}; an empty value (due:) "
            "removes it. Tags change with `sorted tag` and `sorted untag`.",
            show_default=False,
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
) -> None:
    """Change a task's title, description, priority, due date, wait or scheduled date, or how
    it repeats."""
    if editing.nothing_given(ctx):
        editing.edit_in_editor(ctx, ref)
        return
    from sorted_cli import render
    from sorted_cli.models import TaskUpdate, validated
    from sorted_cli.services import tasks

    typed = read_words(words or [], literal=literal_words(ctx), removes=True)
    if typed.tags:
        raise InvalidInput(
            f"Tags change with `sorted tag {ref} TAG` and `sorted untag {ref} TAG`, not in edit."
        )
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
        "until": _due(inline.text("until", until)),
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
    data = validated(TaskUpdate, **values)
    state = State.of(ctx)
    task = state.db.run(
        lambda session: tasks.update_task(session=session, user=state.user, ref=ref, data=data)
    )
    render.task_line("Updated", task)
    if "due" in values and task.due and task.until and task.due > task.until:
        render.notice(
            f"Task {task.number} is now due after its series ends ({task.until.isoformat()}): "
            "it is the last time."
        )


@app.command(
    short_help="Move tasks to the trash.",
    epilog=examples("sorted delete 3", "sorted delete 3 4 -y", "sorted restore 3"),
)
def delete(ctx: typer.Context, refs: Refs, yes: Yes = False) -> None:
    """Move tasks to the trash (see them with `list --deleted`, undo with `restore`)."""
    from sorted_cli import render
    from sorted_cli.services import tasks

    named = expanded(refs)
    # The trash is asked about from two tasks on, at a terminal.
    asking = Asking(
        len(set(named)),
        yes=yes,
        doing="delete",
        question="Move {count} tasks to the trash?",
        declined="Nothing deleted.",
        ask=1,
    )
    state = State.of(ctx)
    changes = state.db.run(
        lambda session: tasks.delete_tasks(
            session=session, user=state.user, refs=named, confirm=asking.confirm
        )
    )
    render.changes(changes, verb="Deleted", unchanged="was already in the trash")


@app.command(epilog=examples("sorted restore 3", "sorted restore 3,5,8"))
def restore(ctx: typer.Context, refs: DeletedRefs, yes: Yes = False) -> None:
    """Bring tasks back from the trash."""
    from sorted_cli import render
    from sorted_cli.services import tasks

    named = expanded(refs)
    asking = _asking(named, yes, "restore", "Restore {count} tasks?", "Nothing restored.")
    state = State.of(ctx)
    changes = state.db.run(
        lambda session: tasks.restore_tasks(
            session=session, user=state.user, refs=named, confirm=asking.confirm
        )
    )
    render.changes(changes, verb="Restored", unchanged="was not in the trash")


@app.command(
    short_help="Remove tasks from the trash for good.",
    epilog=examples(
        "sorted purge 3 4",
        "sorted purge 3,5",
        "sorted purge --older-than 30d",
        "sorted purge --yes    (the whole trash, without asking)",
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
    purged = state.db.run(
        lambda session: tasks.purge_tasks(
            session=session,
            user=state.user,
            refs=expanded(refs) if refs else (),
            deleted_before=before,
            confirm=confirm,
        )
    )
    if purged:
        render.line(f"Purged {purged} task{'s' if purged > 1 else ''} from the trash for good.")
    elif older_than is not None:
        render.line(f"Nothing to purge: no task in the trash was deleted over {older_than} ago.")
    else:
        render.line("Nothing to purge: the trash is empty.")


TagNames = Annotated[
    list[str],
    typer.Argument(
        metavar="TAG...", help="Tag names.", show_default=False, autocompletion=completion.tags
    ),
]


@app.command(epilog=examples("sorted tag 3 work", "sorted tag 3 errands car"))
def tag(ctx: typer.Context, ref: Ref, names: TagNames) -> None:
    """Add tags to a task (tags it already has are left as they are)."""
    _retag(ctx, ref, names, remove=False)


@app.command(epilog=examples("sorted untag 3 work"))
def untag(ctx: typer.Context, ref: Ref, names: TagNames) -> None:
    """Take tags off a task."""
    _retag(ctx, ref, names, remove=True)


def _retag(ctx: typer.Context, ref: str, names: list[str], *, remove: bool) -> None:
    from sorted_cli import render
    from sorted_cli.services import tasks

    wanted = _tags(names)
    state = State.of(ctx)
    task, changed, now = state.db.run(
        lambda session: tasks.tag_task(
            session=session, user=state.user, ref=ref, names=wanted, remove=remove
        )
    )
    verb = "Untagged" if remove else "Tagged"
    if not changed:
        state_word = "has none of" if remove else "already has"
        render.line(f"Task {task.number} {state_word} {_listed(wanted)}: {task.title}")
        return
    rest = f" (tags: {', '.join(now)})" if now else " (no tags left)"
    render.line(f"{verb} task {task.number} {_listed(changed)}: {task.title}{rest}")


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
