"""The SQLite file behind a local database: creating it, opening it, noticing damage, and saying
plainly what a file, its folder or its disk refused.

- Only a file sorted made is given its schema from nothing: a new file is made under a temporary
  name, marked with sorted's application id, and linked into place, so no sorted ever finds it
  empty half-way (one that died before migrating it leaves a marked file, which the next command
  migrates). An empty file sorted did not make (0 bytes, or another program's empty database) is
  refused with advice: it may be a database emptied by accident; `sorted db upgrade` starts a
  new database in it on purpose.
- A file that cannot be written (a read-only file system or folder, a full disk) is read all the
  same: when the modes say SQLite could not write it, or the usual read-write open fails at its
  first read, the file is opened read-only (`mode=ro`), then, when even the WAL's -shm file
  cannot be made and no -wal file holds changes, as immutable (`immutable=1`: SQLite then reads
  the main file alone, which holds every change). A write then says the database is read-only,
  or the disk full. An immutable view takes no locks, so another process that writes the file
  meanwhile (outside a read-only bind mount) makes its pages look damaged: when the file has
  changed since the view opened, that is said instead, and never "damaged".
- A file that a process left open when it died (a -wal file with changes, and no process holding
  a lock on the -shm file) gets `PRAGMA quick_check` before use, unless it opens read-only
  (`_quick_check` says why); SQLite's own reports of damage
  ("database disk image is malformed", "file is not a database") stop the command with advice to
  recover from the last export.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError

from sorted_cli.errors import (
    DatabaseDamaged,
    DatabaseReadOnly,
    DatabaseUnavailable,
    DiskFull,
    SchemaError,
    SortedError,
)
from sorted_cli.process import per_command

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

SORTED_ID = 0x736F7274  # the application id in the header of a file sorted made: "sort"
_RECOVER = (
    "move it aside (keep it: it may be repaired) and run `sorted import` on your last export "
    "(`sorted export > backup.json` makes one)"
)
# SQLite's primary result codes (the low byte of an extended one).
_READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 8, 10, 11, 13, 14, 26


def prepare(path: Path, *, create_parent: bool) -> None:
    """Make sure the file exists: a new one is made whole, marked as sorted's, under a
    temporary name beside it and linked into place, so no sorted running at the same moment
    ever finds it empty (one that lost that race uses the winner's file)."""
    try:
        if create_parent:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if path.exists():
            return
        # Owner-only from the first byte; SQLite gives its -wal and -shm files the same mode.
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".new", dir=path.parent
        )
        os.close(handle)
        try:
            _mark_as_sorted(Path(temporary))
            _place(Path(temporary), path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except FileExistsError:
        pass  # another sorted made it first
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise DatabaseUnavailable(f"Cannot create the database file {path}: {reason}.") from None


def _mark_as_sorted(path: Path) -> None:
    """Give the empty file SQLite's header with sorted's application id: the mark of a file
    sorted made, which it may give its schema from nothing."""
    with closing(sqlite3.connect(path, isolation_level=None)) as database:
        database.execute(f"PRAGMA application_id = {SORTED_ID}")


def _place(made: Path, path: Path) -> None:
    """Put the file MADE at PATH unless a file is there already (FileExistsError)."""
    try:
        os.link(made, path)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system (FAT): copy, never over a file
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(handle, "wb") as copy:
            copy.write(made.read_bytes())


def set_up(engine: Engine, path: Path) -> None:
    """Open the file through `engine` read-only where it cannot be written."""
    from sqlalchemy import event

    event.listen(engine, "do_connect", _connect_reading_where_not_writable(path))


def check_after_a_crash(engine: Engine, path: Path) -> None:
    """Check the file if a process died with it open (before each command uses it)."""
    if _left_open_by_a_dead_process(path):
        _quick_check(engine, path)


def _connect_reading_where_not_writable(path: Path) -> Any:
    def connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> sqlite3.Connection:
        if _known_unwritable(path) and (reading := _connect_read_only(path, cparams)):
            return reading
        connection: sqlite3.Connection = sqlite3.connect(*cargs, **cparams)
        try:
            _first_read(connection)
        except sqlite3.OperationalError as exc:
            connection.close()
            if _primary(exc) not in (_READONLY, _IOERR, _FULL, _CANTOPEN) or not path.is_file():
                raise
            reading = _connect_read_only(path, cparams)
            if reading is None:
                raise
            return reading
        return connection

    return connect


def _known_unwritable(path: Path) -> bool:
    """Whether the modes say SQLite cannot write the file: it cannot be written, or its folder
    cannot where the -wal and -shm files are still to be made. (Where they do not tell, as for
    root, the read-write open is tried, and its first read tells.)"""
    if not path.is_file():
        return False  # sorted is about to make it, or SQLite will say what is wrong
    if not os.access(path, os.W_OK):
        return True
    if os.access(path.parent, os.W_OK):
        return False
    return not all(os.access(_beside(path, suffix), os.W_OK) for suffix in ("-wal", "-shm"))


def _first_read(connection: sqlite3.Connection) -> None:
    """Read the header: in WAL mode this opens (or makes) the -wal and -shm files."""
    connection.execute("PRAGMA schema_version").fetchone()


def _connect_read_only(path: Path, cparams: dict[str, Any]) -> sqlite3.Connection | None:
    """A read-only connection that can read the file, or None."""
    connection = _opened(path, "mode=ro", cparams)
    if connection is None and not _wal_holds_changes(path):  # then the main file holds them all
        connection = open_immutable(path, cparams)
    return connection


def open_immutable(path: Path, cparams: dict[str, Any]) -> sqlite3.Connection | None:
    """An immutable view of the file (no locks, no -wal), noting how the file looked as it
    opened: another process writing meanwhile makes its pages look damaged (`_changed_since`)."""
    _IMMUTABLE_VIEWS[path.resolve()] = _file_state(path)
    return _opened(path, "mode=ro&immutable=1", cparams)


def _opened(path: Path, query: str, cparams: dict[str, Any]) -> sqlite3.Connection | None:
    uri = path.resolve().as_uri()
    connection: sqlite3.Connection = sqlite3.connect(
        f"{uri}?{query}", **{**cparams, "uri": True, "factory": _ReadOnlyConnection}
    )
    try:
        _first_read(connection)
    except sqlite3.OperationalError:
        connection.close()
        return None
    return connection


class _ReadOnlyConnection(sqlite3.Connection):
    """A connection that opened the file read-only (`mode=ro`, or immutable)."""


# How each file read through an immutable view looked when the view opened (this command's).
_IMMUTABLE_VIEWS: dict[Path, tuple[object, ...]] = per_command({})


def _file_state(path: Path) -> tuple[object, ...]:
    """What changes when any process writes the file: its inode, size and time, and whether
    its -wal and -shm files are there."""
    try:
        main = path.stat()
    except OSError:
        return ()
    wal, shm = (_beside(path, suffix).exists() for suffix in ("-wal", "-shm"))
    return main.st_ino, main.st_size, main.st_mtime_ns, wal, shm


def _changed_since_an_immutable_view(path: Path) -> bool:
    opened = _IMMUTABLE_VIEWS.get(path.resolve())
    return opened is not None and opened != _file_state(path)


def _wal_holds_changes(path: Path) -> bool:
    try:
        return _beside(path, "-wal").stat().st_size > 0
    except FileNotFoundError:
        return False


def _left_open_by_a_dead_process(path: Path) -> bool:
    """Whether the file was not closed cleanly: the last connection to close checkpoints and
    removes the -wal file, so one holding changes means a process has the file open (holding a
    lock on the -shm file, which Linux lists in /proc/locks) or died with it open. Where the
    locks cannot be read, a -wal file with changes is enough."""
    if not _wal_holds_changes(path):
        return False
    try:
        shm = _beside(path, "-shm").stat()
        locks = _locks_text()
    except OSError:  # no -shm (no process has the file open), or no /proc/locks to ask
        return True
    held = f" {os.major(shm.st_dev):02x}:{os.minor(shm.st_dev):02x}:{shm.st_ino} "
    return held not in locks


def _locks_text() -> str:
    return Path("/proc/locks").read_text(encoding="ascii", errors="replace")


def _beside(path: Path, suffix: str) -> Path:
    """SQLite's -wal or -shm file of the database at PATH."""
    return path.with_name(path.name + suffix)


def _quick_check(engine: Engine, path: Path) -> None:
    """Stop if SQLite's quick check finds the file damaged (it reads every page once).

    Not on a file opened read-only: nothing can checkpoint its -wal there, so every command
    would read every page again, and the check could repair nothing; a read-only copy of a
    database in use (a snapshot, a backup) is left so normally. Damage a read meets is still
    reported as such."""
    with engine.connect() as connection:
        if isinstance(connection.connection.dbapi_connection, _ReadOnlyConnection):
            return
        problems = [row[0] for row in connection.exec_driver_sql("PRAGMA quick_check")]
    if problems != ["ok"]:
        found = [line for problem in problems for line in problem.splitlines()]
        first = next(line for line in found if not line.startswith("***"))
        raise _damaged(path, f"SQLite's check found {first}")


def refuse_to_start_over(engine: Engine, path: Path) -> None:
    """A file with no tables that sorted did not make (a 0-byte file, another program's empty
    database) is not a new database: it may be one emptied by accident, and sorted gives it no
    schema, and no new local user, unasked. A file sorted made is marked (`_mark_as_sorted`)."""
    with engine.connect() as connection:
        tables, made_by = connection.exec_driver_sql(
            "SELECT count(*), (SELECT application_id FROM pragma_application_id()) "
            "FROM sqlite_master"
        ).one()
    if tables or made_by == SORTED_ID:
        return
    raise SchemaError(
        f"{path} is empty: it is not a sorted database, and sorted does not start afresh over "
        f"a file it did not make. To recover your tasks, {_RECOVER}; to start a new "
        "database in it, run `sorted db upgrade`."
    )


def describe_error(exc: BaseException, path: Path) -> SortedError | None:
    """The one-line error for SQLite's report of damage, a read-only file or a full disk."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(original, sqlite3.Error):
        return None
    code = _primary(original)
    if code in (_CORRUPT, _NOTADB) and _changed_since_an_immutable_view(path):
        return DatabaseUnavailable(
            "The database changed while sorted read it through a read-only view, which "
            "cannot see other writers; try again."
        )
    if code in (_CORRUPT, _NOTADB):
        return _damaged(path, str(original))
    if code == _FULL or (code in (_READONLY, _IOERR) and _disk_is_full(path)):
        return DiskFull(f"No space left on the disk holding {path}: nothing was saved.")
    if code == _READONLY:
        return DatabaseReadOnly(
            f"The database {path} is read-only ({_why_read_only(path)}): "
            "sorted can show it but not change it."
        )
    return None


def _damaged(path: Path, reason: str) -> DatabaseDamaged:
    return DatabaseDamaged(
        f"The database {path} is damaged ({reason}): sorted stopped without changing it; "
        f"{_RECOVER}."
    )


def _primary(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF


def _file_system(path: Path) -> os.statvfs_result | None:
    """What the file system holding PATH says of itself (None where it cannot be asked)."""
    try:
        return os.statvfs(path.parent)
    except (OSError, AttributeError):  # statvfs is POSIX's
        return None


def _disk_is_full(path: Path) -> bool:
    found = _file_system(path)
    return found is not None and found.f_bavail == 0


def _why_read_only(path: Path) -> str:
    found = _file_system(path)
    if found is not None and found.f_flag & os.ST_RDONLY:
        return "it is on a read-only file system"
    if not os.access(path.parent, os.W_OK):
        return "its folder cannot be written"
    if not os.access(path, os.W_OK):
        return "the file cannot be written"
    return "it was opened read-only"
