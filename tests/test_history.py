"""Undo, redo, `sorted log` and a task's history: what each command records, and taking it back."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import POSTGRES_BACKENDS, TASK_KEYS, Run
from sqlalchemy import bindparam, func, text
from sqlmodel import Session, col, select
from test_processes import SORTED, TIMEOUT_S, answer_at_terminal, environment, titles_in

from sorted_cli.choices import View
from sorted_cli.models import TaskChange, TaskCreate, TaskNote, User, UTCDateTime, validated
from sorted_cli.services import tasks

MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def ok(run: Run, *args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return str(result.stdout)


def everything(run: Run) -> list[dict[str, Any]]:
    """Every task of the user, the trash too, without `updated_at` (which undo moves on)."""
    tasks: list[dict[str, Any]] = json.loads(ok(run, "export", "--all"))
    return [{key: value for key, value in task.items() if key != "updated_at"} for task in tasks]


def masked(output: str) -> str:
    return UUID.sub("UUID", MOMENT.sub("MOMENT", output))


# ------------------------------------------------------------------------ undo and redo


def test_undo_takes_back_a_whole_command_and_says_what_it_did(ada: User, run: Run) -> None:
    for title in ("Buy milk", "Call mum", "File taxes"):
        ok(run, "add", title)
    ok(run, "done", "1", "2", "3")
    result = run("undo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Undid done of task 1: Buy milk\n"
        "Undid done of task 2: Call mum\n"
        "Undid done of task 3: File taxes\n",
        "",
    )
    assert [task["completed"] for task in everything(run)] == [False, False, False]
    assert ok(run, "redo") == (
        "Redid done of task 1: Buy milk\n"
        "Redid done of task 2: Call mum\n"
        "Redid done of task 3: File taxes\n"
    )
    assert [task["completed"] for task in everything(run)] == [True, True, True]


def test_undoing_an_add_moves_the_task_to_the_trash_and_redo_brings_it_back(
    ada: User, run: Run
) -> None:
    ok(run, "add", "Buy milk")
    assert ok(run, "undo") == "Undid add of task 1: Buy milk (moved to the trash)\n"
    [task] = everything(run)
    assert (task["deleted"], task["deleted_at"] is not None) == (True, True)
    assert ok(run, "list") == ""
    assert ok(run, "redo") == "Redid add of task 1: Buy milk (out of the trash)\n"
    [task] = everything(run)
    assert (task["deleted"], task["deleted_at"]) == (False, None)


# Each command that changes a task, from a state where it changes something: undo gives back
# every field as it was (the moments a task was completed or deleted too), redo as the command
# left it.
COMMANDS = {
    "done": ([], ["done", "1"]),
    "reopen": ([["done", "1"]], ["reopen", "1"]),
    "delete": ([], ["delete", "1", "--yes"]),
    "restore": ([["delete", "1", "--yes"]], ["restore", "1"]),
    "edit": ([], ["edit", "1", "--title", "Buy oat milk", "-p", "low", "--no-due", "-d", "new"]),
    "tag": ([], ["tag", "1", "dairy", "urgent"]),
    "untag": ([], ["untag", "1", "errands"]),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_undo_gives_back_every_field_and_redo_the_command_s(
    ada: User, run: Run, command: str
) -> None:
    ok(run, "add", "Buy milk", "-p", "high", "--due", "2031-04-15", "-d", "two litres")
    ok(run, "tag", "1", "errands", "home")
    setup, args = COMMANDS[command]
    for step in setup:
        ok(run, *step)
    before = everything(run)
    ok(run, *args)
    after = everything(run)
    assert after != before

    assert ok(run, "undo").startswith(f"Undid {command} of task 1: ")
    assert everything(run) == before
    assert ok(run, "redo").startswith(f"Redid {command} of task 1: ")
    assert everything(run) == after


def test_each_undo_takes_back_the_command_before_the_last_one_undone(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "done", "1")
    ok(run, "edit", "1", "--title", "Buy oat milk")
    assert ok(run, "undo") == "Undid edit of task 1: Buy milk\n"
    assert ok(run, "undo") == "Undid done of task 1: Buy milk\n"
    assert ok(run, "undo") == "Undid add of task 1: Buy milk (moved to the trash)\n"
    nothing = run("undo")
    assert (nothing.exit_code, nothing.stdout, nothing.stderr) == (
        1,
        "",
        "Error: Nothing to undo: every command of yours that changed tasks is undone.\n",
    )
    assert ok(run, "redo") == "Redid add of task 1: Buy milk (out of the trash)\n"
    assert ok(run, "redo") == "Redid done of task 1: Buy milk\n"
    assert ok(run, "redo") == "Redid edit of task 1: Buy oat milk\n"
    assert run("redo").exit_code == 1
    [task] = everything(run)
    assert (task["title"], task["completed"], task["deleted"]) == ("Buy oat milk", True, False)


def test_a_new_command_after_an_undo_ends_what_can_be_redone(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "done", "1")
    ok(run, "undo")
    ok(run, "add", "Call mum")
    result = run("redo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Nothing to redo: redo re-applies what `sorted undo` took back, until a new "
        "change.\n",
    )
    assert [task["completed"] for task in everything(run)] == [False, False]


def test_a_change_that_fails_records_nothing_to_undo(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    assert run("done", "1", "99").exit_code == 1  # task 99 does not exist: nothing changes
    assert run("done", "1").exit_code == 0
    assert run("done", "1").stdout == "Task 1 was already done: Buy milk\n"  # no change
    assert ok(run, "undo") == "Undid done of task 1: Buy milk\n"
    assert ok(run, "undo") == "Undid add of task 1: Buy milk (moved to the trash)\n"


# ------------------------------------------------------------------ never over newer work


def test_undo_refuses_when_another_program_changed_the_task_since(
    ada: User, run: Run, session: Session
) -> None:
    """A teammate's script (any other connection) edits the task after the command: undoing
    the command would overwrite that, so nothing changes."""
    ok(run, "add", "Buy milk")
    ok(run, "add", "Call mum")
    ok(run, "done", "1", "2")
    session.execute(
        text(
            "UPDATE tasks SET title = 'Buy oat milk', updated_at = CURRENT_TIMESTAMP "
            "WHERE number = 2"
        )
    )
    session.commit()
    before = everything(run)
    result = run("undo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Cannot undo `done`: task 2 (Buy oat milk) changed since, and undo would "
        "overwrite that; nothing was changed.\n",
    )
    assert everything(run) == before  # task 1 is still done too: the command is one whole


def test_redo_refuses_when_the_task_changed_after_the_undo(
    ada: User, run: Run, session: Session
) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "done", "1")
    ok(run, "undo")
    session.execute(text("UPDATE tasks SET updated_at = CURRENT_TIMESTAMP WHERE number = 1"))
    session.commit()
    result = run("redo")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Cannot redo `done`: task 1 (Buy milk) changed since, and redo would overwrite "
        "that; nothing was changed.\n",
    )
    assert [task["completed"] for task in everything(run)] == [False]


def test_undo_is_per_user(ada: User, grace: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "--user", grace.email, "add", "Grace's task")
    ok(run, "--user", grace.email, "done", "1")
    assert ok(run, "undo") == "Undid add of task 1: Buy milk (moved to the trash)\n"
    graces = json.loads(ok(run, "--user", grace.email, "list", "--all", "--json"))
    assert [(task["title"], task["completed"]) for task in graces] == [("Grace's task", True)]
    assert ok(run, "--user", grace.email, "undo") == "Undid done of task 1: Grace's task\n"


@pytest.mark.in_process
def test_eight_undos_at_once_take_back_eight_commands_once_each(
    ada: User, run: Run, session: Session
) -> None:
    """Real processes, all started before any ends: each takes back a command of its own
    (one that another undo took meanwhile is looked for again), none twice."""
    for number in range(1, 9):
        ok(run, "add", f"t{number}")
    for number in range(1, 9):
        ok(run, "done", str(number))
    undos = [
        subprocess.Popen(
            [str(SORTED), "undo"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(),
        )
        for _ in range(8)
    ]
    said = [undo.communicate(timeout=TIMEOUT_S) for undo in undos]
    assert [undo.returncode for undo in undos] == [0] * 8, said
    assert sorted(out for out, _ in said) == sorted(
        f"Undid done of task {n}: t{n}\n" for n in range(1, 9)
    )
    assert [task["completed"] for task in everything(run)] == [False] * 8
    undone = select(func.count()).select_from(TaskChange).where(TaskChange.action == "undo")
    assert session.exec(undone).one() == 8


# ------------------------------------------------------------------------ what is recorded


def test_log_lists_the_latest_commands_newest_first(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "add", "Call mum")
    ok(run, "done", "1", "2")
    ok(run, "undo")
    ok(run, "tag", "2", "family")
    assert masked(ok(run, "log")) == (
        "MOMENT\tUUID\ttag\t2\tCall mum\t\n"
        "MOMENT\tUUID\tundo done\t1\tBuy milk\t\n"
        "MOMENT\tUUID\tundo done\t2\tCall mum\t\n"
        "MOMENT\tUUID\tdone\t1\tBuy milk\tundone\n"
        "MOMENT\tUUID\tdone\t2\tCall mum\tundone\n"
        "MOMENT\tUUID\tadd\t2\tCall mum\t\n"
        "MOMENT\tUUID\tadd\t1\tBuy milk\t\n"
    )
    assert len(ok(run, "log", "-n", "2").splitlines()) == 3  # tag; the undo of two tasks
    [tagged, undo, *_rest] = json.loads(ok(run, "log", "--json"))
    assert tagged["tasks"] == [
        {
            "id": tagged["tasks"][0]["id"],
            "number": 2,
            "title": "Call mum",
            "before": {"tags": []},
            "after": {"tags": ["family"]},
        }
    ]
    assert (undo["action"], undo["reverts"], undo["undone_at"]) == ("undo", "done", None)
    assert undo["tasks"][0]["before"] == {"completed": True, "completed_at": MomentLike()}
    assert undo["tasks"][0]["after"] == {"completed": False, "completed_at": None}


class MomentLike:
    """Equal to any UTC moment as the JSON view writes one."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and MOMENT.fullmatch(other) is not None

    __hash__ = None  # type: ignore[assignment]


def test_log_of_nobody_s_changes_says_so(ada: User, run: Run) -> None:
    result = run("log")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "No changes recorded yet.\n")
    assert ok(run, "log", "--json") == "[]\n"


def test_show_history_lists_each_change_of_the_task(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk", "-p", "high")
    ok(run, "edit", "1", "-p", "low")
    ok(run, "done", "1")
    ok(run, "undo")
    shown = ok(run, "show", "1", "--history")
    after_the_task = shown.split(f"{TASK_KEYS[-1]}: \nurgency: 1.5\n", 1)[1]
    history = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "WHEN", after_the_task)
    assert history == (
        "WHEN  add: added\n"
        "WHEN  edit: priority: high -> low\n"
        "WHEN  done (undone): completed: no -> yes; completed_at: - -> WHEN\n"
        "WHEN  undo done: completed: yes -> no; completed_at: WHEN -> -\n"
    )
    data = json.loads(ok(run, "show", "1", "--history", "--json"))
    assert list(data)[-2:] == ["history", "urgency"]  # added keys, at the end, in turn
    assert [(entry["action"], entry["reverts"]) for entry in data["history"]] == [
        ("add", None),
        ("edit", None),
        ("done", None),
        ("undo", "done"),
    ]
    assert data["history"][1]["before"] == {"priority": "high"}
    assert "history" not in json.loads(ok(run, "show", "1", "--json"))


def test_a_task_never_changed_by_a_command_has_no_history(
    ada: User, run: Run, session: Session
) -> None:
    session.execute(
        text(
            "INSERT INTO tasks (id, user_id, number, title, priority, completed, created_at, "
            "updated_at, is_deleted) VALUES (:id, :user, 1, 'Imported', 'none', false, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, false)"
        ),
        {"id": "0" * 31 + "1", "user": ada.id.hex},
    )
    session.commit()
    assert ok(run, "show", "1", "--history").endswith("No recorded changes.\n")


# --------------------------------------------------------------------------------- purge


def rows_of(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_purge_removes_the_trash_for_good_with_its_tags_and_history(
    ada: User, run: Run, session: Session
) -> None:
    ok(run, "add", "Buy milk", "--tag", "errands")
    ok(run, "add", "Call mum", "--tag", "family")
    ok(run, "add", "Keep me")
    ok(run, "delete", "1", "2", "--yes")
    result = run("purge", "--yes")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "Purged 2 tasks from the trash for good.\n",
        "",
    )
    assert [task["title"] for task in everything(run)] == ["Keep me"]
    session.commit()  # a fresh snapshot
    assert (rows_of(session, "task_tags"), rows_of(session, "task_changes")) == (0, 1)
    assert ok(run, "undo") == "Undid add of task 3: Keep me (moved to the trash)\n"
    assert run("undo").exit_code == 1  # nothing of the purged tasks is left to undo
    assert ok(run, "purge", "--yes") == "Purged 1 task from the trash for good.\n"
    assert ok(run, "purge", "--yes") == "Nothing to purge: the trash is empty.\n"
    assert ok(run, "add", "Next").startswith("Added task 4: ")  # numbers are never reused


def test_purge_of_named_tasks_takes_only_tasks_in_the_trash(ada: User, run: Run) -> None:
    for title in ("Buy milk", "Call mum", "File taxes"):
        ok(run, "add", title)
    ok(run, "delete", "1", "3", "--yes")
    before = everything(run)
    result = run("purge", "1", "2", "--yes")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Task 2 is not in the trash: only tasks in the trash can be purged "
        "(`sorted delete 2` first); nothing was purged.\n",
    )
    assert everything(run) == before
    assert ok(run, "purge", "3", "--yes") == "Purged 1 task from the trash for good.\n"
    assert [task["number"] for task in everything(run)] == [1, 2]
    assert run("purge", "3", "--yes").stderr == "Error: No task 3.\n"


def test_purge_older_than_takes_what_was_deleted_that_long_ago(
    ada: User, run: Run, session: Session
) -> None:
    ok(run, "add", "Long gone")
    ok(run, "add", "Just deleted")
    ok(run, "delete", "1", "2", "--yes")
    session.execute(
        text("UPDATE tasks SET deleted_at = :when WHERE number = 1").bindparams(
            bindparam("when", type_=UTCDateTime())
        ),
        {"when": datetime.now(UTC) - timedelta(days=40)},
    )
    session.commit()
    assert ok(run, "purge", "--older-than", "30d", "--yes") == (
        "Purged 1 task from the trash for good.\n"
    )
    assert ok(run, "purge", "--older-than", "2w", "--yes") == (
        "Nothing to purge: no task in the trash was deleted over 2w ago.\n"
    )
    assert [task["title"] for task in everything(run)] == ["Just deleted"]
    bad = run("purge", "--older-than", "soon", "--yes")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "Error: Invalid length of time 'soon': use days or weeks, as 30d or 2w.\n",
    )


def test_purge_refuses_without_yes_when_no_one_can_answer(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "delete", "1")
    result = run("purge")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: Refusing to purge tasks without --yes when not at a terminal.\n",
    )
    assert len(everything(run)) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("either_way")  # in its own process, then through a server
def test_purge_asks_at_a_terminal_naming_the_tasks_and_saying_it_is_for_good(
    ada: User, session: Session
) -> None:
    for title in ("Buy milk", "Call mum"):
        tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title=title))
    tasks.delete_tasks(session=session, user=ada, refs=["1", "2"])
    question = (
        "Remove 2 tasks from the trash for good? #1 Buy milk, #2 Call mum. "
        "This cannot be undone. [y/N]: "
    )
    assert answer_at_terminal("purge", answer=b"n\n") == (
        1,
        "",
        f"{question}n\r\nNothing purged.\r\n",
    )
    assert titles_in(session, ada, View.deleted) == ["Buy milk", "Call mum"]
    assert answer_at_terminal("purge", answer=b"y\n") == (
        0,
        "Purged 2 tasks from the trash for good.\n",
        f"{question}y\r\n",
    )
    assert titles_in(session, ada, View.deleted) == []


def test_undoing_an_import_moves_what_it_added_to_the_trash(
    ada: User, run: Run, tmp_path: Path
) -> None:
    ok(run, "add", "Mine")
    file = tmp_path / "tasks.json"
    file.write_text(
        "".join(
            json.dumps({"id": str(uuid.uuid4()), "title": f"t{n}", "created_at": f"2030-01-0{n}"})
            + "\n"
            for n in range(1, 4)
        )
    )
    assert ok(run, "import", str(file)) == "Imported 3 tasks.\n"
    assert ok(run, "undo") == (
        "Undid import of task 2: t1 (moved to the trash)\n"
        "Undid import of task 3: t2 (moved to the trash)\n"
        "Undid import of task 4: t3 (moved to the trash)\n"
    )
    assert [task["title"] for task in everything(run) if not task["deleted"]] == ["Mine"]
    assert ok(run, "redo").splitlines()[0] == "Redid import of task 2: t1 (out of the trash)"
    assert [task["deleted"] for task in everything(run)] == [False] * 4


def test_undo_of_many_tasks_names_the_first_and_counts_the_rest(
    ada: User, run: Run, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.json"
    file.write_text(
        json.dumps(
            [
                {"id": str(uuid.uuid4()), "title": f"t{n}", "created_at": "2030-01-01"}
                for n in range(25)
            ]
        )
    )
    ok(run, "import", str(file))
    said = ok(run, "undo").splitlines()
    assert said[0] == "Undid import of task 1: t0 (moved to the trash)"
    assert said[9] == "Undid import of task 10: t9 (moved to the trash)"
    assert said[10:] == ["... and 15 more tasks."]
    assert all(task["deleted"] for task in everything(run))


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_log_at_a_terminal_is_a_table_with_undone_commands_struck_through(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(run, "add", "Milk")
    ok(run, "edit", "1", "-p", "low")
    ok(run, "undo")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("FORCE_COLOR", "1")  # styles, for the strike-through
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    shown = ok(run, "log")
    plain = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "WHEN", ANSI.sub("", shown))
    assert [row.rstrip() for row in plain.splitlines()] == [
        "When              Command    Task  Change",
        "WHEN  undo edit     1  Milk: priority: low -> none",
        "WHEN  edit          1  Milk: priority: none -> low",
        "WHEN  add           1  Milk: added",
    ]
    struck = [row for row in shown.splitlines() if "\x1b[2;9m" in row]
    assert len(struck) == 1  # only the undone edit
    assert "priority: none -> low" in struck[0]


def test_undo_and_redo_say_what_they_did_in_json_too(ada: User, run: Run) -> None:
    ok(run, "add", "Buy milk")
    ok(run, "done", "1")
    undone = json.loads(ok(run, "undo", "--json"))
    assert (undone["action"], undone["reverts"], undone["undone_at"]) == ("undo", "done", None)
    assert MOMENT.fullmatch(undone["at"])
    [task] = undone["tasks"]
    assert (task["number"], task["title"]) == (1, "Buy milk")
    assert (task["before"], task["after"]) == (
        {"completed": True, "completed_at": MomentLike()},
        {"completed": False, "completed_at": None},
    )
    assert json.loads(ok(run, "log", "--json"))[0] == undone  # as the log lists it
    redone = json.loads(ok(run, "redo", "--json"))
    assert (redone["action"], redone["reverts"]) == ("redo", "done")


# --------------------------------------------------------------------------------- notes


def notes_in_database(session: Session) -> list[tuple[uuid.UUID, uuid.UUID, datetime, str]]:
    """Every note row: (id, task, moment, text), as read afresh."""
    session.commit()  # a fresh snapshot
    rows = session.exec(select(TaskNote).order_by(col(TaskNote.created_at))).all()
    return [(row.id, row.task_id, row.created_at, row.text) for row in rows]


def test_undo_takes_a_note_off_and_redo_puts_the_very_note_back(
    ada: User, run: Run, session: Session
) -> None:
    ok(run, "add", "Fix the sink")
    ok(run, "note", "1", "Called the plumber")
    ok(run, "note", "1", "He comes on Monday")
    noted = everything(run)
    [first, second] = notes_in_database(session)
    result = run("undo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        'Undid note of task 1: Fix the sink (note "He comes on Monday" taken off)\n',
        "",
    )
    assert notes_in_database(session) == [first]
    assert [note["text"] for note in everything(run)[0]["notes"]] == ["Called the plumber"]
    assert ok(run, "redo") == (
        'Redid note of task 1: Fix the sink (note "He comes on Monday" put back)\n'
    )
    assert notes_in_database(session) == [first, second]  # the same id, moment and text
    assert everything(run) == noted


def test_undo_after_a_note_takes_back_the_note_then_the_command_before(ada: User, run: Run) -> None:
    """A note is recorded: it is undone first, and then the command before it on the same
    task is undone as any other (the note no longer counts as a change since)."""
    ok(run, "add", "Fix the sink")
    ok(run, "done", "1")
    ok(run, "note", "1", "Paid the plumber")
    assert ok(run, "undo") == (
        'Undid note of task 1: Fix the sink (note "Paid the plumber" taken off)\n'
    )
    assert ok(run, "undo") == "Undid done of task 1: Fix the sink\n"
    [task] = everything(run)
    assert (task["completed"], task["notes"]) == (False, [])
    assert ok(run, "redo") == "Redid done of task 1: Fix the sink\n"
    assert ok(run, "redo") == (
        'Redid note of task 1: Fix the sink (note "Paid the plumber" put back)\n'
    )
    [task] = everything(run)
    assert (task["completed"], [note["text"] for note in task["notes"]]) == (
        True,
        ["Paid the plumber"],
    )
    assert run("redo").exit_code == 1  # nothing more to redo


def test_a_command_after_a_note_is_undone_before_the_note(ada: User, run: Run) -> None:
    ok(run, "add", "Fix the sink")
    ok(run, "note", "1", "Called the plumber")
    ok(run, "edit", "1", "--title", "Fix the kitchen sink")
    assert ok(run, "undo") == "Undid edit of task 1: Fix the sink\n"
    assert ok(run, "undo") == (
        'Undid note of task 1: Fix the sink (note "Called the plumber" taken off)\n'
    )
    assert ok(run, "undo") == "Undid add of task 1: Fix the sink (moved to the trash)\n"


def test_a_note_that_fails_records_nothing_to_undo(ada: User, run: Run) -> None:
    ok(run, "add", "Fix the sink")
    ok(run, "add", "Old")
    ok(run, "delete", "2", "--yes")
    assert run("note", "3", "Called the plumber").exit_code == 1  # no task 3
    assert run("note", "2", "Called the plumber").exit_code == 1  # in the trash
    assert ok(run, "undo") == "Undid delete of task 2: Old (out of the trash)\n"
    assert ok(run, "undo") == "Undid add of task 2: Old (moved to the trash)\n"


def test_undoing_a_note_refuses_when_another_program_changed_the_task_since(
    ada: User, run: Run, session: Session
) -> None:
    ok(run, "add", "Fix the sink")
    ok(run, "note", "1", "Called the plumber")
    session.execute(text("UPDATE tasks SET updated_at = CURRENT_TIMESTAMP WHERE number = 1"))
    session.commit()
    before = notes_in_database(session)
    result = run("undo")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Error: Cannot undo `note`: task 1 (Fix the sink) changed since, and undo would "
        "overwrite that; nothing was changed.\n",
    )
    assert notes_in_database(session) == before


def test_log_and_show_history_show_notes(ada: User, run: Run) -> None:
    ok(run, "add", "Fix the sink")
    ok(run, "note", "1", "he comes Monday,\nat nine")
    ok(run, "note", "1", "x" * 100)
    ok(run, "undo")
    assert masked(ok(run, "log")) == (
        "MOMENT\tUUID\tundo note\t1\tFix the sink\t\n"
        "MOMENT\tUUID\tnote\t1\tFix the sink\tundone\n"
        "MOMENT\tUUID\tnote\t1\tFix the sink\t\n"
        "MOMENT\tUUID\tadd\t1\tFix the sink\t\n"
    )
    [undo, undone, noted, _added] = json.loads(ok(run, "log", "--json"))
    long_note = {"at": MomentLike(), "text": "x" * 100}  # the JSON view's keys and formats
    assert (undo["tasks"][0]["before"], undo["tasks"][0]["after"]) == (
        {"note": long_note},
        {"note": None},
    )
    assert (undone["tasks"][0]["before"], undone["tasks"][0]["after"]) == (
        {"note": None},
        {"note": long_note},
    )
    [note] = json.loads(ok(run, "show", "1", "--json"))["notes"]
    assert noted["tasks"][0]["after"] == {"note": note}
    assert noted["at"] == note["at"]

    shown = ok(run, "show", "1", "--history")
    history = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "WHEN", shown.split("\n\n")[-1])
    shown_long = '"' + "x" * 59 + '…"'
    assert history.splitlines()[-4:] == [
        "WHEN  add: added",
        'WHEN  note: note: - -> "he comes Monday,\\nat nine"',
        f"WHEN  note (undone): note: - -> {shown_long}",
        f"WHEN  undo note: note: {shown_long} -> -",
    ]
    entries = json.loads(ok(run, "show", "1", "--history", "--json"))["history"]
    assert [(entry["action"], entry["before"], entry["after"]) for entry in entries] == [
        ("add", None, {"title": "Fix the sink", "deleted": False, "deleted_at": None}),
        ("note", {"note": None}, {"note": note}),
        ("note", {"note": None}, {"note": long_note}),
        ("undo", {"note": long_note}, {"note": None}),
    ]


# ------------------------------------------------------- found by review, each failed before


def test_undoing_a_new_command_does_not_make_older_undone_ones_redoable(
    ada: User, run: Run
) -> None:
    ok(run, "add", "orig")
    ok(run, "edit", "1", "--title", "X")
    ok(run, "undo")
    ok(run, "edit", "1", "--title", "Y")  # a new change: the undone X is gone for good
    ok(run, "undo")
    assert ok(run, "redo") == "Redid edit of task 1: Y\n"
    result = run("redo")
    assert (result.exit_code, result.stdout) == (1, "")
    assert [task["title"] for task in everything(run)] == ["Y"]


def write_tasks(path: Path, *tasks: dict[str, Any]) -> str:
    path.write_text(json.dumps(list(tasks)))
    return str(path)


def test_undo_and_redo_of_an_import_keep_a_task_that_came_in_the_trash_there(
    ada: User, run: Run, tmp_path: Path
) -> None:
    trashed = {
        "id": str(uuid.uuid4()),
        "title": "Old",
        "created_at": "2020-01-01T00:00:00Z",
        "deleted": True,
        "deleted_at": "2020-02-01T00:00:00Z",
    }
    ok(run, "import", write_tasks(tmp_path / "in.json", trashed))
    ok(run, "undo")
    ok(run, "redo")
    [task] = everything(run)
    assert (task["deleted"], task["deleted_at"]) == (True, "2020-02-01T00:00:00Z")


def test_a_task_imported_with_a_later_moment_than_now_can_still_be_undone(
    ada: User, run: Run, tmp_path: Path
) -> None:
    """Nothing compares clocks: a file's (or a teammate's) clock ahead of this one's does not
    make later commands look as if something changed the task since."""
    later = {"id": str(uuid.uuid4()), "title": "Ahead", "created_at": "2099-06-01T00:00:00Z"}
    ok(run, "import", write_tasks(tmp_path / "in.json", later))
    ok(run, "done", "1")
    assert ok(run, "undo") == "Undid done of task 1: Ahead\n"
    assert ok(run, "undo") == "Undid import of task 1: Ahead (moved to the trash)\n"


def test_purge_takes_a_task_deleted_at_a_later_moment_than_now(
    ada: User, run: Run, tmp_path: Path
) -> None:
    later = {
        "id": str(uuid.uuid4()),
        "title": "Ahead",
        "created_at": "2099-06-01T00:00:00Z",
        "deleted": True,
    }
    ok(run, "import", write_tasks(tmp_path / "in.json", later))
    assert ok(run, "purge", "--yes") == "Purged 1 task from the trash for good.\n"
    assert everything(run) == []


@pytest.mark.in_process
@pytest.mark.parametrize("backend", POSTGRES_BACKENDS, indirect=True)
def test_history_reads_moments_whatever_the_session_s_time_zone(
    ada: User, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the session's zone, PostgreSQL writes a moment of 1900 in India as +05:21:10: the
    history keeps moments as UTC text, which every reader takes."""
    old = {
        "id": str(uuid.uuid4()),
        "title": "Old",
        "created_at": "1900-01-01T00:00:00Z",
        "completed": True,
    }
    ok(run, "import", write_tasks(tmp_path / "in.json", old))
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    ok(run, "reopen", "1")
    [reopened, _imported] = json.loads(ok(run, "log", "--json"))
    assert reopened["tasks"][0]["before"] == {
        "completed": True,
        "completed_at": "1900-01-01T00:00:00Z",
    }
    assert ok(run, "undo") == "Undid reopen of task 1: Old\n"
    assert everything(run)[0]["completed_at"] == "1900-01-01T00:00:00Z"
