"""The `sorted` program: one command in a process tuned for being short.

- The cyclic garbage collector stays off. Importing SQLAlchemy, SQLModel and pydantic makes
  hundreds of thousands of objects that live until the process ends, and collecting among
  them while they load costs about 60 ms for nothing. sorted's own work makes no reference
  cycles worth collecting: `sorted export` of a million tasks peaks at the same memory either
  way (benchmarks/speed.py measures it).
- The process ends with `os._exit` once the command is over and its output flushed: tearing
  the interpreter down (a last collection, then freeing every module and object one by one)
  costs `sorted list` about 150 ms more, and still about 5 ms with `gc.freeze()` first, which
  spares the collection (measured side by side, 2026-12-01); by then everything that matters
  is done: the database session is closed (committed or rolled back), files are written and
  renamed into place, output is flushed here.

- SIGTERM and SIGHUP stop a command as Ctrl-C (SIGINT) does: each raises `errors.Stopped`, a
  KeyboardInterrupt, in the main thread. psycopg then cancels the statement the server is
  running (a write stuck behind a lock does not go on to commit after sorted is gone), every
  `finally` runs, and the command exits 128 + the signal's number. A signal the parent set to
  be ignored (`nohup`, a background job's SIGINT) stays ignored; a second signal while the
  first is being handled ends the process at once, removing only the temporary files being
  written (`UNFINISHED_FILES`).
- A standard stream the shell closed (`sorted list >&-`) is held open on /dev/null, so that no
  file sorted opens (the database) takes its number. Output to a closed stdout is a write
  error, as to a full disk: one line on stderr and exit 1 (`ls >&-` says "write error: Bad
  file descriptor"), after whatever change the command made. A closed stdin reads as empty; a
  closed stderr takes what is said there.

- A process may run many commands (a command server's worker): each runs inside `one_command`,
  which gives it what a fresh process would have and takes back what it changed (see there).

`python -m sorted_cli` and the installed `sorted` both start here and run one command through
`sorted_cli.cli.app.run_command`; tests call that or `sorted_cli.cli.app.main`, which leave the
interpreter as it is.
"""

from __future__ import annotations

import errno
import gc
import io
import os
import sys
import time

# Every `sorted` imports this module before anything else, so it imports only what is loaded
# already or costs nothing: `typing`, `contextlib` and `warnings` would cost the command
# server's client 10 ms (they bring `re` and `collections`), and `signal` (its enums) 5 ms, so
# the stop signals are handled through the C module under it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Iterator
    from types import TracebackType
    from typing import NoReturn, Protocol, TypeVar

    class _Emptiable(Protocol):
        def clear(self) -> None: ...

    Container = TypeVar("Container", bound=_Emptiable)
else:
    import _signal as signal

SIGPIPE_EXIT = 128 + 13  # as a program stopped by SIGPIPE exits
NOTICE_AFTER_S = 1.0  # a wait longer than this is said once on stderr (a lock, the server)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


_PER_COMMAND: list[_Emptiable] = []


def per_command(container: Container) -> Container:
    """CONTAINER (empty), emptied again as each command ends (`one_command`): module-level state
    that belongs to one command, as it would to one process."""
    _PER_COMMAND.append(container)
    return container


# Temporary files being written (`files.replacing`): a second stop signal ends the process at
# once, without the cleaning up, but removes these first.
UNFINISHED_FILES: set[str] = per_command(set())


def run() -> NoReturn:
    gc.disable()
    closed = _hold_closed_streams()
    _stop_on_signals()
    try:
        from sorted_cli.server.client import through_server

        args = sys.argv[1:]
        code = through_server(args, closed, command_word(args))
        if code is None:
            code = run_here()
    except KeyboardInterrupt as stop:  # while handing the command over: nothing ran
        from sorted_cli.errors import stop_exit_code

        code = stop_exit_code(stop)
    os._exit(code)


def run_here() -> int:
    """Run the command of `sys.argv` in this process (`cli.app.run_command`); its exit code,
    once output is flushed. (The command server's workers run each command through here too.)"""
    try:
        from sorted_cli.cli.app import run_command

        code = run_command(sys.argv[1:])
    except KeyboardInterrupt as stop:  # outside any command (while starting): nothing to say
        from sorted_cli.errors import stop_exit_code

        code = stop_exit_code(stop)
    return _flushed(code)


# Root options that take a value (`--user ada@example.com list`): the word after them is theirs.
ROOT_OPTIONS_WITH_VALUES = ("--database-url", "--user", "-u")


def command_word(args: list[str]) -> str | None:
    """The first word of ARGS after the root options: the command's name, if any."""
    index = command_index(args)
    return None if index is None else args[index]


def root_words(args: list[str]) -> Iterator[str]:
    """The words of ARGS up to the command's name (the root's options, then the name, if
    any), without the values of the root's options."""
    words = iter(args)
    for word in words:
        yield word
        if word in ROOT_OPTIONS_WITH_VALUES:
            next(words, None)
        elif not word.startswith("-"):
            return


def opens_an_editor(args: list[str]) -> bool:
    """Whether ARGS are `sorted edit REF` and nothing after the REF: an edit in the user's
    editor (`cli.editing`), which needs this process's terminal, so never the server's."""
    index = command_index(args)
    if index is None or args[index] != "edit":
        return False
    rest = [word for word in args[index + 1 :] if word != "--"]  # `edit 3 --` is `edit 3`
    return len(rest) == 1 and not rest[0].startswith("-")


def command_index(args: list[str]) -> int | None:
    """Where in ARGS the command's name is (after the root options and their values)."""
    words = iter(enumerate(args))
    for index, word in words:
        if word in ROOT_OPTIONS_WITH_VALUES:
            next(words, None)
        elif not word.startswith("-"):
            return index
    return None


class one_command:  # lower case: used as a function is, `with one_command():`
    """Run one command as a fresh process would, in a process that may run more after it.

    Before it: the local time zone is read again from TZ (C's localtime reads it once per
    process) and the stop signals raise `Stopped` (see the module docstring). After it: the
    signals' handlers are put back as they were (a first signal leaves `_stop_now` behind),
    every `per_command` container is emptied, and the warnings filters and the record of
    warnings already shown are as before (`warnings.catch_warnings`), so a warning is shown
    once per command, as once per process.
    """

    def __enter__(self) -> None:
        import warnings

        time.tzset()
        self.handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        _stop_on_signals()
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.warnings.__exit__(kind, error, traceback)
        finally:
            for number, handler in self.handlers.items():
                if handler is not None:  # None: a handler not set from Python, left as it is
                    signal.signal(number, handler)
            for container in _PER_COMMAND:
                container.clear()


class ClosedStdout(io.TextIOBase):
    """stdout when the shell closed it: every write fails as writing to no file does."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(errno.EBADF, "Bad file descriptor (stdout is closed)")


def _hold_closed_streams() -> list[str]:
    """Python starts with None for a closed standard stream (see the module docstring); the
    names of those that were closed."""
    closed = []
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        if getattr(sys, name) is not None:
            continue
        closed.append(name)
        held = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one, in order
        if held != number:
            os.dup2(held, number)
            os.close(held)
        if name == "stdout":
            sys.stdout = ClosedStdout()
        else:
            mode = "r" if name == "stdin" else "w"
            setattr(sys, name, open(number, mode, encoding="utf-8", closefd=False))  # noqa: SIM115
    return closed


def _stop_on_signals() -> None:
    """Make each stop signal raise `Stopped` (see the module docstring)."""
    for number in STOP_SIGNALS:
        if signal.getsignal(number) != signal.SIG_IGN:  # a plain number from `_signal`
            signal.signal(number, stop)


def stop(number: int, _frame: object) -> None:
    """The handler of the stop signals (see the module docstring)."""
    from sorted_cli.errors import Stopped

    for again in STOP_SIGNALS:  # a second signal: stop now, without the cleaning up
        if signal.getsignal(again) is stop:
            signal.signal(again, _stop_now)
    raise Stopped(number)


def _stop_now(number: int, _frame: object) -> None:
    import contextlib
    from pathlib import Path  # imported already by whatever added a file

    for name in list(UNFINISHED_FILES):
        with contextlib.suppress(OSError):
            Path(name).unlink()
    os._exit(128 + number)


def hide_argument(argument: str, shown: str) -> None:
    """Show SHOWN (as long as ARGUMENT) in place of ARGUMENT, or of the end of an argument
    that ends with it (`--database-url=URL`), where /proc/PID/cmdline looks. The memory holding
    the arguments is written through /proc/self/mem; where that cannot be done nothing
    changes."""
    from pathlib import Path

    old, new = os.fsencode(argument), os.fsencode(shown)
    try:
        with Path("/proc/self/stat").open("rb") as status:
            # the fields after the command's name, which may itself hold spaces and brackets;
            # arg_start and arg_end are fields 48 and 49 (proc(5))
            fields = status.read().rpartition(b")")[2].split()
        start, end = int(fields[45]), int(fields[46])
        with Path("/proc/self/mem").open("r+b", buffering=0) as memory:
            memory.seek(start)
            arguments = memory.read(end - start).split(b"\0")
            at = start
            for each in arguments:
                if each.endswith(old) and len(new) == len(old):
                    memory.seek(at + len(each) - len(old))
                    memory.write(new)
                at += len(each) + 1
    except (OSError, IndexError, ValueError):  # not Linux, or a kernel that forbids it
        pass


def exit_code(stop: SystemExit) -> int:
    """The exit status a process ending with STOP has."""
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)  # as Python does with a message for exit
    return 1


def _flushed(code: int) -> int:
    """CODE, once stdout and stderr are flushed (a reader that went away is SIGPIPE's code).
    Output that cannot be written now (a full disk: stdout is written in blocks, so the error
    often comes only here) is said on stderr in one line, as the command's boundary says it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = SIGPIPE_EXIT
        except OSError as exc:
            if stream is sys.stdout:
                _say_unwritten(exc)
            code = code or 1
        except ValueError:  # closed: nothing more can be said
            code = code or 1
    return code


def _say_unwritten(exc: OSError) -> None:
    import contextlib  # loaded by the command already

    from sorted_cli.errors import refused_by_system

    with contextlib.suppress(OSError, ValueError):  # stderr is gone too
        sys.stderr.write(f"Error: {refused_by_system(exc).message}\n")
