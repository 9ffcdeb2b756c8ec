"""Files and secrets: the config file and `export -o` replaced whole, through a dotfiles link,
under a lock, on the disk before the rename, never through another user's planted link and
never left half-written by a signal; a password on the command line hidden from other users;
a `.env` that cannot be read is an error."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ADA, POSTGRES_BACKENDS, Run, add_plain_tasks
from test_processes import (
    SORTED,
    TIMEOUT_S,
    Completed,
    environment,
    finished,
    free_port,
    run_together,
)
from test_sqlitefile import mounts, read_only_folder  # noqa: F401 (a fixture)

from sorted_cli import files
from sorted_cli.config import load_settings
from sorted_cli.configfile import CURRENT_USER_TABLE
from sorted_cli.database import Database
from sorted_cli.errors import Stopped
from sorted_cli.models import UserCreate, validated
from sorted_cli.services import users

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from sqlmodel import Session

    from sorted_cli.models import User

TRACED = ("fsync", "fdatasync", "rename", "renameat", "renameat2", "fchmod")
OTHER_UID = 4242  # a user of the machine who is not the tests' own


def remembered(config: Path) -> dict[str, str]:
    table: dict[str, str] = tomllib.loads(config.read_text()).get(CURRENT_USER_TABLE, {})
    return table


# ---------------------------------------------------------------------------- config file


def test_a_symlinked_config_file_stays_a_link_and_its_target_gets_the_change(
    isolated_home: Path, tmp_path: Path, run: Run
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "sorted.toml"
    target.write_text("retry_timeout = 5\n")
    isolated_home.mkdir()
    link = isolated_home / "config.toml"
    link.symlink_to(target)
    assert run("list").exit_code == 0  # the first command remembers the local user
    assert link.is_symlink()
    assert link.readlink() == target
    written = tomllib.loads(target.read_text())
    assert written["retry_timeout"] == 5
    assert list(written[CURRENT_USER_TABLE].values()) == ["tester@localhost"]
    assert sorted(path.name for path in dotfiles.iterdir()) == ["sorted.toml"]  # no temp left


def test_user_switches_at_once_on_sixteen_databases_keep_every_one(
    isolated_home: Path, tmp_path: Path, migrated_sqlite_template: Path
) -> None:
    databases = []
    for n in range(16):
        path = tmp_path / f"db{n}.db"
        shutil.copy(migrated_sqlite_template, path)
        databases.append(f"sqlite:///{path}")
        session = Database(load_settings(database_url=databases[-1])).session
        users.create_user(session=session, data=validated(UserCreate, email=ADA))
        Database.of(session).close()
    # Databases remembered before: a config file that takes a while to read and rewrite, so
    # that the commands' rewrites overlap (without the lock, 10 to 12 of 16 were kept).
    before = {f"sqlite:////elsewhere/{n}.db": f"user{n}@example.com" for n in range(2000)}
    isolated_home.mkdir()
    lines = "".join(f'"{key}" = "{email}"\n' for key, email in before.items())
    (isolated_home / "config.toml").write_text(f"[{CURRENT_USER_TABLE}]\n{lines}")
    results = run_together(*(["--database-url", url, "user", "switch", ADA] for url in databases))
    assert [result.returncode for result in results] == [0] * 16, [r.stderr for r in results]
    assert remembered(isolated_home / "config.toml") == before | dict.fromkeys(databases, ADA)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", ["home", "home\x1b[2J"], ids=["plain", "control-character"])
def test_a_command_waiting_for_the_config_files_lock_says_so_then_goes_on(
    isolated_home: Path,
    database_url: str,
    ada: User,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What it waits for is said as every notice is: a control character in the config
    file's path is shown escaped, never sent to the terminal."""
    isolated_home = isolated_home.with_name(name)
    monkeypatch.setenv("SORTED_HOME", str(isolated_home))
    isolated_home.mkdir()
    lock = os.open(isolated_home / ".config.toml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as another sorted rewriting the config file
        switching = subprocess.Popen(
            [str(SORTED), "user", "switch", ADA],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(SORTED_USER=None),
        )
        assert switching.stderr is not None
        waiting = switching.stderr.readline()  # blocks until it is said (or the process ends)
    finally:
        os.close(lock)
    stdout, stderr = switching.communicate(timeout=TIMEOUT_S)
    config = isolated_home / "config.toml"
    shown = str(config).replace("\x1b", "\\x1b")
    assert waiting == f"Waiting for another sorted to finish writing {shown}...\n"
    assert (switching.returncode, stdout, stderr) == (0, f"Now acting as {ADA}\n", "")
    assert list(remembered(config).values()) == [ADA]


def _sorted_in_a_mount_namespace(setup: str, *args: str) -> Completed:
    """`sorted ARGS...` (on this test's home) after SETUP's mounts, in a namespace of its own."""
    return subprocess.run(
        ["unshare", "-m", "sh", "-e", "-c", f'{setup}\nexec "$0" "$@"', str(SORTED), *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT_S,
        check=False,
    )


@pytest.mark.usefixtures("mounts")
def test_a_config_file_linked_into_a_read_only_place_is_said_and_commands_go_on(
    isolated_home: Path, tmp_path: Path
) -> None:
    """Dotfiles on a read-only mount (Nix home-manager): remembering the local user is a
    convenience, so a command says it could not and goes on; `user switch` fails."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "sorted.toml"
    target.write_text("retry_timeout = 5\n")
    isolated_home.mkdir()
    config = isolated_home / "config.toml"
    config.symlink_to(target)
    setup = read_only_folder(dotfiles)
    not_remembered = f"Could not remember the local user in {config}: Read-only file system.\n"
    added = _sorted_in_a_mount_namespace(setup, "add", "Buy milk")
    assert (added.returncode, added.stderr) == (
        0,
        "Created local user tester@localhost; `sorted user --help` to manage users.\n"
        + not_remembered,
    )
    listed = _sorted_in_a_mount_namespace(setup, "list")
    assert (listed.returncode, listed.stderr) == (
        0,
        "Using local user tester@localhost; `sorted user --help` to manage users.\n"
        + not_remembered,
    )
    assert "Buy milk" in listed.stdout
    switched = _sorted_in_a_mount_namespace(setup, "user", "switch", "tester@localhost")
    assert (switched.returncode, switched.stdout, switched.stderr) == (
        2,
        "",
        f"Error: Cannot write {config}: Read-only file system.\n",
    )
    assert target.read_text() == "retry_timeout = 5\n"


def test_the_config_file_and_an_export_are_on_the_disk_before_they_are_renamed(
    isolated_home: Path, tmp_path: Path
) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed")
    log = tmp_path / "strace.log"
    out = tmp_path / "backup.json"
    # The first command on the embedded database writes the config file; then the export.
    result = subprocess.run(
        [strace, "-f", "-qq", "-y", "-o", str(log), "-e", f"trace={','.join(TRACED)}",
         str(SORTED), "export", "-o", str(out)],
        capture_output=True, text=True, env=environment(), timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    calls = log.read_text().splitlines()
    for final in (isolated_home / "config.toml", out):
        renames = [n for n, call in enumerate(calls) if "rename" in call and f'"{final}"' in call]
        assert len(renames) == 1, calls
        temporary, renamed = re.findall(r'"([^"]+)"', calls[renames[0]])
        assert (Path(temporary).parent, renamed) == (final.parent, str(final))
        synced = [n for n, call in enumerate(calls) if re.search(r"f(data)?sync\(\d+<", call)]
        assert any(f"<{temporary}>" in calls[n] for n in synced if n < renames[0]), calls
        assert any(f"<{final.parent}>" in calls[n] for n in synced if n > renames[0]), calls
    # Both are new owner-only files, as mkstemp makes them: no chmod is needed.
    assert [call for call in calls if "fchmod(" in call] == []


# ---------------------------------------------------------------------------- export -o


@pytest.fixture
def shared_folder(tmp_path: Path) -> Path:
    """A folder anyone may write to, with the sticky bit: as /tmp is."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    return folder


def test_export_does_not_follow_another_users_link_in_a_shared_folder(
    ada: User, run: Run, tmp_path: Path, shared_folder: Path
) -> None:
    assert run("add", "Buy milk").exit_code == 0
    precious = tmp_path / "precious"
    precious.write_text("keep me\n")
    planted = shared_folder / "backup.json"
    planted.symlink_to(precious)
    os.lchown(planted, OTHER_UID, OTHER_UID)
    result = run("export", "-o", str(planted))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"Error: Not following {planted}: another user's symlink in {shared_folder}, a folder "
        "anyone can write to, may point anywhere. Remove it or choose another file.\n"
    )
    assert precious.read_text() == "keep me\n"
    assert planted.is_symlink()
    assert sorted(path.name for path in shared_folder.iterdir()) == ["backup.json"]
    # A link of one's own there is followed, as the kernel's protected_symlinks allows.
    os.lchown(planted, os.geteuid(), os.getegid())
    assert run("export", "-o", str(planted)).exit_code == 0
    assert [task["title"] for task in json.loads(precious.read_text())] == ["Buy milk"]


def test_export_does_not_write_into_another_users_named_pipe_in_a_shared_folder(
    ada: User, run: Run, shared_folder: Path
) -> None:
    """As `fs.protected_fifos` refuses it: whoever reads that pipe would read the tasks."""
    assert run("add", "Buy milk").exit_code == 0
    pipe = shared_folder / "backup.json"
    os.mkfifo(pipe)
    os.chown(pipe, OTHER_UID, OTHER_UID)
    read: list[bytes] = []

    def reader() -> None:  # another user's, reading whatever comes
        with pipe.open("rb") as source:
            read.append(source.read())

    reading = threading.Thread(target=reader, daemon=True)
    reading.start()
    try:
        result = run("export", "-o", str(pipe))
    finally:
        deadline = time.monotonic() + TIMEOUT_S
        while reading.is_alive() and time.monotonic() < deadline:  # no writer came: end it
            with contextlib.suppress(OSError):  # ENXIO while the reader is not there yet
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
            reading.join(0.01)
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: Not writing to {pipe}: another user's named pipe in {shared_folder}, a folder "
        "anyone can write to, may be read by them. Remove it or choose another file.\n",
    )
    assert read == [b""]


def test_export_does_not_replace_another_users_file_in_a_shared_folder(
    ada: User, run: Run, shared_folder: Path
) -> None:
    """As `fs.protected_regular` refuses it: the export would take their file's mode."""
    assert run("add", "Buy milk").exit_code == 0
    planted = shared_folder / "backup.json"
    planted.write_text("theirs\n")
    planted.chmod(0o666)
    os.chown(planted, OTHER_UID, OTHER_UID)
    result = run("export", "-o", str(planted))
    assert (result.exit_code, result.stdout, result.stderr) == (
        1,
        "",
        f"Error: Not writing to {planted}: another user's file in {shared_folder}, a folder "
        "anyone can write to, may be read by them. Remove it or choose another file.\n",
    )
    assert planted.read_text() == "theirs\n"
    assert sorted(path.name for path in shared_folder.iterdir()) == ["backup.json"]
    os.chown(planted, os.geteuid(), os.getegid())  # one's own file there is replaced
    assert run("export", "-o", str(planted)).exit_code == 0
    assert [task["title"] for task in json.loads(planted.read_text())] == ["Buy milk"]


@pytest.mark.parametrize(
    "stops",
    [(signal.SIGTERM,), (signal.SIGHUP,), (signal.SIGHUP, signal.SIGTERM)],
    ids=["SIGTERM", "SIGHUP", "SIGHUP-then-SIGTERM"],
)
# The file and the signals are the same whatever carries the rows: SQLite and PostgreSQL stream
# them differently, a pooler or TLS change nothing here (and 20,000 rows each take a while).
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_an_export_stopped_by_a_signal_leaves_no_partial_file(
    session: Session, ada: User, tmp_path: Path, stops: tuple[signal.Signals, ...]
) -> None:
    """Two signals at once: the second comes while the first is being handled and ends the
    process at once, without the cleaning up; the temporary file goes all the same."""
    add_plain_tasks(session, ada, 1, 20_000)  # a fifth of a second of writing, or more
    folder = tmp_path / "out"
    folder.mkdir()
    exporting = subprocess.Popen(
        [str(SORTED), "export", "-o", str(folder / "backup.json")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A hang fails with its stack (`finished`). Unmeasured: coverage's tracer holds a lock
        # of its own while it first records a file, and a stop signal handled inside that
        # leaves it held, so the next file it records waits forever (seen on Python 3.13).
        env=environment(PYTHONFAULTHANDLER="1", COVERAGE_PROCESS_START=None),
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(folder.iterdir()) and exporting.poll() is None:  # the temporary file
            assert time.monotonic() < deadline
            time.sleep(0.001)
        for stop in stops:  # both arrive before Python handles either
            exporting.send_signal(stop)
        _, stderr = finished(exporting)
    finally:
        if exporting.poll() is None:
            exporting.kill()
            exporting.wait()
    assert list(folder.iterdir()) == []
    assert (exporting.returncode, stderr) == (128 + stops[-1], b"")


def _open_descriptors() -> set[str]:
    return {path.name for path in Path("/proc/self/fd").iterdir()}


def test_a_signal_held_while_the_temporary_file_is_made_leaves_no_descriptor_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop signal is handled as the hold ends, before the block writes anything: the
    temporary file is removed and its descriptor closed."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("no /proc/self/fd to count open files with")
    real_mkstemp = tempfile.mkstemp

    def mkstemp_then_signalled(**kwargs: str | Path) -> tuple[int, str]:
        made = real_mkstemp(**kwargs)  # type: ignore[call-overload]
        os.kill(os.getpid(), signal.SIGTERM)  # held until the file is made
        return made  # type: ignore[no-any-return]

    def stop(number: int, _frame: object) -> None:
        raise Stopped(number)

    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_signalled)
    before = _open_descriptors()
    handler = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stopped), files.replacing(folder / "backup.json") as out:
            out.write("never\n")
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert _open_descriptors() == before
    assert list(folder.iterdir()) == []


def test_a_signal_handled_as_the_hold_begins_leaves_the_stop_signals_unblocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pthread_sigmask runs the handlers of signals received just before it as it returns, so
    a stop signal that came then raises `Stopped` from the very call that blocks the signals
    (this stands in for that handler). The mask is put back all the same: a stop signal left
    blocked would never be seen again, and a question asked next would wait forever."""
    real_sigmask = signal.pthread_sigmask
    raised: list[bool] = []

    def sigmask_then_a_handler(how: int, mask: Iterable[int]) -> set[int | signal.Signals]:
        old = real_sigmask(how, mask)
        if how == signal.SIG_BLOCK and signal.SIGTERM in set(mask) and not raised:
            raised.append(True)
            raise Stopped(signal.SIGTERM)
        return old

    before = real_sigmask(signal.SIG_BLOCK, ())
    monkeypatch.setattr(signal, "pthread_sigmask", sigmask_then_a_handler)
    folder = tmp_path / "out"
    folder.mkdir()
    try:
        with pytest.raises(Stopped), files.replacing(folder / "backup.json") as out:
            out.write("never\n")
    finally:
        after = real_sigmask(signal.SIG_SETMASK, before)  # as it was, for the tests after
    assert (raised, after) == ([True], before)
    assert list(folder.iterdir()) == []


def test_a_file_in_a_folder_one_may_write_but_not_read_is_replaced_without_an_error() -> None:
    """As a drop box (mode 0733) is for others: the folder cannot be opened to flush the
    rename, which is done all the same. Root ignores modes, so as root this acts as the user
    nobody for the while."""
    user = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    folder = Path(tempfile.mkdtemp(prefix="sorted-dropbox-", dir="/tmp"))  # nobody reaches it
    try:
        os.chown(folder, user, -1)
        folder.chmod(0o333)  # write and search, no read
        with _as_user(user), files.replacing(folder / "backup.json") as out:
            out.write("tasks\n")
        assert (folder / "backup.json").read_text() == "tasks\n"
        assert [path.name for path in folder.iterdir()] == ["backup.json"]
    finally:
        shutil.rmtree(folder)


@contextlib.contextmanager
def _as_user(uid: int) -> Iterator[None]:
    """Act as UID (its file permissions) during the block, and as oneself again after it."""
    own = os.geteuid()
    if uid == own:
        yield
        return
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(own)


# ------------------------------------------------------------------------ the process list


def _waiting_for_stdin(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(SORTED), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _arguments_once_hidden(process: subprocess.Popen[str], secret: bytes) -> bytes:
    """The process's arguments as other users see them, once SECRET is gone from them (or
    after 20 s, if it never goes). Before the process has started sorted they are its
    parent's, or empty."""
    deadline = time.monotonic() + 20
    while True:
        shown = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        started = str(SORTED).encode() in shown.split(b"\0")
        if (started and secret not in shown) or time.monotonic() > deadline:
            return shown
        assert process.poll() is None
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("given", "secret"),
    [
        (("--database-url", "postgresql://ada:{secret}@127.0.0.1:{port}/sorted"), "s3cret-pw"),
        (("--database-url=postgresql://ada:{secret}@127.0.0.1:{port}/sorted",), "s3cret-pw"),
        (("--database-url", "postgresql://ada@127.0.0.1:{port}/sorted?password={secret}"), "pw"),
        (("--database-url", "postgresql://ada:{secret}@127.0.0.1:{port}/sorted"), "pässwörd"),
    ],
    ids=["argument", "--database-url=URL", "?password=", "non-ASCII"],
)
def test_a_password_in_database_url_is_hidden_from_the_process_list(
    given: tuple[str, ...], secret: str
) -> None:
    """Starred byte for byte, as the process list holds it (`ö` is two bytes, two stars)."""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc: nothing to hide from")
    port = free_port()
    args = [part.format(secret=secret, port=port) for part in given]
    encoded = secret.encode()
    # `import -` reads its file before it connects: it waits there, as long as it takes.
    importing = _waiting_for_stdin([*args, "import", "-"], environment())
    try:
        shown = _arguments_once_hidden(importing, encoded)
        _, stderr = importing.communicate("[]", timeout=TIMEOUT_S)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert encoded not in shown
    starred = [part.format(secret="*" * len(encoded), port=port).encode() for part in given]
    assert shown.split(b"\0")[-len(args) - 3 : -3] == starred  # then import, - and the end
    assert importing.returncode == 1  # nothing listens there
    assert stderr.startswith("Error: Cannot connect to postgresql+psycopg://ada")
    assert secret not in stderr


def test_a_password_in_database_url_after_the_command_is_hidden_too() -> None:
    """Starred before the command reads anything (`import -` waits for its file)."""
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc: nothing to hide from")
    url = f"postgresql://ada:s3cret-pw@127.0.0.1:{free_port()}/sorted"
    importing = _waiting_for_stdin(["import", "-", "--database-url", url], environment())
    try:
        shown = _arguments_once_hidden(importing, b"s3cret-pw")
        _, stderr = importing.communicate("[]", timeout=TIMEOUT_S)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    starred = url.replace("s3cret-pw", "*********").encode()
    assert shown.split(b"\0")[-5:] == [b"import", b"-", b"--database-url", starred, b""]
    assert importing.returncode == 1  # nothing listens there
    assert stderr.startswith("Error: Cannot connect to postgresql+psycopg://ada")


@pytest.mark.parametrize("backend", POSTGRES_BACKENDS, indirect=True)  # SQLite: no password
def test_a_command_with_a_password_on_its_command_line_works_with_it_hidden(
    database_url: str, ada: User
) -> None:
    url = database_url
    # The TLS cluster's URL holds its SCRAM password; the others' servers trust any.
    if ":" not in url.partition("://")[2].partition("@")[0]:
        url = url.replace("@", ":s3cret-pw@", 1)
    secret = url.partition("://")[2].partition("@")[0].partition(":")[2].encode()
    env = environment(DATABASE_URL=None, SORTED_USER=ADA)
    importing = _waiting_for_stdin(["--database-url", url, "import", "-"], env)
    try:
        shown = _arguments_once_hidden(importing, secret)
        record = {"id": "0d7e6a52-3f0a-4a43-9a5d-1c2b3d4e5f60", "title": "Buy milk"}
        record["created_at"] = "2026-11-23T12:58:55Z"
        stdout, stderr = importing.communicate(json.dumps([record]), timeout=TIMEOUT_S)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert secret not in shown
    assert (importing.returncode, stdout, stderr) == (0, "Imported 1 task.\n", "")


# ---------------------------------------------------------------------------- .env


def test_a_dotenv_that_cannot_be_read_is_an_error_and_nothing_is_added(
    isolated_home: Path, run: Run
) -> None:
    Path(".env").write_text('SORTED_RETRY_TIMEOUT=3\nDATABASE_URL="postgresql://ada@db/sorted\n')
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        "Error: Cannot read .env, line 2: not NAME=VALUE (a quote left open?); fix it or "
        "remove the line.\n",
    )
    assert not isolated_home.exists()  # no embedded database, no config file
    Path(".env").write_text('SORTED_RETRY_TIMEOUT=3\nSORTED_USER="ada@example.com"\n')
    assert run("config").exit_code == 0
    assert "ada@example.com" in run("config").stdout
