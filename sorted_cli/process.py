"""The `sorted` program: one command in a process tuned for being short.

- The cyclic garbage collector stays off. Importing SQLAlchemy, SQLModel and pydantic makes
  hundreds of thousands of objects that live until the process ends, and collecting among
  them while they load costs about 60 ms for nothing. sorted's own work makes no reference
  cycles worth collecting: `sorted export` of a million tasks peaks at the same memory either
  way (benchmarks/speed.py measures it).
- The process ends with `os._exit` once the command is over and its output flushed: tearing
  the interpreter down (freeing every module and object one by one) costs another 90 ms, and
  by then everything that matters is done: the database session is closed (committed or
  rolled back), files are written and renamed into place, output is flushed here.

`python -m sorted_cli` and the installed `sorted` both start here; tests call
`sorted_cli.cli.app.main`, which leaves the interpreter as it is.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import NoReturn

SIGPIPE_EXIT = 128 + 13  # as a program stopped by SIGPIPE exits


def run() -> NoReturn:
    gc.disable()
    from sorted_cli.cli.app import main

    try:
        main()
        code = 0
    except SystemExit as stop:
        code = _exit_code(stop)
    os._exit(_flushed(code))


def _exit_code(stop: SystemExit) -> int:
    if stop.code is None or isinstance(stop.code, int):
        return stop.code or 0
    print(stop.code, file=sys.stderr)  # as Python does with a message for exit
    return 1


def _flushed(code: int) -> int:
    """CODE, once stdout and stderr are flushed (a reader that went away is SIGPIPE's code)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = SIGPIPE_EXIT
        except (OSError, ValueError):  # closed, or a full disk: nothing more can be said
            code = code or 1
    return code
