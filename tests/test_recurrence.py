"""Repeating tasks: the rules, the next occurrence that `done` makes, and taking it back."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Run
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from test_cli_lists import _in_a_terminal
from test_processes import SORTED, TIMEOUT_S, environment

from sorted_cli.models import Task, TaskCreate, User, validated
from sorted_cli.recurrence import Rule, add_months, canonical, next_due, parse_rule, successor_id
from sorted_cli.services import tasks

TODAY = date.today()


def ok(run: Run, *args: str) -> str:
    result = run(*args)
    assert (result.exit_code, result.stderr) == (0, ""), (args, result.stdout, result.stderr)
    return str(result.stdout)


def everything(run: Run) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(ok(run, "export", "--all"))
    return found


def by_number(run: Run) -> dict[int, dict[str, Any]]:
    return {task["number"]: task for task in everything(run)}


# ---------------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("week", "week"),
        ("weekly", "week"),
        ("1w", "week"),
        ("2w", "2 weeks"),
        ("2 weeks", "2 weeks"),
        ("every 2 weeks", "2 weeks"),
        ("biweekly", "2 weeks"),
        ("3d", "3 days"),
        ("daily", "day"),
        ("month", "month"),
        ("6 months", "6 months"),
        ("quarterly", "3 months"),
        ("1y", "year"),
        ("Yearly", "year"),
        ("weekday", "weekday"),
        ("weekdays", "weekday"),
        ("friday", "friday"),
        ("Fri", "friday"),
        ("mondays", "monday"),
        ("3 days after done", "3 days after done"),
        ("  3D   AFTER   done ", "3 days after done"),
        ("month after completion", "month after done"),
    ],
)
def test_a_rule_is_stored_as_its_canonical_text(typed: str, stored: str) -> None:
    assert canonical(typed) == stored
    assert canonical(stored) == stored  # the stored text reads back as the same rule


@pytest.mark.parametrize("typed", ["", "0d", "fortnights", "2m", "every", "after done", "3 dogs"])
def test_what_is_not_a_rule_is_refused_saying_what_is(typed: str) -> None:
    with pytest.raises(ValueError, match=r"is not a repeat rule: use day, week, month, year"):
        parse_rule(typed)


def test_a_month_later_is_the_same_day_or_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)  # a leap year
    assert add_months(date(2027, 12, 15), 1) == date(2028, 1, 15)
    assert add_months(date(2027, 2, 28), 1, keep_day=31) == date(2027, 3, 31)


def test_a_monthly_series_counts_from_its_anchor_so_the_31st_comes_back() -> None:
    rule = parse_rule("month")
    old = date(2020, 1, 1)  # long past: nothing is skipped for these
    due, dues = date(2027, 1, 31), []
    for _ in range(4):
        due = next_due(rule, due=due, anchor=date(2027, 1, 31), done_on=old)
        dues.append(due)
    assert dues == [date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30), date(2027, 5, 31)]
    leap = parse_rule("year")
    assert next_due(leap, due=date(2028, 2, 29), anchor=None, done_on=old) == date(2029, 2, 28)
    assert next_due(leap, due=date(2031, 2, 28), anchor=date(2028, 2, 29), done_on=old) == date(
        2032, 2, 29
    )
    # Taskwarrior moved a series of the 31st to the 28th: the next is next month's 31st, not
    # this month's.
    assert next_due(rule, due=date(2026, 12, 28), anchor=date(2026, 1, 31), done_on=old) == (
        date(2027, 1, 31)
    )


def test_occurrences_up_to_the_day_of_done_are_skipped() -> None:
    weekly = parse_rule("week")
    monday = date(2026, 11, 2)
    # Done three weeks late: the next one is the first still to come, not the three missed.
    assert next_due(weekly, due=monday, anchor=None, done_on=date(2026, 11, 25)) == date(
        2026, 11, 30
    )
    # Done late on a day an occurrence falls on: that one is done too, the next is a week on.
    assert next_due(weekly, due=monday, anchor=None, done_on=date(2026, 11, 23)) == date(
        2026, 11, 30
    )
    daily = parse_rule("day")
    assert next_due(daily, due=date(2026, 11, 20), anchor=None, done_on=date(2026, 11, 25)) == (
        date(2026, 11, 26)
    )
    # Done early: a period after the due date.
    assert next_due(weekly, due=monday, anchor=None, done_on=date(2026, 10, 1)) == date(2026, 11, 9)


def test_after_done_counts_from_the_day_it_was_done() -> None:
    rule = parse_rule("3 days after done")
    done = date(2026, 12, 10)
    assert next_due(rule, due=date(2026, 12, 1), anchor=None, done_on=done) == date(2026, 12, 13)
    # A repeating task without a due date counts from the day of done too.
    assert next_due(Rule("week"), due=None, anchor=None, done_on=done) == date(2026, 12, 17)


def test_weekday_rules_land_on_the_right_days() -> None:
    old = date(2020, 1, 1)
    weekday = parse_rule("weekday")
    friday, saturday = date(2026, 12, 4), date(2026, 12, 5)
    assert next_due(weekday, due=friday, anchor=None, done_on=old) == date(2026, 12, 7)
    assert next_due(weekday, due=saturday, anchor=None, done_on=old) == date(2026, 12, 7)
    assert next_due(weekday, due=date(2026, 12, 7), anchor=None, done_on=old) == date(2026, 12, 8)
    fridays = parse_rule("friday")
    assert next_due(fridays, due=friday, anchor=None, done_on=old) == date(2026, 12, 11)
    assert next_due(fridays, due=date(2026, 12, 1), anchor=None, done_on=old) == friday


def test_the_id_of_an_occurrence_depends_on_its_series_and_iteration_only() -> None:
    series = uuid.uuid4()
    assert successor_id(series, 2) == successor_id(series, 2)
    assert (
        len({successor_id(series, 2), successor_id(series, 3), successor_id(uuid.uuid4(), 2)}) == 3
    )


# ------------------------------------------------------------------------ done makes the next


def test_done_makes_the_next_occurrence_with_the_same_fields(ada: User, run: Run) -> None:
    last_week = (TODAY - timedelta(days=7)).isoformat()
    ok(run, "add", "Water plants", "--due", last_week, "--every", "week", "-p", "high",
       "-d", "The ferns too", "--tag", "home", "--tag", "garden")  # fmt: skip
    # Due last week, done today: the occurrence due today is done with it, the next is a week on.
    week = (TODAY + timedelta(days=7)).isoformat()
    assert ok(run, "done", "1") == f"Completed task 1: Water plants\nNext: task 2, due {week}.\n"
    first, second = by_number(run)[1], by_number(run)[2]
    assert first["completed"] is True
    assert {key: second[key] for key in ("title", "description", "priority", "tags", "every")} == {
        "title": "Water plants",
        "description": "The ferns too",
        "priority": "high",
        "tags": ["garden", "home"],
        "every": "week",
    }
    assert (second["due"], second["completed"], second["deleted"]) == (
        week,
        False,
        False,
    )
    assert (first["series_id"], first["iteration"]) == (first["id"], 1)
    assert (second["series_id"], second["iteration"]) == (first["id"], 2)
    assert second["id"] == str(successor_id(uuid.UUID(first["id"]), 2))
    assert second["notes"] == []


def test_a_series_ends_at_until_or_after_its_times(ada: User, run: Run) -> None:
    today = TODAY.isoformat()
    ok(
        run,
        "add",
        "Standup",
        "--due",
        today,
        "--every",
        "day",
        "--until",
        (TODAY + timedelta(days=1)).isoformat(),
    )
    ok(run, "add", "Pills", "--due", today, "--every", "day", "--times", "2")
    assert ok(run, "done", "1", "2") == (
        "Completed task 1: Standup\n"
        f"Next: task 3, due {(TODAY + timedelta(days=1)).isoformat()}.\n"
        "Completed task 2: Pills\n"
        f"Next: task 4, due {(TODAY + timedelta(days=1)).isoformat()}.\n"
    )
    assert ok(run, "done", "3", "4") == "Completed task 3: Standup\nCompleted task 4: Pills\n"
    assert [task["number"] for task in everything(run)] == [1, 2, 3, 4]


def test_a_task_done_again_after_a_retry_makes_no_second_successor(
    ada: User, session: Session
) -> None:
    data = validated(TaskCreate, title="Water plants", due=TODAY, every="week")
    tasks.create_task(session=session, user=ada, data=data)
    [first] = tasks.complete_tasks(session=session, user=ada, refs=["1"])
    [again] = tasks.complete_tasks(session=session, user=ada, refs=["1"])
    assert (first.changed, first.next is not None, again.changed, again.next) == (
        True,
        True,
        False,
        None,
    )
    assert session.exec(select(Task).where(col(Task.series_id).is_not(None))).all() != []
    assert len(session.exec(select(Task)).all()) == 2


def test_no_two_tasks_share_an_occurrence_of_a_series(ada: User, session: Session) -> None:
    series = uuid.uuid4()
    for number in (1, 2):
        session.add(Task(user_id=ada.id, number=number, title="x", series_id=series, iteration=2))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


@pytest.mark.in_process
def test_eight_dones_at_once_of_one_repeating_task_make_one_successor(ada: User, run: Run) -> None:
    """Real processes, all started before any ends: one completes the task and makes the
    next one; the others find it done already."""
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    dones = [
        subprocess.Popen(
            [str(SORTED), "done", "1"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        for _ in range(8)
    ]
    said = [done.communicate(timeout=TIMEOUT_S) for done in dones]
    assert [done.returncode for done in dones] == [0] * 8, said
    outs = sorted(out for out, _ in said)
    week = (TODAY + timedelta(days=7)).isoformat()
    assert outs == sorted(
        [f"Completed task 1: Water plants\nNext: task 2, due {week}.\n"]
        + ["Task 1 was already done: Water plants\n"] * 7
    )
    assert [(t["number"], t["completed"]) for t in everything(run)] == [(1, True), (2, False)]


# ----------------------------------------------------------------------- taking it back


def test_undo_of_a_repeating_done_withdraws_the_next_and_redo_brings_it_back(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    assert ok(run, "undo") == (
        "Undid done of task 1: Water plants\n"
        "Undid done of task 2: Water plants (moved to the trash)\n"
    )
    tasks_now = by_number(run)
    assert (tasks_now[1]["completed"], tasks_now[2]["deleted"]) == (False, True)
    assert ok(run, "list").count("\n") == 1
    assert ok(run, "redo") == (
        "Redid done of task 1: Water plants\n"
        "Redid done of task 2: Water plants (out of the trash)\n"
    )
    tasks_now = by_number(run)
    assert (tasks_now[1]["completed"], tasks_now[2]["deleted"]) == (True, False)


def test_reopen_withdraws_an_untouched_next_and_done_brings_the_same_one_back(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    made = by_number(run)[2]
    assert ok(run, "reopen", "1") == (
        "Reopened task 1: Water plants\nWithdrew task 2, its next time, to the trash.\n"
    )
    assert by_number(run)[2]["deleted"] is True
    week = (TODAY + timedelta(days=7)).isoformat()
    assert ok(run, "done", "1") == f"Completed task 1: Water plants\nNext: task 2, due {week}.\n"
    back = by_number(run)[2]
    assert (back["id"], back["deleted"], len(everything(run))) == (made["id"], False, 2)
    # The reopen, and the done that brought it back, are undone as wholes too.
    ok(run, "undo")
    assert by_number(run)[2]["deleted"] is True
    ok(run, "undo")
    assert (by_number(run)[1]["completed"], by_number(run)[2]["deleted"]) == (True, False)


def test_reopen_keeps_a_next_occurrence_the_user_has_touched(ada: User, run: Run) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    ok(run, "note", "2", "the big pot leaks")
    assert ok(run, "reopen", "1") == "Reopened task 1: Water plants\n"
    assert [(t["number"], t["completed"], t["deleted"]) for t in everything(run)] == [
        (1, False, False),
        (2, False, False),
    ]


def test_a_withdrawn_next_comes_back_as_the_series_is_now(ada: User, run: Run) -> None:
    """The series was edited while its next time was in the trash: brought back, that one
    takes the title, priority, tags and rule the done one has now; its undo puts it back in
    the trash as it was."""
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week", "-p", "low",
       "--tag", "home")  # fmt: skip
    ok(run, "done", "1")
    ok(run, "reopen", "1")
    withdrawn = by_number(run)[2]
    ok(run, "edit", "1", "--title", "Water all plants", "-p", "high", "--every", "2w")
    ok(run, "tag", "1", "garden")
    fortnight = (TODAY + timedelta(weeks=2)).isoformat()
    assert ok(run, "done", "1") == (
        f"Completed task 1: Water all plants\nNext: task 2, due {fortnight}.\n"
    )
    back = by_number(run)[2]
    assert {key: back[key] for key in ("id", "title", "priority", "tags", "every", "due")} == {
        "id": withdrawn["id"],
        "title": "Water all plants",
        "priority": "high",
        "tags": ["garden", "home"],
        "every": "2 weeks",
        "due": fortnight,
    }
    assert back["deleted"] is False
    ok(run, "undo")
    again = by_number(run)[2]
    assert {key: again[key] for key in withdrawn if key not in ("updated_at",)} == {
        key: withdrawn[key] for key in withdrawn if key not in ("updated_at",)
    }


def test_a_next_time_the_user_deleted_stays_deleted(ada: User, run: Run) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    ok(run, "delete", "2")
    assert ok(run, "reopen", "1") == "Reopened task 1: Water plants\n"
    assert ok(run, "done", "1") == (
        "Completed task 1: Water plants\n"
        "Its next time, task 2, is in the trash: `sorted restore 2` brings it back.\n"
    )
    assert [(t["number"], t["completed"], t["deleted"]) for t in everything(run)] == [
        (1, True, False),
        (2, False, True),
    ]


def test_an_undone_change_of_the_next_time_does_not_keep_it_from_being_withdrawn(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    ok(run, "edit", "2", "--title", "Water the ferns")
    ok(run, "undo")
    assert ok(run, "reopen", "1") == (
        "Reopened task 1: Water plants\nWithdrew task 2, its next time, to the trash.\n"
    )
    # A change that stands (redone) keeps it.
    ok(run, "undo")
    ok(run, "edit", "2", "--title", "Water the ferns")
    assert ok(run, "reopen", "1") == "Reopened task 1: Water plants\n"


def test_undo_that_would_leave_a_series_without_its_purged_next_time_is_refused(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    ok(run, "reopen", "1")  # task 2 withdrawn to the trash
    ok(run, "purge", "--yes")
    before = everything(run)
    result = run("undo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Cannot undo `reopen`: the next time of task 1 (Water plants) was purged "
        "since, and undo would leave its series with no open task; nothing was changed. "
        "`sorted done 1` makes a new one.\n",
    )
    assert everything(run) == before
    week = (TODAY + timedelta(days=7)).isoformat()
    assert ok(run, "done", "1") == f"Completed task 1: Water plants\nNext: task 3, due {week}.\n"
    assert [(t["number"], t["iteration"], t["completed"]) for t in everything(run)] == [
        (1, 1, True),
        (3, 2, False),
    ]


def test_undo_of_a_reopen_goes_ahead_when_the_series_has_another_open_task(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Water plants", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "1")
    ok(run, "tag", "2", "kept")
    ok(run, "reopen", "1")  # task 2 was touched: it stays, and 1 is open again beside it
    ok(run, "done", "2")  # makes task 3
    ok(run, "reopen", "2")  # withdraws 3
    ok(run, "purge", "3", "--yes")
    assert ok(run, "undo") == "Undid reopen of task 2: Water plants\n"
    assert [(t["number"], t["completed"]) for t in everything(run)] == [(1, False), (2, True)]


def test_a_wait_without_a_due_date_moves_no_later_than_the_next_due(ada: User, run: Run) -> None:
    ok(run, "add", "Descale", "--wait", (TODAY + timedelta(days=8)).isoformat(),
       "--every", "week after done")  # fmt: skip
    ok(run, "done", "1")
    second = by_number(run)[2]
    due = TODAY + timedelta(days=7)
    assert second["due"] == due.isoformat()
    start = datetime.combine(due, time()).astimezone().astimezone(UTC)
    assert datetime.fromisoformat(second["wait"]) == start


def test_edit_of_the_due_past_the_series_end_says_it_is_the_last_time(ada: User, run: Run) -> None:
    until = TODAY + timedelta(days=5)
    ok(run, "add", "Standup", "--due", TODAY.isoformat(), "--every", "day", "--until",
       until.isoformat())  # fmt: skip
    later = (TODAY + timedelta(days=9)).isoformat()
    result = run("edit", "1", "--due", later)
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Updated task 1: Standup\n",
        f"Task 1 is now due after its series ends ({until.isoformat()}): it is the last time.\n",
    )
    assert ok(run, "done", "1") == "Completed task 1: Standup\n"


def test_the_next_time_keeps_its_wait_scheduled_and_due_time(ada: User, run: Run) -> None:
    """Each moves with the due date: as many days later, at the same local time."""

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute)).astimezone().astimezone(UTC)

    yesterday, tomorrow = TODAY - timedelta(days=1), TODAY + timedelta(days=1)
    ok(run, "add", "Standup", "--due", f"{TODAY} 09:30", "--wait", f"{yesterday} 08:00",
       "--scheduled", f"{TODAY} 09:00", "--every", "day")  # fmt: skip
    ok(run, "done", "1")
    second = by_number(run)[2]
    moments = {key: datetime.fromisoformat(second[key]) for key in ("due_at", "wait", "scheduled")}
    assert second["due"] == tomorrow.isoformat()
    assert moments == {
        "due_at": at(tomorrow, 9, 30),
        "wait": at(TODAY, 8),
        "scheduled": at(tomorrow, 9),
    }
    ok(run, "add", "Plain weekly", "--due", TODAY.isoformat(), "--every", "week")
    ok(run, "done", "3")
    plain = by_number(run)[4]
    assert (plain["due_at"], plain["wait"], plain["scheduled"]) == (None, None, None)


# ------------------------------------------------------------------------------ editing


def test_edit_changes_or_stops_a_series(ada: User, run: Run) -> None:
    today = TODAY.isoformat()
    ok(run, "add", "Water plants", "--due", today)
    ok(run, "edit", "1", "--every", "2w", "--times", "3")
    task = by_number(run)[1]
    assert (task["every"], task["times"], task["until"]) == ("2 weeks", 3, None)
    assert ok(run, "done", "1").endswith(f"due {(TODAY + timedelta(days=14)).isoformat()}.\n")
    assert by_number(run)[2]["iteration"] == 2
    ok(run, "edit", "2", "--no-every")
    stopped = by_number(run)[2]
    assert (stopped["every"], stopped["times"], stopped["until"]) == (None, None, None)
    assert ok(run, "done", "2") == "Completed task 2: Water plants\n"
    assert len(everything(run)) == 2
    ok(run, "undo")  # the edit that stopped the series comes back with its rule
    ok(run, "undo")
    assert by_number(run)[2]["every"] == "2 weeks"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add", "x", "--every", "week"],
            "Error: A task that repeats from its due date needs one: give --due, "
            "or --every 'week after done'.\n",
        ),
        (
            ["add", "x", "--until", "2030-01-01"],
            "Error: --until and --times end a repeating task: give --every too.\n",
        ),
        (
            ["add", "x", "--every", "fortnights"],
            "Error: Invalid --every: 'fortnights' is not a repeat rule: use day, week, month, "
            "year (with a count: 2w, 3d, 6 months), weekday or a weekday name, optionally "
            "followed by 'after done'.\n",
        ),
        (
            ["edit", "1", "--times", "3"],
            "Error: Task 1 does not repeat: give --every with --until or --times.\n",
        ),
        (
            ["edit", "2", "--no-due"],
            "Error: Task 2 repeats every week from its due date, so it needs one: give --due, "
            "or --every 'week after done'.\n",
        ),
        (
            ["edit", "2", "--every", "day", "--no-every"],
            "Error: Give either --every or --no-every, not both.\n",
        ),
        (
            ["edit", "2", "--no-every", "--times", "2"],
            "Error: Give either --no-every or an end (--until, --times), not both.\n",
        ),
        (
            ["add", "x", "--due", "2030-01-02", "--every", "week", "--until", "2030-01-01"],
            "Error: --until 2030-01-01 is before the due date 2030-01-02: a series cannot end "
            "before it starts.\n",
        ),
        (
            ["edit", "2", "--until", (TODAY - timedelta(days=1)).isoformat()],
            f"Error: Task 2: --until {(TODAY - timedelta(days=1)).isoformat()} is before the "
            f"due date {TODAY.isoformat()}: a series cannot end before it starts.\n",
        ),
    ],
)
def test_a_rule_without_what_it_needs_is_refused_and_nothing_changes(
    ada: User, run: Run, args: list[str], message: str
) -> None:
    ok(run, "add", "Plain")
    ok(run, "add", "Weekly", "--due", TODAY.isoformat(), "--every", "week")
    before = everything(run)
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
    assert everything(run) == before


def test_times_below_the_occurrence_a_task_is_is_refused(ada: User, run: Run) -> None:
    ok(run, "add", "Pills", "--due", TODAY.isoformat(), "--every", "day", "--times", "5")
    ok(run, "done", "1")
    ok(run, "done", "2")
    before = everything(run)
    result = run("edit", "3", "--times", "2")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: Task 3 is time 3 of its series: --times must be at least 3.\n",
    )
    assert everything(run) == before
    ok(run, "edit", "3", "--times", "3")  # this one is then the last
    assert ok(run, "done", "3") == "Completed task 3: Pills\n"


def test_a_rule_after_done_needs_no_due_date(ada: User, run: Run) -> None:
    ok(run, "add", "Descale the kettle", "--every", "3 weeks after done")
    week3 = (TODAY + timedelta(weeks=3)).isoformat()
    assert (
        ok(run, "done", "1")
        == f"Completed task 1: Descale the kettle\nNext: task 2, due {week3}.\n"
    )


# ------------------------------------------------------------------------------ showing


def test_list_marks_repeating_tasks_and_show_gives_the_rule_and_next_date(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Plain")
    ok(run, "add", "Pay rent", "--due", "2027-01-31", "--every", "month", "--times", "12")
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "NO_COLOR": "1"}
    listed = _in_a_terminal(["list"], env).splitlines()
    rent = next(row for row in listed if "Pay rent" in row)
    assert rent.split("Pay rent", 1)[1].startswith(" ↻")
    assert "↻" not in next(row for row in listed if "Plain" in row)
    shown = _in_a_terminal(["show", "2"], env)
    assert "every month (1 of 12); next due 2027-02-28 if done today" in shown
    piped = ok(run, "show", "2")
    assert "every: month\nuntil: \ntimes: 12\nanchor: \n" in piped


# ------------------------------------------------------------------------------ importing


def test_an_imported_occurrence_already_made_keeps_its_series_but_not_its_place(
    ada: User, run: Run, tmp_path: Path
) -> None:
    """Taskwarrior made instance 2 of a series whose next time `done` made here already; a
    file may also hold one occurrence twice. Each task comes in (nothing is lost), but no two
    tasks share an occurrence."""
    template = "d4e5f6a7-b8c9-4dae-9f01-23456789abcd"

    def instance(number: int, imask: int) -> dict[str, Any]:
        return {"uuid": str(uuid.UUID(int=number)), "description": "Bins", "imask": imask,
                "entry": "20260301T180004Z", "status": "pending", "recur": "weekly",
                "parent": template, "due": "20261130T230000Z"}  # fmt: skip

    first = tmp_path / "first.json"
    first.write_text(json.dumps([instance(1, 0)]))
    ok(run, "import", "--from", "taskwarrior", str(first))
    ok(run, "done", "1")  # makes occurrence 2
    later = tmp_path / "later.json"
    later.write_text(json.dumps([instance(2, 1), instance(3, 1)]))
    assert ok(run, "import", "--from", "taskwarrior", str(later)) == "Imported 2 tasks.\n"
    assert [(t["number"], t["series_id"], t["iteration"]) for t in everything(run)] == [
        (1, template, 1),
        (2, template, 2),
        (3, template, None),
        (4, template, None),
    ]
