"""Dates as people type them, and ages as people read them.

One grammar of days (`_day`) serves every option that takes a date: `--due`, `--wait` and
`--scheduled` (`parse_when`, which adds a time), `--due-before` and `--until` (`parse_due`), and
`--completed-since` (`parse_since`, which looks back). It counts from today's local calendar
date; case and spaces around and between words do not matter:

- ISO `YYYY-MM-DD`; `today`, `tomorrow`, `yesterday`;
- a weekday, its name or three or more letters of it (`friday`, `fri`): the next such day after
  today, never today itself; `next friday` is the same day (not the one a week after it);
- an offset: `3d`, `+3d`, `3 days`, `in 3 days`, and so for weeks (`2w`), months (`1m`) and
  years (`1y`); `-3d` goes back. A month later is the same day of the month, or the month's
  last day when it is shorter (31 January + 1m is the end of February), as repeating tasks
  count months (`recurrence.add_months`);
- `eow`, the end of the week: the coming Sunday, today on a Sunday; `eom`, this month's last
  day; `eoy`, 31 December of this year;
- a day of a month, the month named or in three or more letters, either way round
  (`dec 24`, `24 dec`, `december 24`, `dec 24th`): the next such day to come, today included
  (this year's, or next year's once it has passed; `feb 29` is the next leap year's);
- a day of the month alone, as an ordinal (`1st`, `2nd`, `23rd`, `31st`): the next such day to
  come, today included (this month's, or else the next month's that has it: `31st` on 30
  November is 31 December).

Looking back (`parse_since`), a bare offset (`3d`, `2w`, `1m`, `1y`) is that long ago, and a
weekday, a day of a month or an ordinal is the latest such day, today included (`friday` on a
Friday is today; `dec 24` on 1 December is last year's); the other forms (`+3d`, `in 3 days`,
`next friday`, `eow`, ...) name the day they name everywhere. Where a moment may be given
(`parse_when`), any day may be followed by a 24-hour local time `HH:MM` (`friday 17:00`,
`eow 17:00`, `dec 24 9:00`), and a time alone (`17:00`) is today at that time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sorted_cli.errors import InvalidInput

# The accepted forms in brief, for error messages and every option's help (one list).
DAY_FORMS = (
    "YYYY-MM-DD, today, tomorrow, yesterday, a weekday (fri, next fri), 3d, +2w, in 1 month, "
    "1y, eow, eom, eoy, dec 24 or 1st"
)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_NAMED_OFFSETS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_ENDS: dict[str, Callable[[date], date]] = {
    "eow": lambda today: today + timedelta(days=6 - today.weekday()),
    "eom": lambda today: _add_months(today, 0, keep_day=31),
    "eoy": lambda today: date(today.year, 12, 31),
}
# `3d`, `+3d`, `-3d`, `3 days`, `in 3 days`; weeks, months and years alike.
_OFFSET = re.compile(
    r"(?P<sign>[+-]|in )?(?P<amount>\d{1,4}) ?(?P<unit>[dwmy]|days?|weeks?|months?|years?)"
)
_NUMBER = r"(?P<number>\d{1,2})(?P<suffix>st|nd|rd|th)?"  # a day of the month: 24, 24th
_ORDINAL = re.compile(r"(?P<number>\d{1,2})(?P<suffix>st|nd|rd|th)")
_MONTH_DAY = re.compile(rf"(?P<month>[a-z]+) {_NUMBER}")
_DAY_MONTH = re.compile(rf"{_NUMBER} (?P<month>[a-z]+)")
# An optional day, then a time: `17:00`, `friday 8:00`, `2026-12-04 09:30`.
_WITH_TIME = re.compile(r"(?:(?P<day>.*\S)\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})")


def parse_due(text: str, *, today: date | None = None) -> date:
    """Turn what the user typed into a calendar date, or raise InvalidInput."""
    day = _day(text, today or date.today())
    if day is None:
        raise InvalidInput(f"Invalid date {text!r}: use {DAY_FORMS}.")
    return day


def parse_since(text: str, *, today: date | None = None) -> date:
    """A day in the past as people type it, for `--completed-since`: the days of `parse_due`,
    but a bare `3d` / `2w` / `1m` / `1y` is that long ago, and a weekday, `dec 24` or `1st`
    the latest such day, today included. Raises InvalidInput."""
    day = _day(text, today or date.today(), back=True)
    if day is None:
        raise InvalidInput(f"Invalid date {text!r}: use {DAY_FORMS}.")
    return day


def _day(text: str, today: date, *, back: bool = False) -> date | None:
    """The calendar date TEXT names (see the module's docstring), or None; BACK: looking back,
    as `--completed-since` does."""
    word = " ".join(text.split()).lower()
    try:
        return _named_day(word, today, back=back)
    except (OverflowError, ValueError):  # past the ends of the calendar
        raise InvalidInput(f"Invalid date {text.strip()!r}: out of range.") from None


def _named_day(word: str, today: date, *, back: bool) -> date | None:
    """The day WORD (lower case, single spaces) names, or None; may pass the calendar's ends."""
    if word in _NAMED_OFFSETS:
        return today + timedelta(days=_NAMED_OFFSETS[word])
    if word in _ENDS:
        return _ENDS[word](today)
    if (weekday := _named(word.removeprefix("next "), _WEEKDAYS)) is not None:
        if back and not word.startswith("next "):  # the latest one, today included
            return today - timedelta(days=(today.weekday() - weekday) % 7)
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if match := _OFFSET.fullmatch(word):
        return _offset(today, match, back=back)
    if match := _ORDINAL.fullmatch(word):
        number = _day_number(match)
        months = (_add_months(today.replace(day=1), -step if back else step) for step in range(13))
        return None if number is None else _nearest(today, months, number, back=back)
    if match := _MONTH_DAY.fullmatch(word) or _DAY_MONTH.fullmatch(word):
        number, month = _day_number(match), _named(match["month"], _MONTHS)
        if number is None or month is None:
            return None
        years = (date(today.year + (-step if back else step), 1, 1) for step in range(9))
        return _nearest(today, (year.replace(month=month + 1) for year in years), number, back=back)
    try:
        return date.fromisoformat(word)
    except ValueError:
        return None


def _offset(today: date, match: re.Match[str], *, back: bool) -> date:
    """TODAY moved by an `_OFFSET`: ahead with `+` or `in`, back with `-`, else as BACK says."""
    amount = int(match["amount"])
    if match["sign"] == "-" or (back and match["sign"] is None):
        amount = -amount
    unit = match["unit"][0]
    if unit in "dw":
        return today + timedelta(days=amount * (7 if unit == "w" else 1))
    return _add_months(today, amount * (12 if unit == "y" else 1))


def _nearest(today: date, months: Iterable[date], number: int, *, back: bool) -> date | None:
    """Day NUMBER of the first of MONTHS (the first days of months, nearest first) that has it
    and is not before TODAY (not after it, looking BACK)."""
    for month in months:
        try:
            day = month.replace(day=number)
        except ValueError:  # a month without that day: 31 November, 29 February
            continue
        if (day <= today) if back else (day >= today):
            return day
    return None


def _day_number(match: re.Match[str]) -> int | None:
    """The day of the month in MATCH (1 to 31), its ordinal suffix, if any, the right one."""
    number = int(match["number"])
    ordinal = "th" if 10 <= number <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    if not 1 <= number <= 31 or match["suffix"] not in (None, ordinal):
        return None
    return number


def _add_months(day: date, months: int, *, keep_day: int | None = None) -> date:
    """`recurrence.add_months`: months count here as they do for repeating tasks."""
    from sorted_cli.recurrence import add_months  # it imports this module

    return add_months(day, months, keep_day=keep_day)


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


_WHEN_FORMS = (
    f"use {DAY_FORMS}, optionally followed by a time HH:MM (friday 17:00), or a time alone"
)


def _named(word: str, names: tuple[str, ...]) -> int | None:
    """The index of the name in NAMES that WORD is, or is the first three or more letters of."""
    if len(word) < 3:
        return None
    for number, name in enumerate(names):
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
