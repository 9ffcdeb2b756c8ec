"""Due dates as people type them, and ages as people read them.

Accepted: ISO `YYYY-MM-DD`, `today`, `tomorrow`, `yesterday`, a weekday name (`friday`, `fri`:
the next such day after today, never today itself), and `+Nd` / `+Nw` (N days or weeks from
today). Everything is relative to the local calendar date. Where a moment may be given
(`--due`, `--wait`, `--scheduled`: `parse_when`), any of these may be followed by a 24-hour
local time `HH:MM` (`friday 17:00`), and a time alone (`17:00`) is today at that time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sorted_cli.errors import InvalidInput

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RELATIVE = re.compile(r"\+(\d{1,4})([dw])")
_NAMED_OFFSETS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_DAYS = "YYYY-MM-DD, today, tomorrow, a weekday name, +3d or +2w"
# An optional day, then a time: `17:00`, `friday 8:00`, `2026-12-04 09:30`.
_WITH_TIME = re.compile(r"(?:(?P<day>.*\S)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})")


def parse_due(text: str, *, today: date | None = None) -> date:
    """Turn what the user typed into a calendar date, or raise InvalidInput."""
    day = _day(text, today or date.today())
    if day is None:
        raise InvalidInput(f"Invalid date {text!r}: use {_DAYS}.")
    return day


def _day(text: str, today: date) -> date | None:
    """The calendar date TEXT names (see the module's docstring), or None."""
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
        return None


@dataclass(frozen=True)
class When:
    """A day as the user typed it, with the moment (UTC) when they gave a time too."""

    day: date
    moment: datetime | None = None

    @property
    def start(self) -> datetime:
        """The moment given, or else the moment the local day starts (UTC)."""
        return self.moment if self.moment is not None else local_midnight(self.day)


def parse_when(text: str, *, now: datetime | None = None) -> When:
    """A date with an optional local time (`friday 17:00`, `2026-12-04 09:30`, `17:00`: today
    at that time), relative to NOW (local; default: the clock); raises InvalidInput."""
    local_now = (now or datetime.now(UTC)).astimezone()
    today = local_now.date()
    match = _WITH_TIME.fullmatch(text.strip())
    if match is None:
        day = _day(text, today)
        if day is None:
            raise InvalidInput(f"Invalid date {text!r}: {_WHEN_FORMS}.")
        return When(day)
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise InvalidInput(
            f"Invalid time in {text.strip()!r}: use HH:MM on a 24-hour clock, 00:00 to 23:59."
        )
    day = today if match["day"] is None else _day(match["day"], today)
    if day is None:
        raise InvalidInput(f"Invalid date {text!r}: {_WHEN_FORMS}.")
    return When(day, _local_moment(day, time(hour, minute)))


_WHEN_FORMS = f"use {_DAYS}, optionally followed by a time HH:MM (friday 17:00), or a time alone"


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


def past_due(due: date, due_at: datetime | None, *, today: date, now: datetime) -> bool:
    """Whether a task due DUE (at DUE_AT, for a due with a time) is past due: a due with a
    time at that moment, a whole-day due once its day is over. `services.tasks.overdue` asks
    the database the same (tests/test_task_dates.py holds them to one answer)."""
    return due_at < now if due_at is not None else due < today


def local_midnight(day: date) -> datetime:
    """The moment a local calendar day starts, in UTC (how completion times are stored)."""
    return _local_moment(day, time())


def days_later(moment: datetime, days: int) -> datetime:
    """MOMENT moved DAYS calendar days, at the same local time (UTC): across a change of
    daylight saving time it is still 17:00 where the user is."""
    local = moment.astimezone()
    return _local_moment(local.date() + timedelta(days=days), local.time().replace(tzinfo=None))


def _local_moment(day: date, at: time) -> datetime:
    """The moment of local time AT on DAY, in UTC."""
    try:
        return datetime.combine(day, at).astimezone().astimezone(UTC)
    except (OverflowError, ValueError):  # a day at the very ends of the calendar
        raise InvalidInput(f"Invalid date {day.isoformat()}: out of range.") from None
