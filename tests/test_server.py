"""The command server through real processes: the `sorted` program, its server and workers.

Each test here starts a server of its own, in the test's own runtime folder (XDG_RUNTIME_DIR,
see `isolated_home`), which must be gone at the end. The CLI tests also run through a server
(the `run` and `either_way` fixtures), which shows that output, exit codes and errors are the
same either way; these tests pin what only the server has: how it starts, stops, hands over
descriptors and signals, falls back, and whom it serves.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import ADA, read_until_closed
from test_processes import (
    QUESTION_END,
    SORTED,
    TIMEOUT_S,
    _read_until,
    answer_at_terminal,
    at_question,
    environment,
    interrupted,
    outcome,
    run_sorted,
)

from sorted_cli.models import TaskCreate, User, validated
from sorted_cli.server import where, wire
from sorted_cli.server.client import DIED
from sorted_cli.services import tasks

if TYPE_CHECKING:
    from sqlmodel import Session

NO_SUCH_USER = "Error: No user nobody@example.com: add one with `sorted user add EMAIL`.\n"
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
QUESTION = "Move 2 tasks to the trash? #1 Call Bob, #2 Pay rent [y/N]: "


class Server:
    """A command server this test started, in its runtime folder."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        started = run_sorted("server", "start", env=env)
        assert started.returncode == 0, started.stderr
        self.pid = int(re.findall(r"pid (\d+)", started.stdout)[0])

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text()
        return sorted(int(pid) for pid in children.split())

    def running(self) -> bool:
        return run_sorted("server", "status", env=self.env).returncode == 0

    def gone_within(self, seconds: float) -> bool:
        return _within(seconds, lambda: not self.running())


def _within(seconds: float, done: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def start_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Server]]:
    """Starts a server with the given settings (`SORTED_SERVER_WORKERS="1"`, as keywords);
    from then on the test's `sorted` commands must go through it (SORTED_SERVER=require)."""
    monkeypatch.setenv("SORTED_SERVER", "on")

    def start(**settings: str) -> Server:
        server = Server(environment(**settings))
        monkeypatch.setenv("SORTED_SERVER", "require")
        monkeypatch.setenv("SORTED_SERVER_WAIT", "10")
        return server

    yield start
    run_sorted("server", "stop", env=environment(SORTED_SERVER="on"))


@pytest.fixture
def bob(session: Session, ada: User) -> User:
    """Ada, with two tasks: 1 Call Bob, 2 Pay rent."""
    for title in ("Call Bob", "Pay rent"):
        tasks.create_task(session=session, user=ada, data=validated(TaskCreate, title=title))
    return ada


def _open_titles(session: Session, user: User) -> list[str]:
    from test_processes import titles_in

    from sorted_cli.choices import View

    return titles_in(session, user, View.open)


_UUID_OR_MOMENT = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[\d.:+Z]*"
)


def _masked(result: tuple[int, str, str]) -> tuple[int, str, str]:
    code, out, err = result
    return code, _UUID_OR_MOMENT.sub("*", out), _UUID_OR_MOMENT.sub("*", err)


COMMANDS = [
    ["add", "Buy milk", "--due", "2030-01-02", "-p", "high", "--tag", "shop"],
    ["add", "Call mum"],
    ["list"],
    ["show", "1", "--json"],
    ["done", "1"],
    ["done", "1"],
    ["show", "42"],
    ["list", "--sort", "nonsense"],
    ["delete", "2", "--yes"],
    ["list", "--all"],
    ["stats"],
    ["config"],
]


def test_a_first_run_through_the_server_is_the_same_as_in_its_own_process(
    tmp_path: Path, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """From nothing (no database, no user) to a day's commands: what each prints, and how it
    exits, through a server as in its own process (timestamps and UUIDs aside)."""
    monkeypatch.setenv("SORTED_HOME", str(tmp_path / "own"))
    alone = environment(SORTED_SERVER="off")  # each in its own process, starting no server
    own = [_masked(outcome(run_sorted(*command, env=alone))) for command in COMMANDS]
    start_server()
    monkeypatch.setenv("SORTED_HOME", str(tmp_path / "served"))
    served = [_masked(outcome(run_sorted(*command))) for command in COMMANDS]
    assert [result[0] for result in own] == [0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0]
    assert served == [_served_home(result, tmp_path) for result in own]


def _served_home(result: tuple[int, str, str], tmp_path: Path) -> tuple[int, str, str]:
    code, out, err = result
    own, served = str(tmp_path / "own"), str(tmp_path / "served")
    return code, out.replace(own, served), err.replace(own, served)


@ON_SQLITE
def test_the_first_command_starts_a_server_for_the_next(bob: User) -> None:
    """Without a server the command runs in its own process (as always) and starts one in
    the background; the next command goes through it."""
    env = environment(SORTED_SERVER="on")
    assert outcome(run_sorted("list", env=env))[0] == 0
    assert _within(20, lambda: run_sorted("server", "status", env=env).returncode == 0)
    required = environment(SORTED_SERVER="require", SORTED_SERVER_WAIT="10")
    assert outcome(run_sorted("done", "1", env=required)) == (0, "Completed task 1: Call Bob\n", "")
    assert outcome(run_sorted("server", "stop", env=env))[0] == 0


@ON_SQLITE
def test_status_start_and_stop(bob: User, monkeypatch: pytest.MonkeyPatch) -> None:
    env = environment(SORTED_SERVER="on")
    assert outcome(run_sorted("server", "status", env=env)) == (
        1,
        "The sorted server is not running.\n",
        "",
    )
    assert outcome(run_sorted("server", "stop", env=env)) == (
        0,
        "The sorted server is not running.\n",
        "",
    )
    started = run_sorted("server", "start", env=env)
    pid = re.findall(r"pid (\d+)", started.stdout)[0]
    assert outcome(started) == (0, f"Started the sorted server (pid {pid}).\n", "")
    again = run_sorted("server", "start", env=env)
    assert outcome(again) == (0, f"The sorted server is already running (pid {pid}).\n", "")
    status = run_sorted("server", "status", env=env)
    assert status.returncode == 0
    first, second = status.stdout.splitlines()
    assert re.fullmatch(
        rf"The sorted server is running: pid {pid}, 4 workers, \d+ MB of memory in all, up "
        r"\d+ s; it stops after 30 min without a command\.",
        first,
    ), first
    assert second == f"Socket: {socket_file()}"
    assert outcome(run_sorted("server", "stop", env=env)) == (
        0,
        f"Stopped the sorted server (pid {pid}).\n",
        "",
    )
    assert not socket_file().exists()
    off = run_sorted("server", "start", env=environment(SORTED_SERVER="off"))
    assert outcome(off) == (
        1,
        "",
        "Error: SORTED_SERVER=off: commands run in their own process, so no server.\n",
    )


def socket_file() -> Path:
    return Path(where.socket_path(where.socket_folder()))


@ON_SQLITE
def test_the_server_takes_on_the_clients_folder_environment_umask_and_dotenv(
    tmp_path: Path, bob: User, start_server: Callable[..., Server]
) -> None:
    start_server()
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / ".env").write_text("SORTED_USER=nobody@example.com\n")
    unknown = subprocess.run(
        [str(SORTED), "list"],
        cwd=work,
        capture_output=True,
        text=True,
        env=environment(SORTED_USER=None),
        timeout=TIMEOUT_S,
        check=False,
    )
    assert (unknown.returncode, unknown.stderr) == (1, NO_SUCH_USER)
    (work / ".env").unlink()
    exported = subprocess.run(
        [str(SORTED), "export", "-o", "tasks.json"],
        cwd=work,
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT_S,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert "Call Bob" in (work / "tasks.json").read_text()
    # umask: the folders made on the way to a new SORTED_HOME get the client's.
    home = tmp_path / "deep" / "home"
    made = subprocess.run(
        ["/bin/sh", "-c", f'umask 027; exec "{SORTED}" list'],
        capture_output=True,
        text=True,
        env=environment(SORTED_HOME=str(home), DATABASE_URL=None, SORTED_USER=None),
        timeout=TIMEOUT_S,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "deep").stat().st_mode & 0o777 == 0o750


@ON_SQLITE
def test_a_reader_that_goes_away_ends_the_command_as_sigpipe_would(
    session: Session, ada: User, start_server: Callable[..., Server]
) -> None:
    from conftest import add_plain_tasks

    add_plain_tasks(session, ada, 1, 3000)
    start_server()
    piped = subprocess.run(
        ["/bin/bash", "-c", f'set -o pipefail; "{SORTED}" list --all | head -1'],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=TIMEOUT_S,
        check=False,
    )
    assert (piped.returncode, piped.stderr) == (141, "")
    assert piped.stdout.count("\n") == 1


@ON_SQLITE
def test_ctrl_c_sigterm_and_sighup_reach_the_command_at_a_question(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    start_server()
    assert interrupted(answer_at_terminal("delete", "1", "2", answer=b"\x03"), QUESTION)
    for number, code in ((signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        assert answer_at_terminal("delete", "1", "2", answer=b"", signals=(number,)) == (
            code,
            "",
            f"{QUESTION}\r\n",
        )
    # Under nohup a hang-up stays ignored, and the answer still counts.
    assert answer_at_terminal(
        "delete", "1", "2", answer=b"n\n", signals=(signal.SIGHUP,), nohup=True
    ) == (1, "", f"{QUESTION}n\r\nNothing deleted.\r\n")
    assert _open_titles(session, bob) == ["Call Bob", "Pay rent"]
    assert answer_at_terminal("delete", "1", "2", answer=b"y\n") == (
        0,
        "Deleted task 1: Call Bob\nDeleted task 2: Pay rent\n",
        f"{QUESTION}y\r\n",
    )


def _at_question(*args: str) -> tuple[subprocess.Popen[bytes], int]:
    """`sorted ARGS` at a terminal, waiting at its question; the process and the terminal."""
    process, leader, _ = at_question(*args)
    return process, leader


def _ended(pid: int) -> bool:
    """Whether process PID has exited (a zombie nobody reaped yet counts)."""
    try:
        return _state_of(pid) == "Z"
    except FileNotFoundError:
        return True


def _state_of(pid: int) -> str:
    """The one-letter state of process PID (R, S, T for stopped...)."""
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


# A shell's job control, as small as it can be: it gives the terminal to the command's own
# process group, says on stdout when the command stopped (Ctrl-Z), and then puts it back in the
# foreground (`fg`). (A command that leads a session of its own would not stop: the kernel
# ignores Ctrl-Z for a process group with no shell to continue it.)
_JOB_SHELL = r"""
import fcntl, os, signal, sys, termios
fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
child = os.fork()
if child == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
os.setpgid(child, child)
_, status = os.waitpid(child, os.WUNTRACED)
os.tcsetpgrp(0, os.getpgrp())  # the terminal is the shell's again
print("stopped" if os.WIFSTOPPED(status) else "ended", flush=True)
sys.stdin.readline()  # the test says when to go on
os.tcsetpgrp(0, child)
os.killpg(child, signal.SIGCONT)
_, status = os.waitpid(child, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@ON_SQLITE
def test_ctrl_z_stops_the_command_and_fg_continues_it(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    import pty

    server = start_server(SORTED_SERVER_WORKERS="1")
    [worker] = server.workers()
    leader, follower = pty.openpty()
    shell = subprocess.Popen(
        [sys.executable, "-c", _JOB_SHELL, str(SORTED), "delete", "1", "2"],
        stdin=follower,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=environment(),
        start_new_session=True,
    )
    os.close(follower)
    try:
        _read_until(leader, QUESTION_END)
        assert _state_of(worker) != "T"
        os.write(leader, b"\x1a")  # Ctrl-Z
        assert shell.stdout is not None
        assert shell.stdout.readline() == b"stopped\n"
        assert _within(5, lambda: _state_of(worker) == "T")
        os.write(leader, b"\n")  # the shell's `fg`
        assert _within(5, lambda: _state_of(worker) != "T")
        os.write(leader, b"y\n")
        stdout, _ = shell.communicate(timeout=TIMEOUT_S)
        read_until_closed(leader)
    finally:
        os.close(leader)
    assert (shell.returncode, stdout) == (
        0,
        b"Deleted task 1: Call Bob\nDeleted task 2: Pay rent\n",
    )


@ON_SQLITE
def test_a_killed_client_stops_its_command_and_frees_the_worker(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    start_server(SORTED_SERVER_WORKERS="1")
    process, leader = _at_question("delete", "1", "2")
    process.kill()
    process.wait(timeout=TIMEOUT_S)
    os.close(leader)
    # The one worker is free again: the next command goes through it at once.
    listed = run_sorted("list", env=environment(SORTED_SERVER_WAIT="5"))
    assert listed.returncode == 0, listed.stderr
    assert _open_titles(session, bob) == ["Call Bob", "Pay rent"]


@ON_SQLITE
@pytest.mark.parametrize("server_stopped", [False, True], ids=["server running", "server stopped"])
def test_a_client_killed_while_stopped_does_not_leave_its_worker_stopped(
    session: Session, bob: User, start_server: Callable[..., Server], server_stopped: bool
) -> None:
    """Ctrl-Z, then `kill -9 %1`: no `fg` will ever come, and the stopped worker would hold its
    command (its locks, its connection) for ever. The server continues it, and the command
    ends as a hang-up ends it; a server asked to stop meanwhile still does, before it goes."""
    # A second worker answers `sorted server stop` while the first one is stopped.
    server = start_server(SORTED_SERVER_WORKERS="2" if server_stopped else "1")
    process, leader = _at_question("delete", "1", "2")
    try:
        # What Ctrl-Z sends. (The client, leading a session of its own, is not stopped by it:
        # the kernel ignores it there; its worker is, as with a shell.)
        process.send_signal(signal.SIGTSTP)
        assert _within(5, lambda: [_state_of(pid) for pid in server.workers()].count("T") == 1)
        [worker] = [pid for pid in server.workers() if _state_of(pid) == "T"]
        if server_stopped:
            assert outcome(run_sorted("server", "stop"))[1].startswith("Stopped the sorted server")
        process.kill()
        process.wait(timeout=TIMEOUT_S)
        assert _within(10, lambda: _ended(worker) or _state_of(worker) not in ("T", "t"))
    finally:
        os.close(leader)
    assert _open_titles(session, bob) == ["Call Bob", "Pay rent"]
    if server_stopped:  # the worker ended its command and left, and its server with it
        assert _within(10, lambda: _ended(server.pid))
        return
    listed = run_sorted("list", env=environment(SORTED_SERVER_WAIT="10"))
    assert listed.returncode == 0, listed.stderr
    assert server.workers() == [worker]  # the same worker, free again


@ON_SQLITE
def test_the_python_settings_of_the_command_that_started_the_server_are_not_the_next_ones(
    bob: User, start_server: Callable[..., Server]
) -> None:
    """How Python runs (PYTHONIOENCODING, PYTHONWARNINGS, ...) is each command's own: the
    server does not start with them."""
    assert run_sorted("add", "Café au lait", env=environment(SORTED_SERVER="off")).returncode == 0
    start_server(PYTHONIOENCODING="ascii", PYTHONWARNINGS="error")
    listed = run_sorted("list")
    assert listed.returncode == 0, listed.stderr
    assert "Café au lait" in listed.stdout


@ON_SQLITE
def test_a_server_whose_every_worker_is_busy_is_still_seen_and_stopped(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    """No worker is free to answer `sorted server status` or `stop`: the server is found by
    its lock all the same, and stopped by a signal; the command it runs finishes first."""
    server = start_server(SORTED_SERVER_WORKERS="1")
    process, leader = _at_question("delete", "1", "2")
    try:
        assert outcome(run_sorted("server", "status")) == (
            0,
            f"The sorted server is running (pid {server.pid}); every worker is busy.\n",
            "",
        )
        assert outcome(run_sorted("server", "stop")) == (
            0,
            f"Stopped the sorted server (pid {server.pid}).\n",
            "",
        )
        os.write(leader, b"y\n")
        stdout, _ = process.communicate(timeout=TIMEOUT_S)
    finally:
        os.close(leader)
    assert (process.returncode, stdout) == (
        0,
        b"Deleted task 1: Call Bob\nDeleted task 2: Pay rent\n",
    )
    assert _within(10, lambda: _ended(server.pid))


@ON_SQLITE
def test_a_worker_that_dies_mid_command_is_said_and_replaced(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    server = start_server(SORTED_SERVER_WORKERS="2")
    before = server.workers()
    process, leader = _at_question("delete", "1", "2")
    try:
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        stdout, _ = process.communicate(timeout=TIMEOUT_S)
        shown = read_until_closed(leader)
    finally:
        os.close(leader)
    assert (process.returncode, stdout) == (1, b"")
    assert shown.decode().endswith(DIED.replace("\n", "\r\n"))
    assert _within(10, lambda: len(set(server.workers()) - set(before)) == 2)
    assert outcome(run_sorted("done", "1")) == (0, "Completed task 1: Call Bob\n", "")


@ON_SQLITE
def test_a_busy_server_leaves_the_command_to_its_own_process(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    start_server(SORTED_SERVER_WORKERS="1")
    process, leader = _at_question("delete", "1", "2")  # holds the only worker
    try:
        quick = run_sorted("list", env=environment(SORTED_SERVER="on", SORTED_SERVER_WAIT="0.2"))
        assert quick.returncode == 0, quick.stderr
        assert "Call Bob" in quick.stdout
        required = run_sorted("list", env=environment(SORTED_SERVER_WAIT="0.2"))
        assert required.returncode == 1
        assert required.stderr == (
            "Error: the command server did not take the command within 0.2 s.\n"
        )
        os.write(leader, b"n\n")
        process.communicate(timeout=TIMEOUT_S)
        read_until_closed(leader)
    finally:
        os.close(leader)


@ON_SQLITE
def test_a_folder_others_may_enter_is_refused(
    tmp_path: Path, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))  # not private: $TMPDIR is used instead
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    unsafe = tmp_path / f"sorted-{os.getuid()}"
    unsafe.mkdir(mode=0o755)
    unsafe.chmod(0o755)
    refused = run_sorted("list", env=environment(SORTED_SERVER="require"))
    assert outcome(refused) == (
        1,
        "",
        f"Error: no command server: {unsafe} is not a folder that only this user can enter "
        "(mode 0700).\n",
    )
    listed = run_sorted("list", env=environment(SORTED_SERVER="on"))
    assert (listed.returncode, listed.stderr) == (0, "")  # in its own process, as always
    assert list(unsafe.iterdir()) == []  # and no server was started there
    unsafe.rmdir()
    unsafe.symlink_to(shared)
    assert run_sorted("list", env=environment(SORTED_SERVER="require")).returncode == 1


@ON_SQLITE
def test_a_socket_left_by_a_dead_server_is_replaced(
    bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = socket_file()
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(stale))
    left.close()  # the file stays, with no one listening
    env = environment(SORTED_SERVER="on")
    assert outcome(run_sorted("list", env=env))[0] == 0  # in its own process; starts one
    assert _within(20, lambda: run_sorted("server", "status", env=env).returncode == 0)
    assert outcome(run_sorted("server", "stop", env=env))[0] == 0


@ON_SQLITE
def test_two_servers_started_at_once_are_one(bob: User) -> None:
    env = environment(SORTED_SERVER="on")
    starting = [
        subprocess.Popen(
            [str(Path(SORTED).parent / "python"), "-m", "sorted_cli.server.daemon"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(3)
    ]
    try:
        assert _within(20, lambda: sum(p.poll() is None for p in starting) == 1)
        time.sleep(1)
        assert sum(p.poll() is None for p in starting) == 1
        assert [p.returncode for p in starting if p.poll() is not None] == [0, 0]
        assert run_sorted("server", "status", env=env).returncode == 0
    finally:
        run_sorted("server", "stop", env=env)
        for process in starting:
            process.wait(timeout=TIMEOUT_S)


@ON_SQLITE
def test_a_client_of_other_code_is_refused_and_the_server_makes_way(
    bob: User, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10)
        connection.connect(str(socket_file()))
        wire.send_request(connection, wire.Request(wire.RUN, "00000000"))
        assert connection.recv(1) == wire.REFUSED
        assert wire.receive_text(connection) == (
            "it runs another version of sorted; it is stopping"
        )
    assert server.gone_within(10)
    # The next command (SORTED_SERVER=require) starts a server of this code and goes through.
    assert outcome(run_sorted("done", "1")) == (0, "Completed task 1: Call Bob\n", "")


@ON_SQLITE
def test_another_users_connection_gets_no_answer(
    bob: User, start_server: Callable[..., Server]
) -> None:
    if os.getuid() != 0:
        pytest.skip("needs root, to connect as another user")
    start_server()
    path = socket_file()
    folder = path.parent
    # Let the other user reach the socket; the server must still refuse them.
    for opened in (folder, folder.parent):
        opened.chmod(0o711)
    path.chmod(0o666)
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child's own process
            code = 1
            try:
                os.setuid(65534)
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                    connection.settimeout(10)
                    connection.connect(str(path))
                    try:
                        wire.send_request(connection, wire.Request(wire.STATUS, "x"))
                        answer = connection.recv(1)
                    except (BrokenPipeError, ConnectionResetError):  # closed on it, unread
                        answer = b""
                    code = 0 if answer == b"" else 3
            finally:
                os._exit(code)
        _, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0  # connected, then closed unanswered
    finally:
        for opened in (folder, folder.parent):
            opened.chmod(0o700)


@ON_SQLITE
def test_an_idle_server_stops_by_itself(bob: User, start_server: Callable[..., Server]) -> None:
    server = start_server(SORTED_SERVER_IDLE_TIMEOUT="1")
    assert server.gone_within(15)
    assert not socket_file().exists()


@ON_SQLITE
def test_the_server_keeps_no_secret_and_no_terminal(
    bob: User, start_server: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_MIGRATION_DATABASE_URL", "postgresql://ada:s3cret@db.example.com/t")
    monkeypatch.setenv("PGPASSWORD", "s3cret")
    monkeypatch.setenv("NEON_API_KEY", "s3cret")  # a name no list of secret words foresees
    server = start_server(SORTED_SERVER_WORKERS="1")
    read_end, write_end = os.pipe()
    listed = subprocess.Popen(
        [str(SORTED), "list"], stdin=subprocess.DEVNULL, stdout=write_end, env=environment()
    )
    os.close(write_end)
    assert listed.wait(timeout=TIMEOUT_S) == 0
    assert b"Call Bob" in os.read(read_end, 65536)
    given = f"pipe:[{os.fstat(read_end).st_ino}]"
    os.close(read_end)
    [worker] = server.workers()
    # What the command was given is closed once it is over.
    held = {str(link.readlink()) for link in Path(f"/proc/{worker}/fd").iterdir()}
    assert given not in held
    for pid in [server.pid, worker]:
        assert b"s3cret" not in Path(f"/proc/{pid}/environ").read_bytes()
        assert b"s3cret" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        for number in (0, 1, 2):
            assert str(Path(f"/proc/{pid}/fd/{number}").readlink()) == "/dev/null"
    assert os.getsid(server.pid) == server.pid  # a session of its own: no terminal's hang-up


@ON_SQLITE
def test_debug_in_one_command_leaves_no_sql_logging_for_the_next(
    bob: User, start_server: Callable[..., Server]
) -> None:
    start_server(SORTED_SERVER_WORKERS="1")
    debugged = run_sorted("--debug", "list")
    assert "sqlalchemy.engine" in debugged.stderr
    assert outcome(run_sorted("list"))[2] == ""


@ON_SQLITE
def test_a_user_named_for_one_command_is_not_the_next_ones(
    session: Session, bob: User, start_server: Callable[..., Server]
) -> None:
    start_server(SORTED_SERVER_WORKERS="1")
    other = run_sorted("--user", "nobody@example.com", "list")
    assert outcome(other) == (1, "", NO_SUCH_USER)
    assert run_sorted("list").stdout.count("Call Bob") == 1
    assert ADA in run_sorted("config").stdout


@ON_SQLITE
def test_workers_leave_when_their_server_is_killed(
    bob: User, start_server: Callable[..., Server]
) -> None:
    server = start_server()
    workers = server.workers()
    os.kill(server.pid, signal.SIGKILL)

    def gone(pid: int) -> bool:
        return not Path(f"/proc/{pid}").exists() or _state_of(pid) == "Z"

    assert _within(20, lambda: all(gone(pid) for pid in workers))
    # The next command starts a server anew, and goes through it.
    assert outcome(run_sorted("done", "1")) == (0, "Completed task 1: Call Bob\n", "")


@ON_SQLITE
def test_the_server_never_imports_from_the_folder_it_was_started_in(
    tmp_path: Path, bob: User
) -> None:
    """A `sorted_cli` (or `typer`, ...) in the working folder of the command that starts the
    server is not imported: the server is the installed sorted, as every command is."""
    planted = tmp_path / "clone" / "sorted_cli" / "server"
    planted.mkdir(parents=True)
    marker = tmp_path / "imported"
    for folder in (planted.parent, planted):
        (folder / "__init__.py").write_text("")
    (planted / "daemon.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    env = environment(SORTED_SERVER="on")
    held = os.open(tmp_path / "held", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        first = subprocess.run(
            [str(SORTED), "list"], cwd=planted.parent.parent, env=env, capture_output=True,
            text=True, timeout=TIMEOUT_S, check=False, pass_fds=(held,),
        )  # fmt: skip
    finally:
        os.close(held)
    assert first.returncode == 0, first.stderr
    assert _within(20, lambda: run_sorted("server", "status", env=env).returncode == 0)
    assert not marker.exists()
    pid = int(re.findall(r"pid (\d+)", run_sorted("server", "status", env=env).stdout)[0])
    # Nor does it hold the folder, or any file the first command had open.
    assert str(Path(f"/proc/{pid}/cwd").readlink()) == "/"
    assert held not in {int(fd.name) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    assert run_sorted("server", "stop", env=env).returncode == 0


@ON_SQLITE
def test_a_command_that_a_closed_pipe_ends_leaves_no_descriptor_in_its_worker(
    session: Session, ada: User, start_server: Callable[..., Server]
) -> None:
    from conftest import add_plain_tasks

    add_plain_tasks(session, ada, 1, 2000)
    server = start_server(SORTED_SERVER_WORKERS="1")
    [worker] = server.workers()

    def descriptors() -> int:
        return len(list(Path(f"/proc/{worker}/fd").iterdir()))

    piped = f'"{SORTED}" list --all | head -1 >/dev/null'
    subprocess.run(["/bin/sh", "-c", piped], env=environment(), timeout=TIMEOUT_S, check=False)
    before = descriptors()
    for _ in range(3):
        subprocess.run(["/bin/sh", "-c", piped], env=environment(), timeout=TIMEOUT_S, check=False)
    assert descriptors() == before


@ON_SQLITE
def test_a_worker_that_died_in_a_command_does_not_keep_the_server_busy(
    bob: User, start_server: Callable[..., Server]
) -> None:
    server = start_server(SORTED_SERVER_WORKERS="1", SORTED_SERVER_IDLE_TIMEOUT="2")
    [worker] = server.workers()
    process, leader = _at_question("delete", "1", "2")
    try:
        os.kill(worker, signal.SIGKILL)
        process.communicate(timeout=TIMEOUT_S)
        read_until_closed(leader)
    finally:
        os.close(leader)
    assert server.gone_within(20)  # idle once its busy worker is gone


@ON_SQLITE
def test_a_runtime_folder_too_long_for_a_socket_is_refused(
    tmp_path: Path, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 40)
    deep.mkdir(parents=True, mode=0o700)
    deep.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
    refused = run_sorted("list", env=environment(SORTED_SERVER="require"))
    assert outcome(refused) == (
        1,
        "",
        f"Error: no command server: {deep / 'sorted'} is too long a path for a socket.\n",
    )
    assert run_sorted("list", env=environment(SORTED_SERVER="on")).returncode == 0


ON_POSTGRES = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@ON_POSTGRES
def test_through_a_warm_server_an_everyday_command_opens_no_connection_and_makes_one_round_trip(
    database_url: str,
    session: Session,
    bob: User,
    start_server: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from conftest import add_plain_tasks
    from faultproxy import FaultProxy, server_address
    from test_engines import EVERYDAY

    add_plain_tasks(session, bob, 3, 5)
    bob.last_task_number = 5
    session.add(bob)
    session.commit()
    with FaultProxy(upstream=server_address(database_url)) as proxy:
        monkeypatch.setenv("DATABASE_URL", proxy.url_for(database_url))
        start_server(SORTED_SERVER_WORKERS="1")  # one worker: one warm connection
        assert run_sorted("list").returncode == 0
        assert proxy.connections == 1
        for args in EVERYDAY:
            proxy.reset_counters()
            done = run_sorted(*args)
            assert done.returncode == 0, (args, done.stderr)
            assert (proxy.connections, proxy.round_trips) == (0, 1), args


@ON_POSTGRES
def test_a_server_closes_its_database_connection_after_the_idle_time(
    database_url: str,
    bob: User,
    start_server: Callable[..., Server],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_engines import open_connections

    monkeypatch.setenv("SORTED_CONNECTION_IDLE_TIMEOUT", "1")
    before = open_connections(database_url)  # the test's own session
    start_server(SORTED_SERVER_WORKERS="1")
    assert run_sorted("list").returncode == 0
    assert open_connections(database_url) == before + 1
    assert _within(10, lambda: open_connections(database_url) == before)
    assert run_sorted("list").returncode == 0  # and opens one again when asked
    assert open_connections(database_url) == before + 1


@ON_SQLITE
def test_a_server_whose_code_changed_stops_and_no_command_runs_the_old_code(
    tmp_path: Path, bob: User
) -> None:
    """An edited file (or an upgrade) in the installed sorted: the server sees it within its
    5 s check and stops, with no command asking; the next command runs the new code."""
    import shutil

    import sorted_cli

    code = tmp_path / "code"
    shutil.copytree(
        Path(sorted_cli.__file__).parent,
        code / "sorted_cli",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    # Not measured: coverage would record the copy's files, gone once the test ends.
    env = {
        name: value
        for name, value in environment(PYTHONPATH=str(code), SORTED_SERVER="on").items()
        if not name.startswith("COVERAGE")
    }
    assert run_sorted("server", "start", env=env).returncode == 0
    status = run_sorted("server", "status", env=env)
    pid = int(re.findall(r"pid (\d+)", status.stdout)[0])
    assert run_sorted("--version", env=env).stdout == f"sorted {sorted_cli.__version__}\n"
    first = code / "sorted_cli" / "__init__.py"
    first.write_text(first.read_text().replace(sorted_cli.__version__, "9.9.9"))
    assert _within(15, lambda: not Path(f"/proc/{pid}").exists())
    through_new = {**env, "SORTED_SERVER": "require", "SORTED_SERVER_WAIT": "10"}
    assert run_sorted("--version", env=through_new).stdout == "sorted 9.9.9\n"
    assert run_sorted("server", "stop", env=env).returncode == 0


@ON_SQLITE
def test_a_commands_pythonioencoding_sets_its_streams(either_way: str, bob: User) -> None:
    """As Python sets up a process's streams: through the server too, the command's
    PYTHONIOENCODING (not the server's) says how its output is encoded."""
    added = run_sorted("add", "Café au lait")
    assert added.returncode == 0, added.stderr
    env = environment(PYTHONIOENCODING="ascii:backslashreplace")
    shown = subprocess.run(
        [str(SORTED), "list"], env=env, capture_output=True, timeout=TIMEOUT_S, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert b"Caf\\xe9 au lait" in shown.stdout


@ON_SQLITE
def test_a_worker_that_ran_its_share_of_commands_is_replaced(
    bob: User, start_server: Callable[..., Server]
) -> None:
    server = start_server(SORTED_SERVER_WORKERS="1", SORTED_SERVER_WORKER_COMMANDS="3")
    [first] = server.workers()
    for _ in range(3):
        assert run_sorted("list").returncode == 0
    assert _within(10, lambda: server.workers() not in ([], [first]))
    [second] = server.workers()
    assert run_sorted("list").returncode == 0  # and the fresh one takes the next command
    assert server.workers() == [second]


@ON_SQLITE
def test_a_terminal_resize_reaches_the_command(
    tmp_path: Path, bob: User, start_server: Callable[..., Server]
) -> None:
    """The kernel tells the terminal's foreground process, the client, of a new size
    (SIGWINCH); the client passes it on to the worker running its command."""
    import fcntl
    import shutil
    import struct
    import termios

    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: nothing can watch the worker's signals")
    server = start_server(SORTED_SERVER_WORKERS="1")
    [worker] = server.workers()
    process, leader = _at_question("delete", "1", "2")
    log = tmp_path / "signals.log"
    tracer = subprocess.Popen(
        [strace, "-qq", "-p", str(worker), "-e", "trace=none", "-e", "signal=SIGWINCH",
         "-o", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        assert _within(10, lambda: _traced(worker))
        fcntl.ioctl(leader, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 50, 0, 0))
        assert _within(10, lambda: log.exists() and "SIGWINCH" in log.read_text())
        os.write(leader, b"n\n")
        assert process.wait(timeout=TIMEOUT_S) == 1  # declined: nothing deleted
    finally:
        tracer.terminate()
        tracer.wait(timeout=TIMEOUT_S)
        if process.poll() is None:
            process.kill()
        os.close(leader)


def _traced(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    return any(
        line.split()[1:] != ["0"] for line in status.splitlines() if line.startswith("TracerPid:")
    )
