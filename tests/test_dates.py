from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sorted_cli.dates import age, parse_due
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
