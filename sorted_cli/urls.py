"""Database URLs: normalise what users paste, and never show a password.

Every PostgreSQL spelling (`postgres://`, `postgresql://`, `postgresql+<driver>://`) is driven
by psycopg 3, so it becomes `postgresql+psycopg://`; everything after the scheme (user, host,
database and query parameters such as `sslmode` and `channel_binding`) is kept verbatim.
"""

from __future__ import annotations

import re

_POSTGRES_SCHEMES = ("postgres", "postgresql")
_SQLITE_SCHEMES = ("sqlite", "sqlite+pysqlite")
_PASSWORD_PARAM = re.compile(r"(?i)([?&]password=)[^&]*")
_CREDENTIALS = re.compile(
    r"(?P<before>[\w+.-]+://[^:/@]*:)(?P<password>.*)(?P<after>@[^@]*)\Z", re.S
)
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


def url_password(url: str) -> str | None:
    return _split_password(url)[1]


def mask_password(url: str) -> str:
    """The URL with any password (in the authority or a `password=` parameter) masked."""
    before, password, after = _split_password(url)
    masked = url if password is None else f"{before}{MASK}{after}"
    return _PASSWORD_PARAM.sub(rf"\g<1>{MASK}", masked)


def without_password(url: str) -> str:
    """The URL with the password removed: identifies a database across password changes."""
    before, password, after = _split_password(url)
    bare = url if password is None else f"{before.removesuffix(':')}{after}"
    base, question, query = bare.partition("?")
    kept = [part for part in query.split("&") if not part.lower().startswith("password=")]
    return f"{base}?{'&'.join(kept)}" if question and kept else base
