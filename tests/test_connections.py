"""How sorted connects to PostgreSQL: the settings it derives from a URL, which failures it
retries and how it paces them, and which URL migrations use. No server needed here; the
behaviour against real servers, a pooler and a faulty network is in test_neon.py."""

from __future__ import annotations

import pytest
from conftest import Run
from psycopg import OperationalError, errors
from sqlalchemy.exc import OperationalError as WrappedError

from sorted_cli.config import load_settings
from sorted_cli.database import describe_error
from sorted_cli.db import make_engine
from sorted_cli.errors import ConfigError
from sorted_cli.retry import Backoff, is_transient, reached_no_server
from sorted_cli.urls import KEEPALIVES, postgres_connect_args

NEON = (
    "postgresql://alex:AbC123@ep-cool-darkness-123456-pooler.eu-central-1.aws.neon.tech/neondb"
    "?sslmode=require&channel_binding=require"
)


@pytest.fixture(autouse=True)
def _no_libpq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PGSSLMODE", "PGCONNECT_TIMEOUT", "PGAPPNAME", "PGHOST"):
        monkeypatch.delenv(name, raising=False)


def args_for(url: str) -> dict[str, object]:
    settings = load_settings(database_url=url)
    return postgres_connect_args(settings.url, connect_timeout=settings.connect_timeout)


def test_a_url_pasted_from_neon_is_used_unchanged() -> None:
    engine = make_engine(load_settings(database_url=NEON))
    _, given_to_psycopg = engine.dialect.create_connect_args(engine.url)
    given_to_psycopg.pop("context")  # SQLAlchemy's type adapters
    assert given_to_psycopg == {
        "host": "ep-cool-darkness-123456-pooler.eu-central-1.aws.neon.tech",
        "dbname": "neondb",
        "user": "alex",
        "password": "AbC123",
        "sslmode": "require",
        "channel_binding": "require",
    }
    # sorted adds only what the URL leaves open: never a second sslmode.
    assert args_for(NEON) == {
        "prepare_threshold": None,
        "connect_timeout": 10,
        "application_name": "sorted",
        **KEEPALIVES,
    }
    assert args_for(NEON.replace("postgresql://", "postgres://")) == args_for(NEON)


@pytest.mark.parametrize(
    ("url", "sslmode"),
    [
        ("postgresql://u@db.example.com/todo", "require"),
        ("postgresql://u@10.0.0.7:5432/todo", "require"),
        ("postgresql://u@db.example.com/todo?sslmode=disable", None),  # the URL's choice stands
        ("postgresql://u@db.example.com/todo?sslmode=verify-full", None),
        ("postgresql://u@127.0.0.1/todo", None),
        ("postgresql://u@127.0.0.2/todo", None),
        ("postgresql://u@localhost/todo", None),
        ("postgresql://u@[::1]:5432/todo", None),
        ("postgresql://u@/todo", None),  # the default Unix socket
        ("postgresql://u@/todo?host=/var/run/postgresql", None),
        ("postgresql://u@localhost,db.example.com/todo", "require"),  # any remote host
    ],
)
def test_tls_is_required_for_any_host_but_this_machine(url: str, sslmode: str | None) -> None:
    assert args_for(url).get("sslmode") == sslmode


def test_the_libpq_environment_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "4")
    assert args_for("postgresql://u@db.example.com/todo") == {
        "prepare_threshold": None,
        "application_name": "sorted",
        **KEEPALIVES,
    }
    monkeypatch.delenv("PGSSLMODE")
    monkeypatch.setenv("PGHOST", "db.example.com")
    assert args_for("postgresql:///todo")["sslmode"] == "require"


def test_keepalives_are_on_unless_the_url_says_otherwise() -> None:
    assert {name: args_for("postgresql://u@db.example.com/todo")[name] for name in KEEPALIVES} == {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }
    given = args_for("postgresql://u@db.example.com/todo?keepalives=0&tcp_user_timeout=0")
    assert "keepalives" not in given  # libpq reads the URL's own choice
    assert "tcp_user_timeout" not in given
    assert given["keepalives_idle"] == 10


def test_connect_timeout_comes_from_the_settings_unless_the_url_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SORTED_CONNECT_TIMEOUT", "3")
    settings = load_settings()
    assert settings.connect_timeout == 3
    url = "postgresql+psycopg://u@127.0.0.1/todo"
    assert (
        postgres_connect_args(url, connect_timeout=settings.connect_timeout)["connect_timeout"] == 3
    )
    assert "connect_timeout" not in postgres_connect_args(
        f"{url}?connect_timeout=30", connect_timeout=settings.connect_timeout
    )
    monkeypatch.setenv("SORTED_CONNECT_TIMEOUT", "0")
    with pytest.raises(ConfigError, match=r"^SORTED_CONNECT_TIMEOUT must be a whole number"):
        load_settings()


def test_migrations_use_the_direct_url_that_goes_with_the_database_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pooled, direct = (
        "postgresql://a@ep-x-pooler.example.com/db",
        "postgresql://a@ep-x.example.com/db",
    )
    monkeypatch.setenv("DATABASE_URL", pooled)
    assert load_settings().migration_url() == load_settings().url  # nothing else configured
    monkeypatch.setenv("DATABASE_URL_UNPOOLED", direct)
    assert load_settings().migration_url() == "postgresql+psycopg://a@ep-x.example.com/db"
    # --database-url is used as given, for everything.
    flagged = load_settings(database_url="postgresql://a@other.example.com/db")
    assert flagged.migration_url(flag_given=True) == flagged.url
    # With SORTED_DATABASE_URL, DATABASE_URL_UNPOOLED may belong to another project.
    monkeypatch.setenv("SORTED_DATABASE_URL", "postgresql://me@mine.example.com/todo")
    assert load_settings().migration_url() == "postgresql+psycopg://me@mine.example.com/todo"
    monkeypatch.setenv(
        "SORTED_MIGRATION_DATABASE_URL", "postgres://me@mine-direct.example.com/todo"
    )
    assert load_settings().migration_url() == "postgresql+psycopg://me@mine-direct.example.com/todo"


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("Couldn't connect to compute node"),
        OperationalError("connection failed: server closed the connection unexpectedly"),
        OperationalError("consuming input failed: SSL SYSCALL error: EOF detected"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
    ],
)
def test_cold_start_and_broken_connection_errors_are_transient(error: Exception) -> None:
    assert is_transient(error)
    assert is_transient(WrappedError("SELECT 1", {}, error))


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidPassword('password authentication failed for user "alex"'),
        errors.InsufficientPrivilege("permission denied for table tasks"),
        errors.InvalidCatalogName('database "nope" does not exist'),
        OperationalError("connection failed: Connection refused"),
        OperationalError("connection failed: timeout expired"),
        OperationalError('no pg_hba.conf entry for host "1.2.3.4", no encryption'),
        ValueError("server closed the connection unexpectedly"),  # not a driver error
    ],
)
def test_authentication_permission_and_configuration_errors_are_not(error: Exception) -> None:
    assert not is_transient(error)


@pytest.mark.parametrize(
    ("message", "transient", "nothing_sent"),
    [
        # before the statement reached a server
        ("query_wait_timeout", True, True),
        ("query_timeout", True, True),
        ("client_idle_timeout", True, True),
        ("server login has been failing, try again later (server_login_retry)", True, True),
        ("pgbouncer cannot connect to server", True, True),  # the same, before PgBouncer 1.17
        ("no more connections allowed (max_client_conn)", True, True),
        ("server shutting down", True, True),  # PgBouncer 1.23 and later
        # the server rolled back the idle transaction; a COMMIT sent then was never passed on
        ("idle transaction timeout", True, True),
        # a server's refusal of PgBouncer's login, passed on in PgBouncer's 08P01
        ("sorry, too many clients already", True, False),
        ('password authentication failed for user "alex"', False, False),
        ('database "nope" does not exist', False, False),
        # PgBouncer's own refusals at login
        ("no such database: nope", False, False),
        ("unsupported startup parameter: options", False, False),
        ("client_login_timeout (server down)", False, False),
        # after the statement reached the server: in flight
        ("server conn crashed?", True, False),
        ("query timeout", True, False),
    ],
)
def test_pgbouncer_errors_are_told_apart_by_when_they_came(
    message: str, transient: bool, nothing_sent: bool
) -> None:
    error = errors.ProtocolViolation(message)  # PgBouncer sends every one as 08P01
    assert (is_transient(error), reached_no_server(error)) == (transient, nothing_sent)
    wrapped = WrappedError("SELECT 1", {}, error)
    assert (is_transient(wrapped), reached_no_server(wrapped)) == (transient, nothing_sent)


def test_only_a_poolers_08p01_proves_nothing_was_sent() -> None:
    assert not reached_no_server(errors.AdminShutdown("query_wait_timeout"))
    assert not reached_no_server(ValueError("query_wait_timeout"))


def test_backoff_grows_with_jitter_and_stops_at_the_budget() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    backoff = Backoff(budget_s=5, sleep=sleep, clock=lambda: now[0], jitter=lambda: 1.0)
    while backoff.pause():
        pass
    assert slept == [0.2, 0.4, 0.8, 1.6]  # the next, 3.0 (the cap), would end past 5 s
    assert backoff.attempts == 5
    half = Backoff(budget_s=5, sleep=sleep, clock=lambda: now[0], jitter=lambda: 0.0)
    assert half.pause()
    assert slept[-1] == 0.1  # never less than half the ceiling
    assert not Backoff(budget_s=0, sleep=sleep).pause()  # 0 means never retry


def test_connection_errors_carry_advice_and_never_the_password() -> None:
    url = "postgresql+psycopg://alex:hunter2@db.example.com/todo"
    cases = {
        "connection failed: timeout expired": "set SORTED_CONNECT_TIMEOUT to wait longer",
        "server does not support SSL, but SSL was required": "add ?sslmode=disable",
        'no pg_hba.conf entry for host "1.2.3.4", user "alex", no encryption': "sslmode=require",
        'password authentication failed for user "alex"': "check the user name",
        # Where a driver could quote the password: in a URL, in a conninfo string.
        'could not connect with "postgresql://alex:hunter2@db.example.com/todo"': "",
        "invalid connection string: host=db.example.com password=hunter2 x": "",
    }
    for message, advice in cases.items():
        described = describe_error(WrappedError("connect", {}, OperationalError(message)), url=url)
        assert described is not None
        assert advice in described.message
        assert "hunter2" not in described.message
        assert described.message.startswith("Cannot connect to postgresql+psycopg://alex:***@")
    lost = errors.InvalidSqlStatementName('prepared statement "_pg3_0" does not exist')
    described = describe_error(WrappedError("SELECT", {}, lost), url=url)
    assert described is not None
    assert "use the direct URL" in described.message


def test_a_url_option_libpq_does_not_know_is_a_configuration_error(run: Run) -> None:
    result = run("--database-url", "postgresql://u:s3cret@127.0.0.1/x?bogus=1", "list")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "Error: Invalid database URL postgresql+psycopg://u:***@127.0.0.1/x?bogus=1: "
        'invalid URI query parameter: "bogus"\n'
    )
