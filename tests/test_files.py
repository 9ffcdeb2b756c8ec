"""Files and secrets: the config file and `export -o` replaced whole, through a dotfiles link,
under a lock, on the disk before the rename, never through another user's planted link and
never left half-written by a signal; a password on the command line hidden from other users;
a `.env` that cannot be read is an error."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ADA, POSTGRES_BACKENDS, Run, add_plain_tasks
from test_processes import SORTED, TIMEOUT_S, environment, free_port, run_together

from sorted_cli.config import load_settings
from sorted_cli.configfile import CURRENT_USER_TABLE
from sorted_cli.db import close_session, open_session
from sorted_cli.models import UserCreate, validated
from sorted_cli.services import users

if TYPE_CHECKING:
    from sqlmodel import Session

    from sorted_cli.models import User

TRACED = ("fsync", "fdatasync", "rename", "renameat", "renameat2")
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
        session = open_session(load_settings(database_url=databases[-1]))
        users.create_user(session=session, data=validated(UserCreate, email=ADA))
        close_session(session)
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
def test_a_command_waiting_for_the_config_files_lock_says_so_then_goes_on(
    isolated_home: Path, database_url: str, ada: User
) -> None:
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
    assert waiting == f"Waiting for another sorted to finish writing {config}...\n"
    assert (switching.returncode, stdout, stderr) == (0, f"Now acting as {ADA}\n", "")
    assert list(remembered(config).values()) == [ADA]


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


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_an_export_stopped_by_a_signal_leaves_no_partial_file(
    session: Session, ada: User, tmp_path: Path, stop: signal.Signals
) -> None:
    add_plain_tasks(session, ada, 1, 50_000)  # half a second of writing, or more
    folder = tmp_path / "out"
    folder.mkdir()
    exporting = subprocess.Popen(
        [str(SORTED), "export", "-o", str(folder / "backup.json")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(),
    )
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while not any(folder.iterdir()) and exporting.poll() is None:  # the temporary file
            assert time.monotonic() < deadline
            time.sleep(0.001)
        exporting.send_signal(stop)
        _, stderr = exporting.communicate(timeout=TIMEOUT_S)
    finally:
        if exporting.poll() is None:
            exporting.kill()
            exporting.wait()
    assert list(folder.iterdir()) == []
    assert (exporting.returncode, stderr) == (128 + stop, b"")


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


def test_a_password_in_database_url_is_hidden_from_the_process_list() -> None:
    if not Path("/proc/self/cmdline").exists():
        pytest.skip("no /proc: nothing to hide from")
    url = f"postgresql://ada:s3cret-pw@127.0.0.1:{free_port()}/sorted"
    # `import -` reads its file before it connects: it waits there, as long as it takes.
    importing = _waiting_for_stdin(["--database-url", url, "import", "-"], environment())
    try:
        shown = _arguments_once_hidden(importing, b"s3cret-pw")
        _, stderr = importing.communicate("[]", timeout=TIMEOUT_S)
    finally:
        if importing.poll() is None:
            importing.kill()
            importing.wait()
    assert b"s3cret-pw" not in shown
    assert url.replace("s3cret-pw", "*********").encode() in shown.split(b"\0")
    assert importing.returncode == 1  # nothing listens there
    assert stderr.startswith("Error: Cannot connect to postgresql+psycopg://ada:***@127.0.0.1:")


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
