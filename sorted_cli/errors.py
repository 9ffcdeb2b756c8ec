"""Errors a user can meet: each carries the exit code and a one-line message.

Exit codes: 1 for failures (not found, database unreachable, schema not at head) and for a
declined question, 2 for bad usage or invalid input, 128 + N when signal N stopped the command
(130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP: `Stopped`). The CLI's one boundary
(`cli.app.SortedGroup`) turns any `SortedError` into its message on stderr and its exit code.
"""

from __future__ import annotations

FAILURE = 1
USAGE = 2
INTERRUPTED = 128 + 2  # Ctrl-C: as a program stopped by SIGINT exits


class SortedError(Exception):
    """Base of every expected failure."""

    exit_code = FAILURE

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refused_by_system(exc: OSError) -> SortedError:
    """The error for what the system refused (a full disk, a closed stdout, a file that cannot
    be read): its reason, and the file it names."""
    where = f": {exc.filename}" if exc.filename else ""
    return SortedError(f"{exc.strerror or exc}{where}.")


class InvalidInput(SortedError):
    """The user gave a value sorted cannot accept (empty title, bad date, bad email...)."""

    exit_code = USAGE


class InvalidReference(InvalidInput):
    """A task reference that is neither a number nor a UUID (prefix)."""


class DuplicateUser(InvalidInput):
    """A user with that email already exists."""


class TaskNotFound(SortedError):
    """No task of the current user matches the reference."""


class AmbiguousReference(InvalidInput):
    """A UUID prefix matches more than one of the user's tasks: the user must say more."""


class NothingMatches(SortedError):
    """The filters of a command that changes tasks match none of them: nothing changed (exit
    1, as grep's when nothing matches)."""


class TaskInTrash(SortedError):
    """The task is soft-deleted; it must be restored before it can be changed."""


class TaskNotInTrash(SortedError):
    """Only a task in the trash can be purged."""


class TaskChangedMeanwhile(SortedError):
    """The task changed in the database while the user was editing it in their editor."""


class Cancelled(SortedError):
    """The user declined a question: nothing was done. Said as it is (`Nothing deleted.`),
    without `Error:`, since it was the user's choice; exit code 1."""


class NothingToUndo(SortedError):
    """The user has no command left to undo, or (redo) none undone to re-apply."""


class UndoRefused(SortedError):
    """A task the undone (or redone) command changed has changed since: taking the command
    back would overwrite newer work, so nothing is done."""


class UserNotFound(SortedError):
    """No active user has that email."""


class NoCurrentUser(SortedError):
    """No user was given or remembered, and none may be guessed."""


class ConfigError(SortedError):
    """The configuration cannot be used (bad URL, unreadable config file)."""

    exit_code = USAGE


class ConfigNotWritten(ConfigError):
    """The config file cannot be rewritten (a read-only place, no locks there): `reason` says
    why."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"Cannot write {path}: {reason}.")
        self.reason = reason


class LockGaveUp(SortedError):
    """Another sorted held a file's lock for a minute (`files.locked`)."""

    def __init__(self, what: str, lock_file: object) -> None:
        super().__init__(
            f"{what} stayed locked by another sorted for a minute (lock file {lock_file}); "
            "try again once it is done."
        )
        self.reason = f"another sorted held its lock ({lock_file}) for a minute"


class PlantedFile(SortedError):
    """A file to write is another user's, in a shared folder (`files`)."""


class PlantedLink(PlantedFile):
    """A file to write is reached through another user's symlink in a shared folder (`files`)."""


class DatabaseUnavailable(SortedError):
    """The database cannot be reached or refused the connection."""


class DatabaseDamaged(SortedError):
    """SQLite found the database file damaged (or it is not a database at all)."""


class DatabaseReadOnly(SortedError):
    """The database can be read but not written (a read-only file system, folder or file)."""


class DiskFull(SortedError):
    """The disk holding the database has no space left: the change was not saved."""


class DatabaseBusy(SortedError):
    """Another command held the SQLite write lock for all of this command's wait: nothing
    was written."""


class SchemaError(SortedError):
    """The database schema is missing, behind or ahead of this version of sorted."""


class NotSaved(SortedError):
    """The server gave up on a change (a lock or statement timeout) and said so: it was rolled
    back, and is not saved."""


class OutcomeUnknown(SortedError):
    """The connection broke while a change was being committed: it may or may not be saved."""


class Stopped(KeyboardInterrupt):
    """A signal told the process to stop (SIGINT, SIGTERM or SIGHUP; see `process`).

    It is raised wherever the process is, as Python raises KeyboardInterrupt for Ctrl-C, and is
    one: psycopg then cancels the statement the server is running, every `finally` runs
    (partial files are removed, the session is closed), and the command exits 128 + N.
    """

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal_number)
        self.signal_number = signal_number

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


def stop_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit code for INTERRUPT: a `Stopped` signal's, or Ctrl-C's for a plain one."""
    return interrupt.exit_code if isinstance(interrupt, Stopped) else INTERRUPTED
