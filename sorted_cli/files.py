"""Files sorted replaces whole (the config file, `export -o`): never half-written, never a
file someone else's link points at.

- `replacing` writes a temporary file beside the file a path names (through any symlinks, so
  a dotfiles link stays a link and its target gets the change), flushes it to the disk,
  renames it over that file and flushes the folder: after a crash a reader finds the old file
  or the new one, whole. Any failure, Ctrl-C or stop signal (`errors.Stopped`) removes the
  temporary file.
- `followed` resolves a path's symlinks as the kernel does, but refuses one that
  `fs.protected_symlinks` would: a link in a folder anyone may write to and that has the
  sticky bit (`/tmp`), owned neither by this process's user nor by the folder's owner. Such a
  link was planted by another user; following it would let them choose which file sorted
  replaces (the kernel's own check is off on some systems, and never covers a rename).
- `locked` holds an exclusive lock (`flock`) on a lock file, for a read-modify-write.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

from sorted_cli.errors import PlantedLink, SortedError

if TYPE_CHECKING:
    from collections.abc import Iterator

_MAX_LINKS = 40  # as Linux's ELOOP limit
_LOCK_SAY_S = 1.0
_LOCK_GIVE_UP_S = 60.0
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def followed(path: Path) -> Path:
    """PATH, absolute, with every symlink in it followed (a missing part is kept as named);
    PlantedLink for a link `fs.protected_symlinks` would refuse (see the module docstring)."""
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
    return current


def _refuse_if_planted(link: Path, info: os.stat_result) -> None:
    folder = link.parent.stat()
    shared = folder.st_mode & stat.S_ISVTX and folder.st_mode & stat.S_IWOTH
    if shared and info.st_uid not in (os.geteuid(), folder.st_uid):
        raise PlantedLink(
            f"Not following {link}: another user's symlink in {link.parent}, a folder anyone "
            "can write to, may point anywhere. Remove it or choose another file."
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
            mode = 0o600
    temporary: Path | None = None
    try:
        with _signals_held():  # a stop signal now would leave a file no one knows the name of
            handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
            temporary = Path(name)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            os.fchmod(handle, mode)
            yield out
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(target)
        _sync_folder(target.parent)
    except BaseException:
        if temporary is not None:
            with _signals_held():  # a second signal ends the process at once (`process`)
                temporary.unlink(missing_ok=True)
        raise


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold the stop signals back during the block: they are handled once it ends."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _sync_folder(folder: Path) -> None:
    """Flush FOLDER's entries (the rename) to the disk."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a filesystem that cannot
            raise
    finally:
        os.close(descriptor)


@contextmanager
def locked(lock_file: Path, *, what: str) -> Iterator[None]:
    """Hold an exclusive lock on LOCK_FILE (created, owner-only) during the block. Another
    sorted holds it for milliseconds: after a second of waiting this says so on stderr, and
    after a minute (a process stopped while holding it) it fails."""
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
                    raise SortedError(
                        f"{what} stayed locked by another sorted for a minute (lock file "
                        f"{lock_file}); try again once it is done."
                    ) from None
                if waited > _LOCK_SAY_S and not said:
                    sys.stderr.write(f"Waiting for another sorted to finish writing {what}...\n")
                    said = True
                time.sleep(0.005)
        yield
    finally:
        os.close(descriptor)  # releases the lock
