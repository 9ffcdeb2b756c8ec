"""Options several commands share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from sorted_cli.cli import completion

Json = Annotated[bool, typer.Option("--json", help="Print JSON (and nothing else) on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def refs(complete: Callable[..., list[tuple[str, str]]]) -> Any:
    """The REF... argument, completing the tasks `complete` offers."""
    return typer.Argument(
        metavar="REF...",
        help="Task numbers, UUIDs or UUID prefixes (at least 4 hex digits).",
        show_default=False,
        autocompletion=complete,
    )


Refs = Annotated[list[str], refs(completion.open_tasks)]
DoneRefs = Annotated[list[str], refs(completion.done_tasks)]
DeletedRefs = Annotated[list[str], refs(completion.deleted_tasks)]
Ref = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Task number, UUID or UUID prefix.",
        show_default=False,
        autocompletion=completion.open_tasks,
    ),
]


def tags_option(help_text: str) -> Any:
    """A repeatable --tag option, completing the user's tags."""
    return typer.Option(
        "--tag", metavar="TAG", help=help_text, show_default=False, autocompletion=completion.tags
    )


Tags = Annotated[list[str] | None, tags_option("A tag (repeat for more).")]


def confirmed(question: str) -> bool:
    """Asks at the terminal; the end of input (Ctrl-D) is a no, not Click's "Aborted!"."""
    try:
        return typer.confirm(question)
    except typer.Abort:
        return False


def examples(*lines: str) -> str:
    """A help epilog listing example invocations, one per line (Click's `\\b` keeps it from
    rewrapping them into one paragraph)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
