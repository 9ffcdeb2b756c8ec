"""Task commands as a user types them, on each backend."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from conftest import TASK_KEYS, Run

from sorted_cli.models import User

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def as_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read the tables people see: Rich treats stdout as a terminal (without
    colour). `tests/test_cli_lists.py` covers what scripts get from a pipe."""
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("NO_COLOR", "1")


def ok(result: object, stdout: str, stderr: str = "") -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (0, stdout, stderr)  # type: ignore[attr-defined]


def fails(result: object, code: int, message: str) -> None:
    """One line on stderr, nothing on stdout, no traceback."""
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"Error: {message}\n")  # type: ignore[attr-defined]


def test_add_list_done(ada: User, run: Run) -> None:
    ok(run("add", "Buy milk"), "Added task 1: Buy milk\n")
    ok(
        run("add", "File taxes", "-p", "high", "--due", "2020-01-31", "-d", "Forms"),
        "Added task 2: File taxes\n",
    )
    ok(
        run("list"),
        "#  Title       Priority  Due         Age\n"
        "1  Buy milk                          now\n"
        "2  File taxes  high      2020-01-31  now\n",
    )
    ok(run("done", "1"), "Completed task 1: Buy milk\n")
    ok(
        run("list"),
        "#  Title       Priority  Due         Age\n2  File taxes  high      2020-01-31  now\n",
    )
    ok(
        run("list", "--all"),
        "#  Done  Title       Priority  Due         Age\n"
        "1   ✓    Buy milk                          now\n"
        "2        File taxes  high      2020-01-31  now\n",
    )


def test_add_json_prints_the_task_and_nothing_else(ada: User, run: Run) -> None:
    result = run("add", "Buy milk", "--due", "tomorrow", "-p", "low", "--json")
    assert (result.exit_code, result.stderr) == (0, "")
    task = json.loads(result.stdout)
    assert list(task) == TASK_KEYS
    assert UUID.fullmatch(task["id"])
    assert task["created_at"].endswith("Z")
    assert task["created_at"] == task["updated_at"]
    masked = {**task, "id": "ID", "created_at": "T", "updated_at": "T"}
    assert masked == {
        "id": "ID",
        "number": 1,
        "title": "Buy milk",
        "description": None,
        "priority": "low",
        "due": (date.today() + timedelta(days=1)).isoformat(),
        "completed": False,
        "completed_at": None,
        "created_at": "T",
        "updated_at": "T",
        "deleted": False,
        "deleted_at": None,
        "tags": [],
    }


def test_list_json_and_show_json_agree(ada: User, run: Run) -> None:
    added = json.loads(run("add", "Buy milk", "--json").stdout)
    listed = json.loads(run("list", "--json").stdout)
    # With its hyphen, a prefix is always a UUID's, even when its eight digits are all 0-9.
    shown = json.loads(run("show", added["id"][:9], "--json").stdout)
    assert listed == [added]
    assert shown == added


def test_show_panel(ada: User, run: Run) -> None:
    run("add", "Buy milk", "-d", "two litres\noat, please", "-p", "medium", "--due", "today")
    result = run("show", "1")
    assert result.exit_code == 0
    masked = UUID.sub(
        "UUID", re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "YYYY-MM-DD hh:mm", result.stdout)
    )
    assert [line.strip("│ ") for line in masked.splitlines()[1:-1]] == [
        "Title        Buy milk",
        "Status       open",
        "Priority     medium",
        "Due          today",
        "Tags         -",
        "Created      YYYY-MM-DD hh:mm (just now)",
        "Updated      YYYY-MM-DD hh:mm",
        "ID           UUID",
        "",
        "Description  two litres",
        "oat, please",
    ]
    assert masked.splitlines()[0].startswith("╭─ Task 1 ──")


@pytest.mark.parametrize("columns", ["60", "200"])
def test_show_wraps_a_long_title_in_full(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setenv("TERM", "xterm")  # Rich takes a dumb terminal to be 80 wide
    words = [f"word{n}" for n in range(50)]  # 339 characters
    run("add", " ".join(words))
    result = run("show", "1")
    assert result.exit_code == 0
    lines = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout).splitlines()  # bold stays on
    assert max(len(line) for line in lines) <= int(columns)
    shown = " ".join(lines).replace("│", " ").split()
    at = shown.index("Title")
    assert shown[at + 1 : at + 1 + len(words)] == words


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", ""], 2, "Invalid title: the title must not be empty."),
        (["add", "   "], 2, "Invalid title: the title must not be empty."),
        (
            ["add", "x" * 501],
            2,
            "Invalid title: the title is 501 characters long; at most 500 fit.",
        ),
        (
            ["add", "t", "--due", "someday"],
            2,
            "Invalid date 'someday': use YYYY-MM-DD, today, tomorrow, a weekday name, +3d or +2w.",
        ),
        (["show", "7"], 1, "No task 7."),
        (
            ["show", "zz"],
            2,
            "Invalid task reference 'zz': use a task number, a UUID, "
            "or at least 4 leading hex digits of one.",
        ),
        (["done", "1", "7"], 1, "No task 7."),
        (
            ["edit", "1"],
            2,
            "Nothing to change: give --title, --description, --priority, --due or --no-due.",
        ),
        (
            ["edit", "1", "--due", "today", "--no-due"],
            2,
            "Give either --due or --no-due, not both.",
        ),
        (["edit", "1", "--title", " "], 2, "Invalid title: the title must not be empty."),
        (["list", "--all", "--deleted"], 2, "Choose one of --all, --completed and --deleted."),
    ],
)
def test_errors_are_one_line_with_the_right_exit_code(
    ada: User, run: Run, args: list[str], code: int, message: str
) -> None:
    run("add", "Buy milk")
    fails(run(*args), code, message)
    ok(
        run("list", "--all"),
        "#  Done  Title     Priority  Due  Age\n1        Buy milk                 now\n",
    )  # nothing was half-written


def test_bad_usage_is_exit_2(ada: User, run: Run) -> None:
    result = run("add", "t", "--priority", "urgent")
    assert result.exit_code == 2
    assert "Invalid value for '--priority'" in result.stderr
    assert run("done").exit_code == 2


def test_edit(ada: User, run: Run) -> None:
    run("add", "Buy milk", "--due", "2030-01-01")
    ok(run("edit", "1", "--title", "Buy oat milk", "-p", "high"), "Updated task 1: Buy oat milk\n")
    ok(run("edit", "1", "--no-due"), "Updated task 1: Buy oat milk\n")
    task = json.loads(run("show", "1", "--json").stdout)
    assert (task["title"], task["priority"], task["due"]) == ("Buy oat milk", "high", None)


def test_done_and_reopen_say_when_nothing_changed(ada: User, run: Run) -> None:
    run("add", "Buy milk")
    ok(run("done", "1", "1"), "Completed task 1: Buy milk\n")
    ok(run("done", "1"), "Task 1 was already done: Buy milk\n")
    ok(run("reopen", "1"), "Reopened task 1: Buy milk\n")
    ok(run("reopen", "1"), "Task 1 was already open: Buy milk\n")


def test_delete_keeps_the_row_and_restore_brings_it_back(ada: User, run: Run) -> None:
    run("add", "Buy milk")
    run("add", "Call mum")
    ok(run("delete", "1", "2"), "Deleted task 1: Buy milk\nDeleted task 2: Call mum\n")
    ok(run("list"), "", "No open tasks.\n")
    ok(
        run("list", "--deleted"),
        "#  Done  Title     Priority  Due  Age\n"
        "1        Buy milk                 now\n"
        "2        Call mum                 now\n",
    )
    assert json.loads(run("show", "1", "--json").stdout)["deleted"] is True
    fails(run("done", "1"), 1, "Task 1 is in the trash: `sorted restore 1` first.")
    ok(run("restore", "1"), "Restored task 1: Buy milk\n")
    ok(run("restore", "1"), "Task 1 was not in the trash: Buy milk\n")
    ok(run("delete", "2"), "Task 2 was already in the trash: Call mum\n")


def test_list_search_sort_and_limit(ada: User, run: Run) -> None:
    for title in ("Buy milk", "Walk dog", "Buy bread"):
        run("add", title)
    ok(
        run("list", "--search", "BUY", "--sort", "created"),
        "#  Title      Priority  Due  Age\n"
        "3  Buy bread                 now\n"
        "1  Buy milk                  now\n",
    )
    ok(
        run("list", "--limit", "2"),
        "#  Title     Priority  Due  Age\n"
        "1  Buy milk                 now\n"
        "2  Walk dog                 now\n",
        "… and 1 more (--limit N shows more, --limit 0 shows all).\n",
    )
    ok(run("list", "--search", "tea"), "", "No open tasks match.\n")
    ok(run("list", "--deleted", "--search", "milk"), "", "No deleted tasks match.\n")
    result = run("list", "--limit", "1", "--json")
    assert [t["number"] for t in json.loads(result.stdout)] == [1]
    assert result.stderr == "2 more not shown (--limit 0 shows all).\n"
    assert len(json.loads(run("list", "--limit", "0", "--json").stdout)) == 3


@pytest.mark.parametrize("title", ["[bold]x[/]", "\x1b[31mred\x1b[0m", "a\nb\tc", "[link=x]y"])
def test_user_text_is_shown_literally(ada: User, run: Run, title: str) -> None:
    shown = title.encode("unicode_escape").decode().replace("\\\\", "\\")
    ok(run("add", title), f"Added task 1: {shown}\n")
    listing = run("list")
    assert shown in listing.stdout
    assert "\x1b" not in listing.stdout
    assert json.loads(run("show", "1", "--json").stdout)["title"] == title
    panel = run("show", "1")
    assert shown in panel.stdout
    assert "\x1b" not in panel.stdout


def test_another_users_tasks_are_invisible(ada: User, grace: User, run: Run) -> None:
    run("--user", grace.email, "add", "Grace's plan")
    fails(run("show", "1"), 1, "No task 1.")
    ok(run("list"), "", "No open tasks.\n")
    ok(
        run("--user", "GRACE@example.com", "list"),
        "#  Title         Priority  Due  Age\n1  Grace's plan                 now\n",
    )


def test_overdue_due_dates_are_highlighted(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.delenv("TERM")
    run("add", "late", "--due", "2020-01-01")
    run("add", "now", "--due", "today")
    result = run("list")
    assert "\x1b[1;31m2020-01-01" in result.stdout  # bold red: overdue
    assert "\x1b[33mtoday" in result.stdout  # yellow: due today


def test_show_a_completed_task_in_the_trash(ada: User, run: Run) -> None:
    run("add", "Old plan", "--due", "2020-01-01")
    run("done", "1")
    run("delete", "1")
    result = run("show", "1")
    lines = [line.strip("│ ") for line in result.stdout.splitlines()]
    assert lines[1:5] == [
        "Title      Old plan",
        "Status     in the trash",
        "Priority   -",
        "Due        2020-01-01",
    ]
    assert [line.split()[0] for line in lines[5:-1]] == [
        "Tags",
        "Created",
        "Updated",
        "Completed",
        "Deleted",
        "ID",
    ]
