"""Task commands as a user types them, on each backend."""

from __future__ import annotations

import json
import re
import time
from datetime import date, datetime, timedelta

import pytest
from conftest import PLAIN_TASK_EXTRAS, TASK_KEYS, Run

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
        "Added task 2: File taxes (high, due Fri 31 Jan 2020)\n",
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
        "notes": [],
        **PLAIN_TASK_EXTRAS,
    }


def test_list_json_and_show_json_agree(ada: User, run: Run) -> None:
    added = json.loads(run("add", "Buy milk", "--json").stdout)
    listed = json.loads(run("list", "--json").stdout)
    # With its hyphen, a prefix is always a UUID's, even when its eight digits are all 0-9.
    shown = json.loads(run("show", added["id"][:9], "--json").stdout)
    assert listed == [added]
    assert shown == {**added, "urgency": 0.0}  # show's key added at the end


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
        "Urgency      15.5 (due today 12.0, priority medium 3.5)",
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
            "Invalid date 'someday': use YYYY-MM-DD, today, tomorrow, yesterday, a weekday "
            "(fri, next fri), 3d, +2w, in 1 month, 1y, eow, eom, eoy, dec 24 or 1st, "
            "optionally followed by a time HH:MM (friday 17:00), or a time alone.",
        ),
        (["show", "7"], 1, "No task 7."),
        (
            ["show", "zz"],
            2,
            "Invalid task reference 'zz': use a task number, a UUID, "
            "or at least 4 leading hex digits of one.",
        ),
        (["done", "1", "7"], 1, "No task 7."),
        # (`edit 1` alone opens the task in an editor: tests/test_editor.py)
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


MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")


def panel_lines(result: object) -> list[str]:
    """The panel's lines inside its border, moments and UUIDs masked."""
    masked = UUID.sub("UUID", MOMENT.sub("YYYY-MM-DD hh:mm", result.stdout))  # type: ignore[attr-defined]
    return [line.strip("│ ") for line in masked.splitlines()[1:-1]]


def test_note_then_show_lists_the_notes_oldest_first(ada: User, run: Run) -> None:
    run("add", "Fix the sink", "-d", "the kitchen one")
    ok(run("note", "1", "called", "the", "plumber"), "Noted on task 1: Fix the sink\n")
    ok(run("note", "#1", "he comes on Monday,\nat nine"), "Noted on task 1: Fix the sink\n")
    ok(run("note", "1", "  [bold]paid[/]  "), "Noted on task 1: Fix the sink\n")
    result = run("show", "1")
    assert result.exit_code == 0
    assert panel_lines(result) == [
        "Title        Fix the sink",
        "Status       open",
        "Priority     -",
        "Due          -",
        "Tags         -",
        "Urgency      0.0",
        "Created      YYYY-MM-DD hh:mm (just now)",
        "Updated      YYYY-MM-DD hh:mm",
        "ID           UUID",
        "",
        "Description  the kitchen one",
        "",
        "Notes        YYYY-MM-DD hh:mm  called the plumber",
        "YYYY-MM-DD hh:mm  he comes on Monday,",
        "at nine",
        "YYYY-MM-DD hh:mm  [bold]paid[/]",
    ]


def test_the_notes_moments_are_local_in_the_panel(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kathmandu")  # UTC+05:45, for the run through the server too
    time.tzset()
    try:
        run("add", "Fix the sink")
        task = json.loads(run("note", "1", "called", "--json").stdout)
        at = datetime.fromisoformat(task["notes"][0]["at"]).astimezone()
        assert at.utcoffset() == timedelta(hours=5, minutes=45)
        assert f"Notes     {at:%Y-%m-%d %H:%M}  called" in [
            line.strip("│ ") for line in run("show", "1").stdout.splitlines()
        ]
    finally:
        monkeypatch.undo()
        time.tzset()


def test_note_json_is_the_task_with_its_notes_and_show_json_agrees(ada: User, run: Run) -> None:
    added = json.loads(run("add", "Fix the sink", "--tag", "home", "--json").stdout)
    first = run("note", "1", "called the plumber", "--json")
    assert (first.exit_code, first.stderr) == (0, "")
    noted = json.loads(first.stdout)
    assert list(noted) == TASK_KEYS
    [note] = noted["notes"]
    assert list(note) == ["at", "text"]
    assert note["text"] == "called the plumber"
    assert note["at"].endswith("Z")
    assert noted["updated_at"] == note["at"] > added["updated_at"]  # the note moved it
    unchanged = {key: value for key, value in added.items() if key not in ("updated_at", "notes")}
    assert {key: noted[key] for key in unchanged} == unchanged
    second = json.loads(run("note", added["id"][:9], "he comes Monday", "--json").stdout)
    assert [n["text"] for n in second["notes"]] == ["called the plumber", "he comes Monday"]
    assert second["notes"][0] == note
    assert second["notes"][0]["at"] < second["notes"][1]["at"] == second["updated_at"]
    assert json.loads(run("show", "1", "--json").stdout) == {**second, "urgency": 0.5}
    assert json.loads(run("list", "--json").stdout) == [second]  # streamed
    assert json.loads(run("list", "--json", "--limit", "5").stdout) == [second]  # a page


@pytest.mark.parametrize(
    ("words", "message"),
    [
        ([""], "Invalid note: the note must not be empty."),
        (["  ", "\n"], "Invalid note: the note must not be empty."),
        (["x" * 10_001], "Invalid note: the note is 10001 characters long; at most 10000 fit."),
        (["a\x00b"], "Invalid note: the note contains a NUL character (\\u0000)."),
        (["\ud800"], "Invalid note: the note contains a lone surrogate, which is not text."),
    ],
)
@pytest.mark.in_process  # a NUL or a lone surrogate cannot be a real program's argument
def test_a_bad_note_is_refused_and_nothing_is_written(
    ada: User, run: Run, words: list[str], message: str
) -> None:
    before = json.loads(run("add", "Fix the sink", "--json").stdout)
    fails(run("note", "1", *words), 2, message)
    assert json.loads(run("show", "1", "--json").stdout) == {**before, "urgency": 0.0}


def test_the_longest_note_fits(ada: User, run: Run) -> None:
    run("add", "Fix the sink")
    ok(run("note", "1", "x" * 10_000), "Noted on task 1: Fix the sink\n")
    assert json.loads(run("show", "1", "--json").stdout)["notes"][0]["text"] == "x" * 10_000


def test_a_note_on_a_task_in_the_trash_is_refused(ada: User, run: Run) -> None:
    run("add", "Fix the sink")
    run("delete", "1")
    before = run("show", "1", "--json").stdout
    fails(run("note", "1", "called"), 1, "Task 1 is in the trash: `sorted restore 1` first.")
    task_id = json.loads(before)["id"]
    fails(run("note", task_id, "called"), 1, "Task 1 is in the trash: `sorted restore 1` first.")
    assert run("show", "1", "--json").stdout == before
    run("restore", "1")
    ok(run("note", "1", "called"), "Noted on task 1: Fix the sink\n")


def test_a_note_reaches_only_your_own_tasks(ada: User, grace: User, run: Run) -> None:
    grace_task = json.loads(run("--user", grace.email, "add", "Grace's plan", "--json").stdout)
    fails(run("note", "1", "mine now"), 1, "No task 1.")
    fails(run("note", grace_task["id"], "mine now"), 1, f"No task {grace_task['id']}.")
    fails(
        run("note", "zz", "x"),
        2,
        "Invalid task reference 'zz': use a task number, a UUID, "
        "or at least 4 leading hex digits of one.",
    )
    shown = json.loads(run("--user", grace.email, "show", "1", "--json").stdout)
    assert shown == {**grace_task, "urgency": 0.0}
