"""This user's command server: one process that has imported sorted, and its forked workers.

`python -m sorted_cli.server.daemon` (as `sorted` starts it, detached, its standard streams on
/dev/null so that no socket it opens can take their numbers):
1. takes the server lock (`where.lock_path`); a server that holds it already means this one
   has nothing to do, so it exits (two commands starting a server at once start one);
2. notes the code identity, imports everything a command needs, and freezes what it imported
   out of the garbage collector's sight (`gc.freeze`), so that forked workers share it;
3. removes a socket left by a server that died, listens on a new one (owner-only), and forks
   SORTED_SERVER_WORKERS workers (`WORKERS` by default), each taking one command at a time
   from the socket (`worker`), so a command waiting at a question or a long import holds up
   no other;
4. replaces a worker that exits (it does after SORTED_SERVER_WORKER_COMMANDS commands,
   `worker.RECYCLE_AFTER` by default, or when it crashed), and stops when no command has run
   for SORTED_SERVER_IDLE_TIMEOUT seconds (`IDLE_TIMEOUT_S` by default), when the installed
   code changes, when asked (`sorted server stop`, SIGTERM, SIGINT or SIGHUP) or when its
   socket is taken away.

Stopping removes the socket, then lets the workers finish what they run (SIGUSR1: an idle one
exits at once) and releases the lock, so a new server may start while the last commands end.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import os
import select
import signal
import socket
import sys
import time
from pathlib import Path

from sorted_cli.server import where

WORKERS = 4
IDLE_TIMEOUT_S = 1800.0
LOCK_WAIT_S = 5.0  # for a server that is stopping to let go of the lock
_CHECK_EVERY_S = 5.0  # how often the server looks at the installed code and its socket
_STOPPING = False


def main() -> None:
    """Serve until idle, changed or told to stop (see the module docstring)."""
    os.chdir("/")  # no folder of the first command's is held for the server's whole life
    os.closerange(3, _open_max())  # nor any file it had open (a lock, a pipe's end)
    try:
        folder = where.socket_folder()
        path = where.socket_path(folder)
    except (where.Unsafe, OSError):
        return
    lock = os.open(where.lock_path(folder), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if not _take(lock):
        return
    identity = where.code_identity()  # before importing: a file changed meanwhile shows
    _warm()
    with contextlib.suppress(FileNotFoundError):
        Path(path).unlink()  # holding the lock, any socket there is a dead server's
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        listener.bind(path)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    listening = Path(path).stat().st_ino
    os.write(lock, f"{os.getpid()}\n".encode())
    Server(listener, identity, lock, path, listening).run()


def _open_max() -> int:
    try:
        return max(256, min(os.sysconf("SC_OPEN_MAX"), 65536))
    except (OSError, ValueError):  # pragma: no cover - no such setting
        return 1024


def _take(lock: int) -> bool:
    """Take the server lock, waiting a little for a server that is stopping."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(lock, 0)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                return False
            if _holder_serves(lock):
                return False
            time.sleep(0.05)


def _holder_serves(lock: int) -> bool:
    """Whether the process that holds the lock is a server still listening (not one stopping,
    which clears the pid it wrote there)."""
    try:
        return bool(os.pread(lock, 32, 0).strip())
    except OSError:
        return False


def _warm() -> None:
    """Import what commands use, and build the command line once."""
    import rich.console
    import rich.table
    import sqlalchemy.dialects.sqlite
    import sqlmodel
    import typer._click.decorators

    import sorted_cli.config
    import sorted_cli.database
    import sorted_cli.db
    import sorted_cli.render
    import sorted_cli.services.stats
    import sorted_cli.services.tasks
    import sorted_cli.services.users
    from sorted_cli.server import worker

    del rich, sqlalchemy, sqlmodel, sorted_cli, typer
    with contextlib.suppress(ImportError):
        import psycopg

        import sorted_cli.pgdialect
        import sorted_cli.pgwaits  # noqa: F401

        del psycopg
    worker.prepare()
    gc.collect()
    gc.freeze()


class Server:
    """The parent of the workers: keeps their number up, and decides when to stop."""

    def __init__(
        self, listener: socket.socket, identity: str, lock: int, path: str, listening: int
    ) -> None:
        self.listener = listener
        self.identity = identity
        self.lock = lock
        self.path = path
        self.listening = listening  # the socket's inode: the path may be taken over
        self.idle_timeout = _number("SORTED_SERVER_IDLE_TIMEOUT", IDLE_TIMEOUT_S, low=1.0)
        from sorted_cli.server import worker

        self.size = int(_number("SORTED_SERVER_WORKERS", WORKERS, low=1, high=32))
        self.recycle_after = int(
            _number("SORTED_SERVER_WORKER_COMMANDS", worker.RECYCLE_AFTER, low=1, high=1e9)
        )
        self.workers: set[int] = set()
        self.busy: dict[int, int] = {}  # the workers running a command now, and their clients
        self.last_command = time.monotonic()
        self.activity_read, self.activity_write = os.pipe()

    def run(self) -> None:
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(number, _stop_serving)
        signal.signal(signal.SIGCHLD, lambda _number, _frame: None)  # wakes the select
        checked = time.monotonic()
        while not _STOPPING:
            self._fill()
            self._wait_for_activity()
            self._reap()
            self._continue_the_abandoned()
            now = time.monotonic()
            if not self.busy and now - self.last_command > self.idle_timeout:
                break
            if now - checked > _CHECK_EVERY_S:
                checked = now
                if where.code_identity() != self.identity or not self._still_listening():
                    break
        self._stop()

    def _fill(self) -> None:
        from sorted_cli.server import worker

        server = os.getpid()
        while len(self.workers) < self.size and not _STOPPING:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the worker's own process reports its coverage
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                os.close(self.lock)  # the lock is the server's, not a worker's
                os.close(self.activity_read)
                worker.serve(
                    self.listener,
                    self.identity,
                    self.activity_write,
                    self.idle_timeout,
                    self.recycle_after,
                    server=server,
                )
            self.workers.add(pid)

    def _wait_for_activity(self) -> None:
        from sorted_cli.server import worker

        try:
            ready, _, _ = select.select([self.activity_read], [], [], 1.0)
        except InterruptedError:  # pragma: no cover - Python retries select itself
            return
        if not ready:
            return
        data = os.read(self.activity_read, worker.MARK.size * 800)  # whole marks only
        for mark, pid, client in worker.MARK.iter_unpack(data):
            if mark == b"+":
                self.busy[pid] = client
            else:
                self.busy.pop(pid, None)
        self.last_command = time.monotonic()

    def _continue_the_abandoned(self) -> None:
        """A worker stopped by Ctrl-Z waits for the `fg` of its client; a client killed
        meanwhile (`kill -9 %1`) never sends it, and the command would hold its locks for
        ever. Such a worker is continued: it then finds its client gone and stops the command
        as a hang-up does."""
        for pid, client in list(self.busy.items()):
            if client and _state_of(pid) == "T" and _state_of(client) in ("", "Z"):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)

    def _reap(self) -> None:
        while self.workers:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            self.workers.discard(pid)
            self.busy.pop(pid, None)  # a worker that died in a command runs it no more

    def _still_listening(self) -> bool:
        try:
            return Path(self.path).stat().st_ino == self.listening
        except OSError:
            return False

    def _stop(self) -> None:
        if self._still_listening():
            Path(self.path).unlink()
        self.listener.close()
        os.ftruncate(self.lock, 0)  # a new server need not wait for this one's workers
        for pid in self.workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
        os.close(self.lock)
        # The commands still running end as they would; one stopped by Ctrl-Z whose client is
        # then killed must still be continued (see `_continue_the_abandoned`).
        while self.busy and self.workers:
            self._wait_for_activity()
            self._reap()
            self._continue_the_abandoned()


def _state_of(pid: int) -> str:
    """A process's state letter (T: stopped, Z: a zombie), or "" when there is none."""
    try:
        with Path(f"/proc/{pid}/stat").open("rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):  # gone, or not Linux (then nothing is continued)
        return ""


def _stop_serving(_number: int, _frame: object) -> None:
    global _STOPPING
    _STOPPING = True


def _number(name: str, default: float, *, low: float, high: float = float("inf")) -> float:
    """The setting NAME from the environment the server started with, within LOW..HIGH (a
    value that is not a number is the default)."""
    try:
        return min(high, max(low, float(os.environ.get(name, default))))
    except ValueError:
        return default


if __name__ == "__main__":
    main()
    sys.exit(0)
