from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from sorted_cli.dates import When, age, parse_due, parse_when
from sorted_cli.errors import InvalidInput

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
        ("sunday", date(2026, 11, 29)),  # never today: the next one
        ("+3d", date(2026, 11, 25)),
        ("+2w", date(2026, 12, 6)),
        ("+0d", SUNDAY),
    ],
)
def test_due_dates_people_type(text: str, expected: date) -> None:
    assert parse_due(text, today=SUNDAY) == expected


@pytest.mark.parametrize("text", ["", "soon", "2026-13-01", "+3m", "-3d", "mo", "+99999d"])
def test_bad_due_dates_are_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput, match=r"^Invalid date .*: use YYYY-MM-DD") as caught:
        parse_due(text, today=SUNDAY)
    assert caught.value.exit_code == 2


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


ACCEPTED = (
    "use YYYY-MM-DD, today, tomorrow, a weekday name, +3d or +2w, optionally followed by a "
    "time HH:MM (friday 17:00), or a time alone."
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
