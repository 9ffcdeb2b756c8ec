"""Options several commands share."""

from __future__ import annotations

from typing import Annotated

import typer

from sorted_cli.cli import completion

Json = Annotated[bool, typer.Option("--json", help="Print JSON (and nothing else) on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
Refs = Annotated[
    list[str],
    typer.Argument(
        metavar="REF...",
        help="Task numbers, UUIDs or UUID prefixes (at least 4 hex digits).",
        show_default=False,
        autocompletion=completion.open_tasks,
    ),
]
Ref = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Task number, UUID or UUID prefix.",
        show_default=False,
        autocompletion=completion.open_tasks,
    ),
]
Tags = Annotated[
    list[str] | None,
    typer.Option(
        "--tag",
        metavar="TAG",
        help="A tag (repeat for more).",
        show_default=False,
        autocompletion=completion.tags,
    ),
]


def examples(*lines: str) -> str:
    """A help epilog listing example invocations, one per line."""
    return "Examples:\n\n" + "\n\n".join(f"  {line}" for line in lines)
