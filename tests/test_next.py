"""`sorted next`: the few tasks to do now, ordered by the urgency the database computes, and
the same urgency as `show` explains it, on each backend."""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from conftest import TASK_KEYS, Run
from sqlmodel import Session, col, update

from sorted_cli.models import Task, TaskTag, User
from sorted_cli.services import urgency


def numbers(result: Any) -> list[int]:
    """The task numbers of `next`'s plain rows, in order."""
    assert result.exit_code == 0, result.stderr
    return [int(row.split("\t")[0]) for row in result.stdout.splitlines()]


def soon(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def age_task(session: Session, number: int, days: float) -> None:
    """Make task NUMBER as old as DAYS."""
    created = datetime.now(UTC) - timedelta(days=days)
    session.execute(update(Task).where(col(Task.number) == number).values(created_at=created))
    session.commit()


def test_overdue_beats_due_in_a_week_beats_no_due(ada: User, run: Run) -> None:
    run("add", "no due")
    run("add", "in a week", "--due", soon(7))
    run("add", "overdue", "--due", soon(-3))
    run("add", "in three weeks", "--due", soon(21))
    assert numbers(run("next")) == [3, 2, 4, 1]


def test_high_beats_medium_beats_low_beats_none(ada: User, run: Run) -> None:
    for priority in ("none", "low", "high", "medium"):
        run("add", priority, "-p", priority)
    assert numbers(run("next")) == [3, 4, 2, 1]


def test_older_beats_newer(ada: User, run: Run, session: Session) -> None:
    run("add", "new")
    run("add", "old")
    run("add", "older")
    age_task(session, 2, 100)
    age_task(session, 3, 400)  # past a year the age counts no more
    assert numbers(run("next")) == [3, 2, 1]
    assert [json.loads(run("next", "--json").stdout)[i]["urgency"] for i in (0, 1, 2)] == [
        2.0,
        0.5,
        0.0,
    ]


def test_the_next_tag_beats_high_priority(ada: User, run: Run) -> None:
    run("add", "urgent", "-p", "high")
    run("add", "chosen", "--tag", "next")
    run("add", "tagged", "--tag", "home")
    run("add", "plain")
    assert numbers(run("next")) == [2, 1, 3, 4]


def test_a_scheduled_day_that_has_come_counts_and_one_to_come_is_left_out(
    ada: User, run: Run
) -> None:
    run("add", "plain")
    run("add", "started", "--scheduled", soon(-2))
    run("add", "later", "--scheduled", soon(2))
    assert numbers(run("next")) == [2, 1]


def test_waiting_done_and_deleted_tasks_are_left_out(ada: User, run: Run) -> None:
    run("add", "waiting", "--wait", soon(3), "-p", "high")
    run("add", "done", "-p", "high")
    run("add", "deleted", "-p", "high")
    run("add", "open")
    run("add", "waited", "--wait", soon(-1))
    run("done", "2")
    run("delete", "3")
    assert numbers(run("next")) == [4, 5]


def test_ties_go_by_due_then_number(ada: User, run: Run) -> None:
    run("add", "a", "--due", soon(30))
    run("add", "b", "--due", soon(20))  # both 2.4 for the due: the nearer due first
    run("add", "c")
    run("add", "d")
    assert numbers(run("next")) == [2, 1, 3, 4]


def test_piped_rows_are_lists_with_the_urgency_last(ada: User, run: Run) -> None:
    run("add", "Buy milk", "-p", "medium")
    run("add", "Call\tmum", "--due", "today", "--tag", "family", "--tag", "phone")
    ids = [json.loads(run("show", str(n), "--json").stdout)["id"] for n in (1, 2)]
    result = run("next")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"2\t{ids[1]}\topen\tnone\t{date.today().isoformat()}\tfamily,phone\tCall\\tmum\t12.5\n"
        f"1\t{ids[0]}\topen\tmedium\t\t\tBuy milk\t3.5\n"
    )


def test_json_is_the_list_view_with_the_urgency_appended(ada: User, run: Run) -> None:
    run("add", "Buy milk", "-p", "high", "--due", "today")
    run("note", "1", "the oat one")
    run("add", "Water plants")
    result = run("next", "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    shown = json.loads(result.stdout)
    listed = {task["number"]: task for task in json.loads(run("list", "--json").stdout)}
    assert [list(task) for task in shown] == [[*TASK_KEYS, "urgency"]] * 2
    assert [task.pop("urgency") for task in shown] == [18.0, 0.0]
    assert shown == [listed[1], listed[2]]


def test_at_most_five_by_default_and_the_limit_chooses(ada: User, run: Run) -> None:
    for n in range(7):
        run("add", f"t{n}")
    assert numbers(run("next")) == [1, 2, 3, 4, 5]
    assert numbers(run("next", "-n", "2")) == [1, 2]
    assert numbers(run("next", "--limit", "9")) == [1, 2, 3, 4, 5, 6, 7]
    assert numbers(run("next", "-n", "0")) == [1, 2, 3, 4, 5, 6, 7]  # as list --limit 0
    refused = run("next", "-n", "-1")
    assert refused.exit_code == 2
    assert "Invalid value for '--limit' / '-n'" in refused.stderr


def test_tag_and_priority_filter_as_lists_do(ada: User, run: Run) -> None:
    run("add", "a", "-p", "high", "--tag", "work")
    run("add", "b", "-p", "low", "--tag", "work", "--tag", "home")
    run("add", "c", "-p", "high")
    run("add", "d", "-p", "medium", "--tag", "work")
    assert numbers(run("next", "--tag", "work")) == [1, 4, 2]
    assert numbers(run("next", "--tag", "work", "--tag", "home")) == [2]
    assert numbers(run("next", "-p", "h")) == [1, 3]
    assert numbers(run("next", "-p", "high", "-p", "low", "--tag", "work")) == [1, 2]


def test_nothing_to_do_now(ada: User, run: Run) -> None:
    run("add", "later", "--scheduled", soon(1))
    run("add", "done")
    run("done", "2")
    result = run("next")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "Nothing to do now.\n")
    as_json = run("next", "--json")
    assert (as_json.exit_code, as_json.stdout, as_json.stderr) == (0, "[]\n", "")
    filtered = run("next", "--tag", "nothing")
    assert (filtered.exit_code, filtered.stderr) == (0, "Nothing to do now.\n")


def test_the_table_has_an_urgency_column_last(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    run("add", "Buy milk", "-p", "medium", "--tag", "home")
    run("add", "File taxes", "--due", "today")
    result = run("next")
    assert (result.exit_code, result.stderr) == (0, "")
    assert [line.rstrip() for line in result.stdout.splitlines()] == [
        "#  Title       Tags   Priority  Due    Age  Urgency",
        "2  File taxes                   today  now     12.0",
        "1  Buy milk    +home  medium           now      4.0",
    ]


def test_show_explains_the_urgency(
    ada: User, run: Run, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("add", "Buy milk", "-p", "medium", "--due", soon(2), "--tag", "next")
    age_task(session, 1, 73)  # 0.4 of age
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.setenv("TERM", "xterm")  # Rich takes a dumb terminal to be 80 wide
    panel = re.sub(r"\x1b\[[0-9;]*m", "", run("show", "1").stdout)  # bold stays on
    [row] = [line.strip("│ ") for line in panel.splitlines() if "Urgency" in line]
    assert row.split(None, 1) == [
        "Urgency",
        "30.0 (due in 2 days 10.6, priority medium 3.5, age 73 days 0.4, +next 15.0, tagged 0.5)",
    ]
    shown = json.loads(run("show", "1", "--json").stdout)
    assert list(shown)[-1] == "urgency"
    assert shown["urgency"] == json.loads(run("next", "--json").stdout)[0]["urgency"] == 30.0


def test_show_has_no_urgency_for_a_done_or_a_deleted_task(ada: User, run: Run) -> None:
    run("add", "done")
    run("add", "deleted")
    run("done", "1")
    run("delete", "2")
    for number in ("1", "2"):
        assert json.loads(run("show", number, "--json").stdout)["urgency"] is None
        assert "Urgency" not in run("show", number).stdout
        assert run("show", number).stdout.endswith("urgency: \n")


# ------------------------------------------------------------- the database agrees with Python

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=UTC)
TODAY = date(2026, 12, 3)


def insert_task(session: Session, user: User, number: int, tags: list[str], **fields: Any) -> None:
    fields.setdefault("created_at", NOW)
    fields.setdefault("priority", "none")
    task_id = uuid.uuid4()
    row = {"id": task_id, "user_id": user.id, "number": number, "title": f"t{number}", **fields}
    session.execute(Task.__table__.insert(), [row])  # type: ignore[attr-defined]
    if tags:
        session.execute(
            TaskTag.__table__.insert(),  # type: ignore[attr-defined]
            [{"task_id": task_id, "name": name, "user_id": user.id} for name in tags],
        )
    session.commit()


def database_and_python(session: Session, user: User) -> list[tuple[int, float, float]]:
    """(number, the database's urgency, explain's total) of every open task, most urgent
    first."""
    found = urgency.next_tasks(session=session, user=user, now=NOW, today=TODAY, limit=1000)
    return [
        (
            task.number,
            found.urgency_of(task),
            urgency.explain(task, found.page.tags_of(task), now=NOW, today=TODAY).total,
        )
        for task in found.page.tasks
    ]


def test_a_total_half_way_is_rounded_away_from_zero(session: Session, ada: User) -> None:
    # 2.0 * 45.625 / 365 is 0.25 exactly; 12.25 and 0.25 both sit half way.
    old = NOW - timedelta(days=45, hours=15)
    insert_task(session, ada, 1, [], created_at=old)
    insert_task(session, ada, 2, [], created_at=old, due=TODAY - timedelta(days=1))
    insert_task(session, ada, 3, [], created_at=old, priority="low")  # 1.75
    assert sorted(database_and_python(session, ada)) == [
        (1, 0.3, 0.3),
        (2, 12.3, 12.3),
        (3, 1.8, 1.8),
    ]


def test_the_database_computes_what_explain_does(session: Session, ada: User) -> None:
    pick = random.Random(20261203)
    for number in range(1, 121):
        due_in = pick.choice([None, None, *range(-5, 20)])
        moment = NOW + timedelta(seconds=pick.randint(-30 * 86400, 30 * 86400))
        with_time = due_in is not None and pick.random() < 0.5
        micro = pick.choice([0, 1, 499_999, 500_000, 999_499, 999_500, 999_600, 999_999])
        insert_task(
            session,
            ada,
            number,
            pick.sample(["next", "home", "work"], pick.randint(0, 2)),
            priority=pick.choice(["none", "low", "medium", "high"]),
            created_at=NOW - timedelta(seconds=pick.randint(0, 500 * 86400), microseconds=micro),
            due=None if due_in is None else TODAY + timedelta(days=due_in),
            due_at=moment.replace(microsecond=micro) if with_time else None,
            scheduled=pick.choice([None, NOW - timedelta(days=1), NOW]),
        )
    rows = database_and_python(session, ada)
    assert len(rows) == 120
    assert [(number, python) for number, _, python in rows] == [
        (number, database) for number, database, _ in rows
    ]
    totals = [database for _, database, _ in rows]
    assert totals == sorted(totals, reverse=True)
    assert len(set(totals)) > 40  # a spread, not a few values
