"""Transient database failures, and how long a sorted command keeps trying through them.

A serverless PostgreSQL (Neon) suspends idle computes: the first connection after a pause can
take seconds, or fail with "Couldn't connect to compute node", "terminating connection due to
administrator command" (SQLSTATE 57P01), a dropped or SSL-EOF'd connection. Those are worth
another try after a short, growing, jittered pause; a wrong password, a missing database,
a refused TLS handshake or a refused port are not, and fail at once.

Whether a retry may re-run a write is the caller's decision (see `cli.state.State.attempt`):
this module only says what is transient and paces the attempts within one time budget.
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
    return sqlstate in _TRANSIENT_SQLSTATES or any(text in message for text in _TRANSIENT_MESSAGES)


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
