"""Bad values said in words for people, not in Python's or pydantic's: "title must be text, not
a number", never "Input should be a valid string" or "found NoneType".

Free of pydantic: a validation error arrives as one of its `errors()` dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_SHOWN_MAX = 40  # characters of a bad text value shown in a message

# What a value must be, by the family of pydantic's error type (`int_parsing` is `int`).
_MUST_BE = {
    "string": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "an object",
    "uuid": "a UUID",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (such as 2026-01-01T09:30:00Z)",
}
_BOUNDS = {
    "greater_than_equal": ("at least", "ge"),
    "greater_than": ("more than", "gt"),
    "less_than_equal": ("at most", "le"),
    "less_than": ("less than", "lt"),
}


def kind_of(value: object) -> str:
    """A JSON value as a person would name it: null, true, a number, a list, an object, or the
    text itself in quotes (cut short when long)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    text = str(value)
    return repr(text if len(text) <= _SHOWN_MAX else text[: _SHOWN_MAX - 1] + "…")


def must_be(expected: str, value: object) -> str:
    """'must be EXPECTED, not <what VALUE is>'."""
    return f"must be {expected}, not {kind_of(value)}"


def not_a_task(item: object) -> ValueError:
    """The error for an item of a file that is not a task object."""
    return ValueError(f"expected a task object, not {kind_of(item)}")


def field_reason(error: Mapping[str, Any]) -> str:
    """What is wrong with one field, to follow its name: "must be text, not null", "is
    missing", or (for sorted's own checks) ": the title must not be empty"."""
    kind, value, context = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "missing":
        return "is missing"
    if kind in _BOUNDS:
        words, key = _BOUNDS[kind]
        return f"must be {words} {context[key]}"
    if kind == "enum":
        return must_be(context["expected"], value)
    if kind == "int_from_float":
        return f"must be a whole number, not {value!r}"
    family, _, problem = kind.partition("_")
    if family in _MUST_BE and problem.endswith(("type", "parsing", "inexact")):
        return must_be(_MUST_BE[family], value)
    return f": {context.get('error') or error['msg']}"


def field_name(error: Mapping[str, Any]) -> str:
    """The field of a validation error as a path into the item: `tags.0`."""
    return ".".join(str(part) for part in error["loc"]) or "item"
