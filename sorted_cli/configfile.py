"""Where sorted keeps its files, and the config file's reading and writing.

The config file is TOML at `<config dir>/config.toml` (platformdirs' user config directory, or
`$SORTED_HOME` when set, which also holds the embedded database; tests use it to stay away from
real data). Besides settings it keeps, per database, the user chosen with `sorted user switch`
in a `[current_user]` table keyed by the database URL without its password. sorted rewrites
it whole (`files.replacing`: through a symlink, into the file it names) under a lock held from
reading it to renaming the new one in, so commands remembering users at once keep every one.

Free of pydantic: shell completion reads its settings through `given`, which looks where
`sorted_cli.config.Settings` looks, in the same order (a test holds the two together).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sorted_cli.errors import ConfigError, ConfigNotWritten

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

APP_NAME = "sorted"
CURRENT_USER_TABLE = "current_user"
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _home() -> Path | None:
    home = os.environ.get("SORTED_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    if home := _home():
        return home
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    if home := _home():
        return home
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def embedded_database_path() -> Path:
    return data_dir() / "sorted.db"


def remembered_user(database_key: str) -> str | None:
    """The user chosen with `sorted user switch` for this database, if any."""
    table = read_config_file().get(CURRENT_USER_TABLE, {})
    value = table.get(database_key) if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def remember_user(
    database_key: str, email: str | None, *, on_wait: Callable[[str], object] | None = None
) -> None:
    """Remember (or, with None, forget) the current user for this database. The config file is
    read and rewritten under its lock, so two commands remembering at once both keep theirs;
    ON_WAIT is told once when that lock is slow to come. ConfigNotWritten when the file
    cannot be rewritten, LockGaveUp when another sorted held the lock for a minute."""
    with _config_locked(on_wait=on_wait):
        data = read_config_file()
        table = data.get(CURRENT_USER_TABLE)
        table = dict(table) if isinstance(table, dict) else {}
        if email is None:
            table.pop(database_key, None)
        else:
            table[database_key] = email
        data[CURRENT_USER_TABLE] = table
        _write_config_file(data)


def read_config_file() -> dict[str, Any]:
    try:
        with config_file().open("rb") as handle:
            return tomllib.load(handle)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Cannot read {config_file()}: {exc}") from None


@contextmanager
def _config_locked(*, on_wait: Callable[[str], object] | None) -> Iterator[None]:
    """Hold the config file's lock (`.config.toml.lock` beside it) during the block."""
    from sorted_cli.files import locked

    path = config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with locked(path.with_name(f".{path.name}.lock"), what=str(path), on_wait=on_wait):
            yield
    except OSError as exc:
        raise ConfigNotWritten(path, exc.strerror or str(exc)) from None


def _write_config_file(data: dict[str, Any]) -> None:
    """Replace the config file's contents (through a symlink, into the file it names), readable
    by its owner only: it may hold a password."""
    from sorted_cli.files import replacing

    with replacing(config_file(), mode=0o600) as out:
        out.write(_to_toml(data))


def _to_toml(data: dict[str, Any]) -> str:
    """Serialise the config file's shape: top-level scalars, then one level of tables."""
    scalars = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    tables = [
        "\n".join([f"[{_key(name)}]", *(f"{_key(k)} = {_value(v)}" for k, v in table.items())])
        for name, table in data.items()
        if isinstance(table, dict)
    ]
    return "\n\n".join(part for part in ["\n".join(scalars), *tables] if part) + "\n"


def _key(key: str) -> str:
    # A JSON string is a valid TOML basic string: its escapes are a subset of TOML's.
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


# The names each setting answers to in the environment and .env, in the order they win
# (`Settings` declares the same; tests/test_config.py checks they agree).
ENVIRONMENT_NAMES: dict[str, tuple[str, ...]] = {
    "database_url": ("SORTED_DATABASE_URL", "DATABASE_URL"),
    "user": ("SORTED_USER",),
    "migration_database_url": ("SORTED_MIGRATION_DATABASE_URL",),
    "database_url_unpooled": ("DATABASE_URL_UNPOOLED",),
    "connect_timeout": ("SORTED_CONNECT_TIMEOUT",),
    "retry_timeout": ("SORTED_RETRY_TIMEOUT",),
    "lock_timeout": ("SORTED_LOCK_TIMEOUT",),
    "statement_timeout": ("SORTED_STATEMENT_TIMEOUT",),
    "connection_idle_timeout": ("SORTED_CONNECTION_IDLE_TIMEOUT",),
}


# Settings declared with aliases: those names count in the config file too (in any case);
# the others are read there by their own name.
ALIASED = frozenset({"database_url", "migration_database_url", "database_url_unpooled"})


def winning(setting: str) -> tuple[str, str, str | None] | None:
    """(place, name, raw text) of the value `Settings` takes for a setting from the environment,
    `.env` or the config file (names compared case-insensitively, as it does; a `.env` line
    without a value does not count); None when it is given in none of them. Flags are the
    caller's to check first."""
    names = ENVIRONMENT_NAMES[setting]
    for place, source in (("$", dict(os.environ)), (".env", _dotenv())):
        upper = {key.upper(): value for key, value in source.items() if value is not None}
        if found := next((name for name in names if name in upper), None):
            return (f"${found}" if place == "$" else place), found, upper[found]
    in_file = {key.lower(): value for key, value in read_config_file().items()}
    file_names = [name.lower() for name in names] if setting in ALIASED else []
    for name in dict.fromkeys([*file_names, setting]):
        if (value := in_file.get(name)) is not None and not isinstance(value, dict):
            return "config file", setting, str(value)
    return None


def given(setting: str) -> str | None:
    """A setting's raw text as `Settings` finds it (blank means unset), without pydantic: shell
    completion finds the database and user with it; every other command reads `Settings`."""
    winner = winning(setting)
    text = winner[2] if winner else None
    return text if text and text.strip() else None


DOTENV = Path(".env")


def check_dotenv() -> None:
    """ConfigError naming the first line of `.env` (in the working directory) that cannot be
    read. python-dotenv only warns and skips such a line: a DATABASE_URL with an unclosed quote
    would silently mean the embedded database."""
    if not DOTENV.is_file():
        return
    from dotenv.parser import parse_stream  # what python-dotenv's dotenv_values reads with

    with DOTENV.open(encoding="utf-8") as stream:
        bad = next((binding for binding in parse_stream(stream) if binding.error), None)
    if bad is not None:  # its text is not shown: it may hold a password
        raise ConfigError(
            f"Cannot read {DOTENV}, line {bad.original.line}: not NAME=VALUE "
            "(a quote left open?); fix it or remove the line."
        )


def _dotenv() -> dict[str, str | None]:
    """`.env`'s values as `Settings` reads them. The file is parsed apart from pydantic-settings'
    own reading (and `check_dotenv`'s): about 0.1 ms each for a short file, where one shared
    parse would mean replacing python-dotenv's and pydantic-settings' private readers."""
    if not DOTENV.is_file():
        return {}
    check_dotenv()
    from dotenv import dotenv_values  # what pydantic-settings reads .env with

    return dict(dotenv_values(DOTENV, encoding="utf-8"))
