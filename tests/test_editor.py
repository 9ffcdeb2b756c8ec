"""`sorted edit REF` alone: the task as a form in the user's editor ($VISUAL, $EDITOR).

The editors are real programs the tests write: small Python scripts that change the form as a
person would, fail, leave it as it was, or change the task in the database meanwhile.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import SORTED, Run, read_until_closed, use_command_server
from sqlmodel import Session, col, select

from sorted_cli.models import TaskChange, User
from sorted_cli.process import opens_an_editor

FORM = (
    "# Editing task 1. Change the values after the colons, then save and quit.\n"
    "# An empty value removes it (the title cannot be empty); keep every key's line.\n"
    "# Dates are local: 2026-12-04, friday, tomorrow 9:30 (a time is optional).\n"
    "# Tags are separated by spaces. More lines of the description start with two spaces.\n"
    "# Lines starting with # are left out. Quit without saving to change nothing.\n"
)


def editor(folder: Path, name: str, body: str) -> str:
    """A program that edits the form: Python BODY, with `path` the form's file, `text` what
    it holds, `runs` how many times this editor ran before (counted in a file beside it)."""
    script = folder / f"{name}.py"
    count = folder / f"{name}.runs"
    script.write_text(
        "import pathlib, subprocess, sys\n"
        f"count = pathlib.Path({str(count)!r})\n"
        "runs = int(count.read_text()) if count.exists() else 0\n"
        "count.write_text(str(runs + 1))\n"
        "path = pathlib.Path(sys.argv[-1])\n"
        "text = path.read_text()\n"
        f"{body}\n"
    )
    return f"{sys.executable} {script}"


def runs(folder: Path, name: str) -> int:
    count = folder / f"{name}.runs"
    return int(count.read_text()) if count.exists() else 0


def shown(run: Run, ref: str = "1") -> dict[str, object]:
    result = run("show", ref, "--json")
    assert result.exit_code == 0, result.output
    task: dict[str, object] = json.loads(result.stdout)
    return task


def ok(result: object, stdout: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (0, stdout, "")  # type: ignore[attr-defined]


def fails(result: object, code: int, message: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (code, "", f"Error: {message}\n")  # type: ignore[attr-defined]


@pytest.fixture
def edits(tmp_path: Path) -> Path:
    folder = tmp_path / "editors"
    folder.mkdir()
    return folder


def add_milk(run: Run) -> dict[str, object]:
    added = run("add", "Buy milk", "+shop", "due:2026-12-04", "pri:h", "-d", "From the shop")
    assert added.exit_code == 0, added.output
    return shown(run)


def test_the_form_shows_the_task_and_a_saved_change_is_one_undoable_edit(
    ada: User, run: Run, session: Session, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = add_milk(run)
    seen = edits / "seen.txt"
    body = (
        f"pathlib.Path({str(seen)!r}).write_text(text)\n"
        "text = text.replace('Title: Buy milk', 'Title: Buy oat milk')\n"
        "text = text.replace('Priority: high', 'Priority: l')\n"
        "text = text.replace('Due: 2026-12-04', 'Due: 2027-01-05 17:00')\n"
        "text = text.replace('Tags: shop', 'Tags: +errand shop')\n"
        "text = text.replace('Description: From the shop', 'Description: Oat\\n  or soy')\n"
        "path.write_text(text)"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "change", body))
    ok(run("edit", "1"), "Updated task 1: Buy oat milk\n")
    assert seen.read_text() == FORM + (
        "Title: Buy milk\n"
        "Priority: high\n"
        "Due: 2026-12-04\n"
        "Wait:\nScheduled:\n"
        "Tags: shop\n"
        "Every:\nUntil:\nTimes:\n"
        "Description: From the shop\n"
    )
    after = shown(run)
    assert {key: after[key] for key in ("title", "priority", "due", "tags", "description")} == {
        "title": "Buy oat milk",
        "priority": "low",
        "due": "2027-01-05",
        "tags": ["errand", "shop"],
        "description": "Oat\nor soy",
    }
    assert after["due_at"] is not None
    rows = session.exec(select(TaskChange).where(col(TaskChange.action) == "edit")).all()
    assert len(rows) == 1
    assert set(rows[0].after or {}) == {"title", "priority", "due", "due_at", "tags", "description"}
    ok(run("undo"), "Undid edit of task 1: Buy milk\n")
    undone = shown(run)
    assert {**undone, "updated_at": "T"} == {**before, "updated_at": "T"}


def test_a_multi_line_description_and_a_time_are_shown_as_they_read_back(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = run("add", "Call", "due:2026-12-04 09:30", "wait:2026-12-01", "-d", "a\nb")
    assert added.exit_code == 0, added.output
    seen = edits / "seen.txt"
    monkeypatch.setenv(
        "EDITOR", editor(edits, "look", f"pathlib.Path({str(seen)!r}).write_text(text)")
    )
    ok(run("edit", "1"), "Nothing changed.\n")
    form = seen.read_text().removeprefix(FORM)
    assert form.splitlines()[1:4] == ["Priority:", "Due: 2026-12-04 09:30", "Wait: 2026-12-01"]
    assert form.endswith("Description: a\n  b\n")


def test_a_form_saved_unchanged_changes_nothing(
    ada: User, run: Run, session: Session, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = add_milk(run)
    monkeypatch.setenv("EDITOR", editor(edits, "same", "path.write_text(text)"))
    ok(run("edit", "1"), "Nothing changed.\n")
    assert shown(run) == before
    # Saved with only comments and spacing changed: nothing that counts.
    monkeypatch.setenv("EDITOR", editor(edits, "spaces", "path.write_text('# hi\\n' + text)"))
    ok(run("edit", "1"), "Nothing changed.\n")
    assert shown(run) == before
    assert session.exec(select(TaskChange).where(col(TaskChange.action) == "edit")).all() == []


def test_an_editor_that_fails_changes_nothing(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = add_milk(run)
    command = editor(
        edits, "fail", "path.write_text(text.replace('Buy milk', 'Sell milk'))\nsys.exit(1)"
    )
    monkeypatch.setenv("EDITOR", command)
    fails(
        run("edit", "1"),
        1,
        f"The editor {sys.executable!r} exited with code 1; nothing changed.",
    )
    assert shown(run) == before


def test_an_editor_that_cannot_start_is_one_line(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    monkeypatch.setenv("EDITOR", "/nonexistent/editor --wait")
    fails(
        run("edit", "1"),
        1,
        "Cannot run the editor '/nonexistent/editor': No such file or directory; nothing "
        "changed (set VISUAL or EDITOR).",
    )


def test_an_invalid_form_opens_again_with_the_error_on_top(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    second = edits / "second.txt"
    body = (
        "if runs == 0:\n"
        "    path.write_text(text.replace('Due: 2026-12-04', 'Due: someday'))\n"
        "else:\n"
        f"    pathlib.Path({str(second)!r}).write_text(text)\n"
        "    path.write_text(text.replace('Due: someday', 'Due: 2026-12-24'))"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "twice", body))
    ok(run("edit", "1"), "Updated task 1: Buy milk\n")
    assert runs(edits, "twice") == 2
    lines = second.read_text().splitlines()
    assert lines[0].startswith("# Error: Invalid date 'someday': ")
    assert lines[1] == "# Correct the form and save again; quit without saving to change nothing."
    assert "Due: someday" in lines
    assert shown(run)["due"] == "2026-12-24"


def test_a_deleted_line_or_an_unknown_key_is_refused_and_the_form_opens_again(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    errors = edits / "errors.txt"
    body = (
        f"log = pathlib.Path({str(errors)!r})\n"
        "log.write_text((log.read_text() if log.exists() else '') + text.splitlines()[0] + '\\n')\n"
        "if runs == 0:\n"
        "    path.write_text(text.replace('Due: 2026-12-04\\n', '').replace('Buy', 'Get'))\n"
        "elif runs == 1:\n"
        "    path.write_text(text + 'Colour: red\\n')\n"
        "elif runs == 2:\n"
        "    path.write_text(text.replace('Colour: red\\n', 'Due:\\n'))\n"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "keys", body))
    ok(run("edit", "1"), "Updated task 1: Get milk\n")
    assert errors.read_text().splitlines()[1:] == [
        "# Error: The line of Due is missing: keep every key's line (an empty value removes it).",
        "# Error: Unknown key 'Colour' on line 17: the keys are Title, Priority, Due, Wait, "
        "Scheduled, Tags, Every, Until, Times, Description.",
    ]
    task = shown(run)
    assert (task["title"], task["due"]) == ("Get milk", None)


def test_an_empty_title_is_refused_and_quitting_then_changes_nothing(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = add_milk(run)
    body = "if runs == 0:\n    path.write_text(text.replace('Title: Buy milk', 'Title:'))"
    monkeypatch.setenv("EDITOR", editor(edits, "untitled", body))
    # The second time it saved nothing: given up on, as a question answered no.
    result = run("edit", "1")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        "Nothing changed (the form had an error).\n",
    )
    assert runs(edits, "untitled") == 2
    assert shown(run) == before


def test_empty_values_remove_what_they_name(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    body = (
        "for key in ('Priority', 'Due', 'Tags', 'Description'):\n"
        "    text = '\\n'.join(key + ':' if line.startswith(key + ':') else line\n"
        "                      for line in text.splitlines()) + '\\n'\n"
        "path.write_text(text)"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "clear", body))
    ok(run("edit", "1"), "Updated task 1: Buy milk\n")
    task = shown(run)
    assert (task["priority"], task["due"], task["tags"], task["description"]) == (
        "none",
        None,
        [],
        None,
    )


def test_a_task_changed_while_the_editor_was_open_is_not_overwritten(
    ada: User, run: Run, session: Session, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    body = (
        f"subprocess.run([{str(SORTED)!r}, 'edit', '1', '--title', 'Changed meanwhile'],"
        " check=True, stdout=subprocess.DEVNULL)\n"
        "path.write_text(text.replace('Priority: high', 'Priority: low')"
        ".replace('Title: Buy milk', 'Title: From the form'))"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "race", body))
    fails(
        run("edit", "1"),
        1,
        "Task 1 changed while it was open in the editor; nothing was saved: run "
        "`sorted edit 1` again.",
    )
    task = shown(run)
    assert (task["title"], task["priority"]) == ("Changed meanwhile", "high")
    rows = session.exec(select(TaskChange).where(col(TaskChange.action) == "edit")).all()
    assert len(rows) == 1  # the option path's edit only


def test_visual_comes_before_editor_and_its_words_are_split(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    visual = editor(
        edits, "visual", "path.write_text(text.replace('Buy milk', sys.argv[1] + ' milk'))"
    )
    monkeypatch.setenv("VISUAL", f"{visual} 'Fetch the'")
    monkeypatch.setenv("EDITOR", editor(edits, "plain", "sys.exit(3)"))
    ok(run("edit", "1"), "Updated task 1: Fetch the milk\n")
    assert runs(edits, "plain") == 0
    monkeypatch.setenv("VISUAL", "")  # empty: as if unset
    fails(
        run("edit", "1"), 1, f"The editor {sys.executable!r} exited with code 3; nothing changed."
    )


def test_a_task_in_the_trash_is_not_opened(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    assert run("delete", "1").exit_code == 0
    monkeypatch.setenv("EDITOR", editor(edits, "never", "path.write_text(text)"))
    fails(run("edit", "1"), 1, "Task 1 is in the trash: `sorted restore 1` first.")
    assert runs(edits, "never") == 0


def test_options_still_edit_without_an_editor(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    monkeypatch.setenv("EDITOR", editor(edits, "never", "sys.exit(1)"))
    ok(run("edit", "1", "--no-due"), "Updated task 1: Buy milk\n")
    ok(run("edit", "1", "Get", "milk"), "Updated task 1: Get milk\n")
    ok(run("edit", "--tag", "shop", "-p", "low"), "Updated task 1: Get milk\n")
    # The editor takes one task; filters alone are an edit with nothing to change.
    fails(
        run("edit", "1-2"),
        2,
        "The editor takes one task at a time: `sorted edit N`, or give 1-2 what to change "
        "(sorted edit 1-3 due:friday).",
    )
    assert run("edit", "--tag", "shop").exit_code == 2
    assert runs(edits, "never") == 0


@pytest.mark.parametrize(
    ("args", "opens"),
    [
        (["edit", "3"], True),
        (["--user", "ada@example.com", "edit", "3"], True),
        (["-u", "edit", "edit", "3"], True),
        (["edit", "3", "--"], True),
        (["edit", "3", "--title", "x"], False),
        (["edit", "3", "--", "x"], False),
        (["edit", "3", "due:friday"], False),
        (["edit", "--help"], False),
        (["edit"], False),
        (["--user", "edit", "list"], False),
        (["show", "3"], False),
    ],
)
def test_only_edit_with_a_ref_alone_opens_an_editor(args: list[str], opens: bool) -> None:
    assert opens_an_editor(args) is opens


def _take_the_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def test_with_the_server_on_the_editor_runs_on_the_users_terminal(
    ada: User,
    command_server: Path,
    edits: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SORTED_SERVER=require sends every other command to the server: this one runs where the
    terminal is, and the editor gets it as its stdin, stdout and stderr."""
    use_command_server(command_server, monkeypatch)
    env = dict(os.environ)
    assert subprocess.run([str(SORTED), "add", "Buy milk"], env=env, check=False).returncode == 0
    body = (
        "import os\n"
        "ttys = [os.isatty(n) for n in (0, 1, 2)]\n"
        "os.write(1, f'editor on a terminal: {ttys}\\n'.encode())\n"
        "path.write_text(text.replace('Buy milk', 'Buy oat milk'))"
    )
    env["EDITOR"] = editor(edits, "tty", body)
    assert in_a_terminal(["edit", "1"], env) == (
        0,
        "editor on a terminal: [True, True, True]\nUpdated task 1: Buy oat milk\n",
    )


def in_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """`sorted ARGS` run on a terminal of its own (a pty): its exit status and all it wrote."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [str(SORTED), *args],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            env=env,
            start_new_session=True,
            preexec_fn=_take_the_terminal,
        )
    finally:
        os.close(follower)
    try:
        process.wait(timeout=60)
        output = read_until_closed(leader).decode()
    finally:
        os.close(leader)
    return process.returncode, output.replace("\r\n", "\n")


def test_the_form_is_a_named_file_in_a_private_folder_removed_afterwards(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    where = edits / "where.txt"
    body = (
        "import os, stat\n"
        "mode = stat.S_IMODE(os.stat(path.parent).st_mode)\n"
        f"pathlib.Path({str(where)!r}).write_text(f'{{path}}\\n{{mode:o}}\\n')"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "where", body))
    ok(run("edit", "1"), "Nothing changed.\n")
    form, mode = where.read_text().splitlines()
    assert (Path(form).name, mode) == ("sorted-task-1.txt", "700")
    assert not Path(form).parent.exists()


def test_a_form_the_editor_removed_changes_nothing(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = add_milk(run)
    monkeypatch.setenv("EDITOR", editor(edits, "remove", "path.unlink()"))
    fails(
        run("edit", "1"),
        1,
        "Cannot read the form back (No such file or directory); nothing changed.",
    )
    assert shown(run) == before


def test_without_visual_or_editor_it_is_vi(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_milk(run)
    folder = edits / "bin"
    folder.mkdir()
    vi = folder / "vi"
    vi.write_text(
        f"#!{sys.executable}\n"
        "import pathlib, sys\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "path.write_text(path.read_text().replace('Buy milk', 'Milk from vi'))\n"
    )
    vi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    # Off a terminal nothing could answer vi: no editor is started.
    fails(
        run("edit", "1"),
        2,
        "No editor to open: VISUAL and EDITOR are not set, and vi needs a terminal. Say what "
        "to change instead: sorted edit 3 --title TEXT, or due:friday.",
    )
    assert shown(run)["title"] == "Buy milk"
    assert in_a_terminal(["edit", "1"], dict(os.environ)) == (0, "Updated task 1: Milk from vi\n")


def test_a_title_with_line_breaks_goes_on_over_more_lines_and_reads_back(
    ada: User, run: Run, edits: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("add", "Call the bank\nabout the card").exit_code == 0
    seen = edits / "seen.txt"
    body = (
        f"pathlib.Path({str(seen)!r}).write_text(text)\n"
        "path.write_text('\\ufeff' + text.replace('Priority:', 'Priority: high'))"
    )
    monkeypatch.setenv("EDITOR", editor(edits, "priority", body))
    ok(run("edit", "1"), "Updated task 1: Call the bank\\nabout the card\n")  # escaped
    assert "Title: Call the bank\n  about the card\nPriority:\n" in seen.read_text()
    task = shown(run)
    assert (task["title"], task["priority"]) == ("Call the bank\nabout the card", "high")
