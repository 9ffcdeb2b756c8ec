"""The PostgreSQL dialect of one short sorted process: psycopg's, without its set-up queries.

On its first connection SQLAlchemy's psycopg dialect asks the server for its version, the
current schema, the default isolation level and `standard_conforming_strings`, and looks the
hstore type up inside a savepoint: nine round trips before sorted's first statement, each a
full round trip to Neon. The server already reports its version and
`standard_conforming_strings` when the connection starts (ParameterStatus messages, which
psycopg keeps), so this dialect reads those; of the rest, sorted uses none: it never changes
the isolation level (so the reset value is PostgreSQL's default, never sent), never uses a
schema translation map (the only user of the default schema name) and has no hstore columns.
SQLAlchemy's own `initialize` still runs and derives everything else from these answers.

When the engine's connect arguments say `bounded`, its connections are `sorted_cli.pgwaits`'
(each command sets the bounds of its own on the connection it uses: see
`sorted_cli.database`).

`sorted db` commands keep the stock dialect: Alembic reflects, and one command's nine round
trips do not matter there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

if TYPE_CHECKING:
    from sqlalchemy.engine.interfaces import IsolationLevel


class QuickDialect(PGDialect_psycopg):
    supports_statement_cache = True  # it compiles exactly as its parent does

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("use_native_hstore", False)
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    def connect(self, *cargs: Any, **cparams: Any) -> Any:
        if not cparams.pop("bounded", False):
            return super().connect(*cargs, **cparams)
        from sorted_cli import pgwaits

        return pgwaits.connect(*cargs, **cparams)

    def _get_server_version_info(self, connection: Any) -> tuple[int, ...]:  # pragma: postgres
        return server_version(connection.connection.dbapi_connection.info.server_version)

    def _get_default_schema_name(self, connection: Any) -> str | None:  # type: ignore[override]  # pragma: postgres
        return None  # not asked: only schema translation maps read it

    def get_default_isolation_level(
        self, dbapi_connection: Any
    ) -> IsolationLevel:  # pragma: postgres
        return "READ COMMITTED"  # PostgreSQL's default; sorted never changes it

    def _set_backslash_escapes(self, connection: Any) -> None:  # pragma: postgres
        info = connection.connection.dbapi_connection.info
        self._backslash_escapes = info.parameter_status("standard_conforming_strings") == b"off"


def server_version(number: int) -> tuple[int, ...]:
    """libpq's server version number as SQLAlchemy's tuple: 150004 is (15, 4); before 10 the
    number had three parts, 90624 is (9, 6, 24)."""
    if number >= 100000:
        return number // 10000, number % 10000
    return number // 10000, number // 100 % 100, number % 100
