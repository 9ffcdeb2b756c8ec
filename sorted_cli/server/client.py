"""The `sorted` program's side of the command server: hand the command to a warm worker.

`through_server` is the first thing `sorted` does. It answers the command's exit code when a
worker ran it, or None when this process must run it itself, which it does silently whenever
the server cannot take the command at once (see `SORTED_SERVER` in the README):
- SORTED_SERVER=off, a system without descriptor passing (Windows), `sorted server ...`,
  `--install-completion` and `--show-completion` (they look at the shell that started them);
- `sorted edit REF` alone, which opens the user's editor on this terminal (even with
  SORTED_SERVER=require: the editor must run where the user is);
- no safe folder for the socket (`where.Unsafe`);
- no server: this process then starts one in the background for the next command;
- a server that does not answer within `SORTED_SERVER_WAIT` seconds (0.1: every worker
  busy, or the machine too loaded), one that refuses (another version), or one going away.
With SORTED_SERVER=require the command never runs here: a server is started and waited for,
and a server that cannot take the command is an error (exit 1).

Once the worker has accepted the command the client commits to it (`wire` GO) and only relays
signals: Ctrl-C, SIGTERM and SIGHUP stop the command there as they would here; Ctrl-Z stops the
worker, then this process; `fg` continues both; a terminal resize is passed on. If the worker
dies before it says how the command ended, the command may or may not have done its work: one
line says so and sorted exits 1.

Only the standard library, and as little of it as can do: this runs before every command. So
signals and the socket come from the C modules (`_signal`, `_socket`) under the `signal` and
`socket` modules: those wrap the numbers in enums, and with `enum`, `selectors` and
`contextlib` they cost every command about 8 ms (measured 2026-12-01).
"""

from __future__ import annotations

import os
import sys
import time

from sorted_cli.server import where, wire

TYPE_CHECKING = False  # no `typing` at run time: it costs every command 3 ms
if TYPE_CHECKING:
    import signal
    import socket
    from typing import Any
else:
    import _signal as signal
    import _socket as socket

WAIT_S = 0.1  # for a worker to accept the command; then the command runs here instead
START_WAIT_S = 20.0  # SORTED_SERVER=require: for a server being started to answer
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGWINCH)
_STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_OFF = frozenset({"off", "0", "no", "false"})
# Typer finds the user's shell from the parent of the process that runs the command.
_OWN_PROCESS_OPTIONS = frozenset({"--install-completion", "--show-completion"})
# What the server starts with of this environment: what it needs to start and to find the
# code (Python's path, the dynamic linker's), what its libraries read once per process (the
# locale, psycopg's implementation, OpenSSL's configuration and certificates), its own
# settings and, in the tests, coverage's. Nothing else: no database URL, password or token, and
# none of Python's settings of how to run (PYTHONIOENCODING, PYTHONWARNINGS, ...), which would
# hold for every later command: each command brings its own environment.
_SERVER_ENVIRONMENT = (
    "PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "VIRTUAL_ENV",
    "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX",
    "LD_LIBRARY_PATH", "PSYCOPG_IMPL", "OPENSSL_CONF", "SSL_CERT_FILE", "SSL_CERT_DIR",
)  # fmt: skip
_SERVER_ENVIRONMENT_PREFIXES = ("SORTED_SERVER", "LC_", "XDG_", "COVERAGE_")
DIED = (
    "Error: the sorted server stopped while running this command, so it may or may not have "
    "been done: check (for example with `sorted list`) before repeating it.\n"
)


class NotTaken(Exception):
    """SORTED_SERVER=require, and the server cannot take the command; the message says why."""


def mode() -> str:
    """SORTED_SERVER: "on" (the default), "off" or "require"."""
    chosen = os.environ.get("SORTED_SERVER", "").strip().lower()
    if chosen in _OFF:
        return "off"
    return "require" if chosen == "require" else "on"


def through_server(args: list[str], closed: list[str], command: str | None) -> int | None:
    """The exit code of the command ARGS as a server's worker ran it, or None: run it here.
    CLOSED names the standard streams the shell closed; COMMAND is the command's name."""
    from sorted_cli.process import opens_an_editor  # loaded already: it runs this

    chosen = mode()
    if chosen == "off" or command == "server" or not wire.PASSES_DESCRIPTORS:
        return None
    if opens_an_editor(args):  # the editor needs this terminal, even with SORTED_SERVER=require
        return None
    if any(arg in _OWN_PROCESS_OPTIONS for arg in args):
        return None
    try:
        return _hand_over(args, closed, require=chosen == "require")
    except NotTaken as exc:
        os.write(2, f"Error: {exc}.\n".encode())
        return 1


def _hand_over(args: list[str], closed: list[str], *, require: bool) -> int | None:
    try:
        path = where.socket_path(where.socket_folder())
    except (where.Unsafe, OSError) as exc:
        if require:
            raise NotTaken(f"no command server: {exc}") from None
        return None
    deadline = time.monotonic() + START_WAIT_S
    started = False
    while True:
        connection = _connect(path)
        if connection is None:
            why = "the command server did not start"
            if not started:
                start_server()  # for the next command, unless this one must wait for it
                started = True
        else:
            try:
                taken = _accepted(connection, args, closed)
                if isinstance(taken, int):
                    return _relay(connection, taken)  # None: not given, it runs here
            finally:
                connection.close()
            why, stopping = taken
            if not stopping:  # busy, or slow: this process runs the command
                if require:
                    raise NotTaken(why)
                return None
            started = False  # one going away (another version) makes way for a new one
        if not require:
            return None
        if time.monotonic() > deadline:
            raise NotTaken(f"{why} (waited {START_WAIT_S:g} s)")
        time.sleep(0.05)


def _connect(path: str) -> socket.socket | None:
    """A connection to the server at PATH, or None when none listens there."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(_wait_s())
    try:
        connection.connect(path)
    except OSError:  # no socket, a stale one, a path too long, a full backlog
        connection.close()
        return None
    return connection


def _wait_s() -> float:
    try:
        return max(0.001, float(os.environ.get("SORTED_SERVER_WAIT", WAIT_S)))
    except ValueError:
        return WAIT_S


def _accepted(
    connection: socket.socket, args: list[str], closed: list[str]
) -> int | tuple[str, bool]:
    """The worker's process id once it accepted the command; else why it did not, and whether
    the server is going away (it refused: it runs other code)."""
    _hide_passwords(args)
    umask = os.umask(0o022)
    os.umask(umask)
    request = wire.Request(
        wire.RUN,
        where.code_identity(),
        umask=umask,
        closed=closed,
        ignored=[number for number in _STOPS if _ignored(number)],
        argv=[os.fsencode(arg) for arg in args],
        environ=dict(os.environb),
    )
    try:
        wire.send_request(connection, request)
        kind = connection.recv(1)
        if kind == wire.ACCEPTED:
            return wire.receive_number(connection)
        if kind == wire.REFUSED:
            return f"the command server refused the command: {wire.receive_text(connection)}", True
    except (OSError, wire.Broken):  # a timeout, or a server going away: nothing ran
        pass
    return f"the command server did not take the command within {_wait_s():g} s", False


def _relay(connection: socket.socket, pid: int) -> int | None:
    """Commit to the worker PID's run of the command; relay signals until it ends. None: the
    working folder cannot be handed over (the command was not given), so it runs here."""
    if not os.access(".", os.X_OK):  # the worker could not enter it: it runs here, as always
        return None
    try:
        here = os.open(".", getattr(os, "O_PATH", os.O_RDONLY) | os.O_DIRECTORY)
    except OSError:  # a working folder this process cannot open: as always, it runs here
        return None
    previous = _forward_signals(connection, pid)
    try:
        connection.settimeout(None)
        try:
            wire.send_go(connection, [0, 1, 2, here])
        finally:
            os.close(here)
        while True:
            kind = connection.recv(1)
            if kind == wire.EXIT:
                return wire.receive_number(connection)
            if not kind:
                raise wire.Broken("the worker went away")
    except (OSError, wire.Broken):
        os.write(2, DIED.encode())
        return 1
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _forward_signals(connection: socket.socket, pid: int) -> dict[int, Any]:
    """Pass the signals this process gets to the worker running its command (see the module
    docstring); ignored signals stay ignored. Answers the handlers to put back."""

    def forward(number: int, _frame: object) -> None:
        try:  # noqa: SIM105 - no contextlib here (see the module docstring)
            connection.sendall(wire.signal_of(number))
        except OSError:  # the worker is gone; the relay says so
            pass

    def suspend(_number: int, _frame: object) -> None:
        forward(signal.SIGTSTP, None)  # the worker stops itself
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # and this process stops, as Ctrl-Z asks

    def resume(_number: int, _frame: object) -> None:
        signal.signal(signal.SIGTSTP, suspend)
        try:  # noqa: SIM105 - no contextlib here
            os.kill(pid, signal.SIGCONT)  # a stopped worker reads no message
        except OSError:
            pass

    previous: dict[int, Any] = {}
    for number in _FORWARDED:
        if not _ignored(number):
            previous[number] = signal.signal(number, forward)
    if not _ignored(signal.SIGTSTP):
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
        previous[signal.SIGCONT] = signal.signal(signal.SIGCONT, resume)
    return previous


def _ignored(number: int) -> bool:
    return bool(signal.getsignal(number) == signal.SIG_IGN)  # a plain number from `_signal`


def _hide_passwords(args: list[str]) -> None:
    """Star a --database-url's password in this process's arguments, as the command itself
    does when it runs here (see `process.hide_argument`): this process is the one that other
    users see in the process list."""
    for at, arg in enumerate(args):
        value = args[at + 1] if arg == "--database-url" and at + 1 < len(args) else None
        if arg.startswith("--database-url="):
            value = arg.partition("=")[2]
        if value:
            from sorted_cli.process import hide_argument
            from sorted_cli.urls import starred_password

            if (starred := starred_password(value)) is not None:
                hide_argument(value, starred)


def start_server() -> int | None:
    """Start this user's command server in the background, detached from this terminal and
    this process group; the process id, or None when it could not be started. A server already
    starting or running makes the new one exit at once (see `daemon`)."""
    environ = {
        name: value
        for name, value in os.environ.items()
        if name in _SERVER_ENVIRONMENT or name.startswith(_SERVER_ENVIRONMENT_PREFIXES)
    }
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        return os.posix_spawn(
            sys.executable,
            # -P: not the working folder first on sys.path, where any `sorted_cli` or `typer`
            # of whatever the user is in would be imported in place of the installed one
            [sys.executable, "-P", "-m", "sorted_cli.server.daemon"],
            environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)],
            setsid=True,
        )
    except OSError:
        return None
    finally:
        os.close(devnull)


def ask(kind: str, *, wait_s: float = 2.0) -> str | None:
    """The running server's answer to `wire.STATUS` or `wire.STOP`, or None when no server
    answers (`where.Unsafe` when the socket's folder cannot be trusted)."""
    path = where.socket_path(where.socket_folder())
    connection = _connect(path)
    if connection is None:
        return None
    try:
        connection.settimeout(wait_s)
        wire.send_request(connection, wire.Request(kind, where.code_identity()))
        if connection.recv(1) == wire.ANSWER:
            return wire.receive_text(connection)
    except (OSError, wire.Broken):
        pass
    finally:
        connection.close()
    return None
