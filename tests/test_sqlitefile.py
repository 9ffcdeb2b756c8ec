"""The SQLite file itself: damaged, empty, left open by a process that died, read-only, or on a
full disk. Real files and real SQLite throughout: damage written into the file, a process killed
with the file open, a file or folder not even root may change (`chattr +i`), a folder of mode
0500 for its owner (the user nobody), and read-only and full disks as real mounts in a mount
namespace of the test's own (`unshare -m`). Those need root and skip, saying why, where the
machine cannot make them."""

from __future__ import annotations

import hashlib
import os
import pwd
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import ADA, Run, add_plain_tasks
from sqlalchemy import event
from sqlalchemy.engine import Engine
from test_processes import (
    SORTED,
    TIMEOUT_S,
    Completed,
    environment,
    outcome,
    run_sorted,
    run_together,
)

from sorted_cli import sqlitefile
from sorted_cli.config import load_settings
from sorted_cli.configfile import embedded_database_path, remembered_user
from sorted_cli.database import Database
from sorted_cli.errors import SortedError
from sorted_cli.models import UserCreate, validated
from sorted_cli.schema import HEAD
from sorted_cli.services import users

PAGE = 4096
RECOVER = (
    "move it aside (keep it: it may be repaired) and run `sorted import` on your last export "
    "(`sorted export > backup.json` makes one)"
)


def database_with_tasks(path: Path, count: int) -> None:
    """A sorted database at PATH holding Ada's tasks 1..COUNT, closed cleanly (no -wal left)."""
    settings = load_settings(database_url=f"sqlite:///{path}")
    session = Database(settings).session
    try:
        ada, _ = users.create_user(session=session, data=validated(UserCreate, email=ADA))
        add_plain_tasks(session, ada, 1, count)
    finally:
        Database.of(session).close()
    assert not Path(f"{path}-wal").exists()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sqlite_env(path: Path) -> dict[str, str]:
    return environment(DATABASE_URL=f"sqlite:///{path}", SORTED_USER=ADA)


# ------------------------------------------------------------------------------------ damage


def test_a_damaged_database_stops_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "sorted.db"
    database_with_tasks(path, 2001)
    with closing(sqlite3.connect(path)) as database:
        (root,) = database.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'tasks'"
        ).fetchone()
    noise = random.Random(8)  # the same damage every run
    with path.open("r+b") as file:  # the top of the tasks table, which every `list` reads
        file.seek((root - 1) * PAGE)
        file.write(noise.randbytes(PAGE))
    damaged = digest(path)
    result = run_sorted("list", "--limit", "0", env=sqlite_env(path))
    assert outcome(result) == (
        1,
        "",
        f"Error: The database {path} is damaged (database disk image is malformed): "
        f"sorted stopped without changing it; {RECOVER}.\n",
    )
    assert digest(path) == damaged


def test_a_file_that_is_not_a_database_is_damaged_and_left_as_it_was(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sorted.db"
    path.write_text("my shopping list\n" * 500)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: The database {path} is damaged (file is not a database): "
        f"sorted stopped without changing it; {RECOVER}.\n",
    )
    assert path.read_text() == "my shopping list\n" * 500


def test_an_empty_file_that_was_there_is_not_a_new_database(run: Run) -> None:
    """A 0-byte sorted.db (emptied by accident, say) is refused: no schema, no local user;
    `sorted db upgrade` starts a database in it on purpose."""
    path = embedded_database_path()
    path.parent.mkdir(parents=True)
    path.touch()
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: {path} is empty: it is not a sorted database, and sorted does not start "
        f"afresh over a file it did not make. To recover your tasks, {RECOVER}; to start a "
        "new database in it, run `sorted db upgrade`.\n"
    )
    with closing(sqlite3.connect(path)) as database:
        assert database.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    assert remembered_user(load_settings().database_key) is None
    assert run("db", "upgrade").exit_code == 0
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n")


def test_a_file_sorted_made_is_set_up_even_if_its_schema_came_later(run: Run) -> None:
    """`db current` makes the file (marked as sorted's) and no schema, as a sorted that died
    before migrating would leave it: the next everyday command gives it the schema."""
    assert run("db", "current").stdout == "empty (no sorted schema)\n"
    assert embedded_database_path().stat().st_size > 0
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout) == (0, "Added task 1: Buy milk\n")


def test_sorted_started_many_times_at_once_on_no_database_makes_one() -> None:
    """No sorted starting at the same moment finds the new file empty and refuses it."""
    results = run_together(*[["add", f"task {n}"] for n in range(6)])
    assert [result.returncode for result in results] == [0] * 6, [r.stderr for r in results]
    numbers = sorted(int(result.stdout.split()[2].rstrip(":")) for result in results)
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert [p.name for p in embedded_database_path().parent.iterdir() if ".new" in p.name] == []


def test_first_commands_at_once_on_a_migrated_database_share_the_one_local_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one that loses the race to make the local user uses the winner's, not an error."""
    for round_ in range(5):  # the race is lost in some rounds only
        monkeypatch.setenv("SORTED_HOME", str(tmp_path / f"home{round_}"))
        assert run_sorted("db", "upgrade").returncode == 0
        results = run_together(*[["add", f"task {n}"] for n in range(6)])
        assert [result.returncode for result in results] == [0] * 6, [r.stderr for r in results]
        numbers = sorted(int(result.stdout.split()[2].rstrip(":")) for result in results)
        assert numbers == [1, 2, 3, 4, 5, 6]


# ------------------------------------------------------- a file left open by a process that died

# Changes a task and dies with the file open: SQLite leaves its -wal and -shm files behind.
_DIE_WRITING = """
import os, signal, sqlite3, sys
database = sqlite3.connect(sys.argv[1], isolation_level=None)
database.execute("PRAGMA journal_mode = WAL")
database.execute("UPDATE tasks SET title = 'changed' WHERE number = 1")
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def checks_made(run: Run, monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], int]:
    """How many quick checks `sorted list` makes on a database, counted as they are sent."""

    def count(path: Path) -> int:
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
        monkeypatch.setenv("SORTED_USER", ADA)
        sent: list[str] = []

        def note(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
            sent.append(statement)

        event.listen(Engine, "before_cursor_execute", note)
        try:
            result = run("list")
        finally:
            event.remove(Engine, "before_cursor_execute", note)
        assert result.exit_code == 0, result.stderr
        return sent.count("PRAGMA quick_check")

    return count


@pytest.mark.in_process  # it counts the statements this process sends
def test_a_wal_left_by_a_killed_process_is_checked_once_and_a_clean_file_is_not(
    tmp_path: Path, checks_made: Callable[[Path], int]
) -> None:
    path = tmp_path / "sorted.db"
    database_with_tasks(path, 3)
    assert checks_made(path) == 0
    killed = subprocess.run(
        [sys.executable, "-c", _DIE_WRITING, str(path)], timeout=TIMEOUT_S, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    assert Path(f"{path}-wal").stat().st_size > 0
    assert checks_made(path) == 1
    assert checks_made(path) == 0  # that sorted closed the file cleanly


@pytest.mark.in_process  # it counts the statements this process sends
def test_a_wal_of_a_process_still_running_is_not_checked(
    tmp_path: Path, checks_made: Callable[[Path], int]
) -> None:
    path = tmp_path / "sorted.db"
    database_with_tasks(path, 3)
    with closing(sqlite3.connect(path, isolation_level=None)) as running:
        running.execute("PRAGMA journal_mode = WAL")
        running.execute("UPDATE tasks SET title = 'changed' WHERE number = 1")
        assert Path(f"{path}-wal").stat().st_size > 0
        assert checks_made(path) == 0


def test_damage_found_by_the_check_after_a_crash_stops_the_command(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sorted.db"
    database_with_tasks(path, 300)
    with closing(sqlite3.connect(path)) as database:
        found = database.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'ix_tasks_user_id_completed_at'"
        ).fetchone()
    with path.open("r+b") as file:  # an index of done tasks, which `list` does not read
        file.seek((found[0] - 1) * PAGE)
        file.write(bytes(PAGE))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SORTED_USER", ADA)
    assert run("list").exit_code == 0  # unnoticed without a check
    killed = subprocess.run(
        [sys.executable, "-c", _DIE_WRITING, str(path)], timeout=TIMEOUT_S, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    result = run("list")
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: The database {path} is damaged (SQLite's check found Page {found[0]}: "
        f"btreeInitPage() returns error code 11): sorted stopped without changing it; "
        f"{RECOVER}.\n",
    )


# ------------------------------------------------------------------ read-only and full disks


def _can_make_mounts() -> str | None:
    """Why this machine cannot make mounts of a test's own, or None when it can."""
    try:
        probe = subprocess.run(
            ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=16k tmpfs /mnt"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except FileNotFoundError:
        return "unshare(1) is not installed"
    if probe.returncode != 0:
        return f"cannot make a mount namespace and mount in it (needs root): {probe.stderr}"
    return None


@pytest.fixture(scope="session")
def mounts() -> None:
    reason = _can_make_mounts()
    if reason is not None:
        pytest.skip(reason)


def run_in_a_mount_namespace(setup: str, path: Path, *args: str) -> Completed:
    """Run SETUP (shell commands that mount) in a mount namespace of its own, then `sorted
    ARGS...` on the database at PATH there; the mounts end with it."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-e", "-c", f'{setup}\nexec "$0" "$@"', str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=sqlite_env(path),
        timeout=TIMEOUT_S,
        check=False,
    )


def read_only_folder(folder: Path, *, file_writable: Path | None = None) -> str:
    """Mount commands making FOLDER read-only (and FILE_WRITABLE in it writable again, as a
    folder of mode 0500 leaves its files)."""
    where = shlex.quote(str(folder))
    commands = [f"mount --bind {where} {where}", f"mount -o remount,bind,ro {where}"]
    if file_writable is not None:
        file = shlex.quote(str(file_writable))
        commands += [f"mount --bind {file} {file}", f"mount -o remount,bind,rw {file}"]
    return "\n".join(commands)


READS = [
    (("list",), "1\t{id}\topen\tnone\t\t\tt1\n"),
    (("show", "1", "--json"), '"title": "t1"'),
    (("export",), '"title": "t1"'),
    (("db", "current"), f"{HEAD} (head)\n"),
]


def _task_id(path: Path) -> str:
    with closing(sqlite3.connect(path)) as database:
        found = database.execute("SELECT id FROM tasks WHERE number = 1").fetchone()
    uuid = str(found[0])
    return f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"


@pytest.mark.usefixtures("mounts")
@pytest.mark.parametrize("file_writable", [False, True], ids=["file-system", "folder"])
def test_a_read_only_database_can_be_read_and_says_so_on_a_write(
    tmp_path: Path, file_writable: bool
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sorted.db"
    database_with_tasks(path, 1)
    before = digest(path)
    setup = read_only_folder(folder, file_writable=path if file_writable else None)
    for args, expected in READS:
        result = run_in_a_mount_namespace(setup, path, *args)
        assert (result.returncode, result.stderr) == (0, ""), args
        assert expected.format(id=_task_id(path)) in result.stdout, args
    for write in (("add", "Buy milk"), ("done", "1")):
        assert outcome(run_in_a_mount_namespace(setup, path, *write)) == (
            1,
            "",
            f"Error: The database {path} is read-only (it is on a read-only file system): "
            "sorted can show it but not change it.\n",
        )
    assert digest(path) == before


@pytest.mark.usefixtures("mounts")
def test_a_database_on_a_full_disk_can_be_read_and_says_so_on_a_write(tmp_path: Path) -> None:
    made = tmp_path / "made.db"
    database_with_tasks(made, 1)
    disk = tmp_path / "disk"
    disk.mkdir()
    path = disk / "sorted.db"
    fill = (
        f"mount -t tmpfs -o size=512k tmpfs {shlex.quote(str(disk))}\n"
        f"cp {shlex.quote(str(made))} {shlex.quote(str(path))}\n"
        f"cat /dev/zero > {shlex.quote(str(disk / 'filler'))} 2>/dev/null || true"
    )
    listed = run_in_a_mount_namespace(fill, path, "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.endswith("\tt1\n")
    for write in (("add", "Buy milk"), ("done", "1")):
        assert outcome(run_in_a_mount_namespace(fill, path, *write)) == (
            1,
            "",
            f"Error: No space left on the disk holding {path}: nothing was saved.\n",
        )


def _first_closed_ancestor(path: Path) -> Path | None:
    """The first folder above PATH that other users cannot enter (root's home, say)."""
    for folder in reversed(path.parents):
        if not folder.stat().st_mode & 0o001:
            return folder
    return None


def run_as_nobody(folder: Path, *args: str) -> Completed:
    """Run `sorted ARGS...` as the user nobody on the database `sorted.db` in FOLDER, seen at
    /mnt/data in a mount namespace of its own (with this Python reachable by nobody there)."""
    python = Path(sys.base_prefix)
    closed = _first_closed_ancestor(python)
    setup = [
        "mount -t tmpfs -o mode=755 tmpfs /mnt",
        "mkdir /mnt/python /mnt/data /mnt/home",
        "chown nobody /mnt/home",
        f"mount --bind {shlex.quote(str(folder))} /mnt/data",
    ]
    if closed is not None:  # put a tmpfs over it, and this Python back in its place
        setup += [
            f"mount --bind {shlex.quote(str(python))} /mnt/python",
            f"mount -t tmpfs -o mode=755 tmpfs {shlex.quote(str(closed))}",
            f"mkdir -p {shlex.quote(str(python))}",
            f"mount --bind /mnt/python {shlex.quote(str(python))}",
        ]
    setup.append('exec setpriv --reuid=nobody --regid=nogroup --clear-groups "$0" "$@"')
    env = environment(
        DATABASE_URL="sqlite:////mnt/data/sorted.db", SORTED_USER=ADA, SORTED_HOME="/mnt/home"
    )
    return subprocess.run(
        ["unshare", "-m", "sh", "-e", "-c", "\n".join(setup), str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**env, "HOME": "/mnt/home"},
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.mark.usefixtures("mounts")
def test_a_database_in_a_folder_of_mode_0500_can_be_read_and_says_so_on_a_write(
    tmp_path: Path,
) -> None:
    """As its owner, not root (whom modes do not stop): the folder's mode keeps SQLite from
    making the -wal and -shm files it needs to write."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sorted.db"
    database_with_tasks(path, 1)
    nobody = pwd.getpwnam("nobody")
    os.chown(path, nobody.pw_uid, nobody.pw_gid)
    os.chown(folder, nobody.pw_uid, nobody.pw_gid)
    folder.chmod(0o500)
    if run_as_nobody(folder, "--version").returncode != 0:
        pytest.skip("sorted cannot be run as the user nobody here (its files are not readable)")
    listed = run_as_nobody(folder, "list")
    assert (listed.returncode, listed.stderr) == (0, "")
    assert listed.stdout.endswith("\tt1\n")
    assert outcome(run_as_nobody(folder, "add", "Buy milk")) == (
        1,
        "",
        "Error: The database /mnt/data/sorted.db is read-only (its folder cannot be written): "
        "sorted can show it but not change it.\n",
    )


@pytest.fixture
def immutable(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Makes a file or folder immutable (`chattr +i`: not even root may change it), and undoes
    it after the test; skips where the file system or the user cannot."""
    made: list[Path] = []

    def make(path: Path) -> None:
        try:
            done = subprocess.run(
                ["chattr", "+i", str(path)], capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            pytest.skip("chattr(1) is not installed")
        if done.returncode != 0:
            pytest.skip(
                f"cannot make a file immutable here (needs root and ext4 or the like): "
                f"{done.stderr.strip()}"
            )
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_database_that_cannot_be_changed_is_read_and_a_write_says_why(
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    immutable: Callable[[Path], None],
    what: str,
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sorted.db"
    database_with_tasks(path, 1)
    before = digest(path)
    immutable(path if what == "file" else folder)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SORTED_USER", ADA)
    listed = run("list")
    assert (listed.exit_code, listed.stderr) == (0, "")
    assert listed.stdout.endswith("\tt1\n")
    result = run("add", "Buy milk")
    why = "the file cannot be written" if what == "file" else "its folder cannot be written"
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: The database {path} is read-only ({why}): sorted can show it but not change it.\n",
    )
    assert digest(path) == before


def test_a_file_changed_under_an_immutable_view_is_not_called_damaged(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """An immutable view (a folder where not even the -shm file can be made) takes no locks:
    another process that rewrites the file meanwhile makes its pages look damaged."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sorted.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("CREATE TABLE a (x)")
        writer.executemany("INSERT INTO a VALUES (?)", [("a" * 900,) for _ in range(100)])
        writer.execute("CREATE TABLE t (x)")
        writer.executemany("INSERT INTO t VALUES (?)", [("x" * 500,) for _ in range(200)])
    rewritten = tmp_path / "rewritten.db"
    rewritten.write_bytes(path.read_bytes())
    with closing(sqlite3.connect(rewritten, isolation_level=None)) as writer:
        writer.execute("DROP TABLE a")
        writer.execute("VACUUM")  # t's pages move: where the view thinks they are is now other
    immutable(folder)
    reading = sqlitefile._connect_read_only(path, {"isolation_level": None})
    assert reading is not None
    with closing(reading):
        reading.execute("PRAGMA cache_size = 1")  # read the pages again, from the file
        assert reading.execute("SELECT count(*) FROM sqlite_master").fetchone() == (2,)
        with path.open("r+b") as file:  # another process, outside a read-only mount, writes
            file.write(rewritten.read_bytes())
            file.truncate()
        with pytest.raises(sqlite3.DatabaseError) as raised:
            reading.execute("SELECT max(x) FROM t").fetchone()
    described = sqlitefile.describe_error(raised.value, path)
    assert isinstance(described, SortedError)
    assert (described.exit_code, str(described)) == (
        1,
        "The database changed while sorted read it through a read-only view, which cannot see "
        "other writers; try again.",
    )


@pytest.mark.in_process  # it counts the statements this process sends
def test_a_read_only_copy_left_by_a_killed_process_is_not_checked_on_every_command(
    tmp_path: Path, checks_made: Callable[[Path], int], immutable: Callable[[Path], None]
) -> None:
    """Nothing can checkpoint its -wal, so a check would read every page on every command."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "sorted.db"
    database_with_tasks(path, 3)
    killed = subprocess.run(
        [sys.executable, "-c", _DIE_WRITING, str(path)], timeout=TIMEOUT_S, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), folder):
        immutable(each)
    assert checks_made(path) == 0
    assert checks_made(path) == 0
