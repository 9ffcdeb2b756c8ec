"""The command that picks what to do now: next."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from sorted_cli.choices import DEFAULT_NEXT, View
from sorted_cli.cli.options import Json, examples, normalised_tags
from sorted_cli.cli.selection import FilterPriorities, FilterTags
from sorted_cli.cli.state import State

app = typer.Typer()


@app.command(
    "next",
    short_help="The few tasks to do now, most urgent first.",
    epilog=examples(
        "sorted next",
        "sorted next -n 10",
        "sorted next --tag work --priority high",
        "sorted tag 3 next    (+next puts task 3 on top)",
        "sorted show 3    (its urgency, and what makes it)",
        "sorted next --json",
    ),
)
def next_(
    ctx: typer.Context,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            "-n",
            min=0,
            metavar="N",
            help=f"Show N tasks (default: {DEFAULT_NEXT}); 0 shows all of them.",
            show_default=False,
        ),
    ] = DEFAULT_NEXT,
    tags: FilterTags = None,
    priorities: FilterPriorities = None,
    as_json: Json = False,
) -> None:
    """The few open tasks to do now, most urgent first (see `sorted show` for why).

    Urgency adds up: due (12 when overdue or due now, down to 2.4 at 14 days out), priority
    (high 6, medium 3.5, low 1.5), age (up to 2 at a year old), the tag +next (15), any tag
    (0.5), and a --scheduled day that has come (1). Waiting tasks and those scheduled later
    are left out. Piped, the rows are `list`'s with the urgency last.
    """
    from sorted_cli import render
    from sorted_cli.models import utcnow
    from sorted_cli.services import urgency

    now, today = utcnow(), date.today()
    state = State.of(ctx)
    found = state.db.run(
        lambda session: urgency.next_tasks(
            session=session,
            user=state.user,
            now=now,
            today=today,
            limit=limit or None,
            tags=tuple(normalised_tags(tags)),
            priorities=tuple(priorities or ()),
        )
    )
    page = found.page
    views = [
        {
            **render.task_json(task, page.tags_of(task), page.notes_of(task)),
            "urgency": found.urgency_of(task),
        }
        for task in page.tasks
    ]
    if as_json:
        render.print_json(views)
    elif not page.tasks:
        render.notice("Nothing to do now.")
    elif render.for_people():
        render.task_table(page, view=View.open, now=now, today=today, urgency=found.urgency_of)
    else:
        render.task_rows(views, also=("urgency",))
