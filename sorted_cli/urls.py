"""Database URLs: normalise what users paste, and never show a password.

Every PostgreSQL spelling (`postgres://`, `postgresql://`, `postgresql+<driver>://`) is driven
by psycopg 3, so it becomes `postgresql+psycopg://`; everything after the scheme (user, host,
database and query parameters such as `sslmode` and `channel_binding`) is kept verbatim.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

_POSTGRES_SCHEMES = ("postgres", "postgresql")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&]*")
_CREDENTIALS = re.compile(
    r"(?P<before>[\w+.-]+://[^:/@]*:)(?P<password>.*)(?P<after>@[^@]*)\Z", re.S
)
# In a message: a URL (up to white space or a quote), and a libpq conninfo `password=`.
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][\w+.-]*://[^\s\"'<>]+")
_CONNINFO_PASSWORD = re.compile(r"(?i)(?<![\w?&])(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)")
_QUOTED = re.compile(r'"([^"]*)"')
MASK = "***"


def normalise_url(url: str) -> str:
    """Return the URL sorted connects with, or raise ValueError for one it cannot use."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or not rest:
        # Never echo it: a mistyped URL still holds a password.
        raise ValueError("the database URL must look like postgresql://... or sqlite:///path")
    dialect = scheme.lower().split("+", 1)[0]
    if dialect in _POSTGRES_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    if scheme.lower() in _SQLITE_SCHEMES:
        return f"sqlite://{rest}"
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use postgresql://... or sqlite:///path"
    )


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _split_password(url: str) -> tuple[str, str | None, str]:
    """Split a URL around its password: (before, password or None, after).

    Errs on the side of hiding: the password runs from the colon after the user name to the
    last `@` in the URL, so a password holding `/`, `?`, `#` or `@` is hidden whole.
    """
    match = _CREDENTIALS.match(url)
    if match is None:
        return url, None, ""
    return match.group("before"), match.group("password"), match.group("after")


def mask_password(url: str) -> str:
    """The URL with any password (in the authority or a `password=` parameter) masked."""
    before, password, after = _split_password(url)
    masked = url if password is None else f"{before}{MASK}{after}"
    return _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", masked)


def starred_password(url: str) -> str | None:
    """The URL with its passwords (as `mask_password` finds them) starred, one `*` for each
    byte they take on the command line, so it keeps its length in bytes there (`é` is two);
    None when it holds no password."""
    before, password, after = _split_password(url)
    starred = url if password is None else f"{before}{_stars(password)}{after}"
    starred = _PASSWORD_PARAM.sub(
        lambda found: found.group(1) + _stars(found.group()[len(found.group(1)) :]), starred
    )
    return None if starred == url else starred


def _stars(secret: str) -> str:
    return "*" * len(os.fsencode(secret))


def mask_passwords_in(text: str) -> str:
    """TEXT (a driver's message, say) with the password of every URL in it masked, and any
    conninfo `password=...`: by where a password stands, never by searching for its letters,
    which would mask ordinary words that happen to hold them."""
    masked = _URL_IN_TEXT.sub(lambda url: mask_password(url.group()), text)
    return _CONNINFO_PASSWORD.sub(rf"\g<1>{MASK}", masked)


def _quoted_parts_masked(message: str, url: str) -> str:
    """libpq's complaint about URL, whose quoted parts are pieces of URL itself: a quoted URL
    has its password masked, and a quoted piece of the password is masked whole."""
    password = _split_password(url)[1]

    def mask(quoted: re.Match[str]) -> str:
        part = quoted.group(1)
        if "://" in part:
            return f'"{mask_password(part)}"'
        if password and part and (part in password or password in part):
            return f'"{MASK}"'
        return quoted.group()

    return _QUOTED.sub(mask, message)


def without_password(url: str) -> str:
    """The URL with the password removed: identifies a database across password changes."""
    before, password, after = _split_password(url)
    bare = url if password is None else f"{before.removesuffix(':')}{after}"
    base, question, query = bare.partition("?")
    kept = [part for part in query.split("&") if not part.lower().startswith("password=")]
    return f"{base}?{'&'.join(kept)}" if question and kept else base


def database_key(url: str) -> str:
    """Identifies a database in the config file's `[current_user]` table: the URL without its
    password; a relative SQLite path is made absolute, so the same `sqlite:///todo.db` in two
    folders is two databases."""
    prefix, path = "sqlite:///", url.removeprefix("sqlite:///")
    if url.startswith(prefix) and path and not path.startswith((":", "/", "file:")):
        return prefix + str(Path(path).resolve())
    return without_password(url)


def libpq_url(url: str) -> str:
    """The URL as libpq reads it (`postgresql://`, without SQLAlchemy's `+psycopg`)."""
    return "postgresql://" + url.partition("://")[2]


def postgres_connect_args(url: str, *, connect_timeout: int) -> dict[str, Any]:
    """psycopg's connection settings for one short command, possibly through a pooler.

    Whatever the URL (or the matching PG* environment variable) says is kept; otherwise:
    - `sslmode=require` for any host that is not this machine: TLS by default over a network;
    - `connect_timeout` from the settings (10 s), where libpq would wait for the OS (2 min);
    - `application_name=sorted`, so an admin can tell sorted's sessions apart;
    - TCP keepalives (`KEEPALIVES`): a network that stops carrying packets while sorted waits
      for an answer is noticed within about half a minute, where the system would wait for
      hours (a link that still acknowledges but never answers is `sorted_cli.pgwaits`'s);
    - no server-side prepared statements (`prepare_threshold=None`): behind PgBouncer in
      transaction mode (Neon's pooled endpoint) a statement prepared on one server connection
      is unknown on the next, and one command never repeats a query often enough to gain.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict  # libpq's own reading of the URL

    try:
        given = conninfo_to_dict(libpq_url(url))
    except psycopg.Error as exc:  # an option libpq does not know, a bad percent-escape
        message = " ".join(str(exc).split())
        if message.startswith("invalid percent-encoded token"):  # it quotes the part: a password?
            message = "a % in it is not followed by two hex digits (write a % itself as %25)"
        raise ValueError(_quoted_parts_masked(message, url)) from None
    args: dict[str, Any] = {"prepare_threshold": None}
    if (
        "sslmode" not in given
        and "PGSSLMODE" not in os.environ
        and _is_remote(str(given["host"]) if "host" in given else None)
    ):
        args["sslmode"] = "require"
    if "connect_timeout" not in given and "PGCONNECT_TIMEOUT" not in os.environ:
        args["connect_timeout"] = connect_timeout
    if "application_name" not in given and "PGAPPNAME" not in os.environ:
        args["application_name"] = "sorted"
    args.update({name: value for name, value in KEEPALIVES.items() if name not in given})
    return args


# libpq's keepalive settings (none has an environment variable): probe after 10 s of silence,
# every 5 s, give up after 3 unanswered probes; data sent and unacknowledged for 30 s is lost.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds
}


def _is_remote(hosts: str | None) -> bool:
    """Is any of these libpq hosts (comma-separated) reached over a network (not loopback, not
    a Unix socket)?"""
    if hosts is None:
        return "PGHOST" in os.environ and _is_remote(os.environ["PGHOST"])
    return any(_is_remote_host(name.strip()) for name in hosts.split(","))


def _is_remote_host(host: str) -> bool:
    if not host or host.startswith(("/", "@")) or host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: only DNS knows where it is
        return True


def sqlite_path(url: str) -> Path | None:
    _, _, path = url.partition(":///")
    return Path(path.split("?", 1)[0]).expanduser() if path and path != ":memory:" else None
