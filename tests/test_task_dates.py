"""Due times, wait and scheduled dates, as a user types them, on each backend."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Run, add_plain_tasks
from sqlalchemy import update
from sqlmodel import Session, col

from sorted_cli.dates import past_due
from sorted_cli.models import Task, User
from sorted_cli.services.tasks import TaskQuery, list_tasks

ZONE = ZoneInfo("Asia/Kathmandu")  # UTC+05:45: no whole-hour rounding hides a mistake
HINT_ONE = "1 waiting task hidden: sorted list --waiting shows it.\n"


@pytest.fixture(autouse=True)
def in_kathmandu(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Kathmandu's, for the run through the server too; tables as on a terminal
    (without colour)."""
    monkeypatch.setenv("TZ", "Asia/Kathmandu")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def ok(run: Run, *args: str, stderr: str = "") -> str:
    result = run(*args)
    assert (result.exit_code, result.stderr) == (0, stderr), (args, result.stdout)
    return str(result.stdout)


def fails(run: Run, *args: str, code: int = 2, message: str) -> None:
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"Error: {message}\n")


def shown(run: Run, ref: str) -> dict[str, Any]:
    task: dict[str, Any] = json.loads(ok(run, "show", ref, "--json"))
    return task


def dates(task: dict[str, Any]) -> tuple[Any, ...]:
    return task["due"], task["due_at"], task["wait"], task["scheduled"]


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, clock(hour, minute), tzinfo=ZONE)


def utc_text(moment: datetime) -> str:
    """A moment as the JSON view writes it."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def typed(moment: datetime) -> str:
    """A local moment as a user types it: `2030-12-04 17:00`."""
    return f"{moment.astimezone(ZONE):%Y-%m-%d %H:%M}"


def local_now() -> datetime:
    return datetime.now(ZONE)


# ------------------------------------------------------------------------------- due times


def test_a_due_with_a_time_keeps_the_day_and_the_moment(ada: User, run: Run) -> None:
    ok(run, "add", "Send the report", "--due", "2030-12-04 17:00")
    assert dates(shown(run, "1")) == ("2030-12-04", "2030-12-04T11:15:00Z", None, None)
    ok(run, "add", "Call back", "--due", "tomorrow 8:05")
    tomorrow = local_now().date() + timedelta(days=1)
    assert dates(shown(run, "2"))[:2] == (tomorrow.isoformat(), utc_text(local(tomorrow, 8, 5)))


def test_a_time_alone_is_today_at_that_time(ada: User, run: Run) -> None:
    task = json.loads(ok(run, "add", "Stand-up", "--due", "23:59", "--json"))
    today = local_now().date()
    assert dates(task) == (today.isoformat(), utc_text(local(today, 23, 59)), None, None)


def test_edit_due_to_a_day_or_to_nothing_clears_the_time(ada: User, run: Run) -> None:
    ok(run, "add", "Send the report", "--due", "2030-12-04 17:00")
    ok(run, "edit", "1", "--due", "2030-12-05")
    assert dates(shown(run, "1")) == ("2030-12-05", None, None, None)
    ok(run, "edit", "1", "--due", "2030-12-06 09:30")
    assert dates(shown(run, "1")) == ("2030-12-06", "2030-12-06T03:45:00Z", None, None)
    ok(run, "edit", "1", "--no-due")
    assert dates(shown(run, "1")) == (None, None, None, None)


def test_the_list_shows_a_due_time_beside_its_day(ada: User, run: Run) -> None:
    ok(run, "add", "Send the report", "--due", "2030-12-04 17:00")
    ok(run, "add", "File taxes", "--due", "2030-12-04")
    ok(run, "add", "Call back", "--due", "tomorrow 8:05")
    assert ok(run, "list", "--sort", "due") == (
        "#  Title            Priority  Due               Age\n"
        "3  Call back                  tomorrow 08:05    now\n"
        "1  Send the report            2030-12-04 17:00  now\n"
        "2  File taxes                 2030-12-04        now\n"
    )


def test_overdue_is_a_past_due_time_or_a_past_due_day(ada: User, run: Run) -> None:
    now = local_now()
    today = now.date()
    for title, due in (
        ("Time passed", typed(now - timedelta(hours=2))),
        ("Time to come", typed(now + timedelta(hours=2))),
        ("Today", "today"),
        ("Yesterday", "yesterday"),
    ):
        ok(run, "add", title, "--due", due)
    overdue = json.loads(ok(run, "list", "--overdue", "--json"))
    assert [task["title"] for task in overdue] == ["Time passed", "Yesterday"]
    # The database's rule (list --overdue, stats) and Python's (the list's red) are one.
    every = json.loads(ok(run, "list", "--json"))
    assert [
        task["title"]
        for task in every
        if past_due(
            date.fromisoformat(task["due"]),
            datetime.fromisoformat(task["due_at"]) if task["due_at"] else None,
            today=date.today(),
            now=datetime.now(UTC),
        )
    ] == ["Time passed", "Yesterday"]
    assert json.loads(ok(run, "stats", "--json"))["overdue"] == 2
    due_today = [task["title"] for task in json.loads(ok(run, "list", "--today", "--json"))]
    expected = [
        title
        for title, day in (
            ("Time passed", (now - timedelta(hours=2)).date()),
            ("Time to come", (now + timedelta(hours=2)).date()),
            ("Today", today),
        )
        if day == today
    ]
    assert due_today == expected
    ok(run, "done", "1")
    assert [task["title"] for task in json.loads(ok(run, "list", "--overdue", "--json"))] == [
        "Yesterday"
    ]


# ------------------------------------------------------------------------------------ wait


def test_a_waiting_task_is_hidden_from_the_list_and_counted(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "add", "Renew passport", "--wait", "2030-01-01")
    assert shown(run, "2")["wait"] == "2029-12-31T18:15:00Z"  # the local day's start
    table = "#  Title     Priority  Due  Age\n1  Buy milk                 now\n"
    assert ok(run, "list", stderr=HINT_ONE) == table
    ok(run, "add", "Book flights", "--wait", "2030-01-01 09:00")
    assert shown(run, "3")["wait"] == "2030-01-01T03:15:00Z"
    two = "2 waiting tasks hidden: sorted list --waiting shows them.\n"
    assert ok(run, "list", stderr=two) == table
    assert ok(run, "list", "--waiting") == (
        "#  Title           Priority  Due  Age\n"
        "2  Renew passport                 now\n"
        "3  Book flights                   now\n"
    )
    assert [task["number"] for task in json.loads(ok(run, "list", "--all", "--json"))] == [1, 2, 3]
    # A filter counts only the waiting tasks it would have shown.
    assert ok(run, "list", "--search", "passport", stderr="No open tasks match.\n" + HINT_ONE) == ""
    assert ok(run, "list", "--search", "milk") == table


def test_an_empty_list_still_says_how_many_are_waiting(ada: User, run: Run) -> None:
    ok(run, "add", "Renew passport", "--wait", "2030-01-01")
    result = run("list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "",
        "No open tasks.\n" + HINT_ONE,
    )


def test_scripts_get_clean_output_and_the_hint_only_on_stderr(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "add", "Renew passport", "--wait", "2030-01-01")
    streamed = json.loads(ok(run, "list", "--json"))  # every match, streamed: no hint at all
    assert [task["title"] for task in streamed] == ["Buy milk"]
    paged = json.loads(ok(run, "list", "--json", "--limit", "5", stderr=HINT_ONE))
    assert paged == streamed
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    row = ok(run, "list")
    assert re.fullmatch(r"1\t[0-9a-f-]{36}\topen\tnone\t\t\tBuy milk\n", row)


def test_a_past_wait_lists_the_task_and_no_wait_ends_the_wait(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk", "--wait", "yesterday")
    ok(run, "add", "Renew passport", "--wait", "+2w")
    assert [task["number"] for task in json.loads(ok(run, "list", "--json"))] == [1]
    ok(run, "edit", "2", "--no-wait")
    assert shown(run, "2")["wait"] is None
    assert [task["number"] for task in json.loads(ok(run, "list", "--json"))] == [1, 2]
    ok(run, "edit", "1", "--wait", "2030-01-01")
    result = run("list", "--waiting", "--json")
    assert [task["number"] for task in json.loads(result.stdout)] == [1]


# ------------------------------------------------------------------------------- scheduled


def test_ready_lists_open_tasks_not_waiting_and_not_scheduled_later(ada: User, run: Run) -> None:
    for args in (
        ["Later", "--scheduled", "2030-01-01"],
        ["Now", "--scheduled", typed(local_now() - timedelta(minutes=5))],
        ["Waiting", "--wait", "2030-01-01"],
        ["Plain"],
        ["Done"],
    ):
        ok(run, "add", *args)
    ok(run, "done", "5")
    assert shown(run, "1")["scheduled"] == "2029-12-31T18:15:00Z"
    ready = json.loads(ok(run, "list", "--ready", "--json"))
    assert [task["title"] for task in ready] == ["Now", "Plain"]
    ok(run, "edit", "1", "--no-scheduled")
    ready = json.loads(ok(run, "list", "--ready", "--json"))
    assert [task["title"] for task in ready] == ["Later", "Now", "Plain"]
    ok(run, "edit", "1", "--scheduled", "2030-02-01 10:00")
    assert shown(run, "1")["scheduled"] == "2030-02-01T04:15:00Z"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--waiting", "--ready"], "Choose one of --waiting and --ready: no task is both."),
        (
            ["list", "--ready", "--all"],
            "--ready is for open tasks: not with --all, --completed or --deleted, nor in reopen or "
            "restore.",
        ),
        (
            ["edit", "1", "--wait", "monday", "--no-wait"],
            "Give either --wait or --no-wait, not both.",
        ),
        (
            ["edit", "1", "--scheduled", "monday", "--no-scheduled"],
            "Give either --scheduled or --no-scheduled, not both.",
        ),
        (
            ["add", "x", "--wait", "friday 25:00"],
            "Invalid time in 'friday 25:00': use HH:MM on a 24-hour clock, 00:00 to 23:59.",
        ),
        (
            ["edit", "1", "--scheduled", "soon"],
            "Invalid date 'soon': use YYYY-MM-DD, today, tomorrow, yesterday, a weekday "
            "(fri, next fri), 3d, +2w, in 1 month, 1y, eow, eom, eoy, dec 24 or 1st, "
            "optionally followed by a time HH:MM (friday 17:00), or a time alone.",
        ),
    ],
)
def test_bad_date_options_are_refused(ada: User, run: Run, args: list[str], message: str) -> None:
    ok(run, "add", "Buy milk")
    before = shown(run, "1")
    fails(run, *args, message=message)
    assert shown(run, "1") == before


# ------------------------------------------------------------------------------ show, undo


def test_show_has_the_due_time_wait_and_scheduled(ada: User, run: Run) -> None:
    ok(run, "add", "Renew passport", "--due", "2030-12-04 17:00", "--wait", "2030-11-01")
    ok(run, "edit", "1", "--scheduled", "2030-11-20 09:30")
    lines = [line.strip("│ ") for line in ok(run, "show", "1").splitlines()[1:5]]
    assert lines == [
        "Title      Renew passport",
        "Status     open",
        "Priority   -",
        "Due        2030-12-04 17:00",
    ]
    rows = [line.strip("│ ") for line in ok(run, "show", "1").splitlines()[5:7]]
    assert rows == ["Wait       2030-11-01 00:00", "Scheduled  2030-11-20 09:30"]


def test_undo_of_an_edit_restores_due_time_and_wait(ada: User, run: Run) -> None:
    ok(run, "add", "Renew passport", "--due", "2030-12-04 17:00", "--wait", "2030-11-01")
    before = shown(run, "1")
    ok(run, "edit", "1", "--due", "2030-12-10", "--no-wait")
    assert dates(shown(run, "1")) == ("2030-12-10", None, None, None)
    assert ok(run, "undo") == "Undid edit of task 1: Renew passport\n"
    after = shown(run, "1")
    assert (
        dates(after)
        == dates(before)
        == (
            "2030-12-04",
            "2030-12-04T11:15:00Z",
            "2030-10-31T18:15:00Z",
            None,
        )
    )
    ok(run, "redo")
    assert dates(shown(run, "1")) == ("2030-12-10", None, None, None)


def test_a_repeated_edit_of_the_dates_changes_nothing(ada: User, run: Run) -> None:
    ok(run, "add", "Renew passport", "--wait", "2030-11-01 08:00")
    ok(run, "edit", "1", "--wait", "2030-11-01 08:00")
    log = json.loads(ok(run, "log", "--json"))
    assert [command["action"] for command in log] == ["add"]


# ---------------------------------------------------------------------------------- import


def test_import_takes_the_moments_in_utc_and_a_due_from_due_at(
    ada: User, run: Run, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.json"
    file.write_text(
        json.dumps(
            [
                {
                    "id": "6e0b5a1c-2f3d-4e4f-8a9b-0c1d2e3f4a5b",
                    "title": "Renew passport",
                    "created_at": "2026-11-01T10:00:00Z",
                    "wait": "2030-11-01T08:00:00+01:00",
                    "scheduled": "2030-11-20T09:30:00",
                    "due_at": "2030-12-04T20:00:00Z",
                }
            ]
        )
    )
    result = run("import", str(file))
    assert result.exit_code == 0, result.stderr
    task = shown(run, "1")
    assert dates(task) == (
        "2030-12-05",  # 01:45 the next day in Kathmandu
        "2030-12-04T20:00:00Z",
        "2030-11-01T07:00:00Z",
        "2030-11-20T09:30:00Z",
    )
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            [
                {
                    "id": "6e0b5a1c-2f3d-4e4f-8a9b-0c1d2e3f4a5c",
                    "title": "x",
                    "created_at": "2026-11-01",
                    "wait": "soon",
                }
            ]
        )
    )
    result = run("import", str(bad))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {bad}, line 1: wait must be a date and time (such as 2026-01-01T09:30:00Z), "
        "not 'soon'.\n",
    )


def test_the_waiting_count_stops_at_500_as_the_more_count_does(ada: User, session: Session) -> None:
    add_plain_tasks(session, ada, 1, 560)
    waiting = (
        update(Task).where(col(Task.number) > 10).values(wait=datetime(2030, 1, 1, tzinfo=UTC))
    )
    session.execute(waiting)
    session.commit()
    page = list_tasks(session=session, user=ada, query=TaskQuery(limit=5))
    assert [task.number for task in page.tasks] == [1, 2, 3, 4, 5]
    assert (page.more_text, page.waiting_text) == ("5", "500+")
    small = list_tasks(session=session, user=ada, query=TaskQuery(search="t55", limit=5))
    assert (len(small.tasks), small.waiting_text) == (0, "11")  # t55, t550 to t559 wait
    ready = list_tasks(session=session, user=ada, query=TaskQuery(waiting=True, limit=None))
    assert (len(ready.tasks), ready.waiting) == (550, 0)  # listed, so none hidden
