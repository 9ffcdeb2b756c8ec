"""A worker of the command server: runs one client's command at a time, as if in its process.

For each command the worker takes on what the client's process had: its standard streams (the
very descriptors, so terminals, pipes, `| head` and colours behave as they do there), working
folder, umask, environment (time zone included), arguments, and which stop signals it ignores.
It runs the command through the same entry as `sorted` in its own process
(`process.run_here`), tells the client the exit code, and then lets go of all of it: the
client's descriptors are closed, the streams put back on /dev/null, what the command left
for the garbage collector collected while nobody waits.

Signals: the client relays what it gets (see `client`); the worker raises it on itself while
the command runs, so Ctrl-C, SIGTERM and SIGHUP stop the command exactly as they would in its
own process (`process` module docstring). A client that goes away mid-command (killed, its
terminal closed) stops the command as a hang-up would. Between commands those signals are
ignored; SIGUSR1 from the server asks the worker to leave once it is idle.

Per command, nothing else survives: settings, the current user, consoles and sessions belong
to the command's context (STYLE.md, habit 14).
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import NoReturn

from sorted_cli import process
from sorted_cli.server import wire

# b"+" or b"-", the worker's pid and its client's: a command starts, ends
MARK = struct.Struct(">cii")
RECYCLE_AFTER = 1000  # commands a worker runs before a fresh one takes its place (default)
FULL_COLLECT_EVERY = 50  # commands between full collections of the garbage collector
_LOOK_EVERY_S = 5.0  # how often an idle worker looks whether its server is still there
_HANDSHAKE_S = 5.0  # for a client to send its request, and to say GO once accepted
_SERVED = {"commands": 0, "since": time.time(), "idle_timeout": 0.0, "server": 0}
_STREAMS: dict[str, tuple[str, str]] = {}  # the encoding and errors of each standard stream


def prepare() -> None:
    """Before the server forks its workers: note how the standard streams are encoded (from
    the locale, as `sorted` in its own process has them) and build the command line."""
    for name in ("stdin", "stdout", "stderr"):
        stream = getattr(sys, name)
        _STREAMS[name] = (stream.encoding or "utf-8", stream.errors or "strict")
    from sorted_cli import engines
    from sorted_cli.cli import app

    app.prepare()
    engines.keep()  # engines, and PostgreSQL connections, live from one command to the next


def serve(
    listener: socket.socket,
    identity: str,
    activity: int,
    idle_timeout: float,
    recycle_after: int = RECYCLE_AFTER,
    *,
    server: int,
) -> NoReturn:
    """The worker's life: take commands from LISTENER until told to leave, or until it has run
    RECYCLE_AFTER of them (then a fresh worker takes its place: whatever a long life gathers,
    a fragmented heap, a cache grown large, goes with it), or until its SERVER (the pid that
    forked it: not read here, where a server killed a moment ago has another process as the
    parent already) is gone."""
    _SERVED["idle_timeout"] = idle_timeout
    leaving = threading.Event()

    def leave(_number: int, _frame: object) -> None:
        leaving.set()  # seen between commands, within `_LOOK_EVERY_S`

    signal.signal(signal.SIGUSR1, leave)
    _between_commands()
    gc.disable()  # during a command; what it leaves is collected after it
    code = 0
    _SERVED["server"] = server
    from sorted_cli import engines

    try:
        while not leaving.is_set() and _SERVED["commands"] < recycle_after:
            due = engines.close_idle()  # a connection unused for its idle time is closed
            listener.settimeout(_LOOK_EVERY_S if due is None else min(_LOOK_EVERY_S, due))
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if os.getppid() != server:  # the server died (killed): its workers go too
                    break
                continue
            with connection:
                _serve_one(connection, identity, activity)
            _collect()
        engines.close_all()  # the server hears a goodbye, not a connection reset
    except BaseException:  # a bug in the worker: the server starts a new one
        import traceback

        traceback.print_exc()
        code = 70
    os._exit(code)


def _collect() -> None:
    """Collect what the command left, while nobody waits for it. With the collector off during
    a command, all it made is in the youngest generation: collecting that one finds its cycles
    (0.02 ms on this project's benchmark machine, where a full collection takes 1.5-3 ms). Older
    garbage (a cache's entry let go of) is left to a full collection every `FULL_COLLECT_EVERY`
    commands."""
    if _SERVED["commands"] % FULL_COLLECT_EVERY == 0:
        gc.collect()
    else:
        gc.collect(0)


def _serve_one(connection: socket.socket, identity: str, activity: int) -> None:
    client = _peer_of(connection)
    if client is None:
        return
    connection.settimeout(_HANDSHAKE_S)
    try:
        request = wire.receive_request(connection)
        if request.kind == wire.STATUS:
            connection.sendall(wire.answer(status()))
        elif request.kind == wire.STOP:
            _stop_the_server()
            connection.sendall(wire.answer("stopping"))
        elif request.identity != identity:
            connection.sendall(wire.refused("it runs another version of sorted; it is stopping"))
            _stop_the_server()
        elif request.kind != wire.RUN:
            connection.sendall(wire.refused("a request no sorted sends"))
        else:
            connection.sendall(wire.accepted(os.getpid()))
            descriptors = wire.receive_go(connection)
            connection.settimeout(None)  # the command takes as long as it takes
            try:
                _tell(activity, b"+", client)
                _run(connection, request, descriptors)
            finally:
                _tell(activity, b"-", client)
                for descriptor in descriptors:
                    os.close(descriptor)
    except (OSError, wire.Broken):  # the client went away before it committed: nothing ran
        pass


def _tell(activity: int, mark: bytes, client: int) -> None:
    """Tell the server a command starts (+) or ends (-). A server gone (killed) hears nothing,
    and the command runs all the same: its client has committed to it."""
    with contextlib.suppress(OSError):
        os.write(activity, MARK.pack(mark, os.getpid(), client))


def _stop_the_server() -> None:
    """Ask this worker's server to stop: only while it is still its parent (a worker whose
    server died is an orphan, and its parent some other process)."""
    server = _SERVED["server"]
    if server and os.getppid() == server:
        os.kill(int(server), signal.SIGTERM)


def _peer_of(connection: socket.socket) -> int | None:
    """The process id at the other end when it is this user's (0 where the system does not
    say it), else None: the server serves no one else."""
    if hasattr(socket, "SO_PEERCRED"):  # Linux
        credentials = connection.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
        pid, uid, _gid = struct.unpack("3i", credentials)
        return int(pid) if uid == os.getuid() else None
    if hasattr(socket, "LOCAL_PEERCRED"):  # pragma: no cover - macOS and the BSDs
        # struct xucred: cr_version (u_int), then cr_uid (uid_t)
        credentials = connection.getsockopt(0, socket.LOCAL_PEERCRED, 76)
        _version, uid = struct.unpack_from("Ii", credentials)
        return 0 if uid == os.getuid() else None
    return None  # pragma: no cover - no way to tell: serve no one


class _Command:
    """The command running now, for the relay of signals (one at a time per worker): whether
    one runs, and which (a relay that outlives its command must not touch the next one)."""

    running = False
    serial = 0
    guard = threading.Lock()


def _run(connection: socket.socket, request: wire.Request, descriptors: list[int]) -> None:
    stdin, stdout, stderr, folder = descriptors
    code = 1
    relay: threading.Thread | None = None
    try:
        _take_on(request, stdin, stdout, stderr, folder)
        with _Command.guard:
            _Command.running = True
            _Command.serial += 1
            _stop_on_signals(request.ignored)
        relay = threading.Thread(
            target=_relay_signals, args=(connection, request, _Command.serial), daemon=True
        )
        relay.start()
        code = process.run_here()
    finally:
        _end_of_command()
        _let_go(descriptors)  # before the exit code: the client's pipes close as it exits
        with contextlib.suppress(OSError):
            connection.sendall(wire.exit_with(code))
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        if relay is not None:
            relay.join(1.0)


def _take_on(request: wire.Request, stdin: int, stdout: int, stderr: int, folder: int) -> None:
    os.environb.clear()
    os.environb.update(request.environ)
    time.tzset()
    os.fchdir(folder)
    os.umask(request.umask)
    for descriptor, number in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(descriptor, number)
    sys.argv = ["sorted", *map(os.fsdecode, request.argv)]
    unbuffered = bool(os.environ.get("PYTHONUNBUFFERED"))  # the command's, as Python reads it
    sys.stdin = _stream(0, "stdin")
    sys.stdout = (
        process.ClosedStdout()
        if "stdout" in request.closed
        else _stream(1, "stdout", unbuffered=unbuffered)
    )
    sys.stderr = _stream(2, "stderr", unbuffered=unbuffered)


def _encoding(name: str) -> tuple[str, str]:
    """The encoding and error handler of the standard stream NAME as Python would set them up
    for the command: its PYTHONIOENCODING (`encoding:errors`, either part optional; stderr
    keeps its own handler) or PYTHONUTF8=1, else as the server's own streams were (from the
    locale). (A command's own locale is not read again: see the README.)"""
    encoding, errors = _STREAMS.get(name, ("utf-8", "strict"))
    if os.environ.get("PYTHONUTF8") == "1":
        encoding = "utf-8"
    chosen, _, handler = os.environ.get("PYTHONIOENCODING", "").partition(":")
    if name != "stderr" and handler:
        errors = handler
    return chosen or encoding, errors


def _stream(number: int, name: str, *, unbuffered: bool = False) -> io.TextIOWrapper:
    """A standard stream on descriptor NUMBER, buffered as Python buffers its own: stdin in
    blocks; stdout in lines at a terminal, else in blocks; stderr in lines; and with
    PYTHONUNBUFFERED, stdout and stderr written through at once."""
    encoding, errors = _encoding(name)
    if name == "stdin":
        return io.TextIOWrapper(open(number, "rb", closefd=False), encoding, errors)
    if unbuffered:
        raw = io.FileIO(number, "wb", closefd=False)
        return io.TextIOWrapper(raw, encoding, errors, line_buffering=True, write_through=True)
    return io.TextIOWrapper(
        open(number, "wb", closefd=False),
        encoding,
        errors,
        line_buffering=name == "stderr" or os.isatty(number),
    )


def _stop_on_signals(ignored: list[int]) -> None:
    for number in process.STOP_SIGNALS:
        if number not in ignored:
            signal.signal(number, process.stop)


def _end_of_command() -> None:
    """From here a relayed signal is ignored (one already pending is dropped with it)."""
    while True:
        try:
            with _Command.guard:
                _Command.running = False
            _between_commands()
            return
        except KeyboardInterrupt:  # pragma: no cover - a signal in the last instant
            continue


def _between_commands() -> None:
    for number in process.STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    process.UNFINISHED_FILES.clear()


def _relay_signals(connection: socket.socket, request: wire.Request, serial: int) -> None:
    """In a thread while the command SERIAL runs: raise on this process what the client
    relays."""
    hang_up = next(
        (n for n in (signal.SIGHUP, signal.SIGTERM) if n not in request.ignored), signal.SIGKILL
    )
    while True:
        try:
            kind = connection.recv(1)
            number = connection.recv(1)[0] if kind == wire.SIGNAL else hang_up
        except (OSError, IndexError):
            kind, number = b"", hang_up
        with _Command.guard:
            if not _Command.running or _Command.serial != serial:
                return
            if number == signal.SIGTSTP:
                os.kill(os.getpid(), signal.SIGSTOP)  # the client stops itself after this
            elif number != signal.SIGKILL:
                os.kill(os.getpid(), number)
        if kind != wire.SIGNAL:  # the client is gone: the command was told to stop
            return


def _let_go(descriptors: list[int]) -> None:
    """Put the standard streams back on /dev/null and close the DESCRIPTORS the client gave."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    for number in (0, 1, 2):
        os.dup2(devnull, number)
    os.close(devnull)
    while descriptors:
        os.close(descriptors.pop())
    os.chdir("/")  # the client's folder is not held between commands
    sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
    _SERVED["commands"] += 1


def status() -> str:
    """What `sorted server status` shows: the server, its workers and their memory."""
    server = int(_SERVED["server"])
    workers = _children(server)
    memory = sum(_memory_kb(pid) for pid in [server, *workers])
    return "\n".join(
        [
            f"pid {server}",
            f"workers {len(workers)}",
            f"memory_kb {memory}",
            f"commands_here {_SERVED['commands']}",
            f"up_s {time.time() - _SERVED['since']:.0f}",
            f"idle_timeout_s {_SERVED['idle_timeout']:g}",
        ]
    )


def _children(pid: int) -> list[int]:
    try:
        with Path(f"/proc/{pid}/task/{pid}/children").open() as listed:
            return [int(child) for child in listed.read().split()]
    except OSError:  # pragma: no cover - not Linux
        return []


def _memory_kb(pid: int) -> int:
    """PID's share of memory (proportional set size: a page shared by the server and its
    workers counts once in all), in kB."""
    try:
        with Path(f"/proc/{pid}/smaps_rollup").open() as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):  # pragma: no cover - not Linux, or gone meanwhile
        pass
    return 0
