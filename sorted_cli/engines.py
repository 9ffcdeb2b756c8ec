"""The engines of everyday commands, kept from one command to the next where a process runs
many (a worker of the command server); a process that runs one command keeps none.

What keeping saves: SQLAlchemy compiles each statement once per engine (the compiled cache is
the engine's), so an engine made afresh compiles every statement of the command again (about
5 ms of a warm `sorted list` on this project's benchmark machine); and on PostgreSQL a kept
engine keeps its connection, so a command opens none: to Neon, the TCP, TLS and SCRAM
handshake is 8 round trips across a wide-area network, where a warm connection needs none.

What is kept, and for how long:

- An engine per database and connection settings (`_key`): on PostgreSQL the URL, the connect
  timeout and the libpq `PG*` variables of the command's environment (they change how libpq
  connects); on SQLite the file (made absolute: each command has its own working folder) and
  the lock timeout. At most `MOST_ENGINES`; the one used longest ago goes first.
- PostgreSQL: a pool of one kept connection (and up to `OVERFLOW` more for a moment, closed as
  they are given back; a worker runs one command at a time, so a server of N workers holds at
  most N connections per database between commands). A connection is closed once it has been
  idle for the `connection_idle_timeout` of the last command that used it (60 s by default:
  Neon suspends a compute only when no connection is open), and replaced after `RECYCLE_S`
  whatever happens. A connection the server has closed or spoken on while it was idle (an
  admin's `pg_terminate_backend`, an idle timeout, a restart: the server says so before it
  closes) is noticed before anything is sent on it, at no round trip (`_still_open`), and a
  fresh one is opened instead. Idle time is counted on a clock that goes on while the machine
  sleeps (`_now`), so a laptop that slept past the idle time opens a fresh connection. One that
  died silently (a network that dropped it) and recently (TCP keepalives notice an idle one
  within about 25 s) is found by the first statement, and the database's owner treats that as
  any broken connection: retried where nothing can be written twice, else "may or may not have
  been saved" (`sorted_cli.database`). A connection is given to a command in autocommit, as
  everyday sessions use it.
- SQLite: the engine only. Each command opens the file afresh and closes it as it ends, as in
  its own process: the last connection to close moves the -wal file's changes into the
  database file, so a copy of the file alone holds everything. Each command also makes sure
  the file is there and checks it after a crash (`db.ready`).
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sorted_cli.urls import is_postgres, sqlite_path

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

    from sorted_cli.config import Settings

MOST_ENGINES = 8
OVERFLOW = 2  # connections beyond the kept one, closed as they are given back
RECYCLE_S = 3600.0  # a connection is replaced after this long, idle or not


@dataclass
class _Kept:
    engine: Engine
    idle_s: float  # close its connections after this long without a command
    used: float  # `_now()` when a command last gave its connections back
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # by email: a User's columns


_KEEPING = [False]  # a process that runs many commands keeps its engines
_KEPT: dict[tuple[object, ...], _Kept] = {}


def _now() -> float:
    """Seconds on a clock that goes on while the machine sleeps (CLOCK_BOOTTIME on Linux; the
    monotonic clock stops then), so a laptop that slept an hour finds its connection idle that
    long and opens a fresh one rather than send a command into a network that has moved on."""
    return time.clock_gettime(_CLOCK)


_CLOCK = getattr(time, "CLOCK_BOOTTIME", time.CLOCK_MONOTONIC)


def keep(keeping: bool = True) -> None:
    """From now on keep engines across commands (a command server's worker, before its first),
    or (False) keep none from now on, closing those kept."""
    _KEEPING[0] = keeping
    if not keeping:
        close_all()


def keeping() -> bool:
    return _KEEPING[0]


def pool_options(settings: Settings) -> dict[str, Any]:
    """The pool of a PostgreSQL engine of everyday commands: none for a process that runs one
    command, a small kept one where engines are kept (see the module docstring)."""
    from sqlalchemy.pool import NullPool, QueuePool

    if not keeping():
        return {"poolclass": NullPool}
    return {
        "poolclass": QueuePool,
        "pool_size": 1,
        "max_overflow": OVERFLOW,
        "pool_recycle": RECYCLE_S,
        "pool_timeout": settings.connect_timeout,
    }


def everyday_engine(settings: Settings, make: Callable[[], Engine]) -> tuple[Engine, bool]:
    """The engine for this command's settings: the kept one, else one MAKE makes (kept from now
    on where engines are kept). Says whether it is kept (then the command must not dispose of
    it)."""
    if not keeping():
        return make(), False
    key = _key(settings)
    kept = _KEPT.pop(key, None)
    if kept is None:
        while len(_KEPT) >= MOST_ENGINES:
            _forget(next(iter(_KEPT)))
        engine = make()
        if settings.is_postgres:  # pragma: postgres
            from sqlalchemy import event

            event.listen(engine, "checkout", _still_open)
        kept = _Kept(engine, settings.connection_idle_timeout, _now())
    kept.idle_s = settings.connection_idle_timeout
    if _holds_connections(kept.engine) and _now() - kept.used > kept.idle_s:
        kept.engine.dispose()  # idle too long (a machine that slept): not to be trusted now
    _KEPT[key] = kept  # last in the order: used most recently
    return kept.engine, True


def given_back(engine: Engine) -> None:
    """A command is done with ENGINE: a SQLite file is closed now; PostgreSQL connections are
    kept, and their idle time starts (with an idle time of 0 they are closed at once)."""
    kept = _kept(engine)
    if kept is not None:
        kept.used = _now()
        if kept.idle_s <= 0 or engine.dialect.name == "sqlite":
            engine.dispose()  # the engine (its compiled statements) stays


def known_user(engine: Engine, email: str) -> dict[str, Any] | None:
    """The columns of the user EMAIL named when an earlier command on ENGINE looked them up
    (see `Database.known_user`, which makes sure they are still there)."""
    kept = _kept(engine)
    return None if kept is None else kept.users.get(email)


def remember_user(engine: Engine, email: str, columns: dict[str, Any] | None) -> None:
    """Remember the user EMAIL names on ENGINE's database (None: forget them)."""
    kept = _kept(engine)
    if kept is not None and columns is None:
        kept.users.pop(email, None)
    elif kept is not None and columns is not None:
        kept.users[email] = columns


def _kept(engine: Engine) -> _Kept | None:
    return next((kept for kept in _KEPT.values() if kept.engine is engine), None)


def close_idle() -> float | None:
    """Close the kept connections idle for longer than their idle time; say in how many seconds
    the next one is due (None: no open connection is kept)."""
    now = _now()
    due: float | None = None
    for kept in _KEPT.values():
        if not _holds_connections(kept.engine):
            continue
        left = kept.used + kept.idle_s - now
        if left <= 0:
            kept.engine.dispose()  # the engine (its compiled statements) stays
        else:
            due = left if due is None else min(due, left)
    return due


def close_all() -> None:
    """Close every kept connection and forget the engines (a worker about to leave)."""
    for key in list(_KEPT):
        _forget(key)


def _forget(key: tuple[object, ...]) -> None:
    _KEPT.pop(key).engine.dispose()


def _holds_connections(engine: Engine) -> bool:
    checkedin: Callable[[], int] | None = getattr(engine.pool, "checkedin", None)
    return checkedin is not None and checkedin() > 0


def _key(settings: Settings) -> tuple[object, ...]:
    url = settings.url
    if is_postgres(url):
        libpq = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("PG")))
        return ("postgresql", url, settings.connect_timeout, libpq)
    path = sqlite_path(url)
    where = str(path.resolve()) if path is not None else url
    return ("sqlite", url, where, settings.lock_timeout, settings.is_embedded)


def _still_open(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:  # pragma: postgres
    """Before a kept PostgreSQL connection is used: a server that closed it (or is closing it)
    while it was idle has sent its last words; read them without sending anything, and have
    the pool open a fresh connection instead (SQLAlchemy does, on DisconnectionError)."""
    from psycopg import pq
    from sqlalchemy.exc import DisconnectionError

    pgconn = dbapi_connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        raise DisconnectionError("the connection was closed while idle")
    try:
        # Idle, nothing asked, yet readable: a notice, a setting, TLS housekeeping, or the
        # server's last error and its end of stream, which a later read meets.
        readable = select.poll()  # not select.select: a descriptor may be over 1023
        readable.register(pgconn.socket, select.POLLIN)
        for _ in range(4):
            if not readable.poll(0):
                break
            pgconn.consume_input()
    except Exception as exc:
        raise DisconnectionError("the connection was closed while idle") from exc
    if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
        raise DisconnectionError("the connection was closed while idle")
    dbapi_connection.autocommit = True  # as everyday sessions use it (a stop may leave it off)
