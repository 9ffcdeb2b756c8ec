"""`add` and `edit` as people type them: words without quotes, and the attributes among them
(`+tag`, `due:friday`, `pri:h`, ...), as Taskwarrior and todo.txt users do."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from conftest import Run

from sorted_cli.choices import Priority, parse_priority
from sorted_cli.cli.options import expanded
from sorted_cli.errors import InvalidInput
from sorted_cli.inline import Typed, read_words
from sorted_cli.models import User


def said(run: Run, *args: str) -> str:
    result = run(*args)
    assert (result.exit_code, result.stderr) == (0, ""), (args, result.stdout, result.stderr)
    return str(result.stdout)


def refused(run: Run, *args: str) -> str:
    result = run(*args)
    assert (result.exit_code, result.stdout) == (2, ""), (args, result.stdout, result.stderr)
    return str(result.stderr)


def task(run: Run, number: int) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(said(run, "show", str(number), "--json"))
    return found


# ----------------------------------------------------------------------------- the words


@pytest.mark.parametrize(
    ("words", "literal", "expected"),
    [
        (["Buy", "bread"], 0, Typed("Buy bread")),
        (
            ["Buy", "bread", "+errand", "due:friday", "pri:H"],
            0,
            Typed("Buy bread", ["errand"], {"due": "friday", "priority": "H"}),
        ),
        (["+home", "Call", "mum", "+phone"], 0, Typed("Call mum", ["home", "phone"])),
        # After `--` every word is the title's.
        (["C++", "+1", "review"], 3, Typed("C++ +1 review")),
        (["review", "+1", "due:x"], 2, Typed("review +1 due:x")),
        # A quoted title keeps its words; a lone + is a word.
        (["Buy +milk"], 0, Typed("Buy +milk")),
        (["a", "+", "b"], 0, Typed("a + b")),
        (["Due: the report"], 0, Typed("Due: the report")),
        (["see", "http://example.com"], 0, Typed("see http://example.com")),
        # Keys in any case, their other names, a value with a space, an empty value.
        (
            ["x", "DUE:mon", "sched:tue", "recur:week"],
            0,
            Typed("x", [], {"due": "mon", "scheduled": "tue", "every": "week"}),
        ),
        (
            ["x", "due:friday 17:00"],
            0,
            Typed("x", [], {"due": "friday 17:00"}),
        ),
        (["+a", "due:mon"], 0, Typed(None, ["a"], {"due": "mon"})),
        # In add an empty value removes nothing: it is a word (`sorted add Due: the report`).
        (["Due:", "the", "report"], 0, Typed("Due: the report")),
        (["Note:", "pri:", "matters"], 0, Typed("Note: pri: matters")),
    ],
)
def test_words_are_the_title_with_the_attributes_among_them(
    words: list[str], literal: int, expected: Typed
) -> None:
    assert read_words(words, literal=literal) == expected


def test_in_edit_an_empty_value_removes() -> None:
    assert read_words(["due:", "pri:"], removes=True) == Typed(
        None, [], {"due": "", "priority": ""}
    )


def test_an_attribute_typed_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match="Give due once: Due: came twice"):
        read_words(["x", "due:mon", "Due:tue"])


@pytest.mark.parametrize(
    ("typed", "priority"),
    [
        ("high", Priority.high),
        ("HIGH", Priority.high),
        ("h", Priority.high),
        ("H", Priority.high),
        ("m", Priority.medium),
        ("Low", Priority.low),
        ("n", Priority.none),
        (" none ", Priority.none),
    ],
)
def test_a_priority_is_its_name_or_first_letter_in_any_case(typed: str, priority: Priority) -> None:
    assert parse_priority(typed) is priority


@pytest.mark.parametrize("typed", ["urgent", "x", "", "hi"])
def test_what_is_not_a_priority_is_refused_saying_what_is(typed: str) -> None:
    with pytest.raises(ValueError, match="use none, low, medium or high"):
        parse_priority(typed)


# ------------------------------------------------------------------------------------ add


def test_add_without_quotes_says_what_it_understood(ada: User, run: Run) -> None:
    assert said(run, "add", "Buy", "bread", "+errand", "due:2099-01-15", "pri:H") == (
        "Added task 1: Buy bread (+errand, high, due Thu 15 Jan 2099)\n"
    )
    bread = task(run, 1)
    assert (bread["title"], bread["tags"], bread["priority"], bread["due"]) == (
        "Buy bread",
        ["errand"],
        "high",
        "2099-01-15",
    )
    assert said(run, "add", "Buy", "milk") == "Added task 2: Buy milk\n"


def test_add_understands_every_attribute(ada: User, run: Run) -> None:
    assert said(
        run,
        "add",
        "Standup",
        "due:2099-12-31 09:30",
        "wait:2099-12-30",
        "scheduled:2099-12-31 09:00",
        "every:weekday",
        "until:2100-06-30",
        "times:50",
        "+work",
    ) == (
        "Added task 1: Standup (+work, due Thu 31 Dec 2099 09:30, waits until Wed 30 Dec 2099, "
        "scheduled Thu 31 Dec 2099 09:00, every weekday, until Wed 30 Jun 2100, 50 times)\n"
    )
    standup = task(run, 1)
    local = datetime.combine(date(2099, 12, 31), time(9, 30)).astimezone()
    assert datetime.fromisoformat(standup["due_at"]) == local.astimezone(UTC)
    assert (standup["every"], standup["until"], standup["times"], standup["tags"]) == (
        "weekday",
        "2100-06-30",
        50,
        ["work"],
    )


def test_after_two_dashes_every_word_is_the_title(ada: User, run: Run) -> None:
    assert said(run, "add", "--", "C++", "+1", "review", "due:never") == (
        "Added task 1: C++ +1 review due:never\n"
    )
    assert task(run, 1)["tags"] == []
    assert said(run, "add", "Buy +milk") == "Added task 2: Buy +milk\n"
    assert said(run, "add", "Due:", "the", "report") == "Added task 3: Due: the report\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["add", "+home", "due:friday"],
            "A task needs a title: give words besides its attributes.",
        ),
        (
            ["add", "x", "due:monday", "--due", "friday"],
            "Give due once: as due: or as --due, not both.",
        ),
        (
            ["add", "x", "pri:h", "-p", "low"],
            "Give priority once: as priority: or as --priority, not both.",
        ),
        (["add", "x", "+a", "due:mon", "due:tue"], "Give due once: due: came twice."),
        (
            ["add", "x", "pri:urgent"],
            "Invalid pri: 'urgent' is not a priority: use none, low, medium or high "
            "(or n, l, m, h).",
        ),
        (
            ["add", "x", "due:2099-01-01", "every:week", "times:many"],
            "Invalid times: 'many' is not a whole number of 1 or more.",
        ),
        (["add", "x", "+a,b"], "Invalid tag: 'a,b' is not a valid tag"),
    ],
)
def test_what_add_cannot_read_is_refused_and_nothing_is_added(
    ada: User, run: Run, args: list[str], message: str
) -> None:
    assert refused(run, *args).startswith(f"Error: {message}")
    assert json.loads(said(run, "export")) == []


def test_priorities_take_any_case_and_a_first_letter(ada: User, run: Run) -> None:
    said(run, "add", "a", "-p", "HIGH")
    said(run, "add", "b", "-p", "m")
    said(run, "add", "c", "pri:L")
    assert [task(run, n)["priority"] for n in (1, 2, 3)] == ["high", "medium", "low"]
    listed = said(run, "list", "-p", "H", "-p", "l")
    assert [row.split("\t")[0] for row in listed.splitlines()] == ["1", "3"]
    result = run("add", "x", "-p", "urgent")
    assert result.exit_code == 2
    assert "'urgent' is not a priority: use none, low, medium or high (or n, l, m, h)." in (
        result.stderr
    )


# ----------------------------------------------------------------------------------- edit


def test_edit_takes_words_as_the_new_title_and_attributes(ada: User, run: Run) -> None:
    said(run, "add", "Buy", "bread", "due:2099-01-15", "pri:h", "wait:2099-01-10")
    assert said(run, "edit", "1", "Buy", "rye", "bread", "due:2099-02-01", "pri:l") == (
        "Updated task 1: Buy rye bread\n"
    )
    bread = task(run, 1)
    assert (bread["title"], bread["due"], bread["priority"]) == (
        "Buy rye bread",
        "2099-02-01",
        "low",
    )
    # An empty value removes it.
    said(run, "edit", "1", "due:", "wait:", "pri:")
    bread = task(run, 1)
    assert (bread["due"], bread["wait"], bread["priority"]) == (None, None, "none")
    said(run, "edit", "1", "every:week after done", "times:3")
    assert (task(run, 1)["every"], task(run, 1)["times"]) == ("week after done", 3)
    said(run, "edit", "1", "times:")
    assert task(run, 1)["times"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["edit", "1", "+errand", "+-bad"],
            "Invalid tag: '-bad' is not a valid tag: use letters, marks and digits of any script "
            "and _ . : / @ -, starting with a letter or digit (or @ and one).",
        ),
        (
            ["edit", "1", "New", "title", "--title", "Other"],
            "Give the new title once: as words or as --title, not both.",
        ),
        (
            ["edit", "1", "due:monday", "--due", "friday"],
            "Give due once: as due: or as --due, not both.",
        ),
        (["edit", "1", "due:", "--due", "friday"], "Give due once: as due: or as --due, not both."),
    ],
)
def test_what_edit_cannot_read_is_refused_and_nothing_changes(
    ada: User, run: Run, args: list[str], message: str
) -> None:
    said(run, "add", "Buy", "bread")
    before = task(run, 1)
    assert refused(run, *args) == f"Error: {message}\n"
    assert task(run, 1) == before


# ------------------------------------------------------------------------ many at once


@pytest.mark.parametrize(
    ("typed", "refs"),
    [
        (["1-3"], ["1", "2", "3"]),
        (["1,4,7"], ["1", "4", "7"]),
        (["2-4,9", "12"], ["2", "3", "4", "9", "12"]),
        (["5-5"], ["5"]),
        (["1,,2,"], ["1", "2"]),
        # A UUID has dashes too, and a prefix is hex: both are left as they are.
        (["2b2d64c6-a2e7-4ca9-a799-608889ee967d"], ["2b2d64c6-a2e7-4ca9-a799-608889ee967d"]),
        (["2b2d"], ["2b2d"]),
    ],
)
def test_ranges_and_lists_of_numbers_are_spelt_out(typed: list[str], refs: list[str]) -> None:
    assert expanded(typed) == refs


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (["5-3"], "Invalid range '5-3': it goes down; write 3-5."),
        (["1-20000"], "Invalid range '1-20000': a range names at most 10,000 tasks."),
        ([","], "No task given: name one by its number, a range or a list."),
    ],
)
def test_a_range_that_cannot_be_is_refused(typed: list[str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        expanded(typed)


def test_ranges_change_their_tasks_in_one_command(ada: User, run: Run) -> None:
    for title in ("a", "b", "c", "d", "e"):
        said(run, "add", title)
    assert said(run, "done", "1-3") == (
        "Completed task 1: a\nCompleted task 2: b\nCompleted task 3: c\n"
    )
    assert said(run, "undo").count("\n") == 3  # one command: one undo
    assert said(run, "delete", "2,4", "--yes") == "Deleted task 2: b\nDeleted task 4: d\n"
    assert said(run, "restore", "2,4") == "Restored task 2: b\nRestored task 4: d\n"


def test_more_than_three_off_a_terminal_need_yes_and_change_nothing_without(
    ada: User, run: Run
) -> None:
    for title in ("a", "b", "c", "d", "e"):
        said(run, "add", title)
    for args, doing in (
        (["done", "1-4"], "complete"),
        (["delete", "1,2,3,5"], "delete"),
        (["reopen", "1-5"], "reopen"),
        (["restore", "1-4"], "restore"),
    ):
        assert refused(run, *args) == (
            f"Error: Refusing to {doing} {len(expanded(args[1:]))} tasks without --yes when "
            "not at a terminal.\n"
        )
    assert [t["completed"] or t["deleted"] for t in json.loads(said(run, "export", "--all"))] == (
        [False] * 5
    )
    assert said(run, "done", "1-4", "--yes").count("Completed") == 4
    # A number named twice is one task.
    assert said(run, "reopen", "1", "1", "2", "2-3") == (
        "Reopened task 1: a\nReopened task 2: b\nReopened task 3: c\n"
    )
