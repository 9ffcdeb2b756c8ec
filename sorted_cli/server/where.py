"""Where this user's command server listens, and what identifies the code it runs.

The socket lives in a folder only this user can enter: `$XDG_RUNTIME_DIR/sorted` when
XDG_RUNTIME_DIR is this user's own folder with no access for anyone else (mode 0700, as
systemd makes it), else `sorted-<uid>` in $TMPDIR (or /tmp), made with mode 0700. A folder that
is a symbolic link, belongs to someone else, or lets others in is refused (`Unsafe`), as
Mercurial's chg refuses one: sorted then runs every command in its own process.

One server runs per installed sorted (a Python and a copy of sorted_cli: the socket's name
carries a checksum of both paths). The server also remembers the identity of the code it
loaded (`code_identity`): every file of sorted_cli, the folders that hold the installed
packages (a package installed, upgraded or removed changes them) and the Python. A client
sends the identity it sees; a server whose identity differs refuses the command and exits, so
a command never runs on code older than what is installed.

Only the standard library here: the client imports this module before anything else.
"""

from __future__ import annotations

import os
import stat
import sys
import zlib

# sorted_cli (os.path, not pathlib: pathlib costs the client 5 ms to import)
PACKAGE = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


class Unsafe(Exception):
    """The folder for the socket cannot be trusted; the message says why."""


def socket_folder(*, create: bool = True) -> str:
    """The folder for this user's server socket, made if missing (see the module docstring)."""
    uid = os.getuid()
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and _private(runtime, uid):
        folder = os.path.join(runtime, "sorted")
    else:
        folder = os.path.join(os.environ.get("TMPDIR") or "/tmp", f"sorted-{uid}")  # noqa: S108
    if create:
        try:  # noqa: SIM105 - no contextlib: the client imports this (see `client`)
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
    if not _private(folder, uid):
        raise Unsafe(f"{folder} is not a folder that only this user can enter (mode 0700)")
    return folder


def _private(folder: str, uid: int) -> bool:
    try:
        found = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(found.st_mode) and found.st_uid == uid and stat.S_IMODE(found.st_mode) == 0o700
    )


def _installation() -> str:
    """The checksum naming this installation's socket: its Python and its sorted_cli."""
    where = f"{sys.executable}\0{PACKAGE}".encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(where):08x}"


_LONGEST_SOCKET_PATH = 100  # bytes: Linux takes 107, macOS 103


def socket_path(folder: str) -> str:
    """The server's socket in FOLDER (`Unsafe` when its path is too long for a socket)."""
    path = os.path.join(folder, f"server-{_installation()}.sock")
    if len(os.fsencode(path)) > _LONGEST_SOCKET_PATH:
        raise Unsafe(f"{folder} is too long a path for a socket")
    return path


def lock_path(folder: str) -> str:
    """Held by the running server for its whole life: two starting at once start one."""
    return os.path.join(folder, f"server-{_installation()}.lock")


def code_identity() -> str:
    """A checksum of what the running code is made of (see the module docstring)."""
    parts = [sys.version, _stamp(sys.executable)]
    parts += [_stamp(entry) for entry in sys.path if entry.endswith("-packages")]
    _add_sources(PACKAGE, parts)
    return f"{zlib.crc32(chr(0).join(parts).encode('utf-8', 'surrogateescape')):08x}"


def _add_sources(folder: str, parts: list[str]) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(".py"):
            found = entry.stat()
            parts.append(f"{entry.path}:{found.st_mtime_ns}:{found.st_size}")
        elif entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
            _add_sources(entry.path, parts)


def _stamp(path: str) -> str:
    try:
        found = os.stat(path)
    except OSError:
        return f"{path}:missing"
    return f"{path}:{found.st_mtime_ns}:{found.st_size}"
