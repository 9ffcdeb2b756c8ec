"""Due dates as people type them, and ages as people read them.

Accepted: ISO `YYYY-MM-DD`, `today`, `tomorrow`, `yesterday`, a weekday name (`friday`, `fri`:
the next such day after today, never today itself), and `+Nd` / `+Nw` (N days or weeks from
today). Everything is relative to the local calendar date.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from sorted_cli.errors import InvalidInput

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(r"\+(\d{1,4})([dw])")
_NAMED_OFFSETS = {"today": 0, "tomorrow": 1, "yesterday": -1}


def parse_due(text: str, *, today: date | None = None) -> date:
    """Turn what the user typed into a calendar date, or raise InvalidInput."""
    today = today or date.today()
    word = text.strip().lower()
    if word in _NAMED_OFFSETS:
        return today + timedelta(days=_NAMED_OFFSETS[word])
    if (weekday := _weekday_number(word)) is not None:
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if match := _RELATIVE.fullmatch(word):
        amount, unit = int(match.group(1)), match.group(2)
        return today + timedelta(days=amount * (7 if unit == "w" else 1))
    try:
        return date.fromisoformat(word)
    except ValueError:
        pass
    raise InvalidInput(
        f"Invalid date {text!r}: use YYYY-MM-DD, today, tomorrow, a weekday name, +3d or +2w."
    )


def _weekday_number(word: str) -> int | None:
    if len(word) < 3:
        return None
    for number, name in enumerate(_WEEKDAYS):
        if name.startswith(word):
            return number
    return None


def age(moment: datetime, *, now: datetime) -> str:
    """A short, human age such as `now`, `5m`, `3h`, `2d`, `6w` or `1y`."""
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return "now"


_AGO = re.compile(r"-?(\d{1,4})([dw])")


def parse_since(text: str, *, today: date | None = None) -> date:
    """A day in the past as people type it, for `--completed-since`: ISO `YYYY-MM-DD`,
    `today`, `yesterday`, a weekday name (the latest such day, today included), or `3d` /
    `-3d` / `2w` (that long ago). Raises InvalidInput."""
    today = today or date.today()
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        return today - timedelta(days=0 if word == "today" else 1)
    if (weekday := _weekday_number(word)) is not None:
        return today - timedelta(days=(today.weekday() - weekday) % 7)
    if match := _AGO.fullmatch(word):
        amount, unit = int(match.group(1)), match.group(2)
        return today - timedelta(days=amount * (7 if unit == "w" else 1))
    try:
        return date.fromisoformat(word)
    except ValueError:
        pass
    raise InvalidInput(
        f"Invalid date {text!r}: use YYYY-MM-DD, today, yesterday, a weekday name, 3d or 2w."
    )


_SPAN = re.compile(r"(\d{1,5})([dw])")


def parse_span(text: str) -> timedelta:
    """A length of time as people type it for `--older-than`: `30d` (days) or `2w` (weeks).
    Raises InvalidInput."""
    match = _SPAN.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"Invalid length of time {text.strip()!r}: use days or weeks, as 30d or 2w."
        )
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(days=amount * (7 if unit == "w" else 1))


def local_midnight(day: date) -> datetime:
    """The moment a local calendar day starts, in UTC (how completion times are stored)."""
    try:
        return datetime.combine(day, time()).astimezone().astimezone(UTC)
    except (OverflowError, ValueError):  # a day at the very ends of the calendar
        raise InvalidInput(f"Invalid date {day.isoformat()}: out of range.") from None
