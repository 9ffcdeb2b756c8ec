"""Many tasks at once: the commands that change tasks take ranges, lists and the `list`
filters (`sorted done --tag errand --overdue`), and print what they changed with --json."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import TASK_KEYS, Run

from sorted_cli.models import User


def said(run: Run, *args: str) -> str:
    result = run(*args)
    assert (result.exit_code, result.stderr) == (0, ""), (args, result.stdout, result.stderr)
    return str(result.stdout)


def failed(run: Run, code: int, *args: str) -> str:
    result = run(*args)
    assert (result.exit_code, result.stdout) == (code, ""), (args, result.stdout, result.stderr)
    return str(result.stderr)


def tasks_now(run: Run) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(said(run, "export", "--all"))
    return sorted(found, key=lambda task: task["number"])


def add_errands(run: Run) -> None:
    """1 and 2 overdue errands, 3 an errand due later, 4 work, 5 a waiting errand."""
    said(run, "add", "Buy milk", "+errand", "due:yesterday")
    said(run, "add", "Post parcel", "+errand", "due:-2d", "pri:h")
    said(run, "add", "Fix bike", "+errand", "due:+1w")
    said(run, "add", "Write report", "+work")
    said(run, "add", "Return books", "+errand", "wait:+3d", "due:yesterday")


def test_done_takes_the_list_filters(ada: User, run: Run) -> None:
    add_errands(run)
    assert said(run, "done", "--tag", "errand", "--overdue") == (
        "Completed task 1: Buy milk\nCompleted task 2: Post parcel\n"
    )
    # The waiting one is left, as the open list hides it.
    assert [t["completed"] for t in tasks_now(run)] == [True, True, False, False, False]
    assert said(run, "undo").count("\n") == 2  # one command: one undo
    assert said(run, "done", "--search", "BIKE", "-p", "n") == "Completed task 3: Fix bike\n"
    assert said(run, "done", "--waiting") == "Completed task 5: Return books\n"


def test_refs_and_filters_together_change_the_named_tasks_that_match(ada: User, run: Run) -> None:
    add_errands(run)
    assert said(run, "delete", "2-4", "--tag", "errand", "--yes") == (
        "Deleted task 2: Post parcel\nDeleted task 3: Fix bike\n"
    )
    assert said(run, "restore", "--search", "bike") == "Restored task 3: Fix bike\n"
    assert said(run, "done", "1-4", "--priority", "high", "--priority", "none") == (
        "Completed task 1: Buy milk\nCompleted task 3: Fix bike\nCompleted task 4: Write report\n"
    )
    assert said(run, "reopen", "--tag", "work") == "Reopened task 4: Write report\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["done", "--tag", "nothing"], "No open task matches: nothing changed."),
        (["done", "4", "--tag", "errand"], "No open task matches: nothing changed."),
        (["reopen", "--tag", "errand"], "No done task matches: nothing changed."),
        (["restore", "--search", "milk"], "No task in the trash matches: nothing changed."),
        (["tag", "--search", "nothing", "x"], "No open task matches: nothing changed."),
        (["edit", "--tag", "home", "-p", "h"], "No open task matches: nothing changed."),
        (["note", "--tag", "home", "hello"], "No open task matches: nothing changed."),
    ],
)
def test_a_filter_that_matches_nothing_changes_nothing(
    ada: User, run: Run, args: list[str], message: str
) -> None:
    add_errands(run)
    before = tasks_now(run)
    assert failed(run, 1, *args) == f"Error: {message}\n"
    assert tasks_now(run) == before


@pytest.mark.parametrize(
    "args",
    [
        ["done"],
        ["delete", "--yes"],
        ["done", "--search", ""],  # an empty filter never means every task
        ["edit", "-p", "high"],
        ["restore"],
    ],
)
def test_no_task_and_no_filter_is_refused(ada: User, run: Run, args: list[str]) -> None:
    add_errands(run)
    before = tasks_now(run)
    assert failed(run, 2, *args) == (
        "Error: No task given: name one by its number, a range or a list, or give a filter "
        "(--tag, --overdue, --search, ...).\n"
    )
    assert tasks_now(run) == before


def test_more_than_three_matches_off_a_terminal_need_yes(ada: User, run: Run) -> None:
    add_errands(run)
    said(run, "edit", "5", "--no-wait")
    before = tasks_now(run)
    for args, doing in (
        (["done", "--tag", "errand"], "complete"),
        (["tag", "--tag", "errand", "soon"], "tag"),
        (["edit", "--tag", "errand", "due:friday"], "edit"),
        (["note", "--tag", "errand", "asked"], "note"),
    ):
        assert failed(run, 2, *args) == (
            f"Error: Refusing to {doing} 4 tasks without --yes when not at a terminal.\n"
        )
    assert tasks_now(run) == before
    assert said(run, "done", "--tag", "errand", "--yes").count("Completed") == 4


def test_tag_and_untag_take_ranges_lists_and_filters(ada: User, run: Run) -> None:
    add_errands(run)
    assert said(run, "tag", "1-2,4", "soon", "+Car") == (
        "Tagged task 1 +car +soon: Buy milk (tags: car, errand, soon)\n"
        "Tagged task 2 +car +soon: Post parcel (tags: car, errand, soon)\n"
        "Tagged task 4 +car +soon: Write report (tags: car, soon, work)\n"
    )
    # With a filter every word is a tag: none names a task.
    assert said(run, "untag", "--tag", "car", "--overdue", "car", "3") == (
        "Untagged task 1 +car: Buy milk (tags: errand, soon)\n"
        "Untagged task 2 +car: Post parcel (tags: errand, soon)\n"
    )
    assert said(run, "tag", "1,3", "soon") == (
        "Task 1 already has +soon: Buy milk\nTagged task 3 +soon: Fix bike (tags: errand, soon)\n"
    )
    assert said(run, "undo").count("\n") == 1  # the one task that changed
    assert said(run, "undo").count("\n") == 2  # the untag of both, in one
    assert [t["tags"] for t in tasks_now(run)][:4] == [
        ["car", "errand", "soon"],
        ["car", "errand", "soon"],
        ["errand"],
        ["car", "soon", "work"],
    ]
    assert failed(run, 2, "tag", "3") == (
        "Error: Name the task, then the tags: sorted tag 3 work (or with filters, only the "
        "tags: sorted tag --overdue soon).\n"
    )


def test_edit_takes_ranges_lists_and_filters(ada: User, run: Run) -> None:
    add_errands(run)
    assert said(run, "edit", "1,3", "due:2030-01-02", "pri:l") == (
        "Updated task 1: Buy milk\nUpdated task 3: Fix bike\n"
    )
    # With filters --priority sets the priority: it is no filter of edit's.
    assert said(run, "edit", "--tag", "errand", "--overdue", "--priority", "medium") == (
        "Updated task 2: Post parcel\n"
    )
    assert said(run, "edit", "2-3", "-p", "low") == (
        "Updated task 2: Post parcel\nTask 3 had those values already: Fix bike\n"
    )
    shown = tasks_now(run)
    assert [(t["priority"], t["due"]) for t in shown[:3]] == [
        ("low", "2030-01-02"),
        ("low", shown[1]["due"]),
        ("low", "2030-01-02"),
    ]
    # A title names one task; with several, the words may only be attributes.
    message = (
        "Error: A new title is for one task: with a range, a list or filters, the words may only "
        "be attributes (due:friday pri:h).\n"
    )
    assert failed(run, 2, "edit", "1-2", "Same", "title") == message
    assert failed(run, 2, "edit", "--tag", "work", "--title", "x") == message
    # One task matching is no different: filters retitle nothing.
    assert failed(run, 2, "edit", "--tag", "work", "New", "title") == message
    assert said(run, "edit", "--tag", "work", "due:", "-p", "h") == "Updated task 4: Write report\n"
    assert (tasks_now(run)[3]["priority"], tasks_now(run)[3]["due"]) == ("high", None)


def test_note_takes_ranges_lists_and_filters(ada: User, run: Run) -> None:
    add_errands(run)
    assert said(run, "note", "1-2", "asked", "at", "the", "desk") == (
        "Noted on task 1: Buy milk\nNoted on task 2: Post parcel\n"
    )
    # With filters every word is the note's (but a first word of numbers: see below).
    assert said(run, "note", "--tag", "work", "pages", "done") == (
        "Noted on task 4: Write report\n"
    )
    notes = [[note["text"] for note in t["notes"]] for t in tasks_now(run)]
    assert notes[:4] == [["asked at the desk"], ["asked at the desk"], [], ["pages done"]]
    assert said(run, "undo").count("\n") == 1
    assert said(run, "undo").count("\n") == 2
    assert all(t["notes"] == [] for t in tasks_now(run))


def test_json_of_the_commands_that_change_tasks(ada: User, run: Run) -> None:
    said(run, "add", "Water plants", "every:week", "due:2030-01-07")
    said(run, "add", "Pay rent")
    done = json.loads(said(run, "done", "1", "2", "--json"))
    assert [list(view) for view in done] == [[*TASK_KEYS, "changed", "next"]] * 2
    assert [(view["number"], view["completed"], view["changed"]) for view in done] == [
        (1, True, True),
        (2, True, True),
    ]
    assert done[0]["next"]["number"] == 3
    assert done[0]["next"]["due"] == "2030-01-14"
    assert list(done[0]["next"]) == TASK_KEYS
    assert done[1]["next"] is None
    # Again: nothing changed, and it says so.
    again = json.loads(said(run, "done", "2", "--json"))
    assert [(view["number"], view["changed"], view["next"]) for view in again] == [(2, False, None)]
    deleted = json.loads(said(run, "delete", "3", "--json"))
    assert [(view["number"], view["deleted"], view["changed"]) for view in deleted] == [
        (3, True, True)
    ]
    restored = json.loads(said(run, "restore", "--search", "plants", "--json"))
    assert [(view["number"], view["deleted"]) for view in restored] == [(3, False)]
    tagged = json.loads(said(run, "tag", "3", "home", "--json"))
    assert [list(view) for view in tagged] == [[*TASK_KEYS, "changed"]]
    assert (tagged[0]["tags"], tagged[0]["changed"]) == (["home"], True)
    # One plain REF: the object; a range, a list or filters: an array.
    edited = json.loads(said(run, "edit", "3", "-p", "h", "--json"))
    assert list(edited) == [*TASK_KEYS, "changed"]
    assert (edited["priority"], edited["changed"]) == ("high", True)
    edited_many = json.loads(said(run, "edit", "--tag", "home", "-p", "h", "--json"))
    assert [(view["number"], view["changed"]) for view in edited_many] == [(3, False)]
    noted = json.loads(said(run, "note", "3", "bought", "soil", "--json"))
    assert list(noted) == TASK_KEYS
    assert [note["text"] for note in noted["notes"]] == ["bought soil"]
    noted_many = json.loads(said(run, "note", "3,3", "watered", "--json"))
    assert [[note["text"] for note in view["notes"]] for view in noted_many] == [
        ["bought soil", "watered"]
    ]


def test_purge_json_is_the_tasks_as_they_were(ada: User, run: Run) -> None:
    said(run, "add", "Old plan", "+someday")
    said(run, "note", "1", "never again")
    said(run, "add", "Keep me")
    said(run, "delete", "1,2", "--yes")
    purged = json.loads(said(run, "purge", "1", "--yes", "--json"))
    assert [list(view) for view in purged] == [TASK_KEYS]
    assert [(view["number"], view["tags"], view["deleted"]) for view in purged] == [
        (1, ["someday"], True)
    ]
    assert [note["text"] for note in purged[0]["notes"]] == ["never again"]
    assert [t["number"] for t in tasks_now(run)] == [2]
    assert json.loads(said(run, "purge", "--older-than", "30d", "--yes", "--json")) == []


def test_edit_adds_the_tags_among_its_words_with_its_fields_in_one_undo(
    ada: User, run: Run
) -> None:
    add_errands(run)
    original = tasks_now(run)
    assert said(run, "edit", "3", "+Car", "pri:h", "due:2030-05-01") == "Updated task 3: Fix bike\n"
    assert said(run, "edit", "3-4", "+car", "pri:h") == (
        "Task 3 had those values already: Fix bike\nUpdated task 4: Write report\n"
    )
    shown = tasks_now(run)
    assert [(t["tags"], t["priority"]) for t in shown[2:4]] == [
        (["car", "errand"], "high"),
        (["car", "work"], "high"),
    ]
    # Tags alone are a `tag`; with fields, the tags are in the edit's own history row.
    assert said(run, "edit", "1", "+soon") == "Updated task 1: Buy milk\n"
    assert said(run, "undo") == "Undid tag of task 1: Buy milk\n"
    assert said(run, "undo") == "Undid edit of task 4: Write report\n"
    assert said(run, "undo") == "Undid edit of task 3: Fix bike\n"
    assert [(t["tags"], t["priority"], t["due"]) for t in tasks_now(run)[2:4]] == [
        (["errand"], "none", original[2]["due"]),
        (["work"], "none", None),
    ]
    assert said(run, "redo") == "Redid edit of task 3: Fix bike\n"
    assert (tasks_now(run)[2]["tags"], tasks_now(run)[2]["due"]) == (
        ["car", "errand"],
        "2030-05-01",
    )


def test_with_filters_a_first_word_of_numbers_still_names_tasks(ada: User, run: Run) -> None:
    add_errands(run)
    before = tasks_now(run)
    # Task 4 has no +errand: nothing matches, nothing is tagged `4` or `new`.
    assert failed(run, 1, "tag", "4", "new", "--tag", "errand") == (
        "Error: No open task matches: nothing changed.\n"
    )
    assert failed(run, 1, "note", "3", "called", "-p", "high", "again") == (
        "Error: No open task matches: nothing changed.\n"
    )
    # A range alone is no tag.
    assert failed(run, 2, "tag", "--tag", "errand", "1-3").startswith(
        "Error: Name the task, then the tags"
    )
    assert tasks_now(run) == before
    assert said(run, "tag", "1-4", "new", "--tag", "errand", "--overdue") == (
        "Tagged task 1 +new: Buy milk (tags: errand, new)\n"
        "Tagged task 2 +new: Post parcel (tags: errand, new)\n"
    )
    # After `--` a number is text.
    assert said(run, "note", "--tag", "work", "--", "3", "pages") == (
        "Noted on task 4: Write report\n"
    )
    assert [note["text"] for note in tasks_now(run)[3]["notes"]] == ["3 pages"]


def test_with_filters_a_range_is_the_numbers_to_look_among(ada: User, run: Run) -> None:
    add_errands(run)
    said(run, "delete", "4")
    said(run, "purge", "4", "--yes")
    # Numbers that name no task (purged, never used) are no error with filters.
    assert said(run, "delete", "1-20", "--tag", "errand", "--yes") == (
        "Deleted task 1: Buy milk\nDeleted task 2: Post parcel\nDeleted task 3: Fix bike\n"
    )
    assert said(run, "restore", "3-9", "--search", "bike") == "Restored task 3: Fix bike\n"
