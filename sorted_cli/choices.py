"""The closed sets of values a user chooses from on the command line.

Kept free of heavy imports: Typer reads these to build `--help` and completion.
"""

from __future__ import annotations

from enum import StrEnum

DEFAULT_LIMIT = 50  # tasks `sorted list` shows unless told otherwise


class Priority(StrEnum):
    none = "none"
    low = "low"
    medium = "medium"
    high = "high"


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
