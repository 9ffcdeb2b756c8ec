"""Transient database failures, and how long a sorted command keeps trying through them.

A serverless PostgreSQL (Neon) suspends idle computes: the first connection after a pause can
take seconds, or fail with "Couldn't connect to compute node", "terminating connection due to
administrator command" (SQLSTATE 57P01), a dropped or SSL-EOF'd connection. Those are worth
another try after a short, growing, jittered pause; a wrong password, a missing database,
a refused TLS handshake or a refused port are not, and fail at once.

A connection pooler (PgBouncer, as in front of Neon's pooled endpoint) answers in the server's
place with SQLSTATE 08P01 whatever went wrong; its text says when it happened (see
`reached_no_server`): before the statement reached a server, or after, while it was in flight.

Whether a retry may re-run a write is the database owner's decision (see
`sorted_cli.database.Database.run`): this module only says what is transient, what proves that
nothing reached the server, and paces the attempts within one time budget.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# SQLSTATEs a server sends when it is going away or not ready yet (57P0x), the connection
# exception class (08xxx) that psycopg uses when a connection broke; a transaction that the
# server aborted to resolve a deadlock or a serialization conflict (40P01, 40001) wrote nothing.
_TRANSIENT_SQLSTATES = frozenset(
    {"57P01", "57P02", "57P03", "08000", "08003", "08006", "53300", "40001", "40P01"}
)
# What libpq and Neon's proxy say when a connection broke or a compute could not be woken.
_TRANSIENT_MESSAGES = (
    "couldn't connect to compute node",
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "ssl syscall error",
    "ssl connection has been closed unexpectedly",
    "unexpected eof",
    "eof detected",
    "connection reset by peer",
    "could not receive data from server",
    "could not send data to server",
    "consuming input failed",
    "the database system is starting up",
    "the database system is shutting down",
    "sorry, too many clients already",  # 53300, as a pooler passes it on in its own 08P01
)
# PgBouncer's own errors (SQLSTATE 08P01, worded as in its source) that are worth another try.
# Nothing of the transaction can have been saved: the statement waited too long for a free
# server connection ("query_wait_timeout", or "query_timeout" while waiting); the client had
# been idle too long; logins to the server have been failing, so it turned the client away
# before forwarding anything (it tries the server again after server_login_retry; "pgbouncer
# cannot connect to server" before 1.17); too many clients; it is shutting down and sends no
# more statements to servers ("server shutting down", 1.23 and later); or it closed the server
# connection of a transaction left idle ("idle transaction timeout": it only does so while no
# statement of the client is with the server, so the server rolled back, and a COMMIT sent
# then was never passed on). After the statement was sent ("server conn crashed?": the link to
# the server broke; "query timeout": it ran too long and PgBouncer cut it off), the change is
# in flight, and a COMMIT that was sent may have been done: the caller decides (see
# `Database.run`).
_POOLER_NOT_SENT = (
    "query_wait_timeout",
    "query_timeout",
    "client_idle_timeout",
    "server login has been failing",
    "pgbouncer cannot connect to server",
    "no more connections allowed",
    "server shutting down",
    "idle transaction timeout",
)
_POOLER_TRANSIENT = (
    *_POOLER_NOT_SENT,
    "server conn crashed?",
    "query timeout",
)
# Never worth repeating however they are worded: authentication (28), permissions (42501),
# a missing database (3D000), a client-side timeout (the wait already happened).
_PERMANENT_SQLSTATE_PREFIXES = ("28", "42", "3D")
_PERMANENT_MESSAGES = ("timeout expired", "password authentication failed", "no pg_hba.conf entry")


def is_transient(error: BaseException) -> bool:
    """Is this driver error (psycopg's, or SQLAlchemy's wrapper of it) worth another try?"""
    original = getattr(error, "orig", None) or error
    if not type(original).__module__.startswith("psycopg"):
        return False  # SQLite and everything else: no network in between, nothing to wait for
    sqlstate = getattr(original, "sqlstate", None) or ""
    message = str(original).lower()
    if sqlstate.startswith(_PERMANENT_SQLSTATE_PREFIXES) or any(
        text in message for text in _PERMANENT_MESSAGES
    ):
        return False
    if sqlstate == _POOLER_SQLSTATE and any(text in message for text in _POOLER_TRANSIENT):
        return True
    return sqlstate in _TRANSIENT_SQLSTATES or any(text in message for text in _TRANSIENT_MESSAGES)


_POOLER_SQLSTATE = "08P01"  # protocol_violation: what PgBouncer sends for all of its own


def reached_no_server(error: BaseException) -> bool:
    """Does this failure prove that the statement never reached a server (a pooler's refusal
    before it forwarded anything, or once the server had rolled the transaction back), so that
    a change sent with it cannot have been saved?"""
    original = getattr(error, "orig", None) or error
    message = str(original).lower()
    return getattr(original, "sqlstate", None) == _POOLER_SQLSTATE and any(
        text in message for text in _POOLER_NOT_SENT
    )


@dataclass
class Backoff:
    """Exponential backoff with jitter (each pause half to all of its ceiling), within a budget.

    The budget starts at the first failure. `pause()` sleeps before the next attempt and says
    True, or says False (without sleeping) when the next attempt would start past the budget.
    """

    budget_s: float
    first_s: float = 0.2
    cap_s: float = 3.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random
    attempts: int = 1
    _deadline: float | None = field(default=None, repr=False)

    def pause(self) -> bool:
        now = self.clock()
        if self._deadline is None:
            self._deadline = now + self.budget_s
        ceiling = min(self.cap_s, self.first_s * 2 ** (self.attempts - 1))
        delay = ceiling * (0.5 + self.jitter() / 2)  # never a hammering zero
        if now + delay > self._deadline:
            return False
        self.sleep(delay)
        self.attempts += 1
        return True
