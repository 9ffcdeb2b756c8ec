"""Tags, the filters of `sorted list`, what scripts get from a pipe, and `sorted stats`."""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import tracemalloc
from datetime import UTC, date, datetime, timedelta

import pytest
import typer
from conftest import Run, add_plain_tasks, read_until_closed
from rich.cells import cell_len
from sqlalchemy import event, update
from sqlmodel import Session, col

from sorted_cli.choices import Priority
from sorted_cli.cli.app import app
from sorted_cli.dates import local_midnight
from sorted_cli.models import Task, User
from sorted_cli.services import tasks
from sorted_cli.services.stats import week_starts


def numbers(result: object) -> list[int]:
    """The task numbers of piped `sorted list` output (its first column)."""
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    return [int(row.split("\t")[0]) for row in result.stdout.splitlines()]  # type: ignore[attr-defined]


def listed(run: Run, *args: str) -> list[int]:
    return numbers(run("list", *args))


# ----------------------------------------------------------------------------------- tags


def test_tags_are_given_on_add_normalised_and_shown(ada: User, run: Run) -> None:
    added = run("add", "Call mum", "--tag", "Family", "--tag", " phone ", "--tag", "+family")
    assert (added.exit_code, added.stdout) == (0, "Added task 1: Call mum (+family, +phone)\n")
    assert run("add", "Plant +tomatoes on @home").exit_code == 0  # titles stay literal
    [first, second] = json.loads(run("list", "--json").stdout)
    assert first["tags"] == ["family", "phone"]
    assert (second["title"], second["tags"]) == ("Plant +tomatoes on @home", [])
    assert json.loads(run("show", "1", "--json").stdout)["tags"] == ["family", "phone"]
    assert run("list").stdout.splitlines()[0].split("\t")[5] == "family,phone"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Home", "home"),
        ("+Big  Job", "big-job"),
        ("ＡＢＣ", "abc"),  # full width  # noqa: RUF001
        ("Straße", "strasse"),
        ("e\u0301cole", "\u00e9cole"),  # a combining accent, composed
        ("@Home", "@home"),
        ("project:Home.Garden", "project:home.garden"),
        ("हिंदी", "हिंदी"),  # letters with combining vowel signs and a nasal mark
        ("தமிழ்", "தமிழ்"),  # a virama
        ("İstanbul", "i\u0307stanbul"),  # İ folds to i and a combining dot above
        ("ῼδή", "ωιδή"),
        ("Ⅻ", "xii"),
        ("می\u200cخواهم", "می\u200cخواهم"),  # Persian, with a zero-width non-joiner  # noqa: RUF001
        ("ക്\u200dക", "ക്\u200dക"),  # Malayalam: a zero-width joiner
    ],
)
def test_tags_are_normalised(ada: User, run: Run, typed: str, stored: str) -> None:
    assert run("add", "x", "--tag", typed).exit_code == 0
    assert json.loads(run("show", "1", "--json").stdout)["tags"] == [stored]
    assert listed(run, "--tag", typed) == [1]


def test_tag_and_untag_say_what_changed_and_repeat_harmlessly(ada: User, run: Run) -> None:
    run("add", "Call mum", "--tag", "family")
    result = run("tag", "1", "Work", "car pool")
    assert (result.exit_code, result.stdout) == (
        0,
        "Tagged task 1 +car-pool +work: Call mum (tags: car-pool, family, work)\n",
    )
    assert run("tag", "1", "work").stdout == "Task 1 already has +work: Call mum\n"
    assert run("untag", "1", "work", "car-pool").stdout == (
        "Untagged task 1 +car-pool +work: Call mum (tags: family)\n"
    )
    assert run("untag", "1", "work").stdout == "Task 1 has none of +work: Call mum\n"
    assert run("untag", "1", "family").stdout == (
        "Untagged task 1 +family: Call mum (no tags left)\n"
    )
    assert json.loads(run("show", "1", "--json").stdout)["tags"] == []


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["tag", "1", "a,b"], 2, "Invalid tag: 'a,b' is not a valid tag"),
        (["tag", "1", "x" * 65], 2, "Invalid tag: the tag 'xxx"),
        (["tag", "1", "  "], 2, "Invalid tag: a tag must not be empty."),
        (["add", "y", "--tag", "-x"], 2, "Invalid tag: '-x' is not a valid tag"),
        (["tag", "9", "home"], 1, "No task 9."),
        (["list", "--tag", "a b c/d,"], 2, "Invalid tag: "),
    ],
)
def test_bad_tags_are_one_line_errors_and_change_nothing(
    ada: User, run: Run, args: list[str], code: int, message: str
) -> None:
    run("add", "x", "--tag", "keep")
    result = run(*args)
    assert (result.exit_code, result.stdout) == (code, "")
    assert result.stderr.startswith(f"Error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert json.loads(run("list", "--json").stdout)[0]["tags"] == ["keep"]
    assert len(json.loads(run("list", "--json").stdout)) == 1


def test_a_task_in_the_trash_must_be_restored_before_tagging(ada: User, run: Run) -> None:
    run("add", "x")
    run("delete", "1")
    result = run("tag", "1", "home")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: Task 1 is in the trash: `sorted restore 1` first.\n",
    )


def test_tags_are_per_user(ada: User, grace: User, run: Run) -> None:
    run("add", "mine", "--tag", "home")
    run("--user", grace.email, "add", "hers", "--tag", "home")
    assert listed(run, "--tag", "home") == [1]
    assert json.loads(run("--user", grace.email, "list", "--json").stdout)[0]["title"] == "hers"


# -------------------------------------------------------------------------------- filters


@pytest.fixture
def spread(ada: User, run: Run) -> date:
    """Eight tasks with every kind of attribute a filter looks at; returns today."""
    today = date.today()
    day = timedelta(days=1)
    for args in (
        ["Pay rent", "-p", "high", "--due", (today - day).isoformat(), "--tag", "home"],
        ["Book flights", "-p", "high", "--due", today.isoformat(), "--tag", "travel"],
        [
            "Write ÜBER report",
            "-p",
            "medium",
            "--due",
            (today + 3 * day).isoformat(),
            "--tag",
            "work",
        ],
        ["Buy MILK", "-d", "oat, two litres", "--tag", "home", "--tag", "errands"],
        ["Fix bike", "-p", "low", "--tag", "errands"],
        ["Old chore", "--due", (today - 9 * day).isoformat(), "--tag", "home"],
        ["Call mum", "-d", "about the MILK order", "-p", "medium"],
        ["Ship it", "-p", "high", "--tag", "work", "--tag", "home"],
    ):
        assert run("add", *args).exit_code == 0
    assert run("done", "6").exit_code == 0  # completed and overdue: never "overdue"
    return today


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [1, 2, 3, 4, 5, 7, 8]),
        (["--tag", "home"], [1, 4, 8]),
        (["--tag", "HOME", "--tag", "work"], [8]),  # all the tags given
        (["--tag", "nobody-uses-this"], []),
        (["--priority", "high"], [1, 2, 8]),
        (["-p", "low", "-p", "medium"], [3, 5, 7]),  # any of the priorities given
        (["--overdue"], [1]),
        (["--today"], [2]),
        (["--due-before", "tomorrow"], [1, 2]),
        (["--search", "milk"], [4, 7]),  # title or description, any case
        (["--search", "über"], [3]),  # any case beyond ASCII too
        (["--search", "MILK", "--tag", "errands"], [4]),
        (["--tag", "home", "--priority", "high", "--overdue"], [1]),
        (["--all", "--tag", "home"], [1, 4, 6, 8]),
        (["--all", "--overdue"], [1]),
        (["--completed", "--tag", "home"], [6]),
        (["--sort", "due"], [6, 1, 2, 3, 4, 5, 7, 8][1:]),  # due first, then no due by number
        (["--sort", "priority", "--tag", "home"], [1, 8, 4]),
    ],
)
def test_filters_combine_and_sort(
    spread: date, run: Run, args: list[str], expected: list[int]
) -> None:
    assert listed(run, *args) == expected


def test_completed_since_lists_completed_tasks(spread: date, run: Run, session: Session) -> None:
    run("done", "2", "3")
    earlier = datetime.now(UTC) - timedelta(days=20)
    session.exec(update(Task).where(col(Task.number) == 3).values(completed_at=earlier))
    session.commit()
    assert listed(run, "--completed-since", "today") == [2, 6]  # the completed view
    assert listed(run, "--completed-since", "30d") == [2, 3, 6]
    assert listed(run, "--completed-since", (date.today() - timedelta(days=30)).isoformat()) == [
        2,
        3,
        6,
    ]
    assert listed(run, "--all", "--completed-since", "1w") == [2, 6]
    assert listed(run, "--deleted", "--completed-since", "1w") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--overdue", "--today"], "Choose one of --overdue and --today: no task is both."),
        (["--due-before", "soon"], "Invalid date 'soon': use YYYY-MM-DD"),
        (["--completed-since", "later"], "Invalid date 'later': use YYYY-MM-DD"),
        (["--completed-since", "0001-01-01"], "Invalid date 0001-01-01: out of range."),
    ],
)
def test_bad_filters_are_usage_errors(ada: User, run: Run, args: list[str], message: str) -> None:
    result = run("list", *args)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"Error: {message}")


def test_list_is_one_statement_whatever_the_filters(
    spread: date, ada: User, session: Session
) -> None:
    """Filtering, sorting, limiting and the tags of each task all happen in the database."""
    statements: list[str] = []
    engine = session.get_bind()
    listen = event.listens_for(engine, "before_cursor_execute")

    @listen
    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    query = tasks.TaskQuery(tags=("home",), priorities=(Priority.high,), overdue=True)
    try:
        page = tasks.list_tasks(session=session, user=ada, query=query)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert [task.number for task in page.tasks] == [1]
    assert page.tags_of(page.tasks[0]) == ["home"]
    [statement] = [text for text in statements if not text.startswith("BEGIN")]
    for part in ("task_tags", "priority IN", "due <", "LIMIT", "ORDER BY"):
        assert part in statement


# ---------------------------------------------------------------------- output for scripts


def test_piped_list_is_plain_stable_rows(
    ada: User, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "")  # even a colour preference does not style a pipe
    run("add", "tab\there, new\nline and back\\slash", "-p", "high", "--due", "2031-02-03")
    run("add", "[bold]plain[/]", "--tag", "b", "--tag", "a")
    run("add", "done one")
    run("done", "3")
    result = run("list", "--all")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout
    rows = [row.split("\t") for row in result.stdout.splitlines()]
    assert [row[:1] + row[2:] for row in rows] == [
        ["1", "open", "high", "2031-02-03", "", "tab\\there, new\\nline and back\\\\slash"],
        ["2", "open", "none", "", "a,b", "[bold]plain[/]"],
        ["3", "done", "none", "", "", "done one"],
    ]
    assert all(len(row) == 7 for row in rows)


# Characters that would act on a terminal or break a line: escaped in every view.
HOSTILE = "a\x1b[2Jb\x07c\x9bd\u202ee\u2066f\u2028g\x7fh\\i\tj"


def test_piped_rows_escape_every_control_character(ada: User, run: Run) -> None:
    run("add", HOSTILE)
    result = run("list")
    assert (result.exit_code, result.stderr) == (0, "")
    [row] = result.stdout.splitlines()
    assert row.split("\t")[6] == ("a\\x1b[2Jb\\x07c\\x9bd\\u202ee\\u2066f\\u2028g\\x7fh\\\\i\\tj")
    assert set(result.stdout) - set(row) == {"\n"}
    assert all(char in "\t\n" or char.isprintable() for char in result.stdout)


@pytest.mark.parametrize(
    "args",
    [["list", "--json"], ["list", "--json", "--limit", "1"], ["show", "1", "--json"], ["export"]],
)
def test_json_escapes_what_would_drive_a_terminal(ada: User, run: Run, args: list[str]) -> None:
    run("add", HOSTILE)
    result = run(*args)
    assert (result.exit_code, result.stderr) == (0, "")
    assert all(char == "\n" or char.isprintable() for char in result.stdout)
    assert "\\u202e" in result.stdout
    assert "\\u009b" in result.stdout
    found = json.loads(result.stdout)
    assert (found if args[0] == "show" else found[0])["title"] == HOSTILE  # the same strings


UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def test_piped_show_is_key_value_lines(ada: User, run: Run) -> None:
    run("add", HOSTILE, "-d", "two\nlines\x1b]0;x", "-p", "low", "--due", "2031-02-03")
    run("tag", "1", "home", "errands")
    run("note", "1", "called\\them")
    run("note", "1", "two\nlines\x1b")
    run("done", "1")
    result = run("show", "1")
    assert (result.exit_code, result.stderr) == (0, "")
    assert MOMENT.sub("T", UUID_TEXT.sub("U", result.stdout)) == (
        "id: U\n"
        "number: 1\n"
        "title: a\\x1b[2Jb\\x07c\\x9bd\\u202ee\\u2066f\\u2028g\\x7fh\\\\i\\tj\n"
        "description: two\\nlines\\x1b]0;x\n"
        "priority: low\n"
        "due: 2031-02-03\n"
        "completed: true\n"
        "completed_at: T\n"
        "created_at: T\n"
        "updated_at: T\n"
        "deleted: false\n"
        "deleted_at: \n"
        "tags: errands,home\n"
        # each note on a line of the value's own, its text escaped; then the whole value
        "notes: T called\\\\\\\\them\\nT two\\\\nlines\\\\x1b\n"
        "every: \n"
        "until: \n"
        "times: \n"
        "anchor: \n"
        "series_id: \n"
        "iteration: \n"
        "wait: \n"
        "scheduled: \n"
        "due_at: \n"
        "urgency: \n"  # none for a done task
    )
    shown = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert shown == {
        key: ""
        if value is None
        else "\\n".join(
            f"{note['at']} {note['text'].encode('unicode_escape').decode()}".encode(
                "unicode_escape"
            ).decode()
            for note in value
        )
        if key == "notes"
        else ",".join(value)
        if isinstance(value, list)
        else json.dumps(value)
        if isinstance(value, bool | int)
        else value.encode("unicode_escape").decode()
        for key, value in json.loads(run("show", "1", "--json").stdout).items()
    }


def test_piped_stats_are_key_value_lines(ada: User, run: Run) -> None:
    for title in ("a", "b", "c"):
        run("add", title, "--due", "2020-01-01")
    run("done", "1")
    run("delete", "2")
    result = run("stats")
    assert (result.exit_code, result.stderr) == (0, "")
    mondays = week_starts(date.today())
    assert result.stdout == (
        "open: 1\ncompleted: 1\noverdue: 1\ndue_today: 0\ndeleted: 1\n"
        + "".join(f"week_of {monday.isoformat()}: 0\n" for monday in mondays[:-1])
        + f"week_of {mondays[-1].isoformat()}: 1\n"
    )


def test_piped_user_list_is_tab_separated_rows(database_url: str, run: Run) -> None:
    run("user", "add", "ada@example.com", "--name", "Ada \x1b[2JLove\tlace\u202e")
    run("user", "add", "grace@example.com")
    run("user", "switch", "grace@example.com")
    result = run("user", "list")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "\tada@example.com\tAda \\x1b[2JLove\\tlace\\u202e\n*\tgrace@example.com\t\n"
    )


def test_piped_list_notes_go_to_stderr(ada: User, run: Run) -> None:
    empty = run("list")
    assert (empty.exit_code, empty.stdout, empty.stderr) == (0, "", "No open tasks.\n")
    for title in ("a", "b", "c"):
        run("add", title)
    limited = run("list", "--limit", "2")
    assert numbers(limited) == [1, 2]
    assert limited.stderr == "… and 1 more (--limit N shows more, --limit 0 shows all).\n"
    nothing = run("list", "--tag", "x")
    assert (nothing.stdout, nothing.stderr) == ("", "No open tasks match.\n")


def test_piped_and_json_lists_are_every_match_unless_limited(
    ada: User, run: Run, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_plain_tasks(session, ada, 1, 70)
    piped = run("list")
    assert (numbers(piped), piped.stderr) == (list(range(1, 71)), "")
    as_json = run("list", "--json")
    assert ([t["number"] for t in json.loads(as_json.stdout)], as_json.stderr) == (
        list(range(1, 71)),
        "",
    )
    none_match = run("list", "--sort", "created", "--tag", "x", "--json")
    assert (none_match.stdout, none_match.stderr) == ("[]\n", "")
    limited = run("list", "--limit", "60", "--json")
    assert len(json.loads(limited.stdout)) == 60
    assert limited.stderr == "10 more not shown (--limit 0 shows all).\n"
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # at a terminal: a page of 50, as before
    table = run("list")
    assert len(table.stdout.splitlines()) == 1 + 50
    assert table.stderr == "… and 20 more (--limit N shows more, --limit 0 shows all).\n"


def test_streamed_json_list_is_the_json_it_always_was(ada: User, run: Run) -> None:
    run("add", "a", "--tag", "x", "--tag", "y", "-d", "two\nlines")
    run("add", "ü \x1b", "--due", "2031-01-01")
    limited = run("list", "--json", "--limit", "5")  # read as one page, printed in one go
    streamed = run("list", "--json")
    assert streamed.stdout == limited.stdout
    assert (
        streamed.stdout
        == json.dumps(json.loads(streamed.stdout), indent=2, ensure_ascii=False) + "\n"
    )


class _Sink(io.TextIOBase):
    """An output that keeps nothing but how many lines went through it."""

    lines = 0

    def write(self, text: str) -> int:
        self.lines += text.count("\n")
        return len(text)


def _peak_bytes_while_listing(*args: str) -> tuple[int, int]:
    """(lines written, peak bytes allocated) while `sorted list ARGS` runs in this process, its
    output counted and dropped (a captured output would itself grow with the tasks)."""
    command = typer.main.get_command(app)
    sink = _Sink()
    with contextlib.redirect_stdout(sink):
        tracemalloc.start()
        try:
            command.main(args=["list", *args], prog_name="sorted", standalone_mode=False)
            return sink.lines, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


# Streaming differs between SQLite, PostgreSQL and a pooler (a server-side cursor kept in one
# transaction); TLS changes nothing in it, and each run lists thousands of tasks.
STREAMING_BACKENDS = pytest.mark.parametrize(
    "backend", ["sqlite", "postgresql", "pgbouncer"], indirect=True
)


@pytest.mark.parametrize(("args", "lines_per_task"), [(["--json"], 25), ([], 1)])
@STREAMING_BACKENDS
def test_listing_every_task_takes_flat_memory(
    ada: User, session: Session, args: list[str], lines_per_task: int
) -> None:
    """Ten times the tasks must not take noticeably more memory to list in full (reading them
    all first would take ~10x): the rows are streamed as `export` streams them."""
    add_plain_tasks(session, ada, 1, 2000)  # more than one batch of rows fetched
    session.rollback()
    _peak_bytes_while_listing(*args)  # imports and first-use caches, outside the measure
    small = _peak_bytes_while_listing(*args)
    add_plain_tasks(session, ada, 2001, 20000)
    session.rollback()
    large = _peak_bytes_while_listing(*args)
    extra = 2 if args else 0  # the JSON array's brackets
    assert (small[0], large[0]) == (2000 * lines_per_task + extra, 20000 * lines_per_task + extra)
    assert large[1] < small[1] * 1.5, (small, large)


def _peak_kib_of_a_process(*args: str) -> int:
    """Peak resident memory of `sorted ARGS` as a real process (the cycle collector off, as
    sorted runs), its output to /dev/null."""
    measure = (
        "import resource, subprocess, sys\n"
        "subprocess.run([sys.executable, '-m', 'sorted_cli', *sys.argv[1:]],"
        " stdout=subprocess.DEVNULL, check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure, *args], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@STREAMING_BACKENDS
def test_a_listing_process_takes_flat_memory(ada: User, session: Session) -> None:
    add_plain_tasks(session, ada, 1, 2000)
    session.rollback()
    small = _peak_kib_of_a_process("list", "--json")
    add_plain_tasks(session, ada, 2001, 15000)
    session.rollback()
    large = _peak_kib_of_a_process("list", "--json")
    assert large < small + 10_000, (small, large)  # KiB; 15,000 tasks held would be ~50 MB


def _in_a_terminal(args: list[str], env: dict[str, str], *, columns: int | None = None) -> str:
    """What `sorted ARGS` writes when its stdout is a real (pseudo-)terminal, COLUMNS wide
    when given (the terminal's size and $COLUMNS both)."""
    leader, follower = pty.openpty()
    if columns is not None:
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = {**env, "COLUMNS": str(columns)}
    try:
        process = subprocess.run(
            [sys.executable, "-m", "sorted_cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=env,
            timeout=60,
            check=True,
        )
        assert process.returncode == 0
        os.close(follower)
        follower = -1
        return read_until_closed(leader).decode()
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_a_terminal_gets_a_coloured_table_unless_no_color(ada: User, run: Run) -> None:
    run("add", "late", "--due", "2020-01-01", "--tag", "home")
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"NO_COLOR", "FORCE_COLOR"}},
        "TERM": "xterm-256color",
        "COLUMNS": "100",
    }
    coloured = _in_a_terminal(["list"], env)
    assert all(part in coloured for part in ("late", "+home", "2020-01-01"))
    assert "\t" not in coloured
    assert "\x1b[1;31m2020-01-01" in coloured  # bold red: overdue
    assert COLOUR.search(coloured)
    plain = _in_a_terminal(["list"], {**env, "NO_COLOR": "1"})
    assert all(part in plain for part in ("late", "+home", "2020-01-01"))
    assert not COLOUR.search(plain)  # bold and dim may stay: NO_COLOR is about colour


def test_a_terminal_never_gets_control_characters_from_user_text(ada: User, run: Run) -> None:
    """Rich passes ESC in a table cell through as it is (it drops only BEL, backspace and a
    few others): every view escapes user text before Rich sees it."""
    run("add", HOSTILE, "-d", "two\nlines\x1b]0;x\x07", "--tag", "home")
    run("user", "add", "eve@example.com", "--name", "Eve\x1b[2J\u202e")
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100"}
    for args in (["list"], ["show", "1"], ["user", "list"]):
        shown = _in_a_terminal(args, env)
        for raw in ("\x1b[2J", "\x1b]", "\x07", "\x9b", "\u202e", "\u2066", "\u2028", "\x7f"):
            assert raw not in shown, (args, shown)
        assert "\\x1b[2J" in shown
        assert "\\u202e" in shown
    assert "\\x1b]0;x\\x07" in _in_a_terminal(["show", "1"], env)


# An SGR sequence setting a foreground or background colour (30-38, 40-48, 90-97, 100-107).
COLOUR = re.compile(r"\x1b\[(?:[0-9]+;)*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])[;m]")
SGR = re.compile(r"\x1b\[[0-9;]*m")

NARROW_TITLES = (
    "Call the plumber about the leaking kitchen tap",
    "Buy milk",
    "Write the quarterly report for the finance department before the deadline",
    "Water the plants",
    "Send the report",
)


@pytest.fixture
def long_titles(ada: User, run: Run) -> None:
    """Tasks whose titles and tags cannot all fit a narrow terminal beside the other columns."""
    plumber, milk, report, plants, send = NARROW_TITLES
    for args in (
        [plumber, "--due", "2099-01-15", "-p", "high", "--tag", "home", "--tag", "urgent"],
        [milk, "--due", "2099-01-16", "--tag", "shopping"],
        [report, "-p", "medium", "--tag", "work", "--tag", "reports", "--tag", "q4"],
        [plants, "--due", "2099-02-01", "--every", "week"],
        [send, "--due", "2099-03-01 17:00", "-p", "low", "--tag", "work"],
    ):
        assert run("add", *args).exit_code == 0
    assert run("done", "2").exit_code == 0


def _table(shown: str) -> tuple[list[str], dict[int, dict[str, str]]]:
    """The headers of a `sorted list` table at a terminal, and each task's cells by number:
    a cell's lines joined with spaces, so a title wrapped at spaces reads as it was typed."""
    header, *lines = SGR.sub("", shown).replace("\r\n", "\n").splitlines()
    starts = [found.start() for found in re.finditer(r"\S+", header)]
    headers = header.split()
    rows: dict[int, dict[str, list[str]]] = {}
    cells: dict[str, list[str]] = {}
    for line in lines:
        parts = [line[start:end] for start, end in zip(starts, [*starts[1:], None], strict=True)]
        if parts[0].strip():
            cells = rows.setdefault(int(parts[0]), {name: [] for name in headers})
        for name, part in zip(headers, parts, strict=True):
            if part.strip():
                cells[name].append(part.strip())
    return headers, {n: {k: " ".join(v) for k, v in row.items()} for n, row in rows.items()}


def _widest_line(shown: str) -> int:
    return max(cell_len(line) for line in SGR.sub("", shown).replace("\r\n", "\n").splitlines())


@pytest.mark.usefixtures("long_titles")
def test_a_narrow_terminal_gives_the_title_the_room(run: Run) -> None:
    """At 40 columns the number, the title (whole words) and the due day show, a due time
    under its day; at 60 tags shorten and Age goes; at 100 every column shows in full."""
    env = {**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1"}
    shown = _in_a_terminal(["list"], env, columns=40)
    assert _widest_line(shown) <= 40, shown
    headers, rows = _table(shown)
    assert headers == ["#", "Title", "Due"]
    assert sorted(rows) == [1, 3, 4, 5]
    assert [rows[n]["Title"] for n in (1, 3, 5)] == [NARROW_TITLES[i] for i in (0, 2, 4)]
    assert rows[4]["Title"] == f"{NARROW_TITLES[3]} ↻"
    assert [rows[n]["Due"] for n in (1, 3, 4, 5)] == [
        "2099-01-15",
        "",
        "2099-02-01",
        "2099-03-01 17:00",
    ]
    assert "    17:00" in SGR.sub("", shown)  # the time under its day, not beside it

    every = _in_a_terminal(["list", "--all"], env, columns=40)
    assert _widest_line(every) <= 40, every
    headers, rows = _table(every)
    assert headers == ["#", "✓", "Title", "Due"]
    assert (rows[2]["✓"], rows[2]["Title"], rows[1]["✓"]) == ("✓", NARROW_TITLES[1], "")

    shown = _in_a_terminal(["list"], env, columns=60)
    assert _widest_line(shown) <= 60, shown
    headers, rows = _table(shown)
    assert headers == ["#", "Title", "Tags", "Priority", "Due"]
    assert [rows[n]["Tags"] for n in (1, 3, 4, 5)] == ["+home +1", "+q4 +2", "", "+work"]
    assert [rows[n]["Title"] for n in (1, 3, 5)] == [NARROW_TITLES[i] for i in (0, 2, 4)]

    shown = _in_a_terminal(["list"], env, columns=100)
    assert _widest_line(shown) <= 100, shown
    headers, rows = _table(shown)
    assert headers == ["#", "Title", "Tags", "Priority", "Due", "Age"]
    assert [rows[n]["Tags"] for n in (1, 3, 5)] == ["+home +urgent", "+q4 +reports +work", "+work"]
    assert (rows[1]["Priority"], rows[5]["Due"]) == ("high", "2099-03-01 17:00")
    assert [rows[n]["Title"] for n in (1, 3, 5)] == [NARROW_TITLES[i] for i in (0, 2, 4)]


@pytest.mark.usefixtures("long_titles")
def test_a_narrow_terminal_leaves_pipes_and_json_as_they_are(run: Run) -> None:
    piped = run("list").stdout.splitlines()
    assert [row.split("\t")[5:] for row in piped] == [
        ["home,urgent", NARROW_TITLES[0]],
        ["q4,reports,work", NARROW_TITLES[2]],
        ["", NARROW_TITLES[3]],
        ["work", NARROW_TITLES[4]],
    ]
    [plumber, *_] = json.loads(run("list", "--json").stdout)
    assert (plumber["title"], plumber["tags"]) == (NARROW_TITLES[0], ["home", "urgent"])


def test_a_word_longer_than_the_title_room_is_the_only_one_broken(ada: User, run: Run) -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"  # 45 letters
    run("add", f"Look up {word} again", "--due", "2099-01-15", "-p", "high")
    env = {**os.environ, "TERM": "xterm-256color", "NO_COLOR": "1"}
    shown = _in_a_terminal(["list"], env, columns=40)
    assert _widest_line(shown) <= 40, shown
    header, *lines = SGR.sub("", shown).replace("\r\n", "\n").splitlines()
    title = slice(header.index("Title"), header.index("Due"))
    assert (
        [line[title].rstrip() for line in lines]
        == [
            "Look up",
            word[:25],  # the title's column: 40 less the number, the due day and the gaps
            word[25:],
            "again",
        ]
    )


# ---------------------------------------------------------------------------------- stats


def test_stats_counts_and_weeks(
    spread: date, run: Run, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("done", "2", "3", "4")
    run("delete", "5")
    mondays = week_starts(date.today())
    # Move completions into earlier weeks: two in the oldest week shown, one nine weeks back.
    for number, monday in ((3, mondays[0]), (4, mondays[0]), (6, mondays[0] - timedelta(weeks=1))):
        moment = local_midnight(monday) + timedelta(hours=12)
        session.exec(update(Task).where(col(Task.number) == number).values(completed_at=moment))
    session.commit()

    data = json.loads(run("stats", "--json").stdout)
    assert {key: data[key] for key in ("open", "completed", "overdue", "due_today", "deleted")} == {
        "open": 3,  # 1, 7, 8
        "completed": 4,  # 2, 3, 4, 6
        "overdue": 1,  # 1
        "due_today": 0,  # 2 is done
        "deleted": 1,  # 5
    }
    weeks = data["completed_per_week"]
    assert [week["week_of"] for week in weeks] == [monday.isoformat() for monday in mondays]
    assert [week["completed"] for week in weeks] == [2, 0, 0, 0, 0, 0, 0, 1]

    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # the view people see at a terminal
    shown = run("stats")
    assert shown.exit_code == 0
    lines = shown.stdout.splitlines()
    assert lines[:5] == [
        "Open          3",
        "Overdue       1",
        "Due today     0",
        "Completed     4",
        "In the trash  1",
    ]
    chart = lines[lines.index("Completed per week") + 1 :]
    assert len(chart) == 8
    assert chart[0] == f"{mondays[0]:%b %d} 2 " + "█" * 30  # the busiest week: a full bar
    assert chart[-1] == f"{mondays[-1]:%b %d} 1 " + "█" * 15
    assert chart[1].split() == [f"{mondays[1]:%b}", f"{mondays[1]:%d}", "0"]


def test_stats_of_a_new_user(ada: User, run: Run) -> None:
    data = json.loads(run("stats", "--json").stdout)
    assert (data["open"], data["completed"]) == (0, 0)
    assert [week["completed"] for week in data["completed_per_week"]] == [0] * 8
