"""Repeat rules (`--every`) as people type them, and the day each next occurrence falls on.

A rule is a period, optionally followed by `after done`:

- `day`, `week`, `month`, `year` with an optional count (`2w`, `3d`, `2 weeks`, `6 months`,
  `1y`), and the words `daily`, `weekly`, `biweekly`, `monthly`, `quarterly`, `yearly`;
- `weekday` (Monday to Friday), or a weekday name (`friday`, `fri`, `fridays`).

Without `after done` the next occurrence is due a period after the one just done, skipping
occurrences up to and including the day it was done (a weekly task done three weeks late
comes back once, on its next day to come, not three times; a daily one done late today is due
tomorrow, not again today). With `after done` it is due a period after the day it was done.
A month (or year) later is the same day of the month, or the month's last day when it has no
such day: 31 January + 1 month is the last day of February; the month after that is 31 March
again, because monthly and yearly rules count from the series' anchor (the due date its rule
was set with), not from the shortened day.

The next occurrence's wait, scheduled and due time move with its due date: as many days
later, at the same local time (`moved_dates`).

A rule is stored as its canonical text (`2 weeks`, `month after done`, `friday`): that text is
what `show` prints and what the JSON view holds, and `parse_rule` reads it back.
"""

from __future__ import annotations

import calendar
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from sorted_cli.dates import days_later, local_midnight

RULE_MAX = 40  # characters of a canonical rule (the column's width)

_UNITS = {
    "d": "day",
    "day": "day",
    "days": "day",
    "w": "week",
    "wk": "week",
    "wks": "week",
    "week": "week",
    "weeks": "week",
    "mo": "month",
    "mos": "month",
    "month": "month",
    "months": "month",
    "y": "year",
    "yr": "year",
    "yrs": "year",
    "year": "year",
    "years": "year",
}
_WORDS = {
    "daily": (1, "day"),
    "weekly": (1, "week"),
    "biweekly": (2, "week"),
    "fortnightly": (2, "week"),
    "fortnight": (2, "week"),
    "monthly": (1, "month"),
    "quarterly": (3, "month"),
    "yearly": (1, "year"),
    "annually": (1, "year"),
    "annual": (1, "year"),
    "semiannual": (6, "month"),
    "biannual": (6, "month"),
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_PERIOD = re.compile(r"(?:every\s+)?(\d{1,3})?\s*([a-z]+)")
_ISO_PERIOD = re.compile(r"p(\d{1,3})([dwmy])")  # ISO 8601, as Taskwarrior may write: P2W
_ISO_UNITS = {"d": "day", "w": "week", "m": "month", "y": "year"}
_AFTER_DONE = re.compile(r"\s+after\s+(?:done|completion)\Z")
_SERIES = uuid.UUID("5f0c1a8e-9a43-4c1b-8f27-2d8b6f4e7a10")  # namespace of successor ids


@dataclass(frozen=True)
class Rule:
    """A parsed repeat rule: COUNT UNITs (unit `day`, `week`, `month`, `year`), or every
    `weekday`, or every WEEKDAY (0 = Monday); `after_done` counts from the day it was done."""

    unit: str
    count: int = 1
    weekday: int | None = None  # unit "weekday-name": which one
    after_done: bool = False

    @property
    def text(self) -> str:
        """The canonical text of the rule, as stored and shown."""
        if self.unit == "weekday":
            base = "weekday"
        elif self.weekday is not None:
            base = _WEEKDAYS[self.weekday]
        else:
            base = self.unit if self.count == 1 else f"{self.count} {self.unit}s"
        return f"{base} after done" if self.after_done else base

    @property
    def counts_from_anchor(self) -> bool:
        """Monthly and yearly rules keep the day of the month their anchor has."""
        return self.unit in ("month", "year") and not self.after_done


def parse_rule(text: str) -> Rule:
    """What the user typed after `--every` (or a stored rule) as a Rule; ValueError, saying
    what a rule can be, if it is not one."""
    word = " ".join(text.strip().lower().split())
    after_done = bool(_AFTER_DONE.search(word))
    word = _AFTER_DONE.sub("", word)
    rule = _period(word)
    if rule is None:
        raise ValueError(
            f"{text.strip()!r} is not a repeat rule: use day, week, month, year (with a count: "
            "2w, 3d, 6 months), weekday or a weekday name, optionally followed by 'after done'"
        )
    return Rule(rule.unit, rule.count, rule.weekday, after_done)


def _period(word: str) -> Rule | None:
    if word in _WORDS:
        count, unit = _WORDS[word]
        return Rule(unit, count)
    if word in ("weekday", "weekdays"):
        return Rule("weekday")
    name = word.removesuffix("s") if len(word) > 3 else word
    for number, weekday in enumerate(_WEEKDAYS):
        if len(name) >= 3 and weekday.startswith(name):
            return Rule("weekday-name", weekday=number)
    if iso := _ISO_PERIOD.fullmatch(word):
        return Rule(_ISO_UNITS[iso.group(2)], int(iso.group(1))) if int(iso.group(1)) else None
    match = _PERIOD.fullmatch(word)
    if match is None or match.group(2) not in _UNITS:
        return None
    count = int(match.group(1) or 1)
    if count < 1:
        return None
    return Rule(_UNITS[match.group(2)], count)


def canonical(text: str) -> str:
    """The stored form of a rule typed as TEXT."""
    return parse_rule(text).text


def add_months(day: date, months: int, *, keep_day: int | None = None) -> date:
    """DAY moved by MONTHS, on day KEEP_DAY of that month (DAY's own by default), or on the
    month's last day when it is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    wanted = keep_day or day.day
    return date(year, month + 1, min(wanted, calendar.monthrange(year, month + 1)[1]))


def _step(rule: Rule, day: date, anchor: date) -> date:
    """The occurrence after DAY."""
    if rule.unit == "day":
        return day + timedelta(days=rule.count)
    if rule.unit == "week":
        return day + timedelta(weeks=rule.count)
    if rule.unit == "weekday":
        ahead = {4: 3, 5: 2}.get(day.weekday(), 1)  # Friday and Saturday skip to Monday
        return day + timedelta(days=ahead)
    if rule.weekday is not None:
        return day + timedelta(days=(rule.weekday - day.weekday() - 1) % 7 + 1)
    months = rule.count * (12 if rule.unit == "year" else 1)
    if not rule.counts_from_anchor:
        return add_months(day, months)
    # Count whole periods from the anchor: the first of them in a month after DAY's (DAY may
    # be early in its month: Taskwarrior moves the 31st to the 28th for good).
    passed = (day.year - anchor.year) * 12 + day.month - anchor.month
    return add_months(anchor, (max(passed // months, -1) + 1) * months)


def next_due(rule: Rule, *, due: date | None, anchor: date | None, done_on: date) -> date:
    """When the occurrence after one due on DUE (done on DONE_ON) is due: a period after DUE,
    skipping occurrences up to the day it was done (done today, it is not due again today),
    or a period after DONE_ON (`after done`, or a task without a due date)."""
    if rule.after_done or due is None:
        return _step(rule, done_on, anchor or done_on)
    day = _step(rule, due, anchor or due)
    while day <= done_on:
        day = _step(rule, day, anchor or due)
    return day


def advance(rule: Rule, due: date, *, anchor: date | None, periods: int) -> date:
    """The due PERIODS occurrences after one due DUE, none skipped (an imported series whose
    first PERIODS occurrences were made elsewhere)."""
    for _ in range(periods):
        due = _step(rule, due, anchor or due)
    return due


def needs_a_due_date(every: str) -> bool:
    """Whether a task repeating by the stored rule EVERY needs a due date to count from."""
    return not parse_rule(every).after_done


class Occurrence(Protocol):
    """What the next occurrence of a repeating task depends on (a Task has these)."""

    every: str | None
    due: date | None
    anchor: date | None
    iteration: int | None
    until: date | None
    times: int | None


def occurrence_after(task: Occurrence, *, done_on: date) -> date | None:
    """When the occurrence after the repeating TASK is due if it is done on DONE_ON, or None
    when its series ends with it (`times` reached, or past `until`): `done` makes that one,
    `show` tells of it."""
    assert task.every is not None
    if task.times is not None and (task.iteration or 1) >= task.times:
        return None
    rule = parse_rule(task.every)
    day = next_due(rule, due=task.due, anchor=task.anchor, done_on=done_on)
    return None if task.until is not None and day > task.until else day


class Dated(Protocol):
    """The dates of a task that move with its due date (a Task has these)."""

    due: date | None
    due_at: datetime | None
    wait: datetime | None
    scheduled: datetime | None


def moved_dates(task: Dated, *, due: date, since: date) -> dict[str, date | datetime | None]:
    """The dates, by public key, of an occurrence due DUE that follows TASK: its wait,
    scheduled and due time moved as many days as from SINCE (TASK's due date, or the day it
    was done when it had none) to DUE, each at the same local time; without a due date of
    TASK's, a wait or scheduled no later than DUE's start."""
    days = (due - since).days
    # Without a due date they were not set against one: they move as far, but not past the
    # new due date's start (a task hidden until after it is due would be missed).
    latest = local_midnight(due) if task.due is None else None

    def moved(moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        later = days_later(moment, days)
        return later if latest is None else min(later, latest)

    return {
        "due": due,
        "due_at": None if task.due_at is None else days_later(task.due_at, days),
        "wait": moved(task.wait),
        "scheduled": moved(task.scheduled),
    }


def successor_id(series: uuid.UUID, iteration: int) -> uuid.UUID:
    """The id of occurrence ITERATION of SERIES: the same in every try of every process, so a
    successor can only ever be made once."""
    return uuid.uuid5(_SERIES, f"{series}/{iteration}")
