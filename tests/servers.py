"""Real database servers the test fixtures start for one test session.

- `start_pgbouncer` puts a PgBouncer in transaction mode (as Neon's pooled endpoint is) in front
  of a PostgreSQL server, trusting every client and listening on a free loopback port.
- `start_tls_cluster` initialises and starts a throwaway PostgreSQL cluster that only accepts
  TLS over TCP, with SCRAM-SHA-256 passwords (so `channel_binding=require` can be used), and a
  role `sorted` with a random password to connect as.

Both refuse to run as root, so when the tests run as root the servers run as the `postgres`
operating-system user: their working folder must then be reachable by that user (a fresh
folder in the system temporary directory is; pytest's own temporary folders are not). Every
step is bounded in time; a server that does not come up raises `ServerError` with the tail of
its log.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

if TYPE_CHECKING:
    from collections.abc import Mapping

POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")
START_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
SERVICE_USER = "postgres"  # the OS user servers run as when the tests run as root


class ServerError(RuntimeError):
    """A test server could not be started."""


def free_port() -> int:
    """A loopback TCP port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _service_account() -> pwd.struct_passwd | None:
    """The account servers run as: None for this process's own, `postgres` when root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise ServerError(
            f"running as root, and there is no {SERVICE_USER!r} user to run servers as"
        ) from None


def _check_reachable(workdir: Path, account: pwd.struct_passwd | None) -> None:
    """Fail clearly when `account` cannot get into workdir (a parent folder shuts it out)."""
    if account is None:
        return
    for parent in workdir.resolve().parents:
        mode = parent.stat().st_mode
        if not (
            mode & stat.S_IXOTH
            or (parent.stat().st_uid == account.pw_uid and mode & stat.S_IXUSR)
            or (parent.stat().st_gid == account.pw_gid and mode & stat.S_IXGRP)
        ):
            raise ServerError(
                f"the {account.pw_name} user cannot reach {workdir} ({parent} shuts it out): "
                "use a folder it can reach, such as one made with tempfile.mkdtemp() under /tmp"
            )


def _give_to(path: Path, account: pwd.struct_passwd | None, mode: int | None = None) -> None:
    if mode is not None:
        path.chmod(mode)
    if account is not None:
        os.chown(path, account.pw_uid, account.pw_gid)


def _ids(account: pwd.struct_passwd | None) -> tuple[int | None, int | None, list[int] | None]:
    """Popen's user, group and extra_groups to run a child as `account` (None: as this one)."""
    if account is None:
        return None, None, None
    return account.pw_uid, account.pw_gid, []


def _environment() -> dict[str, str]:
    """This environment without libpq settings that would redirect the servers' own tools."""
    return {name: value for name, value in os.environ.items() if not name.startswith("PG")}


def _run(args: list[str], *, cwd: Path, account: pwd.struct_passwd | None, timeout: float) -> None:
    uid, gid, groups = _ids(account)
    try:
        done = subprocess.run(
            args,
            cwd=cwd,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    except subprocess.TimeoutExpired:
        raise ServerError(f"{args[0]} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        raise ServerError(
            f"{' '.join(args)} exited with {done.returncode}: {_tail(done.stderr or done.stdout)}"
        )


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _read_tail(*paths: Path) -> str:
    parts = [path.read_text(errors="replace") for path in paths if path.is_file()]
    return _tail("\n".join(parts)) or "(no log)"


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _find_program(name: str, *places: Path) -> str:
    found = shutil.which(name)
    if found is not None:
        return found
    for place in places:
        candidate = place / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    looked = ", ".join(["PATH", *map(str, places)])
    raise ServerError(f"{name} is not installed (looked in {looked})")


# ------------------------------------------------------------------------------- PgBouncer


@dataclass
class PgBouncer:
    """A running PgBouncer: connect to host:port as `postgres`, any database of the upstream."""

    host: str
    port: int
    workdir: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def log(self) -> Path:
        return self.workdir / "pgbouncer.log"

    def stop(self) -> None:
        """Terminate PgBouncer and wait for it (killing it if it lingers)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=START_TIMEOUT_S)


def start_pgbouncer(
    workdir: Path,
    upstream_port: int = 5432,
    *,
    upstream_host: str = "127.0.0.1",
    user: str = "postgres",
    password: str = "",
    settings: Mapping[str, str] | None = None,
) -> PgBouncer:
    """Start PgBouncer in transaction mode in front of upstream_host:upstream_port.

    It trusts its clients and logs in upstream as the client's user (with `password` for
    `user`, when the upstream asks for one). `settings` adds to (or overrides) its
    `[pgbouncer]` section: `{"query_wait_timeout": "1"}`. Its ini, log and pid files are kept in
    workdir (`log`: the log file's path).
    """
    program = _find_program("pgbouncer", Path("/usr/sbin"), Path("/usr/bin"))
    account = _service_account()
    workdir.mkdir(parents=True, exist_ok=True)
    _check_reachable(workdir, account)
    _give_to(workdir, account, 0o700)
    port = free_port()
    log, output = workdir / "pgbouncer.log", workdir / "pgbouncer.out"
    users = workdir / "userlist.txt"
    users.write_text(f'"{user}" "{password}"\n')
    _give_to(users, account, 0o600)
    ini = workdir / "pgbouncer.ini"
    options = {
        "pool_mode": "transaction",
        "listen_addr": "127.0.0.1",
        "listen_port": str(port),
        "unix_socket_dir": "",
        "auth_type": "trust",
        "auth_file": str(users),
        "max_client_conn": "200",
        "default_pool_size": "20",
        "logfile": str(log),
        "pidfile": str(workdir / "pgbouncer.pid"),
        **(settings or {}),
    }
    ini.write_text(
        "[databases]\n"
        f"* = host={upstream_host} port={upstream_port}\n"
        "\n"
        "[pgbouncer]\n" + "".join(f"{name} = {value}\n" for name, value in options.items())
    )
    _give_to(ini, account, 0o600)
    uid, gid, groups = _ids(account)
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [program, str(ini)],
            cwd=workdir,
            env=_environment(),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
    bouncer = PgBouncer(host="127.0.0.1", port=port, workdir=workdir, process=process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _accepts_connections(bouncer.host, port):
        if process.poll() is not None or time.monotonic() > deadline:
            bouncer.stop()
            raise ServerError(
                f"PgBouncer did not start on port {port} (exit code {process.returncode}): "
                f"{_read_tail(output, log)}"
            )
        time.sleep(0.05)
    return bouncer


# ------------------------------------------------------------------- PostgreSQL over TLS


@dataclass
class TlsCluster:
    """A running PostgreSQL cluster: TCP only over TLS with SCRAM-SHA-256, as `user`."""

    host: str
    port: int
    user: str
    password: str
    socket_dir: Path
    workdir: Path

    def url(self, database: str) -> str:
        """The URL a client uses: TLS and channel binding required, as Neon hands them out."""
        return (
            f"postgresql://{self.user}:{quote(self.password, safe='')}@{self.host}:{self.port}"
            f"/{database}?sslmode=require&channel_binding=require"
        )

    def superuser_conninfo(self, database: str = "postgres") -> str:
        """A libpq connection string for `postgres` over the Unix socket (trusted)."""
        return make_conninfo(
            host=str(self.socket_dir), port=self.port, user="postgres", dbname=database
        )

    def stop(self) -> None:
        """Stop the server at once (no checkpoint: the data is thrown away) and remove it."""
        try:
            if (self.workdir / "data" / "postmaster.pid").exists():
                _run(
                    [
                        _pg_program("pg_ctl"),
                        "stop",
                        "-D",
                        str(self.workdir / "data"),
                        "-m",
                        "immediate",
                        "-w",
                        "-t",
                        "30",
                    ],
                    cwd=self.workdir,
                    account=_service_account(),
                    timeout=COMMAND_TIMEOUT_S,
                )
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)


def _pg_program(name: str) -> str:
    candidate = POSTGRES_BIN / name
    if candidate.is_file():
        return str(candidate)
    return _find_program(name)


def start_tls_cluster(workdir: Path) -> TlsCluster:
    """Initialise and start a throwaway cluster in workdir that only takes TLS over TCP.

    Local (Unix socket) connections are trusted, so fixtures can administer it as `postgres`;
    TCP connections must use TLS and a SCRAM-SHA-256 password. The certificate is self-signed
    for localhost and 127.0.0.1. stop() removes workdir.
    """
    account = _service_account()
    workdir.mkdir(parents=True, exist_ok=True)
    _check_reachable(workdir, account)
    _give_to(workdir, account, 0o700)
    data, log = workdir / "data", workdir / "postgres.log"
    cluster = TlsCluster(
        host="127.0.0.1",
        port=free_port(),
        user="sorted",
        password=secrets.token_urlsafe(18),
        socket_dir=workdir,
        workdir=workdir,
    )
    try:
        _run(
            [
                _pg_program("initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",  # as the machine's server: lower() folds all letters
                "--no-sync",
                "--no-instructions",
            ],
            cwd=workdir,
            account=account,
            timeout=COMMAND_TIMEOUT_S,
        )
        certificate, key = workdir / "server.crt", workdir / "server.key"
        _run(
            [
                _find_program("openssl"),
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "7",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(key),
                "-out",
                str(certificate),
            ],
            cwd=workdir,
            account=None,
            timeout=COMMAND_TIMEOUT_S,
        )
        _give_to(key, account, 0o600)
        _give_to(certificate, account, 0o644)
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                "\n# added by tests/servers.py\n"
                f"port = {cluster.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{workdir}'\n"
                "ssl = on\n"
                f"ssl_cert_file = '{certificate}'\n"
                f"ssl_key_file = '{key}'\n"
                "password_encryption = 'scram-sha-256'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
            )
        (data / "pg_hba.conf").write_text(
            "local all all trust\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n"
            "hostnossl all all 127.0.0.1/32 reject\n"
        )
        try:
            _run(
                [_pg_program("pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "30"],
                cwd=workdir,
                account=account,
                timeout=COMMAND_TIMEOUT_S,
            )
        except ServerError as exc:
            raise ServerError(f"{exc}\n{_read_tail(log)}") from None
        with psycopg.connect(
            cluster.superuser_conninfo(), autocommit=True, connect_timeout=10
        ) as connection:
            connection.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(cluster.user), sql.Literal(cluster.password)
                )
            )
    except BaseException:
        with contextlib.suppress(ServerError):  # the first error is the one to see
            cluster.stop()
        raise
    return cluster
