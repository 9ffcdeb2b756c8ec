from __future__ import annotations

import stat
from pathlib import Path

import pytest
from conftest import Run
from pydantic import AliasChoices

from sorted_cli import configfile
from sorted_cli.config import Settings, load_settings
from sorted_cli.errors import ConfigError
from sorted_cli.urls import mask_password, normalise_url, without_password


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql://u:p@host/db", "postgresql+psycopg://u:p@host/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        ("postgresql+psycopg2://u@host/db", "postgresql+psycopg://u@host/db"),
        (
            "postgresql://u:p@ep-x-pooler.eu-central-1.aws.neon.tech/neondb"
            "?sslmode=require&channel_binding=require",
            "postgresql+psycopg://u:p@ep-x-pooler.eu-central-1.aws.neon.tech/neondb"
            "?sslmode=require&channel_binding=require",
        ),
        (" sqlite:////tmp/x.db ", "sqlite:////tmp/x.db"),
    ],
)
def test_urls_are_driven_by_psycopg_and_keep_their_parameters(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u:secret@h/db", "postgresql:/u:secret@h/db", "u:secret@h/db", "postgres://"]
)
def test_unusable_urls_are_refused_without_showing_the_password(url: str) -> None:
    with pytest.raises(ValueError, match="URL") as caught:
        normalise_url(url)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "masked", "bare"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db", "postgresql://u@h:5432/db"),
        ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db", "postgresql://u@h/db"),
        (
            "postgresql://u@h/db?password=pw&x=1",
            "postgresql://u@h/db?password=***&x=1",
            "postgresql://u@h/db?x=1",
        ),
        ("postgresql://h/db", "postgresql://h/db", "postgresql://h/db"),
        ("postgresql://u:ab/cd@h/db", "postgresql://u:***@h/db", "postgresql://u@h/db"),
        (
            "postgresql://u:a?b#c@h:5/db?sslmode=require",
            "postgresql://u:***@h:5/db?sslmode=require",
            "postgresql://u@h:5/db?sslmode=require",
        ),
        (
            "postgresql://u:postgres@h/postgres",
            "postgresql://u:***@h/postgres",
            "postgresql://u@h/postgres",
        ),
        ("sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db", "sqlite:////tmp/a:b@c.db"),
    ],
)
def test_passwords_are_masked_and_removed(url: str, masked: str, bare: str) -> None:
    assert (mask_password(url), without_password(url)) == (masked, bare)


def test_settings_precedence_flag_then_environment_then_dotenv_then_config_file(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolated_home.mkdir()
    (isolated_home / "config.toml").write_text(
        'database_url = "sqlite:////from/config"\nuser = "file@example.com"\n'
    )
    assert load_settings().database_url == "sqlite:////from/config"
    Path(".env").write_text("DATABASE_URL=postgres://dotenv@h/db\n")
    assert load_settings().database_url == "postgresql+psycopg://dotenv@h/db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://env@h/db")
    settings = load_settings()
    assert (settings.database_url, settings.user) == (
        "postgresql+psycopg://env@h/db",
        "file@example.com",
    )
    flagged = load_settings(database_url="sqlite:////from/flag", user="flag@example.com")
    assert (flagged.database_url, flagged.user) == ("sqlite:////from/flag", "flag@example.com")


def test_the_names_completion_looks_for_are_the_ones_settings_declares() -> None:
    for setting, field in Settings.model_fields.items():
        alias = field.validation_alias
        declared = (
            tuple(str(name) for name in alias.choices if str(name).isupper())
            if isinstance(alias, AliasChoices)
            else (f"SORTED_{setting.upper()}",)
        )
        assert configfile.ENVIRONMENT_NAMES[setting] == declared
        assert (setting in configfile.ALIASED) == isinstance(alias, AliasChoices)
    assert set(configfile.ENVIRONMENT_NAMES) == set(Settings.model_fields)


# (where, name, text): one value given somewhere; each case is some of these at once.
PLACES = [
    ("environment", "SORTED_DATABASE_URL", "postgresql://sorted-env@h/db"),
    ("environment", "database_url", "postgresql://lower-env@h/db"),
    ("environment", "DATABASE_URL", "sqlite:////env.db"),
    ("environment", "SORTED_USER", "Env@Example.com"),
    ("environment", "SORTED_USER", " "),
    (".env", "DATABASE_URL", "postgres://dotenv@h/db"),
    (".env", "sorted_user", "dotenv@example.com"),
    ("config file", "database_url", "sqlite:////config.db"),
    ("config file", "user", "file@example.com"),
    ("config file", "DATABASE_URL", "sqlite:////upper-config.db"),
    ("config file", "Sorted_Database_Url", "sqlite:////mixed-config.db"),
    ("config file", "USER", "upper-file@example.com"),
    (".env", "DATABASE_URL", None),  # a line without a value
]


@pytest.mark.parametrize(
    "case",
    [
        [0],
        [1],
        [2, 5],
        [5, 7],
        [7, 8],
        [3, 6, 8],
        [4, 6],
        [6, 8],
        [0, 2, 5, 7],
        [],
        [9],
        [10],
        [11],
        [12, 7],
        [12, 9, 11],
        [10, 9],
    ],
    ids=str,
)
def test_completion_finds_the_database_and_user_that_settings_find(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, case: list[int]
) -> None:
    isolated_home.mkdir()
    dotenv: list[str] = []
    config_file: list[str] = []
    for where, name, text in (PLACES[index] for index in case):
        if where == "environment" and text is not None:
            monkeypatch.setenv(name, text)
        else:
            line = name if text is None else f'{name} = "{text}"'
            (dotenv if where == ".env" else config_file).append(line)
    Path(".env").write_text("\n".join(dotenv))
    (isolated_home / "config.toml").write_text("\n".join(config_file))
    settings = load_settings()
    url = configfile.given("database_url")
    assert (normalise_url(url) if url else None, configfile.given("user")) == (
        settings.database_url,
        settings.user,
    )


def test_sorted_database_url_wins_and_the_shells_user_is_not_the_sorted_user(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://someone-elses-app@h/app")
    monkeypatch.setenv("SORTED_DATABASE_URL", "postgresql://me@h/todo")
    monkeypatch.setenv("USER", "alice")
    settings = load_settings()
    assert (settings.database_url, settings.user) == ("postgresql+psycopg://me@h/todo", None)


def test_no_url_means_the_embedded_database_in_the_data_directory(isolated_home: Path) -> None:
    settings = load_settings()
    assert settings.is_embedded
    assert not settings.is_postgres
    assert settings.url == f"sqlite:///{isolated_home / 'sorted.db'}"


def test_a_bad_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://u:hunter2@h/db")
    with pytest.raises(ConfigError, match="unsupported database URL scheme 'mysql'") as caught:
        load_settings()
    assert caught.value.exit_code == 2
    assert "hunter2" not in caught.value.message


def test_a_broken_config_file_is_a_clear_error(isolated_home: Path, run: Run) -> None:
    isolated_home.mkdir()
    (isolated_home / "config.toml").write_text("database_url = \n")
    result = run("list")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: Cannot read {isolated_home / 'config.toml'}: ")
    assert result.stderr.count("\n") == 1


def test_remembered_users_are_kept_per_database_in_an_owner_only_file(
    isolated_home: Path,
) -> None:
    isolated_home.mkdir()
    (isolated_home / "config.toml").write_text('database_url = "sqlite:////x.db"\n')
    configfile.remember_user("postgresql+psycopg://me@h/team", "me@example.com")
    configfile.remember_user('sqlite:////tmp/"odd" é.db', "local@localhost")
    assert configfile.remembered_user("postgresql+psycopg://me@h/team") == "me@example.com"
    assert configfile.remembered_user('sqlite:////tmp/"odd" é.db') == "local@localhost"
    assert configfile.remembered_user("postgresql+psycopg://me@h/other") is None
    assert load_settings().database_url == "sqlite:////x.db"  # other settings survive
    assert stat.S_IMODE((isolated_home / "config.toml").stat().st_mode) == 0o600
    configfile.remember_user("postgresql+psycopg://me@h/team", None)
    assert configfile.remembered_user("postgresql+psycopg://me@h/team") is None
    # No temporary files; the lock file (empty, owner-only) stays, as lock files do.
    assert sorted(path.name for path in isolated_home.iterdir()) == [
        ".config.toml.lock",
        "config.toml",
    ]
    lock = isolated_home / ".config.toml.lock"
    assert (lock.read_bytes(), stat.S_IMODE(lock.stat().st_mode)) == (b"", 0o600)


def test_config_command_shows_effective_settings_with_the_password_masked(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    monkeypatch.setenv(
        "DATABASE_URL", "postgres://team:hunter2@db.example.com/todo?sslmode=require"
    )
    monkeypatch.setenv("SORTED_USER", "Ada@Example.com")
    result = run("config")
    assert result.exit_code == 0
    assert result.stdout == (
        "database        postgresql+psycopg://team:***@db.example.com/todo?sslmode=require"
        "  ($DATABASE_URL)\n"
        "user            ada@example.com  ($SORTED_USER)\n"
        "migrations      the database URL\n"
        "timeouts        connect 10 s, retry for 15 s\n"
        f"config file     {isolated_home / 'config.toml'}  (not created)\n"
        f"data directory  {isolated_home}\n"
    )


def test_config_command_names_the_embedded_default(isolated_home: Path, run: Run) -> None:
    result = run("config")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:2] == [
        f"database        sqlite:///{isolated_home / 'sorted.db'}  (embedded default)",
        "user            (none chosen)",
    ]


def test_config_command_names_where_each_value_comes_from(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, run: Run
) -> None:
    def shown() -> list[str]:
        result = run("config")
        assert (result.exit_code, result.stderr) == (0, "")
        return result.stdout.splitlines()[:2]

    isolated_home.mkdir()
    (isolated_home / "config.toml").write_text(
        'database_url = "sqlite:////from/config.db"\nuser = "file@example.com"\n'
    )
    assert shown() == [
        "database        sqlite:////from/config.db  (config file)",
        "user            file@example.com  (config file)",
    ]
    Path(".env").write_text("database_url=postgres://dotenv:pw@h/db\nSORTED_USER=dot@example.com\n")
    assert shown() == [
        "database        postgresql+psycopg://dotenv:***@h/db  (.env)",
        "user            dot@example.com  (.env)",
    ]
    monkeypatch.setenv("SORTED_DATABASE_URL", "sqlite:////from/env.db")
    assert shown()[0] == "database        sqlite:////from/env.db  ($SORTED_DATABASE_URL)"
    result = run("--database-url", "sqlite:////flag.db", "--user", "f@example.com", "config")
    assert result.stdout.splitlines()[:2] == [
        "database        sqlite:////flag.db  (--database-url)",
        "user            f@example.com  (--user)",
    ]


def test_config_command_names_a_remembered_user(isolated_home: Path, run: Run) -> None:
    configfile.remember_user(load_settings().database_key, "me@example.com")
    assert run("config").stdout.splitlines()[1] == (
        "user            me@example.com  (remembered for this database)"
    )


def test_a_dotenv_that_is_not_utf8_is_a_clear_error(isolated_home: Path, run: Run) -> None:
    Path(".env").write_bytes(b"DATABASE_URL=\xff\xfe\n")
    result = run("config")
    assert (result.exit_code, result.stdout) == (2, "")
    assert (
        result.stderr
        == f"Error: Cannot read .env or {isolated_home / 'config.toml'}: not UTF-8 text.\n"
    )


def test_a_relative_sqlite_path_is_remembered_by_its_absolute_path(isolated_home: Path) -> None:
    key = load_settings(database_url="sqlite:///todo.db").database_key
    assert key == f"sqlite:///{Path.cwd() / 'todo.db'}"
    assert load_settings(database_url="sqlite:////abs/todo.db").database_key == (
        "sqlite:////abs/todo.db"
    )
