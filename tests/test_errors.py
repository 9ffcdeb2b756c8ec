"""Expected failures: one line on stderr, the right exit code, never a password or traceback."""

from __future__ import annotations

import socket
import sqlite3
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from conftest import Run, is_postgres_backend
from servers import TlsCluster
from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from sorted_cli import urls
from sorted_cli.database import describe_error, one_line, short_reason
from sorted_cli.models import User

PASSWORD = "s3cret-pw"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def one_line_error(result: object, code: int) -> str:
    stdout, stderr = result.stdout, result.stderr  # type: ignore[attr-defined]
    assert result.exit_code == code  # type: ignore[attr-defined]
    assert stdout == ""
    assert stderr.startswith("Error: ")
    assert stderr.count("\n") == 1
    assert PASSWORD not in stderr
    assert "Traceback" not in stderr
    return str(stderr)


def test_unreachable_server(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"postgresql://someone:{PASSWORD}@127.0.0.1:{free_port()}/todo"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SORTED_USER", "ada@example.com")
    message = one_line_error(run("list"), 1)
    assert message.startswith(
        "Error: Cannot connect to postgresql+psycopg://someone:***@127.0.0.1:"
    )
    assert "Connection refused" in message
    assert one_line_error(run("db", "current"), 1) == message


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_unknown_role_and_missing_database(
    database_url: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_url(database_url)
    nobody = server.set(username="nobody_here", password=PASSWORD)
    monkeypatch.setenv("DATABASE_URL", nobody.render_as_string(hide_password=False))
    monkeypatch.setenv("SORTED_USER", "ada@example.com")
    message = one_line_error(run("list"), 1)
    assert 'role "nobody_here" does not exist' in message
    assert ":***@" in message
    missing = server.set(database="no_such_database_here")
    monkeypatch.setenv("DATABASE_URL", missing.render_as_string(hide_password=False))
    assert 'database "no_such_database_here" does not exist' in one_line_error(run("list"), 1)


def test_a_damaged_schema_is_a_database_error_not_a_connection_error(
    blank_database_url: str, backend: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", blank_database_url)  # a database of its own to damage
    monkeypatch.setenv("SORTED_USER", "ada@example.com")
    assert run("db", "upgrade").exit_code == 0
    assert run("user", "add", "ada@example.com").exit_code == 0
    url = make_url(blank_database_url)
    if is_postgres_backend(backend):
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn) as connection:
            connection.execute("DROP TABLE tasks CASCADE")
    else:
        with closing(sqlite3.connect(url.database or "")) as database, database:
            database.execute("DROP TABLE tasks")
    message = one_line_error(run("list"), 1)
    assert message.startswith("Error: Database error: ")
    assert "tasks" in message


def test_an_unopenable_sqlite_file(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing-folder' / 'x.db'}")
    message = one_line_error(run("list"), 1)
    assert message.startswith(f"Error: Cannot create the database file {tmp_path}")


def test_a_bad_url_is_exit_2(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"mysql://u:{PASSWORD}@h/db")
    assert one_line_error(run("list"), 2) == (
        "Error: Invalid DATABASE_URL: unsupported database URL scheme 'mysql': "
        "use postgresql://... or sqlite:///path\n"
    )


def test_no_arguments_lists_the_tasks(run: Run) -> None:
    """`sorted` alone is `sorted list` (tests/test_cli_entry.py), not help and exit 2."""
    result = run()
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr.endswith("No open tasks.\n")


def test_a_sqlite_file_of_another_program_is_left_alone(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_database = tmp_path / "app.db"
    with closing(sqlite3.connect(app_database)) as connection, connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    Path(".env").write_text(f"DATABASE_URL=sqlite:///{app_database}\n")
    message = one_line_error(run("list"), 1)
    assert message == (
        f"Error: sqlite:///{app_database} holds other tables and no sorted schema: it is not a "
        "sorted database, so sorted leaves it alone (check DATABASE_URL and .env).\n"
    )
    with closing(sqlite3.connect(app_database)) as connection:
        tables = connection.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("orders",)]


def test_a_url_with_a_bad_port_is_exit_2(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://u:{PASSWORD}@h:abc/db")
    assert one_line_error(run("list"), 2) == (
        "Error: Invalid database URL postgresql+psycopg://u:***@h:abc/db: "
        "the port must be a number from 1 to 65535\n"
    )


def test_an_unwritable_home_is_one_line(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SORTED_HOME", "/dev/null/sorted")
    message = one_line_error(run("add", "Buy milk"), 1)
    assert message == (
        "Error: Cannot create the database file /dev/null/sorted/sorted.db: Not a directory.\n"
    )
    url = f"sqlite:///{tmp_path / 'x.db'}"
    added = run("--database-url", url, "add", "Buy milk")  # remembering the user is a nicety
    assert (added.exit_code, added.stderr) == (
        0,
        "Created local user tester@localhost; `sorted user --help` to manage users.\n"
        "Could not remember the local user in /dev/null/sorted/config.toml: Not a directory.\n",
    )
    config_message = one_line_error(
        run("--database-url", url, "user", "switch", "tester@localhost"), 2
    )
    assert config_message == "Error: Cannot write /dev/null/sorted/config.toml: Not a directory.\n"


def test_text_that_is_not_utf8_is_bad_input(ada: User, run: Run) -> None:
    assert one_line_error(run("list", "--search", "caf\udce9"), 2) == (
        "Error: An argument is not valid UTF-8 text.\n"
    )


def test_a_driver_message_of_several_lines_reads_as_sentences_on_one_line() -> None:
    message = (
        'connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
        "\tIs the server running on that host and accepting TCP/IP connections?\n"
    )
    assert one_line(message) == (
        'connection to server at "127.0.0.1", port 1 failed: Connection refused. '
        "Is the server running on that host and accepting TCP/IP connections?"
    )
    wrapped = (
        "server closed the connection unexpectedly\n\tThis probably means the server "
        "terminated abnormally\n\tbefore or while processing the request.\n"
    )
    assert one_line(wrapped) == (
        "server closed the connection unexpectedly. This probably means the server "
        "terminated abnormally before or while processing the request."
    )
    assert one_line("") == ""


# Exact texts libpq gives (psycopg's "connection failed: " first) for a wrong password.
REFUSED = (
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
    'password authentication failed for user "bars_scram"'
)
NO_ENCRYPTION = (
    'connection to server at "127.0.0.1", port 5432 failed: FATAL:  pg_hba.conf rejects '
    'connection for host "127.0.0.1", user "bars_scram", database "x", no encryption'
)


@pytest.mark.parametrize("password", ["ion", "5432", "bars", "bars_scram", "failed"])
def test_a_password_is_masked_in_urls_never_in_other_words(password: str) -> None:
    url = f"postgresql+psycopg://bars_scram:{password}@127.0.0.1:5432/x?sslmode=require"
    error = OperationalError(
        "connect", {}, psycopg.OperationalError(f"connection failed: {REFUSED}")
    )
    described = describe_error(error, url=url)
    assert described is not None
    assert described.message == (
        "Cannot connect to postgresql+psycopg://bars_scram:***@127.0.0.1:5432/x?sslmode=require: "
        'connection to server at "127.0.0.1", port 5432 failed: FATAL: '
        'password authentication failed for user "bars_scram" '
        "(check the user name and password in the URL)"
    )
    assert short_reason(error) == 'password authentication failed for user "bars_scram"'


def test_urls_and_password_parameters_in_a_message_are_masked_whole() -> None:
    message = (
        'invalid URI: "postgresql://u:s3cret@[::1/db", then sqlite://u:pw@h/x.db, '
        "host=h password=s3cret dbname=x, host=h password='two words' port=1, "
        "postgresql://u@h/db?sslmode=require&password=s3cret&x=1"
    )
    assert urls.mask_passwords_in(message) == (
        'invalid URI: "postgresql://u:***@[::1/db", then sqlite://u:***@h/x.db, '
        "host=h password=*** dbname=x, host=h password=*** port=1, "
        "postgresql://u@h/db?sslmode=require&password=***&x=1"
    )
    assert (
        urls.mask_passwords_in("port 5432 failed for user ion") == "port 5432 failed for user ion"
    )


def test_libpq_trying_twice_says_each_reason_once() -> None:
    # sslmode=prefer: libpq tries with TLS, then without, and reports both attempts.
    twice = f"{REFUSED}\n{REFUSED}\n"
    assert one_line(twice) == (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL: '
        'password authentication failed for user "bars_scram"'
    )
    different = f"{REFUSED}\n{NO_ENCRYPTION}\n"
    assert one_line(different) == (
        'connection to server at "127.0.0.1", port 5432 failed: FATAL: '
        'password authentication failed for user "bars_scram"; FATAL: pg_hba.conf rejects '
        'connection for host "127.0.0.1", user "bars_scram", database "x", no encryption'
    )
    error = OperationalError("connect", {}, psycopg.OperationalError(f"connection failed: {twice}"))
    assert short_reason(error) == 'password authentication failed for user "bars_scram"'


@pytest.mark.parametrize("sslmode", ["require", "prefer"])
def test_a_wrong_password_on_a_real_server_keeps_the_words_and_the_advice(
    tls_cluster: TlsCluster, run: Run, monkeypatch: pytest.MonkeyPatch, sslmode: str
) -> None:
    with psycopg.connect(tls_cluster.superuser_conninfo(), autocommit=True) as connection:
        connection.execute(
            "DO $$ BEGIN CREATE ROLE bars_scram LOGIN PASSWORD 'other'; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        )
    port = tls_cluster.port
    server = f'connection to server at "127.0.0.1", port {port} failed: '
    refused = 'FATAL: password authentication failed for user "bars_scram"'
    second = (
        '; FATAL: pg_hba.conf rejects connection for host "127.0.0.1", user "bars_scram", '
        'database "x", no encryption'
    )
    for password in ("ion", str(port), "bars", "failed"):
        monkeypatch.setenv(
            "DATABASE_URL",
            f"postgresql://bars_scram:{password}@127.0.0.1:{port}/x?sslmode={sslmode}",
        )
        monkeypatch.setenv("SORTED_USER", "ada@example.com")
        result = run("list")
        assert (result.exit_code, result.stdout) == (1, "")
        assert result.stderr == (
            f"Error: Cannot connect to postgresql+psycopg://bars_scram:***@127.0.0.1:{port}/x"
            f"?sslmode={sslmode}: {server}{refused}{second if sslmode == 'prefer' else ''} "
            "(check the user name and password in the URL)\n"
        )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SORTED_CONNECT_TIMEOUT", "0", "must be a whole number of seconds from 1 to 600, not '0'"),
        ("SORTED_CONNECT_TIMEOUT", "x", "must be a whole number of seconds from 1 to 600, not 'x'"),
        ("SORTED_CONNECT_TIMEOUT", "601", "must be a whole number of seconds from 1 to 600"),
        ("SORTED_CONNECT_TIMEOUT", "1.5", "must be a whole number of seconds from 1 to 600"),
        ("SORTED_RETRY_TIMEOUT", "-1", "must be a number of seconds from 0 to 600, not '-1'"),
        ("SORTED_RETRY_TIMEOUT", "soon", "must be a number of seconds from 0 to 600, not 'soon'"),
        ("SORTED_RETRY_TIMEOUT", "nan", "must be a number of seconds from 0 to 600, not 'nan'"),
    ],
)
def test_a_bad_setting_is_named_and_said_in_words(
    run: Run, monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    error = one_line_error(run("list"), 2)
    assert error.startswith(f"Error: {name} {message}"), error
    assert error.endswith(".\n")


def test_a_bad_setting_in_a_file_names_the_file(
    run: Run, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = isolated_home / "config.toml"
    isolated_home.mkdir(parents=True, exist_ok=True)
    config.write_text('connect_timeout = "soon"\n')
    assert one_line_error(run("list"), 2) == (
        f"Error: connect_timeout in {config} must be a whole number of seconds from 1 to 600, "
        "not 'soon'.\n"
    )
    config.write_text("user = 5\n")
    assert one_line_error(run("list"), 2) == (
        f"Error: user in {config} must be text, not a number.\n"
    )
    config.write_text("")
    monkeypatch.chdir(tmp_path)
    Path(".env").write_text("SORTED_RETRY_TIMEOUT=-3\n")
    assert one_line_error(run("list"), 2) == (
        "Error: SORTED_RETRY_TIMEOUT in .env must be a number of seconds from 0 to 600, not '-3'.\n"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "postgresql://u:my pass@127.0.0.1/x",
            'unexpected spaces found in "***", use percent-encoded spaces (%20) instead',
        ),
        (
            "postgresql://u:it's<ok>@[::1]x/db",
            'unexpected character "x" at position 30 in URI (expected ":" or "/"): '
            '"postgresql://u:***@[::1]x/db"',
        ),
    ],
)
def test_a_url_libpq_cannot_read_is_never_quoted_with_its_password(
    run: Run, monkeypatch: pytest.MonkeyPatch, url: str, reason: str
) -> None:
    # libpq quotes the part it stumbled on, or the whole URL: a password is masked there too.
    monkeypatch.setenv("DATABASE_URL", url)
    masked = urls.mask_password(urls.normalise_url(url))
    assert one_line_error(run("list"), 2) == f"Error: Invalid database URL {masked}: {reason}\n"


def test_a_bad_percent_escape_in_the_password_is_not_quoted(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:s3cret%zz-pw@h/db")
    assert one_line_error(run("list"), 2) == (
        "Error: Invalid database URL postgresql+psycopg://u:***@h/db: a % in it is not "
        "followed by two hex digits (write a % itself as %25)\n"
    )
