"""How long an everyday command waits on PostgreSQL, and what it says meanwhile.

Three bounds, none of which costs a round trip:

- On the server, every statement runs under this command's `lock_timeout` and
  `statement_timeout` (Settings: SORTED_LOCK_TIMEOUT, SORTED_STATEMENT_TIMEOUT). They are set
  with `set_config(..., true)` in the same simple query as the statement (`BoundedCursor`), so
  the two travel in one packet, are answered together, and run in one transaction (the
  query's implicit one in autocommit, or the transaction sorted opened). A transaction
  sorted opens gets them in the same message as its BEGIN (`BoundedConnection._start_query`),
  so its batches (`executemany`) and a server-side cursor's DECLARE and FETCH (streamed
  `list` and `export`) run bounded too, and sending them again costs nothing. That holds on a
  direct connection and through a transaction-mode pooler alike (Neon's pooled endpoint is
  PgBouncer): the pooler keeps a transaction on one server connection, and a setting local to
  a transaction cannot leak to another client. The alternatives were worse: libpq's startup
  `options=-c ...` is free on a direct connection, but PgBouncer refuses that parameter (1.18),
  or takes in it only the settings it is told to track (1.20 and later; these two are not by
  default), and with `ignore_startup_parameters` drops it silently; a session-level SET costs
  a round trip and, through the pooler, leaks to other clients and may miss the next
  statement. Neither needs telling a pooled URL from a direct one here. Because
  the server itself gives up, a write stuck behind a lock never commits later, even when sorted
  was killed (SIGKILL) while it waited: the server answers 55P03 or 57014 and rolls it back.
- On the client, a wait for an answer that lasts past the statement timeout plus the connect
  timeout means the network went silent (a frozen link still ACKs TCP, so keepalives alone do
  not see it): the connection is closed and the wait fails as libpq's "could not receive data
  from server" does, a broken connection, so what was in flight is "may or may not have been
  saved" (see `sorted_cli.database.Database.run`).
- A wait longer than `NOTICE_AFTER_S` is said once, through `on_lock_wait`.

Ctrl-C, SIGTERM and SIGHUP raise KeyboardInterrupt during a wait; psycopg then cancels the
statement on the server before the command exits (see `sorted_cli.process`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import errors, generators, pq

from sorted_cli.process import NOTICE_AFTER_S

IDLE = pq.TransactionStatus.IDLE
INTRANS = pq.TransactionStatus.INTRANS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from psycopg.abc import PQGen


@dataclass
class Waits:
    """The bounds of one command's waits (see the module docstring), in seconds, and its
    notice: made per command, and set on the connection the command uses."""

    lock_timeout: float
    statement_timeout: float
    silence: float  # beyond the statement timeout: no answer by then means a silent network
    on_lock_wait: Callable[[], object] | None = None
    said: bool = field(default=False, init=False)

    @property
    def setting_query(self) -> str:
        """The statement that sets both timeouts for the rest of the transaction."""
        lock_ms = max(1, round(self.lock_timeout * 1000))  # 0 would mean: wait for ever
        statement_ms = max(1, round(self.statement_timeout * 1000))
        return (
            f"SELECT set_config('lock_timeout', '{lock_ms}', true),"
            f" set_config('statement_timeout', '{statement_ms}', true)"
        )

    @property
    def deadline(self) -> float:
        return self.statement_timeout + self.silence

    def say_waiting(self) -> None:
        if not self.said and self.on_lock_wait is not None:
            self.said = True
            self.on_lock_wait()


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server is bounded by `waits`."""

    waits: Waits | None = None

    def _start_query(self) -> PQGen[None]:  # pragma: postgres
        """Begin a transaction (out of autocommit) with both timeouts set in the same message
        as its BEGIN, so every statement of it runs bounded, a server-side cursor's DECLARE
        and FETCH included, at no round trip of its own (psycopg sends BEGIN by itself)."""
        waits = self.waits
        if (
            waits is None
            or self._autocommit
            or self._pipeline
            or self.pgconn.transaction_status != IDLE
        ):
            yield from super()._start_query()
            return
        self.pgconn.send_query(self._get_tx_start_command() + b"; " + waits.setting_query.encode())
        for result in (yield from generators.execute(self.pgconn)):
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(result, encoding=self.pgconn._encoding)

    def wait(
        self, gen: PQGen[Any], interval: float = 0.1, timeout: float | None = None
    ) -> Any:  # pragma: postgres
        waits = self.waits
        if waits is None or timeout is not None:  # psycopg's own bounded waits (a cancel)
            return super().wait(gen, interval, timeout)
        try:  # psycopg resumes a generator after a timed-out wait (as after Ctrl-C)
            return super().wait(gen, interval, NOTICE_AFTER_S)
        except errors._WaitTimeout:
            waits.say_waiting()
        try:
            return super().wait(gen, interval, waits.deadline - NOTICE_AFTER_S)
        except errors._WaitTimeout:
            self.pgconn.finish()  # never to be used again: what was sent is in doubt
            raise psycopg.OperationalError(  # worded as libpq's: a broken connection
                f"could not receive data from server: no answer in {waits.deadline:g} s"
            ) from None


class BoundedCursor(psycopg.ClientCursor[Any]):
    """A cursor that sends its connection's timeouts in the same message as each statement.

    The values are bound on the client, so the setting and the statement go as one simple
    query: one packet, one implicit transaction (or a step of the one sorted opened), and the
    server arms the statement timeout afresh for the second statement (PostgreSQL 13 and
    later). The cursor then shows the statement's result, not the setting's."""

    def execute(
        self, query: Any, params: Any = None, **options: Any
    ) -> BoundedCursor:  # pragma: postgres
        waits = getattr(self.connection, "waits", None)
        if waits is None or not isinstance(query, str):
            super().execute(query, params, **options)
            return self
        super().execute(f"{waits.setting_query}; {query}", params, **options)
        self.nextset()
        return self

    def executemany(
        self, query: Any, params_seq: Iterable[Any], **options: Any
    ) -> None:  # pragma: postgres
        waits = getattr(self.connection, "waits", None)
        if waits is None or self.connection.pgconn.transaction_status == INTRANS:
            # In a transaction: its BEGIN carried the setting (BoundedConnection._start_query).
            super().executemany(query, params_seq, **options)
            return
        for params in params_seq:  # autocommit: each statement its own bounded transaction
            self.execute(query, params)


def connect(*args: Any, waits: Waits | None = None, **kwargs: Any) -> BoundedConnection:
    """A connection (psycopg.connect's arguments) whose waits WAITS bounds (set `waits` on it
    later to bound them from then on)."""
    connection = BoundedConnection.connect(*args, cursor_factory=BoundedCursor, **kwargs)
    connection.waits = waits
    return connection
