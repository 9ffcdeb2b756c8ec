"""Settings: command-line flags, then the environment, then `.env`, then the config file.

The config file is TOML at `<config dir>/config.toml` (platformdirs' user config directory, or
`$SORTED_HOME` when set, which also holds the embedded database; tests use it to stay away from
real data). Besides settings it keeps, per database, the user chosen with `sorted user switch`
in a `[current_user]` table keyed by the database URL without its password.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sorted_cli.errors import ConfigError
from sorted_cli.urls import is_postgres, mask_password, normalise_url, without_password

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


class Settings(BaseSettings):
    """The effective configuration of one sorted process."""

    # Environment names are prefixed (SORTED_USER, never the shell's USER); the database URL
    # also answers to the conventional DATABASE_URL, after SORTED_DATABASE_URL.
    model_config = SettingsConfigDict(
        env_prefix="SORTED_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SORTED_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="PostgreSQL or SQLite URL; unset means the embedded SQLite database.",
    )
    user: str | None = Field(default=None, description="Email of the user to act as.")
    migration_database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SORTED_MIGRATION_DATABASE_URL", "migration_database_url"),
        description="Direct (unpooled) URL for `sorted db ...`; default: the database URL.",
    )
    database_url_unpooled: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL_UNPOOLED"),
        description="Neon's name for the direct URL that goes with DATABASE_URL.",
    )
    connect_timeout: int = Field(
        default=10, ge=1, le=600, description="Seconds to wait for one connection attempt."
    )
    retry_timeout: float = Field(
        default=15,
        ge=0,
        le=600,
        description="Seconds to keep retrying transient failures (0: never retry).",
    )

    @field_validator(
        "database_url", "migration_database_url", "database_url_unpooled", mode="before"
    )
    @classmethod
    def _normalise_database_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return normalise_url(value) if isinstance(value, str) else value

    @field_validator("user", mode="before")
    @classmethod
    def _blank_user_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file_source = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return init_settings, env_settings, dotenv_settings, file_source

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None

    @property
    def url(self) -> str:
        """The URL sorted connects to: the configured one or the embedded SQLite file."""
        return self.database_url or f"sqlite:///{embedded_database_path()}"

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.url)

    def migration_url(self, *, flag_given: bool = False) -> str:
        """The URL `sorted db ...` migrates: a direct connection when one is configured.

        A URL given with --database-url is used as it is. Otherwise SORTED_MIGRATION_DATABASE_URL
        wins, then Neon's DATABASE_URL_UNPOOLED, but only when the database URL itself came from
        DATABASE_URL (the two are a pair; with SORTED_DATABASE_URL set it may name another
        project's database), then the database URL.
        """
        if flag_given or self.is_embedded:
            return self.url
        if self.migration_database_url is not None:
            return self.migration_database_url
        if self.database_url_unpooled is not None and _winning_name("database_url") == (
            "DATABASE_URL"
        ):
            return self.database_url_unpooled
        return self.url

    @property
    def database_key(self) -> str:
        """Identifies the database in the config file's `[current_user]` table.

        The URL without its password; a relative SQLite path is made absolute, so the same
        `sqlite:///todo.db` in two folders is two databases.
        """
        prefix, path = "sqlite:///", self.url.removeprefix("sqlite:///")
        if self.url.startswith(prefix) and path and not path.startswith((":", "/", "file:")):
            return prefix + str(Path(path).resolve())
        return without_password(self.url)

    @property
    def masked_url(self) -> str:
        return mask_password(self.url)


def load_settings(**overrides: str | None) -> Settings:
    """Build the settings, with command-line values (None means not given) on top."""
    given: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = error.get("ctx", {}).get("error", error["msg"])
        name = str(error["loc"][0]) if error["loc"] else ""
        # Name the setting as the config file does, whichever of its names was used.
        setting = next((key for key in Settings.model_fields if name in _names(key)), name)
        raise ConfigError(f"Invalid {setting or 'configuration'}: {reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Cannot read {config_file()}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot read .env or {config_file()}: not UTF-8 text.") from None


def _names(setting: str) -> tuple[str, ...]:
    """The names a setting answers to in the environment and .env, in the order they win: its
    aliases when it has some, else the prefixed field name (as `Settings` declares them)."""
    alias = Settings.model_fields[setting].validation_alias
    if isinstance(alias, AliasChoices):
        return tuple(str(name) for name in alias.choices if str(name).isupper())
    return (f"{Settings.model_config['env_prefix']}{setting}".upper(),)


def _winning(setting: str) -> tuple[str, str] | None:
    """(place, name) of the value `Settings` takes for a setting from the environment, .env or
    the config file (names compared case-insensitively, as it does), or None."""
    names = _names(setting)
    environment = {key.upper() for key in os.environ}
    if given := next((name for name in names if name in environment), None):
        return f"${given}", given
    dotenv = {key.upper() for key in DotEnvSettingsSource(Settings).env_vars}
    if given := next((name for name in names if name in dotenv), None):
        return ".env", given
    return ("config file", setting) if setting in _read_config_file() else None


def _winning_name(setting: str) -> str | None:
    winner = _winning(setting)
    return winner[1] if winner else None


def source_of(setting: str, *, flag: str | None = None) -> str | None:
    """Where a setting's effective value comes from: `--flag`, `$NAME`, `.env`, `config file`;
    None when it is not given anywhere."""
    if flag is not None:
        return "--" + setting.replace("_", "-")
    winner = _winning(setting)
    return winner[0] if winner else None


def remembered_user(database_key: str) -> str | None:
    """The user chosen with `sorted user switch` for this database, if any."""
    table = _read_config_file().get(CURRENT_USER_TABLE, {})
    value = table.get(database_key) if isinstance(table, dict) else None
    return value if isinstance(value, str) else None


def remember_user(database_key: str, email: str | None) -> None:
    """Remember (or, with None, forget) the current user for this database."""
    data = _read_config_file()
    table = data.get(CURRENT_USER_TABLE)
    table = dict(table) if isinstance(table, dict) else {}
    if email is None:
        table.pop(database_key, None)
    else:
        table[database_key] = email
    data[CURRENT_USER_TABLE] = table
    _write_config_file(data)


def _read_config_file() -> dict[str, Any]:
    try:
        with config_file().open("rb") as handle:
            return tomllib.load(handle)
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Cannot read {config_file()}: {exc}") from None


def _write_config_file(data: dict[str, Any]) -> None:
    """Write the config file atomically, readable by its owner only (it may hold a password)."""
    path = config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".toml")
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror}.") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_to_toml(data))
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
