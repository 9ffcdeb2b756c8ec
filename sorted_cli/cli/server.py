"""`sorted server`: the warm command server that answers commands in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Callable

import typer

from sorted_cli.cli.options import examples
from sorted_cli.errors import SortedError

app = typer.Typer(
    name="server",
    help=(
        "The command server: a warm sorted that runs your commands in milliseconds. It starts "
        "by itself with the first command and stops after 30 minutes without one; "
        "SORTED_SERVER=off runs every command in its own process."
    ),
    no_args_is_help=True,
)

_WAIT_S = 20.0  # for a server being started or stopped


@app.command(epilog=examples("sorted server status"))
def status() -> None:
    """Say whether the command server is running, with its workers and memory (exit 1 if not)."""
    from sorted_cli import render

    found = _status()
    if found is None:
        busy = _lock_holder()
        if busy is None:
            render.line("The sorted server is not running.")
            raise typer.Exit(1)
        render.line(f"The sorted server is running (pid {busy}); every worker is busy.")
        return
    for line in _described(found):
        render.line(line)


@app.command(epilog=examples("sorted server start"))
def start() -> None:
    """Start the command server now (the first command would start it anyway)."""
    from sorted_cli import render
    from sorted_cli.server import client

    if client.mode() == "off":
        raise SortedError("SORTED_SERVER=off: commands run in their own process, so no server.")
    found = _status()
    if found is not None:
        render.line(f"The sorted server is already running (pid {found['pid']}).")
        return
    client.start_server()
    if not _waited(lambda: _status() is not None):
        raise SortedError(f"The sorted server did not start within {_WAIT_S:g} s.")
    render.line(f"Started the sorted server (pid {_known()['pid']}).")


@app.command(epilog=examples("sorted server stop"))
def stop() -> None:
    """Stop the command server; commands it is running finish first."""
    from sorted_cli import render
    from sorted_cli.server import client, wire

    found = _status()
    pid = int(found["pid"]) if found is not None else _lock_holder()
    if pid is None:
        render.line("The sorted server is not running.")
        return
    if found is not None:
        client.ask(wire.STOP)
    else:  # every worker busy, none to take the request: the server hears it as a signal
        import os
        import signal

        os.kill(pid, signal.SIGTERM)
    if not _waited(lambda: _status() is None and _lock_holder() != pid):
        raise SortedError(f"The sorted server (pid {pid}) did not stop in {_WAIT_S:g} s.")
    render.line(f"Stopped the sorted server (pid {pid}).")


def _lock_holder() -> int | None:
    """The pid of the server holding its lock, when one does (it answers no request while
    every worker is busy), else None."""
    import fcntl
    import os

    from sorted_cli.server import where

    try:
        held = os.open(where.lock_path(where.socket_folder(create=False)), os.O_RDONLY)
    except (where.Unsafe, OSError):
        return None
    try:
        fcntl.flock(held, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # held: the pid it wrote, if it is serving (not starting or stopping)
        written = os.pread(held, 32, 0).strip()
        return int(written) if written.isdigit() else None
    finally:
        os.close(held)  # a lock this took goes with it
    return None


def _status() -> dict[str, str] | None:
    """The running server's status fields, or None."""
    from sorted_cli.server import client, where, wire

    try:
        answer = client.ask(wire.STATUS)
    except (where.Unsafe, OSError) as exc:
        raise SortedError(f"No command server can run here: {exc}.") from None
    if answer is None:
        return None
    return dict(line.partition(" ")[::2] for line in answer.splitlines())


def _known() -> dict[str, str]:
    found = _status()
    if found is None:  # pragma: no cover - it answered a moment ago
        raise SortedError("The sorted server stopped as soon as it started.")
    return found


def _waited(done: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + _WAIT_S
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.05)
    return False


def _described(found: dict[str, str]) -> list[str]:
    from sorted_cli.server import where

    megabytes = int(found.get("memory_kb", "0")) / 1024
    return [
        f"The sorted server is running: pid {found['pid']}, {found['workers']} workers, "
        f"{megabytes:.0f} MB of memory in all, up {_duration(float(found['up_s']))}; it stops "
        f"after {_duration(float(found['idle_timeout_s']))} without a command.",
        f"Socket: {where.socket_path(where.socket_folder())}",
    ]


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
