"""The closed sets of values a user chooses from on the command line.

Kept free of heavy imports: Typer reads these to build `--help` and completion.
"""

from __future__ import annotations

from enum import StrEnum

DEFAULT_LIMIT = 50  # tasks `sorted list` shows unless told otherwise
DEFAULT_NEXT = 5  # tasks `sorted next` shows


class Priority(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


_PRIORITY_LETTERS = {priority.value[0]: priority for priority in Priority}  # n, l, m, h


def parse_priority(text: str) -> Priority:
    """A priority as people type it: its name or its first letter, in any case (`HIGH`, `h`,
    Taskwarrior's `H`); ValueError saying what a priority can be."""
    word = text.strip().lower()
    found = _PRIORITY_LETTERS.get(word) if len(word) == 1 else None
    try:
        return found or Priority(word)
    except ValueError:
        raise ValueError(
            f"{text.strip()!r} is not a priority: use none, low, medium or high (or n, l, m, h)"
        ) from None


class View(StrEnum):
    """Which of a user's tasks `sorted list` shows."""

    open = "open"
    all = "all"  # open and completed, not the trash
    completed = "completed"
    deleted = "deleted"  # the trash


class SortKey(StrEnum):
    number = "number"
    due = "due"
    priority = "priority"
    created = "created"
