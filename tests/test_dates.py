from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import Run
from sqlalchemy import update
from sqlmodel import Session, col

from sorted_cli.dates import DAY_FORMS, When, age, parse_due, parse_since, parse_when
from sorted_cli.errors import InvalidInput
from sorted_cli.models import Task, User

SUNDAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24", date(2026, 12, 24)),
        ("today", SUNDAY),
        (" Tomorrow ", date(2026, 11, 23)),
        ("yesterday", date(2026, 11, 21)),
        ("monday", date(2026, 11, 23)),
        ("fri", date(2026, 11, 27)),
        ("Tues", date(2026, 11, 24)),
        ("sunday", date(2026, 11, 29)),  # never today: the next one
        ("next monday", date(2026, 11, 23)),  # the same as `monday`
        ("Next  Sun", date(2026, 11, 29)),
        ("+3d", date(2026, 11, 25)),
        ("3d", date(2026, 11, 25)),
        ("in 3 days", date(2026, 11, 25)),
        ("  IN  3  DAYS ", date(2026, 11, 25)),
        ("3 days", date(2026, 11, 25)),
        ("in 1 day", date(2026, 11, 23)),
        ("-3d", date(2026, 11, 19)),
        ("+0d", SUNDAY),
        ("+2w", date(2026, 12, 6)),
        ("2w", date(2026, 12, 6)),
        ("in 2 weeks", date(2026, 12, 6)),
        ("+1m", date(2026, 12, 22)),
        ("1m", date(2026, 12, 22)),
        ("in 1 month", date(2026, 12, 22)),
        ("in 3 months", date(2027, 2, 22)),
        ("+1y", date(2027, 11, 22)),
        ("1y", date(2027, 11, 22)),
        ("in 2 years", date(2028, 11, 22)),
        ("eow", SUNDAY),  # a Sunday is its week's end
        ("eom", date(2026, 11, 30)),
        ("EOY", date(2026, 12, 31)),
        ("dec 24", date(2026, 12, 24)),
        ("24 dec", date(2026, 12, 24)),
        ("December 24", date(2026, 12, 24)),
        ("dec 24th", date(2026, 12, 24)),
        ("sept 3", date(2027, 9, 3)),
        ("jan 1", date(2027, 1, 1)),
        ("nov 22", SUNDAY),  # today has not passed
        ("nov 21", date(2027, 11, 21)),  # passed: next year's
        ("1st", date(2026, 12, 1)),
        ("2nd", date(2026, 12, 2)),
        ("23rd", date(2026, 11, 23)),
        ("22nd", SUNDAY),
        ("21st", date(2026, 12, 21)),
        ("11th", date(2026, 12, 11)),
        ("30th", date(2026, 11, 30)),
        ("31st", date(2026, 12, 31)),  # November has none
    ],
)
def test_due_dates_people_type(text: str, expected: date) -> None:
    assert parse_due(text, today=SUNDAY) == expected


@pytest.mark.parametrize(
    ("today", "text", "expected"),
    [
        (date(2026, 11, 23), "eow", SUNDAY + timedelta(days=7)),  # a Monday
        (date(2026, 11, 28), "eow", SUNDAY + timedelta(days=7)),  # a Saturday
        (date(2026, 1, 31), "+1m", date(2026, 2, 28)),  # the month's last day
        (date(2028, 1, 31), "in 1 month", date(2028, 2, 29)),
        (date(2026, 3, 31), "1m", date(2026, 4, 30)),
        (date(2026, 1, 31), "in 2 months", date(2026, 3, 31)),
        (date(2026, 12, 15), "+1m", date(2027, 1, 15)),
        (date(2028, 2, 29), "+1y", date(2029, 2, 28)),
        (date(2026, 2, 10), "eom", date(2026, 2, 28)),
        (date(2028, 2, 10), "eom", date(2028, 2, 29)),
        (date(2026, 12, 31), "eom", date(2026, 12, 31)),
        (date(2026, 12, 31), "eoy", date(2026, 12, 31)),
        (date(2026, 12, 31), "1st", date(2027, 1, 1)),
        (date(2026, 2, 10), "29th", date(2026, 3, 29)),  # February has none
        (date(2028, 2, 10), "29th", date(2028, 2, 29)),
        (date(2026, 1, 31), "30th", date(2026, 3, 30)),
        (date(2026, 4, 30), "31st", date(2026, 5, 31)),
        (date(2026, 12, 25), "dec 24", date(2027, 12, 24)),
        (date(2026, 3, 1), "feb 29", date(2028, 2, 29)),  # the next leap year's
        (date(2028, 2, 29), "feb 29", date(2028, 2, 29)),
    ],
)
def test_month_ends_and_other_todays(today: date, text: str, expected: date) -> None:
    assert parse_due(text, today=today) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3d", date(2026, 11, 19)),  # bare offsets are that long ago
        ("3 days", date(2026, 11, 19)),
        ("-3d", date(2026, 11, 19)),
        ("2w", date(2026, 11, 8)),
        ("1m", date(2026, 10, 22)),
        ("1y", date(2025, 11, 22)),
        ("today", SUNDAY),
        ("yesterday", date(2026, 11, 21)),
        ("sunday", SUNDAY),  # the latest one, today included
        ("fri", date(2026, 11, 20)),
        ("monday", date(2026, 11, 16)),
        ("nov 22", SUNDAY),
        ("dec 24", date(2025, 12, 24)),  # the latest one
        ("1st", date(2026, 11, 1)),
        ("22nd", SUNDAY),
        ("31st", date(2026, 10, 31)),  # November has none
        ("2026-11-01", date(2026, 11, 1)),
        ("+3d", date(2026, 11, 25)),  # explicitly ahead: as everywhere
        ("in 3 days", date(2026, 11, 25)),
        ("next monday", date(2026, 11, 23)),
        ("eom", date(2026, 11, 30)),
    ],
)
def test_completed_since_looks_back(text: str, expected: date) -> None:
    assert parse_since(text, today=SUNDAY) == expected


def test_a_month_ago_is_the_month_s_last_day_when_it_is_shorter() -> None:
    assert parse_since("1m", today=date(2026, 3, 31)) == date(2026, 2, 28)
    assert parse_since("2nd", today=date(2026, 3, 1)) == date(2026, 2, 2)
    assert parse_since("30th", today=date(2026, 3, 1)) == date(2026, 1, 30)


ACCEPTED_DAYS = (
    "use YYYY-MM-DD, today, tomorrow, yesterday, a weekday (fri, next fri), 3d, +2w, in 1 month, "
    "1y, eow, eom, eoy, dec 24 or 1st."
)
BAD_DAYS = [
    "", "soon", "2026-13-01", "mo", "+99999d", "next", "next 3d", "next eow", "in -3 days",
    "+ 3d", "3x", "3 mins", "dec", "24", "dec 32", "feb 30", "ma 3", "2th", "1nd", "0th",
    "32nd", "12st", "in3 days",
]  # fmt: skip


@pytest.mark.parametrize("text", BAD_DAYS)
def test_bad_due_dates_name_the_forms_accepted(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_due(text, today=SUNDAY)
    assert (str(caught.value), caught.value.exit_code) == (
        f"Invalid date {text!r}: {ACCEPTED_DAYS}",
        2,
    )


@pytest.mark.parametrize("text", BAD_DAYS)
def test_bad_since_dates_name_the_forms_accepted(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_since(text, today=SUNDAY)
    assert str(caught.value) == f"Invalid date {text!r}: {ACCEPTED_DAYS}"


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_due, "+9999y"), (parse_due, " +9999Y "), (parse_since, "9999y"), (parse_due, "-9999y")],
)
def test_days_past_the_ends_of_the_calendar_are_out_of_range(parse: Any, text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(text, today=SUNDAY)
    assert (str(caught.value), caught.value.exit_code) == (
        f"Invalid date {text.strip()!r}: out of range.",
        2,
    )


def test_the_forms_named_in_errors_and_help_all_parse() -> None:
    """DAY_FORMS, which every date option's help names, holds only forms that work."""
    forms = re.split(r", | or ", re.sub(r"a weekday \((.*?)\)", r"\1", DAY_FORMS))
    assert (forms[0], len(forms)) == ("YYYY-MM-DD", 15)
    for form in forms[1:]:  # each raises InvalidInput if it is not a day
        parse_due(form, today=SUNDAY)
        parse_since(form, today=SUNDAY)


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(seconds=5), "now"),
        (timedelta(minutes=5), "5m"),
        (timedelta(hours=3, minutes=59), "3h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=15), "2w"),
        (timedelta(days=800), "2y"),
        (timedelta(seconds=-30), "now"),  # a clock a little ahead is not an error
    ],
)
def test_age(elapsed: timedelta, expected: str) -> None:
    now = datetime(2026, 11, 22, 12, tzinfo=UTC)
    assert age(now - elapsed, now=now) == expected


@pytest.fixture
def in_kathmandu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC+05:45: no whole-hour rounding hides a mistake."""
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# Sunday 2026-11-22 at 10:00 in Kathmandu (04:15 UTC).
NOW = datetime(2026, 11, 22, 4, 15, tzinfo=UTC)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("friday", When(date(2026, 11, 27))),
        ("2026-12-04", When(date(2026, 12, 4))),
        ("friday 17:00", When(date(2026, 11, 27), _utc(2026, 11, 27, 11, 15))),
        ("2026-12-04 09:30", When(date(2026, 12, 4), _utc(2026, 12, 4, 3, 45))),
        ("Tomorrow 8:00", When(date(2026, 11, 23), _utc(2026, 11, 23, 2, 15))),
        ("+3d  23:59", When(date(2026, 11, 25), _utc(2026, 11, 25, 18, 14))),
        ("17:00", When(SUNDAY, _utc(2026, 11, 22, 11, 15))),  # today at that time
        (" 0:00 ", When(SUNDAY, _utc(2026, 11, 21, 18, 15))),  # even when it has passed
        ("today 05:44", When(SUNDAY, _utc(2026, 11, 22, 0, 0) - timedelta(minutes=1))),
        ("eow 17:00", When(SUNDAY, _utc(2026, 11, 22, 11, 15))),
        ("Dec 24 9:00", When(date(2026, 12, 24), _utc(2026, 12, 24, 3, 15))),
        ("next monday 9:00", When(date(2026, 11, 23), _utc(2026, 11, 23, 3, 15))),
        ("in 3 days 8:00", When(date(2026, 11, 25), _utc(2026, 11, 25, 2, 15))),
        ("1st 23:59", When(date(2026, 12, 1), _utc(2026, 12, 1, 18, 14))),
        ("eom", When(date(2026, 11, 30))),
        ("+1m", When(date(2026, 12, 22))),
    ],
)
def test_dates_with_a_local_time(in_kathmandu: None, text: str, expected: When) -> None:
    assert parse_when(text, now=NOW) == expected


def test_a_day_without_a_time_starts_at_local_midnight(in_kathmandu: None) -> None:
    assert parse_when("monday", now=NOW).start == _utc(2026, 11, 22, 18, 15)
    assert parse_when("monday 9:00", now=NOW).start == _utc(2026, 11, 23, 3, 15)


def test_today_is_the_local_day_of_now(in_kathmandu: None) -> None:
    late = _utc(2026, 11, 22, 20, 0)  # Monday 01:45 in Kathmandu, still Sunday in UTC
    assert parse_when("today", now=late) == When(date(2026, 11, 23))
    assert parse_when("9:00", now=late).day == date(2026, 11, 23)


ACCEPTED = ACCEPTED_DAYS.removesuffix(".") + (
    ", optionally followed by a time HH:MM (friday 17:00), or a time alone."
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("soon", f"Invalid date 'soon': {ACCEPTED}"),
        ("soon 17:00", f"Invalid date 'soon 17:00': {ACCEPTED}"),
        ("friday 17", f"Invalid date 'friday 17': {ACCEPTED}"),
        ("17:0", f"Invalid date '17:0': {ACCEPTED}"),
        ("friday 5pm", f"Invalid date 'friday 5pm': {ACCEPTED}"),
        ("", f"Invalid date '': {ACCEPTED}"),
        ("feb 30 9:00", f"Invalid date 'feb 30 9:00': {ACCEPTED}"),
        ("eow17:00", f"Invalid date 'eow17:00': {ACCEPTED}"),
        (
            "friday 24:00",
            "Invalid time in 'friday 24:00': use HH:MM on a 24-hour clock, 00:00 to 23:59.",
        ),
        ("9:60", "Invalid time in '9:60': use HH:MM on a 24-hour clock, 00:00 to 23:59."),
    ],
)
def test_bad_dates_with_times_name_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_when(text, now=NOW)
    assert (str(caught.value), caught.value.exit_code) == (message, 2)


# ------------------------------------------------------------------ the options, end to end


def added(run: Run, *args: str) -> dict[str, Any]:
    result = run("add", *args, "--json")
    assert (result.exit_code, result.stderr) == (0, ""), args
    task: dict[str, Any] = json.loads(result.stdout)
    return task


def listed(run: Run, *args: str) -> list[int]:
    result = run("list", *args, "--json")
    assert (result.exit_code, result.stderr) == (0, ""), args
    return [task["number"] for task in json.loads(result.stdout)]


def local_start(moment: str) -> date:
    """The local day a moment of the JSON view starts (it must be that day's 00:00)."""
    local = datetime.fromisoformat(moment).astimezone()
    assert (local.hour, local.minute, local.second) == (0, 0, 0), moment
    return local.date()


def next_first(today: date) -> date:
    """The first day of the month after TODAY's."""
    return (today.replace(day=28) + timedelta(days=4)).replace(day=1)


def test_due_eom_is_this_month_s_last_day(ada: User, run: Run) -> None:
    task = added(run, "Pay the bills", "--due", "eom")
    last = next_first(date.today()) - timedelta(days=1)
    assert (task["due"], task["due_at"]) == (last.isoformat(), None)


def test_wait_in_3_days_starts_that_day(ada: User, run: Run) -> None:
    task = added(run, "Book the car", "--wait", "in 3 days")
    assert local_start(task["wait"]) == date.today() + timedelta(days=3)
    assert listed(run) == []
    assert listed(run, "--waiting") == [1]


def test_scheduled_1st_is_the_next_first_of_a_month(ada: User, run: Run) -> None:
    task = added(run, "Pay rent", "--scheduled", "1st")
    today = date.today()
    assert local_start(task["scheduled"]) == (today if today.day == 1 else next_first(today))


def test_due_before_eow_is_before_the_coming_sunday(ada: User, run: Run) -> None:
    sunday = date.today() + timedelta(days=6 - date.today().weekday())
    for title, day in (("Saturday", -1), ("Sunday", 0), ("Monday", 1)):
        added(run, title, "--due", (sunday + timedelta(days=day)).isoformat())
    assert listed(run, "--due-before", "eow") == [1]
    assert listed(run, "--due-before", "EOW") == [1]


def test_completed_since_3d_is_three_days_ago(ada: User, run: Run, session: Session) -> None:
    for title in ("Two days ago", "Four days ago", "Now"):
        added(run, title)
    assert run("done", "1", "2", "3").exit_code == 0
    now = datetime.now(UTC)
    for number, days in ((1, 2), (2, 4)):
        moved = update(Task).where(col(Task.number) == number)
        session.exec(moved.values(completed_at=now - timedelta(days=days)))
    session.commit()
    assert listed(run, "--completed-since", "3d") == [1, 3]
    assert listed(run, "--completed-since", "-3d") == [1, 3]
    assert listed(run, "--completed-since", "5d") == [1, 2, 3]
    assert listed(run, "--completed-since", "in 3 days") == []  # ahead: nothing done yet
