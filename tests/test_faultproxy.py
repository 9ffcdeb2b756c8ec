"""The fault-injection proxy (tests/faultproxy.py) against the machine's real PostgreSQL server.

The server is SORTED_TEST_DATABASE_URL's; it must be reachable over TCP with trust
authentication (as the test servers are). Without that variable, or when the server is not
reachable, these tests skip (the ones that need no server still run), except under CI=true,
where they fail. Whether the server accepts TLS is its own business: the counts asserted follow
from what it answered. They work in
a database of their own, made for the module and dropped after it.

Clients connect with psycopg directly and `gssencmode=disable`, so that the bytes on the wire,
and the round-trip counts the tests assert, do not depend on the machine's Kerberos set-up.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from conftest import _unavailable
from faultproxy import GSSENC_REQUEST, SSL_REQUEST, Fault, FaultProxy, error_response
from psycopg import errors, sql
from psycopg.conninfo import make_conninfo
from sqlalchemy import make_url

COLD = "Couldn't connect to compute node"
CLOSED = "server closed the connection unexpectedly"
TIMEOUT = 10  # seconds: a bound on anything a test waits for, never expected to be reached


@dataclass(frozen=True)
class Server:
    """Where the proxy forwards to, who to connect as, and the module's own database."""

    host: str
    port: int
    user: str
    password: str
    database: str

    def conninfo(self, **overrides: Any) -> str:
        """A conninfo reaching the server directly (not through a proxy)."""
        params: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "dbname": self.database,
            "connect_timeout": 5,
            "gssencmode": "disable",
        }
        params.update(overrides)
        return make_conninfo("", **{key: value for key, value in params.items() if value})


@pytest.fixture(scope="module")
def server(postgres_server: str) -> Iterator[Server]:
    """The machine's server, with a throwaway database `fp_test_<random>` holding a table."""
    url = make_url(postgres_server)
    if not url.host or url.host.startswith("/"):
        _unavailable(f"the fault proxy needs a TCP address, not {url.host or 'a Unix socket'}")
    admin = Server(
        host=url.host,
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or "",
        database=url.database or "postgres",
    )
    name = f"fp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin.conninfo(), autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    made = Server(admin.host, admin.port, admin.user, admin.password, name)
    try:
        with psycopg.connect(made.conninfo(), autocommit=True) as connection:
            connection.execute("CREATE TABLE fp_rows (id int PRIMARY KEY, note text)")
        yield made
    finally:
        with psycopg.connect(admin.conninfo(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def proxy(server: Server) -> Iterator[FaultProxy]:
    with FaultProxy((server.host, server.port)) as faults:
        yield faults


@pytest.fixture
def lone_proxy() -> Iterator[FaultProxy]:
    """A proxy for tests that never reach its upstream: they run without a server."""
    with FaultProxy() as faults:
        yield faults


def via(proxy: FaultProxy, server: Server, **overrides: Any) -> str:
    """A conninfo reaching the server through the proxy (sslmode=disable unless overridden)."""
    params: dict[str, Any] = {"host": "127.0.0.1", "port": proxy.port, "sslmode": "disable"}
    params.update(overrides)
    return server.conninfo(**params)


def stored(server: Server, row_id: int) -> bool:
    """Whether the server has the row (asked directly, not through the proxy)."""
    with psycopg.connect(server.conninfo(), autocommit=True) as connection:
        return (
            connection.execute("SELECT 1 FROM fp_rows WHERE id = %s", [row_id]).fetchone()
            is not None
        )


def new_id() -> int:
    return uuid.uuid4().int % 2_000_000_000


def proxy_threads(proxy: FaultProxy) -> list[threading.Thread]:
    """The proxy's threads still alive: the one accepting and one per connection."""
    return [t for t in threading.enumerate() if t.name.startswith(f"faultproxy-{proxy.port}")]


def link_threads(proxy: FaultProxy) -> list[threading.Thread]:
    return [t for t in proxy_threads(proxy) if t.name.endswith("-link")]


# --------------------------------------------------------------------------- plain forwarding


def test_url_for_points_a_url_at_the_proxy() -> None:
    with FaultProxy() as proxy:
        at = f"127.0.0.1:{proxy.port}"
        assert proxy.url_for("postgresql+psycopg://ada:s3cret@db.example.com:6543/neondb?a=b") == (
            f"postgresql+psycopg://ada:s3cret@{at}/neondb?a=b"
        )
        assert proxy.url_for("postgresql://postgres@127.0.0.1:5432/test") == (
            f"postgresql://postgres@{at}/test"
        )
        assert proxy.url_for("postgres://[::1]/x") == f"postgres://{at}/x"
        with pytest.raises(ValueError, match="not a PostgreSQL URL"):
            proxy.url_for("sqlite:///x.db")


def test_forwards_and_counts_round_trips(proxy: FaultProxy, server: Server) -> None:
    connection = psycopg.connect(via(proxy, server), autocommit=True)
    # sslmode=disable, trust, no GSSAPI: StartupMessage -> AuthenticationOk ... ReadyForQuery.
    assert (proxy.connections, proxy.round_trips) == (1, 1)
    assert connection.execute("SELECT 1").fetchone() == (1,)
    assert proxy.round_trips == 2  # psycopg sends the whole query (Parse...Sync), then waits
    connection.close()
    assert proxy.round_trips == 2  # Terminate gets no answer: not a round trip

    # sslmode=prefer asks for TLS first: an SSLRequest, a round trip of its own. Whether the
    # server takes TLS is its configuration: one that answers "N" leaves the startup as it was;
    # one that answers "S" adds the TLS handshake, exactly as sslmode=require does.
    proxy.reset_counters()
    assert (proxy.connections, proxy.round_trips) == (0, 0)
    with psycopg.connect(via(proxy, server, sslmode="prefer"), autocommit=True) as connection:
        over_tls = connection.pgconn.ssl_in_use
        connected = proxy.round_trips
        connection.execute("SELECT 1")
        assert proxy.round_trips == connected + 1
    assert proxy.connections == 1
    if over_tls:
        proxy.reset_counters()
        psycopg.connect(via(proxy, server, sslmode="require")).close()
        assert connected == proxy.round_trips >= 3  # SSLRequest, the handshake, the startup
    else:
        assert connected == 2  # SSLRequest -> "N", then the startup

    proxy.reset_counters()
    row_id = new_id()
    with psycopg.connect(via(proxy, server)) as connection:
        connection.execute("INSERT INTO fp_rows VALUES (%s)", [row_id])
        assert proxy.round_trips == 3  # the startup, BEGIN, then the INSERT: psycopg waits
        connection.commit()
        assert proxy.round_trips == 4
    assert stored(server, row_id)


def test_latency_delays_each_answer(proxy: FaultProxy, server: Server) -> None:
    with psycopg.connect(via(proxy, server), autocommit=True) as connection:
        proxy.latency(0.3)
        started = time.monotonic()
        connection.execute("SELECT 1")
        assert 0.3 <= time.monotonic() - started < TIMEOUT  # the proxy sleeps before relaying
        proxy.latency(0)
        assert proxy.round_trips == 2


def test_faults_are_taken_in_order_one_connection_each(proxy: FaultProxy, server: Server) -> None:
    proxy.pass_through()
    proxy.refuse(times=2)
    assert proxy.pending_faults == 3
    psycopg.connect(via(proxy, server)).close()
    assert proxy.pending_faults == 2
    for left in (1, 0):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(via(proxy, server))
        assert proxy.pending_faults == left
    psycopg.connect(via(proxy, server)).close()  # nothing queued: forwarded again
    assert proxy.connections == 4


# --------------------------------------------------------------------------- handshake faults


def test_refuse_is_a_closed_connection(proxy: FaultProxy, server: Server) -> None:
    proxy.refuse()
    with pytest.raises(psycopg.OperationalError, match=CLOSED) as caught:
        psycopg.connect(via(proxy, server))
    assert type(caught.value) is psycopg.OperationalError
    assert caught.value.sqlstate is None
    assert (proxy.pending_faults, proxy.connections, proxy.round_trips) == (0, 1, 0)


@pytest.mark.parametrize("sslmode", ["disable", "prefer"])
def test_postgres_error_is_an_operational_error_with_its_message(
    proxy: FaultProxy, server: Server, sslmode: str
) -> None:
    """With sslmode=prefer libpq asks for TLS first: the proxy must decline it ("N") and then
    answer the StartupMessage, or libpq would report a broken SSL negotiation instead."""
    proxy.postgres_error()
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(via(proxy, server, sslmode=sslmode))
    assert type(caught.value) is psycopg.OperationalError
    assert str(caught.value) == (
        f'connection failed: connection to server at "127.0.0.1", port {proxy.port} failed: '
        f"FATAL:  {COLD}"
    )
    assert caught.value.sqlstate is None
    assert (proxy.pending_faults, proxy.connections) == (0, 1)
    assert proxy.round_trips == 0  # answers the proxy makes itself are not counted


def test_a_startup_error_keeps_no_sqlstate_in_psycopg(proxy: FaultProxy, server: Server) -> None:
    """libpq keeps no result for a failed connection, so psycopg cannot give its SQLSTATE (it
    is None, whatever the server said): only the message tells 57P03 or 28P01 apart."""
    proxy.postgres_error(sqlstate="57P03", message="the database system is starting up")
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(via(proxy, server))
    assert type(caught.value) is psycopg.OperationalError
    assert caught.value.sqlstate is None
    assert caught.value.diag.sqlstate is None
    assert str(caught.value).endswith("failed: FATAL:  the database system is starting up")


def test_postgres_error_declines_encryption_requests(lone_proxy: FaultProxy) -> None:
    """The handshake byte by byte: GSSENCRequest and SSLRequest get "N", the StartupMessage an
    ErrorResponse, then the proxy hangs up. No server is needed."""
    lone_proxy.postgres_error(sqlstate="57P03", message="not yet", severity="ERROR")
    with socket.create_connection(("127.0.0.1", lone_proxy.port), timeout=TIMEOUT) as client:
        client.sendall(struct.pack("!II", 8, GSSENC_REQUEST))
        assert client.recv(1) == b"N"
        client.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert client.recv(1) == b"N"
        assert lone_proxy.pending_faults == 1
        client.sendall(startup_message("postgres", "test"))
        answer = receive_all(client)
    assert answer == b"E\x00\x00\x00\x23SERROR\x00VERROR\x00C57P03\x00Mnot yet\x00\x00"
    assert answer == error_response("not yet", sqlstate="57P03", severity="ERROR")
    assert lone_proxy.pending_faults == 0


def test_postgres_error_is_not_used_on_a_client_that_leaves(lone_proxy: FaultProxy) -> None:
    lone_proxy.postgres_error()
    with socket.create_connection(("127.0.0.1", lone_proxy.port), timeout=TIMEOUT) as client:
        client.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert client.recv(1) == b"N"  # an sslmode=require client leaves here
    deadline = time.monotonic() + TIMEOUT
    while link_threads(lone_proxy) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lone_proxy.pending_faults == 1  # still pending: the error was never sent


def test_delay_connect_runs_into_the_connect_timeout(proxy: FaultProxy, server: Server) -> None:
    proxy.delay_connect(8)
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="connection timeout expired") as caught:
        psycopg.connect(via(proxy, server, connect_timeout=2))  # libpq's smallest
    assert time.monotonic() - started < 6
    assert type(caught.value) is errors.ConnectionTimeout  # psycopg's own timer, not libpq's
    assert caught.value.sqlstate is None
    assert (proxy.pending_faults, proxy.connections) == (0, 1)
    started = time.monotonic()
    proxy.close()  # the connection still waiting out its delay does not hold it up
    assert time.monotonic() - started < 3
    assert proxy_threads(proxy) == []


def test_a_shorter_delay_only_slows_the_connection(proxy: FaultProxy, server: Server) -> None:
    proxy.delay_connect(0.3)
    started = time.monotonic()
    with psycopg.connect(via(proxy, server), autocommit=True) as connection:
        assert 0.3 <= time.monotonic() - started < TIMEOUT
        assert connection.execute("SELECT 1").fetchone() == (1,)


# --------------------------------------------------------------------------- broken sessions


def test_cut_before_commit_never_reaches_the_server(proxy: FaultProxy, server: Server) -> None:
    row_id = new_id()
    proxy.cut_on(b"COMMIT", forward=False)
    connection = psycopg.connect(via(proxy, server))
    try:
        connection.execute("INSERT INTO fp_rows VALUES (%s, 'cut before')", [row_id])
        assert proxy.pending_faults == 1
        with pytest.raises(psycopg.OperationalError, match=CLOSED) as caught:
            connection.commit()
        assert type(caught.value) is psycopg.OperationalError
        assert caught.value.sqlstate is None
    finally:
        connection.close()
    assert proxy.pending_faults == 0
    assert not stored(server, row_id)  # the server saw the connection end, not the COMMIT


def test_cut_after_commit_loses_only_the_answer(proxy: FaultProxy, server: Server) -> None:
    row_id = new_id()
    proxy.cut_on(b"COMMIT", forward=True)
    connection = psycopg.connect(via(proxy, server))
    try:
        connection.execute("INSERT INTO fp_rows VALUES (%s, 'cut after')", [row_id])
        with pytest.raises(psycopg.OperationalError, match=CLOSED) as caught:
            connection.commit()
        assert type(caught.value) is psycopg.OperationalError
    finally:
        connection.close()
    assert proxy.pending_faults == 0
    assert stored(server, row_id)  # committed, though the client never heard so
    assert proxy.round_trips == 3  # the startup, BEGIN, INSERT; the COMMIT got no answer through


def test_freeze_on_commit_forwards_it_and_then_says_nothing(
    proxy: FaultProxy, server: Server
) -> None:
    row_id = new_id()
    proxy.freeze_on(b"COMMIT")
    connection = psycopg.connect(via(proxy, server))
    try:
        connection.execute("INSERT INTO fp_rows VALUES (%s, 'frozen')", [row_id])
        with pytest.raises(errors._WaitTimeout):  # no answer, and no end of the connection
            connection.wait(connection._exec_command(b"COMMIT"), timeout=2)
    finally:
        connection.pgconn.finish()
    assert proxy.pending_faults == 0
    assert stored(server, row_id)  # the COMMIT reached the server; its answer never came back


def test_freeze_holds_a_new_connection_without_a_word(proxy: FaultProxy, server: Server) -> None:
    proxy.freeze()
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="connection timeout expired"):
        psycopg.connect(via(proxy, server, connect_timeout=2))
    assert time.monotonic() - started < 6
    assert (proxy.pending_faults, proxy.connections) == (0, 1)
    started = time.monotonic()
    proxy.close()
    assert time.monotonic() - started < 3


def test_cut_on_a_later_occurrence_lets_the_earlier_ones_through(
    proxy: FaultProxy, server: Server
) -> None:
    proxy.cut_on(b"SELECT 'again'", forward=False, occurrence=3)
    connection = psycopg.connect(via(proxy, server), autocommit=True)
    try:
        for _ in range(2):
            assert connection.execute("SELECT 'again'").fetchone() == ("again",)
        assert proxy.pending_faults == 1
        with pytest.raises(psycopg.OperationalError, match=CLOSED):
            connection.execute("SELECT 'again'")
    finally:
        connection.close()
    assert proxy.pending_faults == 0


def test_an_occurrence_counts_from_one() -> None:
    with pytest.raises(ValueError, match="occurrence counts from 1"):
        Fault("cut", pattern=b"x", occurrence=0)


def test_terminate_on_is_an_admin_shutdown(proxy: FaultProxy, server: Server) -> None:
    row_id = new_id()
    proxy.terminate_on(b"terminate me")
    connection = psycopg.connect(via(proxy, server), autocommit=True)
    try:
        connection.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError) as caught:
            connection.execute("INSERT INTO fp_rows VALUES (%s, 'terminate me')", [row_id])
        assert type(caught.value) is errors.AdminShutdown
        assert caught.value.sqlstate == "57P01"
        assert str(caught.value) == "terminating connection due to administrator command"
        assert connection.closed
    finally:
        connection.close()
    assert proxy.pending_faults == 0
    assert not stored(server, row_id)  # the statement never reached the server


def test_a_pattern_split_across_packets_is_found(proxy: FaultProxy, server: Server) -> None:
    proxy.terminate_on(b"COMMIT", sqlstate="57P02", message="crash")
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client.sendall(startup_message(server.user, server.database))
        read_until_ready(client)
        query = b"COMMIT\0"
        message = b"Q" + struct.pack("!I", len(query) + 4) + query
        client.sendall(message[:8])  # ..."COM"
        time.sleep(0.2)  # so that the proxy reads the two halves apart
        assert proxy.pending_faults == 1
        client.sendall(message[8:])  # "MIT"...
        answer = receive_all(client)
    assert answer == error_response("crash", sqlstate="57P02")
    assert proxy.pending_faults == 0


def test_a_pattern_never_sent_leaves_its_fault_pending(proxy: FaultProxy, server: Server) -> None:
    proxy.cut_on(b"never sent", forward=False)
    with psycopg.connect(via(proxy, server), autocommit=True) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
    psycopg.connect(via(proxy, server)).close()  # the fault went with the first connection
    assert proxy.pending_faults == 1


def test_closing_with_open_connections_is_prompt(proxy: FaultProxy, server: Server) -> None:
    idle = psycopg.connect(via(proxy, server), autocommit=True)
    in_transaction = psycopg.connect(via(proxy, server))
    in_transaction.execute("SELECT 1")
    proxy.postgres_error()
    waiting = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    try:
        deadline = time.monotonic() + TIMEOUT
        while proxy.connections < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the proxy is waiting for this one's StartupMessage
        started = time.monotonic()
        proxy.close()
        assert time.monotonic() - started < 3
        assert proxy_threads(proxy) == []
        assert receive_all(waiting) == b""
        for connection in (idle, in_transaction):
            with pytest.raises(psycopg.OperationalError):
                connection.execute("SELECT 1")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT).close()
        proxy.close()  # again: nothing happens
    finally:
        waiting.close()
        idle.close()
        in_transaction.close()


# --------------------------------------------------------------------------- the wire, by hand


def startup_message(user: str, database: str) -> bytes:
    """A protocol 3.0 StartupMessage."""
    body = struct.pack("!I", 196608)
    body += b"user\0" + user.encode() + b"\0database\0" + database.encode() + b"\0\0"
    return struct.pack("!I", len(body) + 4) + body


def read_until_ready(sock: socket.socket) -> None:
    """Read the server's messages up to ReadyForQuery (trust authentication assumed)."""
    buffer = b""
    while True:
        while len(buffer) < 5 or len(buffer) < 1 + struct.unpack("!I", buffer[1:5])[0]:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed during the handshake: {buffer!r}"
            buffer += chunk
        kind, length = buffer[:1], struct.unpack("!I", buffer[1:5])[0]
        assert kind != b"E", buffer[: 1 + length]
        if kind == b"R":
            assert buffer[5:9] == b"\0\0\0\0", "the server asks for a password: use trust"
        buffer = buffer[1 + length :]
        if kind == b"Z":
            assert buffer == b""
            return


def receive_all(sock: socket.socket) -> bytes:
    """Everything the peer sends until it closes (the socket's timeout bounds each read)."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data
