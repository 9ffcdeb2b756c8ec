"""Which tasks a command works on: the REFs named, or the tasks the `list` filters match.

The filters are the same options, with the same meaning, in `list` and in every command that
changes tasks (`sorted done --tag errand --overdue`): such a command works on the tasks that
`sorted list` with those filters shows, in the view the command works on (`reopen` the done
tasks, `restore` the trash, the others the open list, without the waiting tasks it hides
unless `--waiting` is given). REFs and filters together: the named tasks that match. No REF
and no filter is refused, so an empty filter never means every task.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from sorted_cli.choices import Priority, View
from sorted_cli.cli.options import (
    RANGE_MAX,
    expanded,
    normalised_tags,
    parsed_due,
    priority_option,
    tags_option,
)
from sorted_cli.cli.state import State
from sorted_cli.dates import DAY_FORMS
from sorted_cli.errors import InvalidInput, NothingMatches

if TYPE_CHECKING:
    from sorted_cli.services.tasks import TaskQuery

Command = TypeVar("Command", bound=Callable[..., Any])

FilterTags = Annotated[
    list[str] | None, tags_option("Only tasks with this tag (repeat: with all of them).")
]
FilterPriorities = Annotated[
    list[Priority] | None,
    priority_option("Only this priority (repeat: any of them); a first letter will do."),
]
DueBefore = Annotated[
    str | None,
    typer.Option("--due-before", metavar="DATE", help=f"Only tasks due before DATE ({DAY_FORMS})."),
]
Overdue = Annotated[
    bool,
    typer.Option(
        "--overdue", help="Only open tasks past due: their due time, or due day, is past."
    ),
]
DueToday = Annotated[bool, typer.Option("--today", help="Only tasks due today.")]
Waiting = Annotated[
    bool,
    typer.Option(
        "--waiting",
        help="Only waiting tasks (their --wait is still to come): the open list hides them.",
    ),
]
Ready = Annotated[
    bool,
    typer.Option("--ready", help="Only open tasks to start now: not waiting, not scheduled later."),
]
Search = Annotated[
    str | None,
    typer.Option(
        "--search",
        "-s",
        metavar="TEXT",
        help="Only tasks whose title or description contains TEXT (any case).",
    ),
]


@dataclass(frozen=True)
class Filters:
    """The `list` filters a command was given. A command declares them as parameters under
    these names (FilterTags as `tags`, DueToday as `due_today`, ...); `Filters.of` reads them
    from its context, so a command body does not pass eight values on by hand. A command
    where `--priority` sets the priority (edit) declares no `priorities` filter."""

    tags: tuple[str, ...] = ()
    priorities: tuple[Priority, ...] = ()
    due_before: str | None = None
    overdue: bool = False
    due_today: bool = False
    waiting: bool = False
    ready: bool = False
    search: str | None = None

    @classmethod
    def of(cls, ctx: typer.Context, *, priorities: bool = True) -> Filters:
        params: dict[str, Any] = ctx.params
        return cls(
            tags=tuple(params.get("tags") or ()),
            priorities=tuple(params.get("priorities") or ()) if priorities else (),
            due_before=params.get("due_before"),
            overdue=bool(params.get("overdue")),
            due_today=bool(params.get("due_today")),
            waiting=bool(params.get("waiting")),
            ready=bool(params.get("ready")),
            search=params.get("search") or None,  # empty: no filter, never "every task"
        )

    @property
    def given(self) -> bool:
        """Was any filter given."""
        return bool(self.tags or self.priorities or self.due_before is not None) or any(
            (self.overdue, self.due_today, self.waiting, self.ready, self.search)
        )

    def query(
        self,
        view: View,
        *,
        today: date,
        now: datetime,
        completed_since: datetime | None = None,
        **more: Any,
    ) -> TaskQuery:
        """The TaskQuery of these filters in VIEW (MORE: its sort and limit); refuses
        filters no task can pass together."""
        from sorted_cli.services.tasks import TaskQuery

        if self.overdue and self.due_today:
            raise InvalidInput("Choose one of --overdue and --today: no task is both.")
        if self.waiting and self.ready:
            raise InvalidInput("Choose one of --waiting and --ready: no task is both.")
        if self.ready and view is not View.open:
            raise InvalidInput(
                "--ready is for open tasks: not with --all, --completed or --deleted, nor in "
                "reopen or restore."
            )
        return TaskQuery(
            view=view,
            search=self.search,
            tags=tuple(normalised_tags(list(self.tags))),
            priorities=self.priorities,
            due_before=parsed_due(self.due_before),
            due_on=today if self.due_today else None,
            overdue=self.overdue,
            completed_since=completed_since,
            today=today,
            waiting=self.waiting,
            ready=self.ready,
            now=now,
            **more,
        )


_VIEW_WORDS = {
    View.open: "open task",
    View.completed: "done task",
    View.deleted: "task in the trash",
    View.all: "task",
}


def chosen(
    ctx: typer.Context, refs: list[str] | None, *, view: View, priorities: bool = True
) -> list[str]:
    """The references of the tasks a command changes: REFS spelt out (`expanded`), or, with
    filters, the numbers of the tasks in VIEW that match them (of REFS, when both are given),
    read in one statement. Matching nothing is NothingMatches; no REF and no filter is
    refused."""
    from sorted_cli.models import utcnow
    from sorted_cli.services import tasks

    filters = Filters.of(ctx, priorities=priorities)
    if not filters.given:
        if not refs:
            raise InvalidInput(
                "No task given: name one by its number, a range or a list, or give a filter "
                "(--tag, --overdue, --search, ...)."
            )
        return expanded(refs)
    named = expanded(refs) if refs else []
    query = filters.query(view, today=date.today(), now=utcnow(), limit=RANGE_MAX + 1)
    state = State.of(ctx)
    numbers = state.db.run(
        lambda session: tasks.matching_numbers(
            session=session, user=state.user, query=query, refs=named
        )
    )
    if not numbers:
        raise NothingMatches(f"No {_VIEW_WORDS[view]} matches: nothing changed.")
    if len(numbers) > RANGE_MAX:
        raise InvalidInput(
            f"The filters match more than {RANGE_MAX:,} tasks: narrow them to change fewer at once."
        )
    return [str(number) for number in numbers]


_FILTERS: dict[str, tuple[Any, object]] = {  # parameter: (its option, its default)
    "tags": (FilterTags, None),
    "priorities": (FilterPriorities, None),
    "due_before": (DueBefore, None),
    "overdue": (Overdue, False),
    "due_today": (DueToday, False),
    "waiting": (Waiting, False),
    "ready": (Ready, False),
    "search": (Search, None),
}


def filtered(*, priorities: bool = True) -> Callable[[Command], Command]:
    """Give a command the `list` filters as options, after its own: its body reads them with
    `Filters.of(ctx)` (or `chosen`), so the eight of them are declared here once. Without
    PRIORITIES the command has no `--priority` filter (edit's `--priority` sets one)."""
    names = [name for name in _FILTERS if priorities or name != "priorities"]

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command, eval_str=True)
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_FILTERS[name][1],
                annotation=_FILTERS[name][0],
            )
            for name in names
        ]

        @functools.wraps(command)
        def with_filters(*args: Any, **kwargs: Any) -> Any:
            for name in names:  # read through the context (Filters.of), not passed on
                kwargs.pop(name, None)
            return command(*args, **kwargs)

        with_filters.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *added]
        )
        with_filters.__annotations__ = {
            **typing.get_type_hints(command, include_extras=True),
            **{parameter.name: parameter.annotation for parameter in added},
        }
        return cast("Command", with_filters)

    return decorate
