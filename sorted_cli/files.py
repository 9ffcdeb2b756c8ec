"""Files sorted replaces whole (the config file, `export -o`): never half-written, never a
file someone else's link points at.

- `replacing` writes a temporary file beside the file a path names (through any symlinks, so
  a dotfiles link stays a link and its target gets the change), flushes it to the disk,
  renames it over that file and flushes the folder: after a crash a reader finds the old file
  or the new one, whole. Any failure, Ctrl-C or stop signal (`errors.Stopped`) removes the
  temporary file, and so does a second stop signal that ends the process at once during the
  cleaning up (`process.UNFINISHED_FILES`).
- `followed` resolves a path's symlinks as the kernel does, but refuses one that
  `fs.protected_symlinks` would: a link in a folder anyone may write to and that has the
  sticky bit (`/tmp`), owned neither by this process's user nor by the folder's owner. Such a
  link was planted by another user; following it would let them choose which file sorted
  replaces (the kernel's own check is off on some systems, and never covers a rename). The
  file it ends at is refused likewise, whatever it is, as `fs.protected_fifos` and
  `fs.protected_regular` refuse them: another user's named pipe there would read the export,
  and their file would lend it its mode.
- `locked` holds an exclusive lock (`flock`) on a lock file, for a read-modify-write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sorted_cli.errors import LockGaveUp, PlantedFile, PlantedLink
from sorted_cli.process import NOTICE_AFTER_S, STOP_SIGNALS, UNFINISHED_FILES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_MAX_LINKS = 40  # as Linux's ELOOP limit
_LOCK_GIVE_UP_S = 60.0
_NEW_FILE_MODE = 0o600  # what mkstemp makes


def followed(path: Path) -> Path:
    """PATH, absolute, with every symlink in it followed (a missing part is kept as named);
    PlantedLink for a link `fs.protected_symlinks` would refuse, PlantedFile for a file at the
    end that `fs.protected_fifos` or `fs.protected_regular` would (see the module docstring)."""
    pending = list(reversed((Path.cwd() / path).parts[1:]))
    current = Path("/")
    links = 0
    while pending:
        name = pending.pop()
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        try:
            info = candidate.lstat()
        except (FileNotFoundError, NotADirectoryError):
            current = candidate
            continue
        if not stat.S_ISLNK(info.st_mode):
            current = candidate
            continue
        _refuse_if_planted(candidate, info)
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path))
        target = candidate.readlink()
        if target.is_absolute():
            current = Path("/")
        pending.extend(reversed(target.parts[1:] if target.is_absolute() else target.parts))
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        _refuse_if_planted(current, current.lstat())
    return current


def _refuse_if_planted(path: Path, info: os.stat_result) -> None:
    """Refuse PATH (a link, or the file a write ends at) when another user planted it."""
    folder = path.parent.stat()
    shared = folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH
    if not shared or info.st_uid in (os.geteuid(), folder.st_uid):
        return
    if stat.S_ISLNK(info.st_mode):
        raise PlantedLink(
            f"Not following {path}: another user's symlink in {path.parent}, a folder anyone "
            "can write to, may point anywhere. Remove it or choose another file."
        )
    kind = "file" if stat.S_ISREG(info.st_mode) else "named pipe"
    if not stat.S_ISREG(info.st_mode) and not stat.S_ISFIFO(info.st_mode):
        kind = "special file"
    raise PlantedFile(
        f"Not writing to {path}: another user's {kind} in {path.parent}, a folder anyone can "
        "write to, may be read by them. Remove it or choose another file."
    )


@contextmanager
def replacing(path: Path, *, mode: int | None = None) -> Iterator[IO[str]]:
    """A text file that replaces the file PATH names once the block ends without an error
    (see the module docstring). Its mode is MODE, else the replaced file's, else 0600."""
    target = followed(path)
    if mode is None:
        try:
            mode = stat.S_IMODE(target.stat().st_mode)
        except FileNotFoundError:
            mode = _NEW_FILE_MODE
    temporary: str | None = None
    out: IO[str] | None = None
    try:
        with _signals_held():  # a stop signal now would leave a file or descriptor unknown
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            UNFINISHED_FILES.add(temporary)
            out = os.fdopen(handle, "w", encoding="utf-8", newline="")
        if mode != _NEW_FILE_MODE:
            os.fchmod(out.fileno(), mode)
        yield out
        out.flush()
        os.fsync(out.fileno())
        out.close()
        Path(temporary).replace(target)
        UNFINISHED_FILES.discard(temporary)
        _sync_folder(target.parent)
    except BaseException:
        if out is not None:
            with contextlib.suppress(OSError):  # flushing what is thrown away anyway
                out.close()
        if temporary is not None:
            with _signals_held():  # a second signal now ends the process at once (`process`)
                Path(temporary).unlink(missing_ok=True)
                UNFINISHED_FILES.discard(temporary)
        raise


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold the stop signals back during the block: they are handled once it ends.

    The mask is this thread's alone (pthread_sigmask): a signal the kernel hands another
    thread is handled in this one at once all the same. It is enough because sorted creates
    and removes its temporary files with no other thread running; the one exception, a
    progress bar's refresh thread still ending as a stopped export is cleaned up, can only
    take a second signal, which ends the process at once and removes the temporary file too
    (`process.UNFINISHED_FILES`).

    A signal that arrived just before the hold is handled as the hold begins: pthread_sigmask
    runs the handlers of signals already received as it returns, so its `Stopped` comes out of
    the call that blocked the signals. The mask is read before that call, so that it is put back
    all the same; otherwise every later stop signal would wait, unseen, for the process to end."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())  # the mask as it is: nothing changes
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def _sync_folder(folder: Path) -> None:
    """Flush FOLDER's entries (the rename) to the disk, where this user may open it: a folder
    one may write to but not read (mode 0733, a drop box) cannot be opened, and the file in it
    is replaced all the same, as most programs leave it."""
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except PermissionError:
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a filesystem that cannot
            raise
    finally:
        os.close(descriptor)


@contextmanager
def locked(
    lock_file: Path, *, what: str, on_wait: Callable[[str], object] | None = None
) -> Iterator[None]:
    """Hold an exclusive lock on LOCK_FILE (created, owner-only) during the block. Another
    sorted holds it for milliseconds: after a second of waiting this says so once through
    ON_WAIT, and after a minute (a process stopped while holding it) it fails (LockGaveUp)."""
    import fcntl

    descriptor = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        started = time.monotonic()
        said = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited > _LOCK_GIVE_UP_S:
                    raise LockGaveUp(what, lock_file) from None
                if waited > NOTICE_AFTER_S and not said and on_wait is not None:
                    on_wait(f"Waiting for another sorted to finish writing {what}...")
                    said = True
                time.sleep(0.005)
        yield
    finally:
        os.close(descriptor)  # releases the lock
