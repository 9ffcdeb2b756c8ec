"""A fault-injection TCP proxy that stands between a PostgreSQL client and a real server.

`FaultProxy` listens on 127.0.0.1 (a free port, `port`) and forwards every connection it accepts
to an upstream server (127.0.0.1:5432 by default), byte for byte, so TLS, authentication and
the whole protocol pass through untouched. `url_for(url)` points a database URL at it.

Faults are queued and taken by the next connections in order, one connection per fault
(`times=N` queues N of them, for the next N connections):

- `refuse()`: hang up at once; the client reads end-of-file ("server closed the connection
  unexpectedly").
- `postgres_error(...)`: answer the handshake as Neon's proxy does when it cannot wake a
  compute: "N" to an SSLRequest or GSSENCRequest, then an ErrorResponse after the
  StartupMessage, then hang up. The server is never reached.
- `delay_connect(seconds)`: wait before connecting upstream (a slow cold start).
- `cut_on(pattern, forward=..., occurrence=1)`: when the client sends `pattern` (b"COMMIT", say;
  with `occurrence=N`, its Nth time on that connection), break the
  connection, either before the server sees that data (`forward=False`) or after the server has
  started answering it, without relaying the answer (`forward=True`).
- `terminate_on(pattern, ...)`: when the client sends `pattern`, answer a FATAL ErrorResponse
  (57P01 by default) in the server's place and hang up, as a restarting compute does.
- `freeze_on(pattern)`: when the client sends `pattern`, forward it, then go silent both ways:
  the connection stays open and TCP keeps acknowledging, but nothing more is relayed (a link
  that froze mid-command). `freeze()`: silent from the start, without reaching the server.
- `pass_through()`: leave the next connection alone (to fault a later one).

The pattern faults read the client's bytes, so they only work on plain-text connections
(`sslmode=disable`, or `prefer` against a server without TLS). Patterns are matched across
chunk boundaries.

`pending_faults` counts the faults that have not taken effect yet: still queued, or given to a
connection that has not (or never) met its pattern. `pending_faults == 0` after a test proves
each fault really happened. A fault counts as taken effect before the client can notice it.

Counters (read them after the client has its answers; `reset_counters()` zeroes both):

- `connections`: the connections accepted.
- `round_trips`: the exchanges in which the client sent something and the upstream server then
  answered, summed over all connections. Each time data arrives from the server after the
  client has sent data (on that connection) since the server last spoke, the count goes up by
  one, before the data is relayed. So once a client has received an answer, that round trip is
  counted, with no race; several packets the client sends before an answer (a pipeline, an
  extended-protocol batch) are one round trip; a message the server never answers (Terminate
  when closing, a cut request) is none. Answers the proxy makes itself (faults) are not counted.
  For example a connection with `sslmode=disable`, no password and no GSSAPI is one round trip
  (StartupMessage -> AuthenticationOk ... ReadyForQuery); `sslmode=prefer` adds the SSLRequest.

`latency(seconds)` delays each answer of the server (its first chunk after the client spoke, the
one a round trip is counted on) by that much before relaying it, so every round trip costs that
much more, as on a wide-area network; the rest of a long answer follows at once. It applies until
changed.

Everything is bounded in time: the threads are daemons, every socket has a timeout, loops check
a stop flag a few times a second, and `close()` (or leaving the `with` block) stops listening,
breaks every open connection and joins the threads within a few seconds.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

__all__ = [
    "GSSENC_REQUEST",
    "SSL_REQUEST",
    "Fault",
    "FaultProxy",
    "error_response",
    "server_address",
]

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
_NEGOTIATIONS = (SSL_REQUEST, GSSENC_REQUEST)
_POLL = 0.1  # how often blocked loops look at the stop flag, in seconds
_CHUNK = 65536
_MAX_STARTUP = 10000  # the server's own limit on a StartupMessage is about this

FaultKind = Literal[
    "pass", "refuse", "postgres_error", "delay_connect", "cut", "terminate", "freeze"
]


def server_address(database_url: str) -> tuple[str, int]:
    """The host and port a PostgreSQL URL reaches (port 5432 when it names none): the upstream
    of a proxy put in front of that database."""
    parts = urlsplit(database_url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
    return parts.hostname or "127.0.0.1", parts.port or 5432


def error_response(message: str, *, sqlstate: str = "XX000", severity: str = "FATAL") -> bytes:
    """A protocol-3 ErrorResponse message: 'E', its length, fields S, V, C and M, a final NUL."""
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in ((b"S", severity), (b"V", severity), (b"C", sqlstate), (b"M", message))
    )
    fields += b"\0"
    return b"E" + struct.pack("!I", len(fields) + 4) + fields


@dataclass(frozen=True)
class Fault:
    """What the proxy does to one connection (see the methods of `FaultProxy` that make them)."""

    kind: FaultKind
    pattern: bytes = b""  # cut, terminate, freeze (none: silent from the start)
    forward: bool = False  # cut
    occurrence: int = 1  # cut, terminate, freeze: fire on this occurrence of the pattern
    seconds: float = 0.0  # delay_connect
    message: str = ""  # postgres_error, terminate
    sqlstate: str = "XX000"  # postgres_error, terminate
    severity: str = "FATAL"  # postgres_error, terminate

    def __post_init__(self) -> None:
        if self.kind in ("cut", "terminate") and not self.pattern:
            raise ValueError(f"a {self.kind} fault needs a non-empty pattern")
        if self.occurrence < 1:
            raise ValueError("occurrence counts from 1")
        if len(self.sqlstate) != 5:
            raise ValueError(f"a SQLSTATE has 5 characters, not {self.sqlstate!r}")
        if self.seconds < 0:
            raise ValueError("seconds must not be negative")


class _Link:
    """One accepted connection, its upstream connection once made, and its thread."""

    def __init__(self, client: socket.socket, fault: Fault | None) -> None:
        self.client = client
        self.server: socket.socket | None = None
        self.fault = fault
        self.thread: threading.Thread | None = None

    def break_off(self) -> None:
        """Wake the thread from any blocking call on either socket (it then closes them)."""
        for sock in (self.client, self.server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of a PostgreSQL server that injects faults on demand.

    Use it as a context manager (or call `close()`); see the module's documentation.
    """

    def __init__(
        self,
        upstream: tuple[str, int] = ("127.0.0.1", 5432),
        *,
        io_timeout: float = 10.0,
        reply_wait: float = 2.0,
    ) -> None:
        """`io_timeout` bounds connecting upstream, reading a handshake and sending a chunk;
        `reply_wait` is how long `cut_on(..., forward=True)` waits for the server's answer."""
        self.upstream = upstream
        self._io_timeout = io_timeout
        self._reply_wait = reply_wait
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._queue: deque[Fault] = deque()
        self._unfired = 0
        self._connections = 0
        self._round_trips = 0
        self._latency = 0.0
        self._links: set[_Link] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(64)
            self._listener.settimeout(_POLL)
        except OSError:
            self._listener.close()
            raise
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(
            target=self._accept_loop, name=f"faultproxy-{self.port}", daemon=True
        )
        self._acceptor.start()

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening, break every open connection and join the threads (at most `timeout`
        seconds in all). Safe to call more than once."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        self._acceptor.join(max(0.0, deadline - time.monotonic()))
        self._listener.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.break_off()
        for link in links:
            if link.thread is not None:
                link.thread.join(max(0.0, deadline - time.monotonic()))

    def url_for(self, database_url: str) -> str:
        """`database_url` (postgresql://, postgresql+psycopg://, postgres://) with its host and
        port replaced by the proxy's; user, password, database and parameters are kept."""
        parts = urlsplit(database_url)
        if not parts.scheme.startswith("postgres"):
            raise ValueError(f"not a PostgreSQL URL: {parts.scheme}://...")
        userinfo, at, _ = parts.netloc.rpartition("@")
        return urlunsplit(parts._replace(netloc=f"{userinfo}{at}127.0.0.1:{self.port}"))

    # ------------------------------------------------------------------ faults

    def add_fault(self, fault: Fault, times: int = 1) -> None:
        """Queue `fault` for each of the next `times` connections not already given one."""
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._queue.extend([fault] * times)
            self._unfired += times

    def pass_through(self, times: int = 1) -> None:
        """Leave the next connection(s) alone, so that a later one takes the next fault."""
        self.add_fault(Fault("pass"), times)

    def refuse(self, times: int = 1) -> None:
        """Accept, then hang up without reading: the client reads end-of-file."""
        self.add_fault(Fault("refuse"), times)

    def postgres_error(
        self,
        times: int = 1,
        message: str = "Couldn't connect to compute node",
        sqlstate: str = "XX000",
        severity: str = "FATAL",
    ) -> None:
        """Refuse the handshake with an ErrorResponse, as Neon's proxy does for a compute it
        cannot wake (declining SSL or GSSAPI encryption first if asked)."""
        fault = Fault("postgres_error", message=message, sqlstate=sqlstate, severity=severity)
        self.add_fault(fault, times)

    def delay_connect(self, seconds: float, times: int = 1) -> None:
        """Wait `seconds` before connecting upstream, then forward as usual."""
        self.add_fault(Fault("delay_connect", seconds=seconds), times)

    def cut_on(self, pattern: bytes, *, forward: bool, occurrence: int = 1, times: int = 1) -> None:
        """Break the connection when the client sends `pattern` (for the `occurrence`th time
        on that connection). forward=False: before the server gets that data. forward=True:
        after the server got it and began to answer (or `reply_wait` passed), without
        relaying the answer."""
        fault = Fault("cut", pattern=pattern, forward=forward, occurrence=occurrence)
        self.add_fault(fault, times)

    def terminate_on(
        self,
        pattern: bytes,
        *,
        sqlstate: str = "57P01",
        message: str = "terminating connection due to administrator command",
        times: int = 1,
    ) -> None:
        """When the client sends `pattern`, keep it from the server, answer a FATAL
        ErrorResponse in the server's place and hang up."""
        fault = Fault("terminate", pattern=pattern, sqlstate=sqlstate, message=message)
        self.add_fault(fault, times)

    def freeze_on(self, pattern: bytes, *, occurrence: int = 1, times: int = 1) -> None:
        """When the client sends `pattern` (its `occurrence`th time), forward that data to the
        server, then relay nothing more either way, holding the connection open."""
        self.add_fault(Fault("freeze", pattern=pattern, occurrence=occurrence), times)

    def freeze(self, times: int = 1) -> None:
        """Accept and hold the connection open without a word, never reaching the server."""
        self.add_fault(Fault("freeze"), times)

    def latency(self, seconds: float) -> None:
        """Delay each answer of the server by `seconds` before relaying it, that is every round
        trip (0 turns it off; see the module)."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self._lock:
            self._latency = seconds

    @property
    def pending_faults(self) -> int:
        """Faults that have not taken effect: queued, or waiting for (or never met) a pattern."""
        with self._lock:
            return self._unfired

    # ------------------------------------------------------------------ counters

    @property
    def connections(self) -> int:
        """Connections accepted since the start (or `reset_counters()`)."""
        with self._lock:
            return self._connections

    @property
    def round_trips(self) -> int:
        """Client-then-server exchanges since the start (or `reset_counters()`): see the module."""
        with self._lock:
            return self._round_trips

    def reset_counters(self) -> None:
        """Zero `connections` and `round_trips` (for example between two commands)."""
        with self._lock:
            self._connections = 0
            self._round_trips = 0

    # ------------------------------------------------------------------ the work

    def _fired(self) -> None:
        with self._lock:
            self._unfired -= 1

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(self._io_timeout)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._connections += 1
                fault = self._queue.popleft() if self._queue else None
                link = _Link(client, fault)
                self._links.add(link)
            link.thread = threading.Thread(
                target=self._serve, args=(link,), name=f"faultproxy-{self.port}-link", daemon=True
            )
            link.thread.start()

    def _serve(self, link: _Link) -> None:
        fault = link.fault
        try:
            if fault is not None and fault.kind == "pass":
                self._fired()
                fault = None
            if fault is not None and fault.kind == "refuse":
                self._fired()
            elif fault is not None and fault.kind == "postgres_error":
                self._answer_error(link.client, fault)
            elif fault is not None and fault.kind == "freeze" and not fault.pattern:
                self._fired()
                self._stay_silent(link.client, None)
            else:
                if fault is not None and fault.kind == "delay_connect":
                    self._fired()
                    if self._stop.wait(fault.seconds):
                        return
                link.server = socket.create_connection(self.upstream, timeout=self._io_timeout)
                link.server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if fault is not None and fault.kind in ("cut", "terminate", "freeze"):
                    self._relay(link, fault)
                else:
                    self._relay(link, None)
        except OSError:
            pass  # a peer went away or timed out: the connection just ends
        finally:
            if link.server is not None:
                link.server.close()
            self._hang_up(link.client)
            with self._lock:
                self._links.discard(link)

    def _hang_up(self, client: socket.socket) -> None:
        """Close the client's connection cleanly: send end-of-file, then read and discard until
        the client closes too (bounded), so that it reads end-of-file rather than a reset."""
        try:
            client.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + self._io_timeout
            client.settimeout(_POLL)
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    if not client.recv(_CHUNK):
                        break
                except TimeoutError:
                    continue
        except OSError:
            pass
        finally:
            client.close()

    def _read_packet(self, client: socket.socket) -> bytes | None:
        """One startup-phase packet (int32 length including itself, then the body), or None if
        the client went away, took too long or sent something that is not one."""
        header = self._read_exactly(client, 4)
        if header is None:
            return None
        (length,) = struct.unpack("!I", header)
        if not 8 <= length <= _MAX_STARTUP:
            return None
        body = self._read_exactly(client, length - 4)
        return None if body is None else header + body

    def _read_exactly(self, sock: socket.socket, size: int) -> bytes | None:
        data = b""
        deadline = time.monotonic() + self._io_timeout
        sock.settimeout(_POLL)
        while len(data) < size:
            if self._stop.is_set() or time.monotonic() >= deadline:
                return None
            try:
                chunk = sock.recv(size - len(data))
            except TimeoutError:
                continue
            if not chunk:
                return None
            data += chunk
        sock.settimeout(self._io_timeout)
        return data

    def _answer_error(self, client: socket.socket, fault: Fault) -> None:
        packet = self._read_packet(client)
        for _ in range(3):  # GSSENCRequest, SSLRequest, then the StartupMessage
            if packet is None or len(packet) != 8:
                break
            (code,) = struct.unpack("!I", packet[4:])
            if code not in _NEGOTIATIONS:
                break
            client.sendall(b"N")
            packet = self._read_packet(client)
        if packet is None:
            return  # the client left, took too long or sent no packet: nothing to answer
        self._fired()
        client.sendall(
            error_response(fault.message, sqlstate=fault.sqlstate, severity=fault.severity)
        )

    def _stay_silent(self, client: socket.socket, server: socket.socket | None) -> None:
        """Read and drop whatever either side sends, answering nothing, until the proxy stops
        or both sides hang up."""
        peers = [sock for sock in (client, server) if sock is not None]
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while peers and not self._stop.is_set():
                for key, _ in selector.select(_POLL):
                    peer = key.fileobj
                    assert isinstance(peer, socket.socket)
                    if not peer.recv(_CHUNK):
                        selector.unregister(peer)
                        peers.remove(peer)

    def _relay(self, link: _Link, fault: Fault | None) -> None:
        """Forward both ways until either side closes, the proxy stops, or `fault` fires."""
        client, server = link.client, link.server
        assert server is not None
        tail = b""  # the end of the client's previous chunk, to match patterns across chunks
        seen = 0  # occurrences of the fault's pattern let through so far
        client_spoke = False  # the client sent data since the server last did
        awaiting_reply: float | None = None  # set by cut_on(forward=True): when to give up
        with selectors.DefaultSelector() as selector:
            selector.register(client, selectors.EVENT_READ, True)
            selector.register(server, selectors.EVENT_READ, False)
            while not self._stop.is_set():
                if awaiting_reply is not None and time.monotonic() >= awaiting_reply:
                    return
                for key, _ in selector.select(_POLL):
                    if key.data:  # from the client
                        data = client.recv(_CHUNK)
                        if not data:
                            return
                        if awaiting_reply is not None:
                            continue  # the client is no longer heard
                        if fault is not None:
                            window = tail + data
                            hits = window.count(fault.pattern)
                            if hits and seen + hits < fault.occurrence:
                                seen += hits  # an earlier occurrence: let it pass
                                window, hits = b"", 0  # and never count it twice
                            if hits:
                                self._fired()
                                if fault.kind == "terminate":
                                    client.sendall(
                                        error_response(
                                            fault.message,
                                            sqlstate=fault.sqlstate,
                                            severity=fault.severity,
                                        )
                                    )
                                    return
                                if fault.kind == "freeze":
                                    server.sendall(data)
                                    self._stay_silent(client, server)
                                    return
                                if not fault.forward:
                                    return
                                awaiting_reply = time.monotonic() + self._reply_wait
                                server.sendall(data)
                                fault = None
                                continue
                            keep = len(fault.pattern) - 1
                            tail = window[-keep:] if keep else b""
                        client_spoke = True
                        server.sendall(data)
                    else:  # from the server
                        data = server.recv(_CHUNK)
                        if not data or awaiting_reply is not None:
                            return  # closed; or the answer a cut must not relay has begun
                        if client_spoke:  # the first chunk of an answer
                            client_spoke = False
                            with self._lock:
                                self._round_trips += 1
                                latency = self._latency
                            if latency and self._stop.wait(latency):
                                return
                        client.sendall(data)
