"""Options several commands share."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from sorted_cli.choices import Priority, parse_priority
from sorted_cli.cli import completion
from sorted_cli.errors import Cancelled, InvalidInput

Json = Annotated[bool, typer.Option("--json", help="Print JSON (and nothing else) on stdout.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def refs(complete: Callable[..., list[tuple[str, str]]]) -> Any:
    """The [REF]... argument, completing the tasks `complete` offers; with filters it may be
    left out (`sorted_cli.cli.selection.chosen`)."""
    return typer.Argument(
        metavar="[REF]...",
        help="Task numbers, ranges and lists of them (1-3, 1,4,7), UUIDs or UUID prefixes (at "
        "least 4 hex digits); or none, with filters: the tasks they match.",
        show_default=False,
        autocompletion=complete,
    )


Refs = Annotated[list[str] | None, refs(completion.open_tasks)]
DoneRefs = Annotated[list[str] | None, refs(completion.done_tasks)]
DeletedRefs = Annotated[list[str] | None, refs(completion.deleted_tasks)]
Ref = Annotated[
    str,
    typer.Argument(
        metavar="REF",
        help="Task number, UUID or UUID prefix.",
        show_default=False,
        autocompletion=completion.open_tasks,
    ),
]


def read_priority(text: str | Priority) -> Priority:
    """Read a --priority: its name or first letter, in any case (`high`, `HIGH`, `h`)."""
    if isinstance(text, Priority):
        return text
    try:
        return parse_priority(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc}.") from None


def complete_priority(_ctx: typer.Context, incomplete: str) -> list[str]:
    """Completion of a --priority."""
    return [choice.value for choice in Priority if choice.value.startswith(incomplete.lower())]


PRIORITY_METAVAR = "[none|low|medium|high]"


def priority_option(help_text: str) -> Any:
    """A --priority/-p option: a priority by its name or first letter, in any case."""
    return typer.Option(
        "--priority",
        "-p",
        parser=read_priority,
        autocompletion=complete_priority,
        metavar=PRIORITY_METAVAR,
        help=help_text,
        show_default=False,
    )


_LITERAL = "sorted.literal_words"


class WordsCommand(TyperCommand):
    """A command that reads attributes among its words (`sorted_cli.inline`): it notes how
    many words came after `--`, which are taken as they are."""

    def parse_args(self, ctx: typer._click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            ctx.meta[_LITERAL] = len(args) - args.index("--") - 1
        return super().parse_args(ctx, args)


def literal_words(ctx: typer._click.Context) -> int:
    """How many of the command's last words came after `--` (WordsCommand)."""
    return int(ctx.meta.get(_LITERAL, 0))


RANGE_MAX = 10_000  # tasks one range may name
_RANGE = re.compile(r"(\d{1,9})-(\d{1,9})")


def expanded(refs: list[str]) -> list[str]:
    """REFS with each list (`1,4,7`) and range of numbers (`1-3`, `2-5,9`) spelt out, in the
    order given; a UUID (which has dashes too) or its prefix is left as it is."""
    out: list[str] = []
    for ref in refs:
        for piece in ref.split(","):
            piece = piece.strip()
            span = _RANGE.fullmatch(piece)
            if span is None:
                if piece:
                    out.append(piece)
                continue
            first, last = int(span.group(1)), int(span.group(2))
            if first > last:
                raise InvalidInput(f"Invalid range {piece!r}: it goes down; write {last}-{first}.")
            if last - first >= RANGE_MAX:
                raise InvalidInput(
                    f"Invalid range {piece!r}: a range names at most {RANGE_MAX:,} tasks."
                )
            out += [str(number) for number in range(first, last + 1)]
    if not out:
        raise InvalidInput("No task given: name one by its number, a range or a list.")
    return out


_NUMBERED = re.compile(r"#?\d{1,9}(-\d{1,9})?")


def numbered(word: str) -> bool:
    """Whether WORD names tasks by number: `3`, `#3`, a range or a list of them (`1-3,7`)."""
    pieces = [piece.strip() for piece in word.split(",")]
    return any(pieces) and all(_NUMBERED.fullmatch(piece) for piece in pieces if piece)


ASK_ABOVE = 3  # changing more tasks than this at once asks first, or off a terminal needs --yes


class Asking:
    """The question before a command changes the NAMED tasks: at a terminal, asked once
    (a retry does not ask again), naming them, when more than ASK tasks would change; off a
    terminal, more than ASK_ABOVE are refused without --yes, as no one is there to answer."""

    def __init__(
        self,
        named: list[str],
        *,
        yes: bool,
        doing: str,
        question: str,
        declined: str,
        ask: int = ASK_ABOVE,
    ) -> None:
        count = len(set(named))  # the references a command names, each once
        if count > ASK_ABOVE and not yes and not can_ask():
            raise InvalidInput(
                f"Refusing to {doing} {count} tasks without --yes when not at a terminal."
            )
        self._asks = count > ask and not yes and can_ask()
        self._ask, self._question, self._declined = ask, question, declined
        self._agreed = False

    def _confirm(self, targets: list[Any]) -> bool:
        if self._agreed or len(targets) <= self._ask:
            return True
        named = listed([f"#{task.number} {shortened(task.title)}" for task in targets])
        confirm_or_stop(
            f"{self._question.format(count=len(targets))} {named}", declined=self._declined
        )
        self._agreed = True
        return True

    @property
    def confirm(self) -> Callable[[list[Any]], bool] | None:
        """The service's `confirm`; None when no one is asked (the change is one statement
        then: asking means reading the tasks first)."""
        return self._confirm if self._asks else None


def shortened(title: str, width: int = 40) -> str:
    """A title short enough to name in a question."""
    return title if len(title) <= width else title[: width - 1].rstrip() + "…"


def normalised_tags(names: list[str] | None) -> list[str]:
    """Tags as typed, normalised and sorted; a bad one is InvalidInput naming it."""
    from sorted_cli.tags import normalise_tag

    try:
        return sorted({normalise_tag(name) for name in names or []})
    except ValueError as exc:
        raise InvalidInput(f"Invalid tag: {exc}.") from None


def parsed_due(text: str | None) -> date | None:
    """A day typed as DATE (`sorted_cli.dates`), or None."""
    from sorted_cli.dates import parse_due

    return None if text is None else parse_due(text)


def tags_option(help_text: str) -> Any:
    """A repeatable --tag option, completing the user's tags."""
    return typer.Option(
        "--tag", metavar="TAG", help=help_text, show_default=False, autocompletion=completion.tags
    )


Tags = Annotated[list[str] | None, tags_option("A tag (repeat for more).")]


def can_ask() -> bool:
    """Can a question be seen and answered: stdin and stderr are a terminal. Questions go to
    stderr, as git's do, so stdout carries only results (`sorted delete 1 2 | grep Deleted`)."""
    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except ValueError:  # closed
        return False


def confirm_or_stop(question: str, *, declined: str) -> None:
    """Ask QUESTION with `[y/N]` on stderr and read the answer from stdin. A no (Enter, or the
    end of input: Ctrl-D) raises Cancelled, which says DECLINED; Ctrl-C exits 130,
    without a traceback."""
    from sorted_cli.render import clean

    while True:
        try:  # a signal may come as soon as the question is shown, before the reading starts
            sys.stderr.write(f"{clean(question)} [y/N]: ")
            sys.stderr.flush()
            answer = sys.stdin.readline()
        except KeyboardInterrupt:  # the boundary exits with its code
            sys.stderr.write("\n")
            raise
        if not answer:  # the end of input: the terminal shows no newline for it
            sys.stderr.write("\n")
        answer = answer.strip().lower()
        if answer in ("y", "yes"):
            return
        if answer in ("", "n", "no"):
            raise Cancelled(declined)


def confirm_or_refuse(question: str, *, declined: str, doing: str) -> None:
    """`confirm_or_stop` at a terminal; elsewhere refuse (as bad usage) what only --yes may do
    unasked: no one is there to answer."""
    if not can_ask():
        raise InvalidInput(f"Refusing to {doing} without --yes when not at a terminal.")
    confirm_or_stop(question, declined=declined)


def listed(items: list[str], *, shown: int = 3) -> str:
    """ITEMS for a question: the first few, then how many more."""
    more = len(items) - shown
    return ", ".join(items[:shown]) + (f" and {more} more" if more > 0 else "")


def examples(*lines: str) -> str:
    """A help epilog listing example invocations, one per line (Click's `\\b` keeps it from
    rewrapping them into one paragraph)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)
