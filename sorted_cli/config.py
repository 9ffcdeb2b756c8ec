"""Settings: command-line flags, then the environment, then `.env`, then the config file
(`sorted_cli.configfile` says where that file is).
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from sorted_cli.configfile import (
    DOTENV,
    ENVIRONMENT_NAMES,
    check_dotenv,
    config_file,
    embedded_database_path,
    winning,
)
from sorted_cli.errors import ConfigError
from sorted_cli.urls import database_key, is_postgres, mask_password, normalise_url
from sorted_cli.wording import field_reason, kind_of


class Settings(BaseSettings):
    """The effective configuration of one sorted process."""

    # Environment names are prefixed (SORTED_USER, never the shell's USER); the database URL
    # also answers to the conventional DATABASE_URL, after SORTED_DATABASE_URL.
    model_config = SettingsConfigDict(
        env_prefix="SORTED_", env_file=DOTENV, extra="ignore", frozen=True
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
    lock_timeout: float = Field(
        default=30,
        ge=0,
        le=600,
        description="Seconds to wait for a lock another command holds.",
    )
    statement_timeout: float = Field(
        default=60,
        ge=1,
        le=3600,
        description="Seconds the server may take over one statement (PostgreSQL).",
    )
    connection_idle_timeout: float = Field(
        default=60,
        ge=0,
        le=3600,
        description="Seconds the command server keeps an unused PostgreSQL connection open.",
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
        """Identifies the database in the config file (see `urls.database_key`)."""
        return database_key(self.url)

    @property
    def masked_url(self) -> str:
        return mask_password(self.url)


def load_settings(**overrides: str | None) -> Settings:
    """Build the settings, with command-line values (None means not given) on top."""
    given: dict[str, Any] = {name: value for name, value in overrides.items() if value is not None}
    try:
        check_dotenv()
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError(_invalid_setting(exc.errors()[0], flags=given.keys())) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Cannot read {config_file()}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot read .env or {config_file()}: not UTF-8 text.") from None


def _invalid_setting(error: Mapping[str, Any], *, flags: Collection[str]) -> str:
    """A bad setting's error: its name where it was given, and what it must be, in words."""
    name = str(error["loc"][0]) if error["loc"] else ""
    fields = Settings.model_fields
    setting = next((key for key in fields if name in (key, *ENVIRONMENT_NAMES[key])), None)
    if setting is None:
        return f"Invalid configuration: {error['msg']}"
    where = _where_given(setting, flag=setting in flags)
    if error["type"] == "value_error":  # sorted's own check (a URL: never echoed) says why
        return f"Invalid {where}: {error['ctx']['error']}"
    if expected := _expected_number(setting):
        value = error.get("input")
        shown = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        return f"{where} must be {expected}, not {shown if shown is not None else kind_of(value)}."
    return f"{where} {field_reason(error).removeprefix(': ')}."


def _where_given(setting: str, *, flag: bool) -> str:
    """How the user gave SETTING: `--user`, `SORTED_USER`, `SORTED_USER in .env`,
    `user in <config file>`."""
    if flag:
        return source_of(setting, flag=setting) or setting
    winner = winning(setting)
    if winner is None:
        return setting
    place, name, _ = winner
    if place == "config file":
        return f"{setting} in {config_file()}"
    return f"{name} in .env" if place == ".env" else name


def _expected_number(setting: str) -> str | None:
    """What a number setting with bounds must be: "a whole number of seconds from 1 to 600"."""
    field = Settings.model_fields[setting]
    bounds = {
        key: getattr(rule, key)
        for rule in field.metadata
        for key in ("ge", "le")
        if hasattr(rule, key)
    }
    if field.annotation not in (int, float) or bounds.keys() != {"ge", "le"}:
        return None
    number = "a whole number" if field.annotation is int else "a number"
    unit = " of seconds" if (field.description or "").startswith("Seconds") else ""
    return f"{number}{unit} from {bounds['ge']:g} to {bounds['le']:g}"


def _winning_name(setting: str) -> str | None:
    winner = winning(setting)
    return winner[1] if winner else None


def source_of(setting: str, *, flag: str | None = None) -> str | None:
    """Where a setting's effective value comes from: `--flag`, `$NAME`, `.env`, `config file`;
    None when it is not given anywhere."""
    if flag is not None:
        return "--" + setting.replace("_", "-")
    winner = winning(setting)
    return winner[0] if winner else None
