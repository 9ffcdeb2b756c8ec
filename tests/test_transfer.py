"""`sorted export` and `sorted import`, sorted's own JSON and Taskwarrior's, on each backend."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import shlex
import sqlite3
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import TASK_KEYS, Run, add_plain_tasks, read_until_closed
from sqlalchemy import delete, event
from sqlalchemy.engine import Engine
from sqlmodel import Session
from test_processes import outcome
from test_sqlitefile import (  # mounts: a fixture
    database_with_tasks,
    mounts,  # noqa: F401
    run_in_a_mount_namespace,
)

from sorted_cli.models import PUBLIC_COLUMNS, Task, TaskNote, TaskPublic, TaskTag, User
from sorted_cli.services import transfer

FIXTURE = Path(__file__).parent / "data" / "taskwarrior.json"


@pytest.fixture
def filled(ada: User, run: Run) -> None:
    """Ada's tasks in every state: open, completed, deleted, tagged, described, due (a day, and
    a time), waited, scheduled, noted."""
    for args in (
        ["Buy milk", "--tag", "errands", "-d", 'oat\nand "quotes", commas'],
        ["File taxes", "-p", "high", "--due", "2031-04-15", "--tag", "home", "--tag", "money"],
        # Waited and scheduled until moments now past: listed as any open task.
        [
            *("Grüße ✓ senden", "-p", "low", "--due", "2031-05-01 09:30"),
            *("--wait", "2026-01-01", "--scheduled", "2026-02-01 08:00"),
        ],
        ["Old plan", "--tag", "someday"],
    ):
        assert run("add", *args).exit_code == 0
    for ref, text in (("1", 'the shop, "round the corner"'), ("1", "shut\\open"), ("2", "a\nb")):
        assert run("note", ref, text).exit_code == 0
    assert run("done", "1").exit_code == 0
    assert run("delete", "4").exit_code == 0


def wipe(session: Session) -> None:
    session.exec(delete(TaskNote))
    session.exec(delete(TaskTag))
    session.exec(delete(Task))
    session.commit()


def exported(run: Run, *args: str) -> list[dict[str, Any]]:
    result = run("export", *args)
    assert result.exit_code == 0, result.stderr
    data: list[dict[str, Any]] = json.loads(result.stdout)
    return data


# --------------------------------------------------------------------------------- export


def test_export_writes_open_and_completed_tasks_and_all_adds_the_trash(
    filled: None, run: Run
) -> None:
    result = run("export")
    assert result.stderr == ""  # off a terminal, nothing but the export
    tasks = json.loads(result.stdout)
    assert [task["number"] for task in tasks] == [1, 2, 3]
    assert tasks == json.loads(run("list", "--all", "--json").stdout)  # the same JSON view
    assert result.stdout.count("\n") == 5  # `[`, one line per task, `]`
    assert tasks[0]["completed"] is True
    assert tasks[1]["tags"] == ["home", "money"]
    everything = exported(run, "--all")
    assert [(task["number"], task["deleted"]) for task in everything][-1] == (4, True)
    assert everything[-1]["deleted_at"] is not None


def test_every_path_writes_a_task_in_the_one_public_shape(filled: None, run: Run) -> None:
    """`show --json` and a page of `list --json` build the model (TaskPublic.of); the streamed
    `list` and `export` turn rows straight into JSON; CSV and import take its keys: all of
    them give each task alike, every field set somewhere among these tasks (a repeating one
    done: its next time has the series, its iteration and the day its rule counts from)."""
    rule = ["--due", "2031-01-31", "--every", "month", "--until", "2032-01-01", "--times", "9"]
    assert run("add", "Pay rent", *rule).exit_code == 0
    assert run("done", "5").exit_code == 0
    streamed = exported(run, "--all")

    def by_number(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(tasks, key=lambda task: int(task["number"]))

    paged = json.loads(run("list", "--all", "--json", "--limit", "10").stdout)
    paged += json.loads(run("list", "--deleted", "--json", "--limit", "10").stdout)
    assert streamed == by_number(
        json.loads(run("list", "--all", "--json").stdout)
        + json.loads(run("list", "--deleted", "--json").stdout)
    )
    assert by_number(paged) == streamed
    for task in streamed:
        shown = json.loads(run("show", str(task["number"]), "--json").stdout)
        assert list(shown)[-1] == "urgency"  # show's own key, at the end
        del shown["urgency"]
        assert shown == task
    rows = list(csv.DictReader(io.StringIO(run("export", "--format", "csv", "--all").stdout)))
    assert [list(row) for row in rows] == [list(task) for task in streamed]
    assert [row["id"] for row in rows] == [task["id"] for task in streamed]
    assert {key for task in streamed for key, value in task.items() if value} == set(TASK_KEYS)


def test_each_column_of_a_task_is_in_its_public_shape_or_kept_out_of_it_on_purpose() -> None:
    """A column added to tasks must be added to TaskPublic too (and so to every view, export
    and import), or named here as internal."""
    internal = {"user_id"}  # the owner: who runs the command
    columns = set(Task.__table__.columns.keys())  # type: ignore[attr-defined]
    assert columns - set(PUBLIC_COLUMNS.values()) == internal
    assert set(PUBLIC_COLUMNS.values()) <= columns
    assert list(TaskPublic.model_fields) == TASK_KEYS


def test_export_of_nothing_is_an_empty_array(ada: User, run: Run) -> None:
    result = run("export")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "[]\n", "")


def test_csv_export_has_a_header_and_one_row_per_task(filled: None, run: Run) -> None:
    result = run("export", "--format", "csv", "--all")
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == TASK_KEYS
    assert [row["number"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0]["description"] == 'oat\nand "quotes", commas'
    assert (rows[1]["tags"], rows[1]["due"], rows[1]["completed"]) == (
        "home,money",
        "2031-04-15",
        "false",
    )
    assert rows[2]["title"] == "Grüße ✓ senden"
    tasks = exported(run, "--all")
    at = [[note["at"] for note in task["notes"]] for task in tasks]
    assert rows[0]["notes"] == (
        f'{at[0][0]} the shop, "round the corner"\n{at[0][1]} shut\\\\open'
    )  # one line per note: its moment, a space, its text escaped
    assert rows[1]["notes"] == f"{at[1][0]} a\\nb"
    assert (rows[2]["notes"], rows[3]["notes"]) == ("", "")


def test_export_to_a_file_replaces_it_only_when_complete(
    filled: None, run: Run, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    target = folder / "backup.json"
    target.write_text("previous backup")
    result = run("export", "--all", "-o", str(target))
    assert (result.exit_code, result.stdout) == (0, "")
    assert len(json.loads(target.read_text())) == 4
    assert [path.name for path in folder.iterdir()] == ["backup.json"]  # no temporary left

    target.write_text("previous backup")
    failed = run("--user", "nobody@example.com", "export", "-o", str(target))
    assert failed.exit_code == 1
    assert target.read_text() == "previous backup"  # a failed export leaves the old file
    assert [path.name for path in folder.iterdir()] == ["backup.json"]


def _peak_bytes_while_exporting(session: Session, user: User) -> tuple[int, int]:
    """(tasks exported, peak bytes allocated while they were read and dropped one by one)."""
    tracemalloc.start()
    try:
        count = sum(
            1 for _ in transfer.export_tasks(session=session, user=user, include_deleted=True)
        )
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_does_not_grow_with_the_number_of_tasks(ada: User, session: Session) -> None:
    """A deterministic stand-in for flat memory at a million tasks: four times the tasks must
    not take noticeably more memory to export (reading them all at once would take ~4x)."""
    add_plain_tasks(session, ada, 1, 3000)
    small = _peak_bytes_while_exporting(session, ada)
    add_plain_tasks(session, ada, 3001, 12000)
    large = _peak_bytes_while_exporting(session, ada)
    assert (small[0], large[0]) == (3000, 12000)
    assert large[1] < small[1] * 1.5, (small, large)
    assert not [held for held in session.identity_map.values() if isinstance(held, Task)]


# --------------------------------------------------------------------------------- import


def test_json_round_trip_is_lossless(
    filled: None, run: Run, session: Session, tmp_path: Path
) -> None:
    before = run("export", "--all").stdout
    backup = tmp_path / "backup.json"
    backup.write_text(before)
    wipe(session)
    assert exported(run, "--all") == []

    result = run("import", str(backup))
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Imported 4 tasks.\n", "")
    assert run("export", "--all").stdout == before  # ids, numbers, timestamps, tags, trash

    again = run("import", str(backup))
    assert again.stdout == "Imported 0 tasks (4 already there).\n"
    assert run("export", "--all").stdout == before

    assert run("add", "next").stdout == "Added task 5: next\n"  # the counter moved on


def test_import_into_another_database_and_back(filled: None, run: Run, tmp_path: Path) -> None:
    """From the backend under test to a new embedded file, and the same file back again."""
    before = run("export", "--all").stdout
    other = f"sqlite:///{tmp_path / 'other.db'}"
    moved = run(
        "--database-url", other, "--user", "ada@example.com", "user", "add", "ada@example.com"
    )
    assert moved.exit_code == 0
    piped = run("--database-url", other, "--user", "ada@example.com", "import", "-", input=before)
    assert piped.stdout == "Imported 4 tasks.\n"
    copy = run("--database-url", other, "--user", "ada@example.com", "export", "--all")
    assert copy.stdout == before


def test_json_lines_and_missing_fields(ada: User, run: Run, tmp_path: Path) -> None:
    lines = tmp_path / "tasks.jsonl"
    first, second = uuid.uuid4(), uuid.uuid4()
    lines.write_text(
        json.dumps(
            {"id": str(first), "title": "Only the basics", "created_at": "2026-01-02T03:04:05Z"}
        )
        + "\n\n"
        + json.dumps(
            {
                "id": str(second),
                "title": "Done, no moment",
                "created_at": "2026-01-02T03:04:05",
                "completed": True,
                "tags": ["Home"],
            }
        )
        + "\n"
    )
    assert run("import", str(lines)).stdout == "Imported 2 tasks.\n"
    [done] = exported(run)[1:]
    assert (done["number"], done["completed_at"], done["tags"]) == (
        2,
        "2026-01-02T03:04:05Z",
        ["home"],
    )


def test_numbers_are_kept_when_free_and_otherwise_follow(
    ada: User, run: Run, tmp_path: Path
) -> None:
    run("add", "mine one")
    run("add", "mine two")
    items = [
        {
            "id": str(uuid.uuid4()),
            "number": number,
            "title": f"in {number}",
            "created_at": "2026-01-01T00:00:00Z",
        }
        for number in (2, 7, None, 3)
    ]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(items))
    result = run("import", str(path))
    assert result.stdout == "Imported 4 tasks (1 renumbered: their numbers were taken).\n"
    assert [(task["number"], task["title"]) for task in exported(run)] == [
        (1, "mine one"),
        (2, "mine two"),
        (3, "in 3"),
        (7, "in 7"),
        (8, "in 2"),
        (9, "in None"),
    ]
    assert run("add", "after").stdout == "Added task 10: after\n"


BAD_FILES = [
    ('[{"id": 1,}]', "line 1: not valid JSON"),
    ('[\n{"title": "x", "created_at": "2026-01-01T00:00:00Z"}\n]', "line 2: id is missing."),
    (
        '[\n{"id": "%s", "title": "ok", "created_at": "2026-01-01T00:00:00Z"},\n'
        '{"id": "%s", "title": "  ", "created_at": "2026-01-01T00:00:00Z"}\n]',
        "line 3: title: the title must not be empty.",
    ),
    (
        '{"id": "%s", "title": "x", "created_at": "yesterday"}',
        "line 1: created_at must be a date and time",
    ),
    ("[1, 2]", "line 1: expected a task object, not a number."),
    (
        '{"id": "%s", "title": "ok", "created_at": "2026-01-01T00:00:00Z"}\n'
        '{"id": "%s", "title": "x", "created_at": "2026-01-01T00:00:00Z", "tags": ["a,b"]}',
        "line 2: tags: 'a,b' is not a valid tag",
    ),
    (
        '[{"id": "%s", "title": "x", "created_at": "2026-01-01T00:00:00Z"}] trailing',
        "line 1: unexpected text after the array.",
    ),
]


@pytest.mark.parametrize(("content", "message"), BAD_FILES)
def test_a_bad_file_names_the_line_and_imports_nothing(
    ada: User, run: Run, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    ids = tuple(str(uuid.uuid4()) for _ in range(content.count("%s")))
    path.write_text(content % ids)
    result = run("import", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: {path}, {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert exported(run, "--all") == []


def test_unreadable_files(ada: User, run: Run, tmp_path: Path) -> None:
    missing = run("import", str(tmp_path / "nope.json"))
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"Error: Cannot read {tmp_path / 'nope.json'}: No such file or directory.\n",
    )
    latin = tmp_path / "latin1.json"
    latin.write_bytes(b'[{"title": "caf\xe9"}]')
    wrong = run("import", str(latin))
    assert (wrong.exit_code, wrong.stderr) == (
        2,
        f"Error: {latin}: not UTF-8 text (byte 16 cannot be read).\n",
    )


def test_another_users_task_is_refused_and_nothing_imported(
    filled: None, run: Run, grace: User, tmp_path: Path
) -> None:
    path = tmp_path / "ada.json"
    path.write_text(run("export").stdout)
    result = run("--user", grace.email, "import", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Task ")
    assert result.stderr.endswith(" belongs to another user; nothing was imported.\n")
    assert json.loads(run("--user", grace.email, "export", "--all").stdout) == []


# ---------------------------------------------------------------------------- Taskwarrior


@pytest.fixture
def in_berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Berlin's, where the fixture's export was made (for the server too)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_taskwarrior_export_imports_every_status(ada: User, run: Run, in_berlin: None) -> None:
    every = json.loads(FIXTURE.read_text())
    items = [item for item in every if item["status"] != "recurring"]  # folded into its series
    result = run("import", "--from", "taskwarrior", str(FIXTURE))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"Imported {len(items)} tasks.\n"
    assert result.stderr.startswith("Not kept: ")
    for field in ("depends", "recurrence template"):
        assert f"{field} (" in result.stderr
    for kept in ("scheduled", "wait"):
        assert f"{kept} (" not in result.stderr

    tasks = {task["id"]: task for task in exported(run, "--all")}
    assert set(tasks) == {item["uuid"] for item in items}
    [template] = [item for item in every if item["status"] == "recurring"]
    for item in items:
        task = tasks[item["uuid"]]
        assert task["completed"] is (item.get("status") == "completed")
        assert task["deleted"] is (item.get("status") == "deleted")
        if item.get("parent"):  # one series: its id is the template's; the end is its too
            assert (task["series_id"], task["every"]) == (template["uuid"], "week")
            until = datetime.strptime(template["until"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            assert (task["iteration"], task["until"]) == (1, until.astimezone().date().isoformat())
        if "project" in item:
            assert f"project:{item['project'].lower()}" in task["tags"]
        if item.get("id"):
            assert task["number"] == item["id"]

    garden = tasks["3f2a9c41-7d0e-4b6a-9e58-1c2d3e4f5a61"]
    # Its due is a Berlin midnight: a whole day, and no due_at.
    assert (garden["due"], garden["due_at"]) == ("2026-03-14", None)
    assert garden["scheduled"] == "2026-03-06T23:00:00Z"
    waiting = [task for task in tasks.values() if task["wait"]]
    assert [(task["title"], task["wait"]) for task in waiting] == [
        ("Renew the passport", "2026-03-31T22:00:00Z")
    ]
    assert (garden["description"], garden["notes"]) == (
        None,
        [
            {
                "at": "2026-03-02T08:15:00Z",
                "text": "Ask Jonas whether we can borrow his long-reach pruner",
            },
            {
                "at": "2026-03-03T19:02:00Z",
                "text": "Cut back to outward-facing buds, no more than a third",
            },
        ],
    )

    again = run("import", "--from", "taskwarrior", str(FIXTURE))
    assert again.stdout == f"Imported 0 tasks ({len(items)} already there).\n"


def test_taskwarrior_json_lines_with_a_bad_item(ada: User, run: Run, tmp_path: Path) -> None:
    items = json.loads(FIXTURE.read_text())
    items[2]["priority"] = "X"
    path = tmp_path / "tw.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    result = run("import", "--from", "taskwarrior", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"Error: {path}, line 3: priority must be H, M or L, not 'X'.\n"
    assert exported(run, "--all") == []


def _taskwarrior_items(count: int) -> Iterator[str]:
    for n in range(1, count + 1):
        item = {
            "id": n,
            "uuid": str(uuid.UUID(int=n)),
            "description": f"task {n}",
            "status": "pending" if n % 4 else "completed",
            "entry": "20260101T090000Z",
            "modified": "20260102T090000Z",
            **({"end": "20260103T090000Z"} if n % 4 == 0 else {}),
            "priority": "HML"[n % 3],
            "tags": ["bulk", f"group{n % 10}"],
            "project": "Big.Import",
        }
        yield json.dumps(item)


@pytest.mark.in_process  # it counts the statements this process sends
def test_ten_thousand_taskwarrior_tasks_go_in_with_a_few_batched_statements(
    ada: User, run: Run, tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    path.write_text("[\n" + ",\n".join(_taskwarrior_items(10_000)) + "\n]\n")
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        result = run("import", "--from", "taskwarrior", str(path))
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    assert result.stdout == "Imported 10000 tasks.\n", result.stderr
    inserts = [text for text in statements if text.lstrip().upper().startswith("INSERT")]
    # Tasks and tags go in a batch of a thousand tasks at a time, not one statement per row.
    assert len(inserts) <= 2 * 10 * 2, len(inserts)
    assert len(statements) <= 80, len(statements)
    tasks = exported(run)
    assert len(tasks) == 10_000
    assert tasks[-1]["tags"] == ["bulk", "group0", "project:big.import"]


def test_progress_shows_on_a_terminal_only(filled: None, run: Run, tmp_path: Path) -> None:
    path = tmp_path / "all.json"
    path.write_text(run("export", "--all").stdout)
    quiet = run("import", str(path))
    assert quiet.stderr == ""  # off a terminal: nothing but what was asked for

    # With stderr on a real (pseudo-)terminal, the bar is drawn there; stdout stays clean.
    leader, follower = pty.openpty()
    try:
        shown = subprocess.run(
            [sys.executable, "-m", "sorted_cli", "import", str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**os.environ, "TERM": "xterm-256color"},
            timeout=60,
            check=False,
        )
        os.close(follower)
        drawn = read_until_closed(leader).decode()
    finally:
        os.close(leader)
    assert (shown.returncode, shown.stdout) == (0, b"Imported 0 tasks (4 already there).\n")
    assert "Importing" in drawn
    assert "4/4" in drawn


def test_a_reader_that_stops_early_ends_the_export_quietly(ada: User, session: Session) -> None:
    add_plain_tasks(session, ada, 1, 2500)
    export = subprocess.Popen(
        [sys.executable, "-m", "sorted_cli", "export"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert export.stdout is not None
    assert export.stdout.read(100).startswith(b'[\n{"id": ')  # as `head -c 100` would
    export.stdout.close()  # the reader goes away with most of the export unread
    _, stderr = export.communicate(timeout=60)
    assert (export.returncode, stderr) == (141, b"")


# ------------------------------------------------------------------ files that push limits


def _write_items(path: Path, *items: dict[str, Any]) -> Path:
    path.write_text(json.dumps(list(items), ensure_ascii=False, indent=0))
    return path


def _item(**fields: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "title": "x", "created_at": "2026-01-01T00:00:00Z", **fields}


def test_imported_notes_come_oldest_first_in_utc(ada: User, run: Run, tmp_path: Path) -> None:
    notes = [
        {"at": "2026-01-02T10:00:00+02:00", "text": " later "},
        {"at": "2026-01-01T09:00:00", "text": "first, no zone: UTC"},
        {"at": "2026-01-02T08:00:00Z", "text": "later, the same moment"},
    ]
    path = _write_items(tmp_path / "notes.json", _item(notes=notes))
    assert run("import", str(path)).stdout == "Imported 1 task.\n"
    assert exported(run)[0]["notes"] == [
        {"at": "2026-01-01T09:00:00Z", "text": "first, no zone: UTC"},
        {"at": "2026-01-02T08:00:00Z", "text": "later"},
        {"at": "2026-01-02T08:00:00Z", "text": "later, the same moment"},
    ]


def test_a_number_near_the_limit_is_not_kept_and_add_still_works(
    ada: User, run: Run, tmp_path: Path
) -> None:
    path = _write_items(tmp_path / "far.json", _item(number=2_147_483_647), _item(number=7))
    assert run("import", str(path)).stdout == (
        "Imported 2 tasks (1 renumbered: their numbers were taken).\n"
    )
    assert [task["number"] for task in exported(run)] == [7, 8]
    assert run("add", "after").stdout == "Added task 9: after\n"


def test_add_says_when_no_numbers_are_left(ada: User, run: Run, session: Session) -> None:
    from sqlalchemy import update

    session.execute(update(User).values(last_task_number=2_147_483_647))
    session.commit()
    result = run("add", "one too many")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: No task numbers are left: 2147483647 is the last one.\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", " is empty: expected a JSON array or JSON lines of tasks."),
        ("  \n", " is empty: expected a JSON array or JSON lines of tasks."),
        ('[{"id": 1' + "1" * 5000 + "}]", ", line 1: not JSON sorted can read (Exceeds the limit"),
        ("[" * 100_000, ", line 1: not JSON sorted can read (nested too deeply)."),
        (
            json.dumps(_item()) + "\n" + "[" * 100_000,
            ", line 2: not JSON sorted can read (nested too deeply).",
        ),
    ],
)
def test_files_json_cannot_hold_or_python_cannot_read_are_one_line_errors(
    ada: User, run: Run, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(text)
    result = run("import", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: {path}{message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "a\u0000b"}, "line 2: title: the title contains a NUL character (\\u0000)."),
        (
            {"description": "\ud800"},
            "line 2: description: the description contains a lone surrogate",
        ),
        (
            {"created_at": "0001-01-01T00:00:00+01:00"},
            "line 2: created_at: 0001-01-01T00:00:00+01:00 is out of range.",
        ),
    ],
)
def test_values_no_database_can_store_are_refused_by_line(
    ada: User, run: Run, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text("[\n" + json.dumps(_item(**fields)) + "\n]\n")  # escapes: \u0000, \ud800
    result = run("import", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: {path}, {message}"), result.stderr
    assert exported(run, "--all") == []


def test_a_uuid_twice_in_one_file_names_both_lines(ada: User, run: Run, tmp_path: Path) -> None:
    first = _item(title="first")
    path = tmp_path / "twice.jsonl"
    path.write_text(
        "\n".join(json.dumps(item) for item in (first, _item(), {**first, "title": "again"}))
    )
    result = run("import", str(path))
    assert (result.exit_code, result.stderr) == (
        2,
        f"Error: {path}, line 3: task {first['id']} is also on line 1.\n",
    )
    assert exported(run, "--all") == []


def test_json_lines_split_on_newlines_only(ada: User, run: Run, tmp_path: Path) -> None:
    odd = "\u2028 \u2029 \x85 \x0b \x0c \x1c"  # line breaks to str.splitlines, not to JSON
    path = tmp_path / "odd.jsonl"
    path.write_text(
        json.dumps(_item(title=f"a{odd}b"), ensure_ascii=False)
        + "\n"
        + json.dumps(_item(title=""))
        + "\n"
    )
    result = run("import", str(path))
    assert result.stderr == f"Error: {path}, line 2: title: the title must not be empty.\n"
    path.write_text(json.dumps(_item(title=f"a{odd}b"), ensure_ascii=False) + "\n")
    assert run("import", str(path)).stdout == "Imported 1 task.\n"
    assert exported(run)[0]["title"] == f"a{odd}b"


def test_fields_sorted_does_not_know_are_reported(ada: User, run: Run, tmp_path: Path) -> None:
    path = _write_items(tmp_path / "typo.json", _item(tag=["home"]), _item(tag=["x"], colour="red"))
    result = run("import", str(path))
    assert (result.stdout, result.stderr) == (
        "Imported 2 tasks.\n",
        "Not kept: colour (1 task), tag (2 tasks).\n",
    )


# ------------------------------------------------------------------------ where -o writes


def test_export_to_a_symlink_replaces_its_file_and_keeps_its_mode(
    filled: None, run: Run, tmp_path: Path
) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    real.chmod(0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    assert run("export", "-o", str(link)).exit_code == 0
    assert link.is_symlink()
    assert len(json.loads(real.read_text())) == 3
    assert real.stat().st_mode & 0o777 == 0o640


def test_export_to_a_fifo_writes_into_it(filled: None, run: Run, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    result = run("export", "-o", str(fifo))
    out, _ = reader.communicate(timeout=30)
    assert result.exit_code == 0
    assert fifo.exists()  # still the FIFO, not replaced by a file
    assert len(json.loads(out)) == 3


def test_import_from_a_terminal_says_to_pipe_a_file(ada: User) -> None:
    leader, follower = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sorted_cli", "import", "-"],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(leader)
        os.close(follower)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "Error: `sorted import -` reads a piped file: sorted import - < FILE.\n"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": None}, "title must be text, not null."),
        ({"title": 5}, "title must be text, not a number."),
        ({"title": ["x"]}, "title must be text, not a list."),
        ({"description": {"a": 1}}, "description must be text, not an object."),
        (
            {"priority": "urgent"},
            "priority must be 'none', 'low', 'medium' or 'high', not 'urgent'.",
        ),
        ({"priority": 3}, "priority must be 'none', 'low', 'medium' or 'high', not a number."),
        ({"number": "abc"}, "number must be a whole number, not 'abc'."),
        ({"number": 1.5}, "number must be a whole number, not 1.5."),
        ({"number": 0}, "number must be at least 1."),
        ({"number": 2**31}, "number must be at most 2147483647."),
        ({"completed": "maybe"}, "completed must be true or false, not 'maybe'."),
        ({"deleted": None}, "deleted must be true or false, not null."),
        ({"due": "tomorrow"}, "due must be a date (YYYY-MM-DD), not 'tomorrow'."),
        ({"due": 5}, "due must be a date (YYYY-MM-DD), not a number."),
        (
            {"created_at": "yesterday"},
            "created_at must be a date and time (such as 2026-01-01T09:30:00Z), not 'yesterday'.",
        ),
        (
            {"created_at": None},
            "created_at must be a date and time (such as 2026-01-01T09:30:00Z), not null.",
        ),
        ({"tags": 5}, "tags must be a list, not a number."),
        ({"tags": [5]}, "tags.0 must be text, not a number."),
        ({"notes": "x"}, "notes must be a list, not 'x'."),
        ({"notes": [{"text": "x"}]}, "notes.0.at is missing."),
        (
            {"notes": [{"at": "2026-01-01T00:00:00Z", "text": " "}]},
            "notes.0.text: the note must not be empty.",
        ),
        (
            {"notes": [{"at": "soon", "text": "x"}]},
            "notes.0.at must be a date and time (such as 2026-01-01T09:30:00Z), not 'soon'.",
        ),
        ({"id": "nope"}, "id must be a UUID, not 'nope'."),
        ({"id": 5}, "id must be a UUID, not a number."),
        ({"title": None, "id": None}, "id must be a UUID, not null."),
    ],
)
def test_a_field_of_the_wrong_kind_is_named_in_words(
    ada: User, run: Run, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{json.dumps(_item())}\n{json.dumps(_item(**fields))}\n")
    result = run("import", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: {path}, line 2: {message}\n",
    )
    assert exported(run, "--all") == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (None, "expected a task object, not null."),
        (5, "expected a task object, not a number."),
        ("task", "expected a task object, not 'task'."),
        ([], "expected a task object, not a list."),
    ],
)
@pytest.mark.parametrize("source", ["sorted", "taskwarrior"])
def test_an_item_that_is_not_an_object_is_named_in_words(
    ada: User, run: Run, tmp_path: Path, item: object, message: str, source: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([item]))
    result = run("import", "--from", source, str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: {path}, line 1: {message}\n",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"description": 5}, "description must be text, not a number."),
        ({"status": None, "description": None}, "description is missing."),
        (
            {"status": 5},
            "status must be pending, waiting, completed, deleted or recurring, not a number.",
        ),
        (
            {"status": "done"},
            "status must be pending, waiting, completed, deleted or recurring, not 'done'.",
        ),
        ({"project": ["a"]}, "project must be text, not a list."),
        ({"tags": {"a": 1}}, "tags must be a list of tags, not an object."),
        ({"priority": 1}, "priority must be H, M or L, not a number."),
        ({"entry": 20260101}, "entry must be a Taskwarrior date (YYYYMMDDTHHMMSSZ), not a number."),
        ({"annotations": "note"}, "annotations must be a list of objects, not 'note'."),
        (
            {"annotations": [{"entry": "20260101T090000Z", "description": None}]},
            "annotations: description must be text, not null.",
        ),
    ],
)
def test_a_taskwarrior_field_of_the_wrong_kind_is_named_in_words(
    ada: User, run: Run, tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    item = {"uuid": str(uuid.uuid4()), "description": "x", "entry": "20260101T090000Z", **fields}
    path = tmp_path / "tw.json"
    path.write_text(json.dumps([{k: v for k, v in item.items() if v is not None}]))
    result = run("import", "--from", "taskwarrior", str(path))
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"Error: {path}, line 1: {message}\n",
    )


def test_an_export_to_a_new_file_is_owner_only_and_a_replaced_file_keeps_its_mode(
    filled: None, run: Run, tmp_path: Path
) -> None:
    fresh = tmp_path / "fresh.json"
    old_umask = os.umask(0o022)
    try:
        assert run("export", "-o", str(fresh)).exit_code == 0
        assert fresh.stat().st_mode & 0o777 == 0o600  # the same data as the database (0600)
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        kept.chmod(0o640)
        assert run("export", "-o", str(kept)).exit_code == 0
        assert kept.stat().st_mode & 0o777 == 0o640
        assert len(json.loads(kept.read_text())) == 3
    finally:
        os.umask(old_umask)


@pytest.mark.usefixtures("mounts")
def test_an_import_with_no_room_for_its_stage_says_so_and_imports_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sorted.db"
    database_with_tasks(path, 1)
    file = tmp_path / "big.json"
    with file.open("w") as out:
        for n in range(20_000):
            item = {"id": str(uuid.uuid4()), "title": f"task {n}", "created_at": "2030-01-01"}
            out.write(json.dumps(item) + "\n")
    small = tmp_path / "small"
    small.mkdir()
    where = shlex.quote(str(small))
    setup = f"mount -t tmpfs -o size=512k tmpfs {where}\nexport TMPDIR={where}"
    assert outcome(run_in_a_mount_namespace(setup, path, "import", str(file))) == (
        1,
        "",
        f"Error: No space left for the import's working copy in TMPDIR={small}: "
        "nothing was imported; set TMPDIR to a folder with room.\n",
    )
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM tasks").fetchone() == (1,)
