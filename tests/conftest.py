"""Fixtures: every test runs away from real user data, on SQLite and (when configured) on a
throwaway PostgreSQL database.

- `SORTED_HOME` points at a fresh folder for every test, so the embedded database and the
  config file are never the user's own; DATABASE_URL and SORTED_USER are cleared.
- `database_url` is a migrated, empty database: a copy of a migrated SQLite file, or a
  PostgreSQL database made for this run (and dropped after it), emptied between tests.
- PostgreSQL runs when SORTED_TEST_DATABASE_URL names a server to make databases on (any
  database there, for example postgresql://postgres@127.0.0.1:5432/test). Without it the
  PostgreSQL tests skip, except under CI=true, where a missing or unreachable server fails.
- The PostgreSQL tests run on three backends (see `backend`): "postgresql", that server
  directly; "pgbouncer", the same server through a PgBouncer in transaction mode that the
  session starts (as Neon's pooled URL is); "tls", a throwaway cluster the session starts that
  takes only TLS with SCRAM-SHA-256, reached with `sslmode=require&channel_binding=require`
  (as Neon's URLs are). Both need SORTED_TEST_DATABASE_URL set too, and fail under CI=true when
  their server cannot be started (tests/servers.py starts them).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import psycopg
import pytest
from psycopg import sql
from servers import PgBouncer, ServerError, TlsCluster, start_pgbouncer, start_tls_cluster
from sqlalchemy import inspect, make_url
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner, Result

from sorted_cli import migrate
from sorted_cli.cli.app import app
from sorted_cli.config import Settings, load_settings
from sorted_cli.database import Database
from sorted_cli.db import COMMAND_ID, make_engine
from sorted_cli.models import Task, User, UserCreate, validated
from sorted_cli.services import users

ALL_BACKENDS = ("sqlite", "postgresql", "pgbouncer", "tls")
POSTGRES_BACKENDS = ("postgresql", "pgbouncer", "tls")
# SORTED_TEST_BACKENDS, a comma list such as `sqlite,postgresql`, runs only the tests of those
# backends (the others' are deselected); unset or empty, all four run. CI sets nothing, so under
# CI=true every backend runs unless someone chooses otherwise explicitly.
_CHOSEN = [name.strip() for name in os.environ.get("SORTED_TEST_BACKENDS", "").split(",")]
BACKENDS = tuple(name for name in ALL_BACKENDS if name in _CHOSEN) or ALL_BACKENDS
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ADA = "ada@example.com"
# The JSON shape of a task, in order: a promise to scripts (README, "For scripts").
TASK_KEYS = [
    "id",
    "number",
    "title",
    "description",
    "priority",
    "due",
    "completed",
    "completed_at",
    "created_at",
    "updated_at",
    "deleted",
    "deleted_at",
    "tags",
    "notes",
    "every",
    "until",
    "times",
    "anchor",
    "series_id",
    "iteration",
    "wait",
    "scheduled",
    "due_at",
]


# The keys after `notes` (repeating and the dates) as a task that never repeated and has no
# times has them: the rest of a plain task's whole shape, in tests that expect one.
PLAIN_TASK_EXTRAS: dict[str, None] = dict.fromkeys(TASK_KEYS[TASK_KEYS.index("notes") + 1 :])


def is_postgres_backend(backend: str) -> bool:
    """Whether the backend under test is a PostgreSQL database (directly, pooled or over TLS)."""
    return backend in POSTGRES_BACKENDS


def pytest_configure(config: pytest.Config) -> None:
    measuring = _coverage_plugin(config) is not None and not getattr(config.option, "no_cov", 0)
    if measuring:
        # The sorted processes the tests start (the command server among them) measure
        # themselves into files beside this run's, which pytest-cov combines at the end.
        os.environ["COVERAGE_PROCESS_START"] = str(config.rootpath / "pyproject.toml")
        # (pytest-cov itself took COVERAGE_FILE, if set, as the run's data file: .ci/run runs
        # two Pythons at once in one checkout, each with a file of its own.)
        data_file = config.rootpath / os.environ.get("COVERAGE_FILE", ".coverage")
        os.environ["COVERAGE_FILE"] = str(data_file)
    controller = getattr(_coverage_plugin(config), "cov_controller", None)
    if measuring and not hasattr(controller, "combining_cov"):
        raise pytest.UsageError(
            "pytest-cov no longer has the parts tests/conftest.py uses to leave out the code "
            "only PostgreSQL reaches (cov_controller.combining_cov): update conftest.py"
        )
    unknown = sorted({name for name in _CHOSEN if name} - set(ALL_BACKENDS))
    if unknown:
        raise pytest.UsageError(
            f"SORTED_TEST_BACKENDS names unknown backends {unknown}: "
            f"choose from {', '.join(ALL_BACKENDS)}"
        )


# Through the command server, the CLI tests run on SQLite and PostgreSQL directly: how a worker
# reaches the database is the same code as in-process, so PgBouncer and TLS, which change only
# the connection, run in-process alone (each server run is a real process, and CI has a time
# budget).
SERVED_BACKENDS = ("sqlite", "postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the tests of backends SORTED_TEST_BACKENDS leaves out, and the runs through the
    command server on backends other than `SERVED_BACKENDS`."""
    keep: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        backend = params.get("backend")
        served = params.get("via") == "server" or params.get("either_way") == "server"
        unwanted = backend is not None and (
            backend not in BACKENDS or (served and backend not in SERVED_BACKENDS)
        )
        (left_out if unwanted else keep).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = keep


# Code only PostgreSQL reaches carries `# pragma: postgres` on the line that opens its block
# (a `def`, an `if`). When no PostgreSQL test ran (SORTED_TEST_DATABASE_URL unset, its server
# unreachable, or SORTED_TEST_BACKENDS=sqlite), coverage leaves those blocks out, so the 90%
# gate holds for the code SQLite reaches; a run with PostgreSQL counts every line.
POSTGRES_ONLY = r"#\s*pragma: postgres\b"
# The PostgreSQL databases made for sorted's own tests (the fault proxy's tests reach the server
# but run none of sorted's code there): none, and no PostgreSQL test ran.
_POSTGRES_DATABASES: list[str] = []


def _coverage_plugin(config: pytest.Config) -> Any:
    return config.pluginmanager.getplugin("_cov")


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """Once the tests have run, and before pytest-cov (whose wrapper is outside this one)
    combines and reports what they covered."""
    try:
        return (yield)
    finally:
        controller = getattr(_coverage_plugin(session.config), "cov_controller", None)
        if controller is not None and not _POSTGRES_DATABASES:
            for name in ("cov", "combining_cov"):  # the one measuring, the one reporting
                coverage = getattr(controller, name, None)
                if coverage is not None:
                    coverage.exclude(POSTGRES_ONLY)


def _run_without_postgres_reached_marked_code(config: pytest.Config) -> list[str]:
    """file:line of the code marked as PostgreSQL's that this run (which reached no PostgreSQL)
    ran all the same: a wrong mark, which would hide code SQLite must cover."""
    controller = getattr(_coverage_plugin(config), "cov_controller", None)
    reporting = getattr(controller, "combining_cov", None) or getattr(controller, "cov", None)
    if reporting is None or _POSTGRES_DATABASES:
        return []
    data = reporting.get_data()
    measured = sorted(data.measured_files())
    left_out = {path: set(reporting.analysis2(path)[2]) for path in measured}
    others = [pattern for pattern in reporting.get_exclude_list() if pattern != POSTGRES_ONLY]
    reporting.clear_exclude()
    for pattern in others:  # what coverage leaves out anyway (`if TYPE_CHECKING:`, say)
        reporting.exclude(pattern)
    try:
        for path in measured:
            left_out[path] -= set(reporting.analysis2(path)[2])
    finally:
        reporting.exclude(POSTGRES_ONLY)
    wrong = []
    for path in measured:
        source = Path(path).read_text(encoding="utf-8").splitlines()
        wrong += [
            f"{Path(path).name}:{line}"
            for line in sorted(left_out[path].intersection(data.lines(path) or []))
            if not _opens_marked_block(source, line)  # a `def` or `if` runs to be skipped
        ]
    return wrong


def _opens_marked_block(source: list[str], line: int) -> bool:
    """Whether the statement at LINE (1-based) is a block opening that carries the mark, on any
    of its lines up to its colon."""
    for text in source[line - 1 :]:
        if re.search(POSTGRES_ONLY, text):
            return True
        if text.partition("#")[0].rstrip().endswith(":"):
            return False
    return False


def pytest_sessionfinish(session: pytest.Session) -> None:
    wrong = _run_without_postgres_reached_marked_code(session.config)
    if wrong:
        session.config.stash[_WRONG_MARKS] = wrong
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


_WRONG_MARKS = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if getattr(_coverage_plugin(config), "cov_controller", None) is None or _POSTGRES_DATABASES:
        return
    terminalreporter.write_line(
        "No PostgreSQL test ran: coverage left out the code only PostgreSQL reaches "
        "(marked `# pragma: postgres`); set SORTED_TEST_DATABASE_URL to count it."
    )
    wrong = config.stash.get(_WRONG_MARKS, [])
    if wrong:
        terminalreporter.write_line(
            f"FAIL: marked `# pragma: postgres` yet run without PostgreSQL: {', '.join(wrong)}",
            red=True,
        )


def _unavailable(reason: str, what: str = "PostgreSQL") -> NoReturn:
    if IN_CI:
        pytest.fail(f"{what} is required under CI=true: {reason}")
    pytest.skip(reason)


def _psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _require_test_database_url() -> str:
    url = os.environ.get("SORTED_TEST_DATABASE_URL", "")
    if not url:
        _unavailable("SORTED_TEST_DATABASE_URL is not set")
    return url


@dataclass(frozen=True)
class Throwaway:
    """A database made for this run."""

    url: str  # what tests get: through the pooler for "pgbouncer"
    direct: str  # the same database as the same user, with no pooler in between
    admin: str  # a libpq URL or conninfo reaching it directly as a superuser, for housekeeping


_THROWAWAYS: dict[str, Throwaway] = {}  # by url


def direct_url_of(url: str) -> str:
    """The URL of the same database without the pooler (a URL the fixtures did not make, or
    that needs no pooler, is returned as it is): what an admin puts in
    SORTED_MIGRATION_DATABASE_URL."""
    made = _THROWAWAYS.get(url)
    return url if made is None else made.direct


def admin_url(url: str) -> str:
    """A libpq URL or conninfo that reaches the database the fixtures made at URL directly, as
    a superuser (for housekeeping and for looking at the server's side)."""
    return _THROWAWAYS[url].admin


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a reachable PostgreSQL server to make throwaway databases on."""
    url = _require_test_database_url()
    try:
        psycopg.connect(_psycopg_url(url), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        _unavailable(f"cannot reach SORTED_TEST_DATABASE_URL: {exc}")
    return url


@pytest.fixture(scope="session")
def pg_direct_url(postgres_server: str) -> str:
    """The URL of the PostgreSQL server behind the "postgresql" and "pgbouncer" backends (the
    server itself, never the pooler)."""
    return postgres_server


@pytest.fixture(scope="session")
def postgres_factory(postgres_server: str) -> Iterator[Any]:
    """Makes empty PostgreSQL databases for this run; drops them all at the end."""
    made: list[str] = []
    admin = _psycopg_url(postgres_server)

    def make() -> str:
        name = f"sorted_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return make_url(postgres_server).set(database=name).render_as_string(hide_password=False)

    yield make
    # FORCE ends the sessions still on them, PgBouncer's server connections among them.
    with psycopg.connect(admin, autocommit=True) as connection:
        for name in made:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pgbouncer(postgres_server: str) -> Iterator[PgBouncer]:
    """A PgBouncer in transaction mode in front of the server of SORTED_TEST_DATABASE_URL."""
    server = make_url(postgres_server)
    workdir = Path(tempfile.mkdtemp(prefix="sorted-pgbouncer-"))  # reachable by `postgres`
    try:
        bouncer = start_pgbouncer(
            workdir,
            server.port or 5432,
            upstream_host=server.host or "/var/run/postgresql",
            user=server.username or "postgres",
            password=server.password or "",
        )
    except ServerError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _unavailable(f"cannot start PgBouncer: {exc}", "PgBouncer")
    try:
        probe = _through(bouncer, postgres_server)
        psycopg.connect(_psycopg_url(probe), connect_timeout=5, prepare_threshold=None).close()
    except psycopg.OperationalError as exc:
        bouncer.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        _unavailable(f"cannot reach the server through PgBouncer: {exc}", "PgBouncer")
    yield bouncer
    bouncer.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def _through(bouncer: PgBouncer, direct: str) -> str:
    """The URL of direct's database through the pooler."""
    url = make_url(direct)
    return url.set(
        host=bouncer.host, port=bouncer.port, username=url.username or "postgres"
    ).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def tls_cluster() -> Iterator[TlsCluster]:
    """A throwaway PostgreSQL cluster that takes TCP only over TLS, with SCRAM-SHA-256."""
    _require_test_database_url()
    workdir = Path(tempfile.mkdtemp(prefix="sorted-tls-"))  # reachable by `postgres`
    try:
        cluster = start_tls_cluster(workdir)
    except (ServerError, psycopg.Error, OSError) as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        _unavailable(f"cannot start a PostgreSQL cluster with TLS: {exc}", "PostgreSQL with TLS")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def tls_factory(tls_cluster: TlsCluster) -> Iterator[Callable[[], Throwaway]]:
    """Makes empty databases owned by the cluster's `sorted` role; drops them at the end."""
    made: list[str] = []

    def make() -> Throwaway:
        name = f"sorted_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(tls_cluster.superuser_conninfo(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(name), sql.Identifier(tls_cluster.user)
                )
            )
        made.append(name)
        url = tls_cluster.url(name)
        return Throwaway(url=url, direct=url, admin=tls_cluster.superuser_conninfo(name))

    yield make
    with psycopg.connect(tls_cluster.superuser_conninfo(), autocommit=True) as connection:
        for name in made:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _new_database(backend: str, request: pytest.FixtureRequest) -> Throwaway:
    """An empty database of a PostgreSQL backend, made for this run."""
    made: Throwaway
    if backend == "tls":
        made = request.getfixturevalue("tls_factory")()
    elif backend == "pgbouncer":
        bouncer: PgBouncer = request.getfixturevalue("pgbouncer")
        direct: str = request.getfixturevalue("postgres_factory")()
        made = Throwaway(url=_through(bouncer, direct), direct=direct, admin=_psycopg_url(direct))
    else:
        assert backend == "postgresql", backend
        direct = request.getfixturevalue("postgres_factory")()
        made = Throwaway(url=direct, direct=direct, admin=_psycopg_url(direct))
    _THROWAWAYS[made.url] = made
    _POSTGRES_DATABASES.append(made.url)
    return made


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "sorted.db"
    _migrate(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _migrated_databases() -> dict[str, Throwaway]:
    """One migrated database per PostgreSQL backend, made when a test first needs it."""
    return {}


def _migrated(backend: str, request: pytest.FixtureRequest) -> Throwaway:
    databases: dict[str, Throwaway] = request.getfixturevalue("_migrated_databases")
    if backend not in databases:
        made = _new_database(backend, request)
        _migrate(made.direct)  # as an admin does: not through the pooler
        databases[backend] = made
    return databases[backend]


@pytest.fixture(scope="session")
def migrated_postgres(request: pytest.FixtureRequest) -> str:
    return _migrated("postgresql", request).url


def _migrate(url: str) -> None:
    engine = make_engine(Settings(database_url=url))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("SORTED_HOME", str(home))
    for name in ("DATABASE_URL", "SORTED_DATABASE_URL", "SORTED_USER", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    # No test opens the user's own editor (`sorted edit REF`): those that edit set their own.
    for name in ("VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)
    # A login shell's USER must never select the sorted user; pin it so tests show that.
    monkeypatch.setenv("USER", "tester")
    monkeypatch.setenv("LOGNAME", "tester")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no stray .env file is read
    # No test reaches a command server it did not start: `sorted` runs every command in its own
    # process unless a test asks otherwise, and any server lands in this test's own folder
    # (short: a socket's path holds about 100 bytes), which must have none left at the end.
    runtime = Path(tempfile.mkdtemp(prefix="srt-"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("SORTED_SERVER", "off")
    yield home
    left = stop_servers_in(runtime)
    shutil.rmtree(runtime, ignore_errors=True)
    assert not left, f"the test left a command server running (pid {left})"
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)  # `--debug` turns it on


@pytest.fixture(params=ALL_BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database under test: "sqlite" (a file), "postgresql" (SORTED_TEST_DATABASE_URL's
    server), "pgbouncer" (that server through PgBouncer in transaction mode) or "tls" (a
    cluster of the session's own that takes only TLS and SCRAM, with channel binding)."""
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A migrated, empty database of the backend under test, also set as DATABASE_URL."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("migrated_sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        made = _migrated(backend, request)
        with psycopg.connect(made.admin) as connection:
            connection.execute(f"TRUNCATE {', '.join(_TABLES)}")
        url = made.url
    monkeypatch.setenv("DATABASE_URL", url)
    return url


@pytest.fixture
def direct_database_url(database_url: str) -> str:
    """database_url's database without the pooler (database_url itself but for "pgbouncer")."""
    return direct_url_of(database_url)


@pytest.fixture
def blank_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it, not even sorted's schema."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    return _new_database(backend, request).url


@pytest.fixture
def blank_engine(blank_database_url: str) -> Iterator[Engine]:
    """An engine on the blank database, made as sorted makes its own, to look at it directly."""
    engine = make_engine(Settings(database_url=blank_database_url))
    yield engine
    engine.dispose()


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    session = Database(load_settings()).session
    # A test's calls of services are commands of their own, as a script's are (db.command_id),
    # not all one command: each is undone on its own.
    session.info.pop(COMMAND_ID)
    yield session
    Database.of(session).close()


@pytest.fixture
def ada(session: Session, monkeypatch: pytest.MonkeyPatch) -> User:
    """A user who is the current user of CLI invocations (through SORTED_USER)."""
    user, _ = users.create_user(session=session, data=validated(UserCreate, email=ADA, name="Ada"))
    monkeypatch.setenv("SORTED_USER", ADA)
    return user


@pytest.fixture
def grace(session: Session) -> User:
    """Another user, whose tasks Ada must never see."""
    user, _ = users.create_user(
        session=session, data=validated(UserCreate, email="grace@example.com")
    )
    return user


Run = Callable[..., Result]
# Every table of sorted's schema (what a reused database is emptied of between tests).
_TABLES = [table.name for table in SQLModel.metadata.sorted_tables]
SORTED = Path(sys.executable).parent / "sorted"
# The ways a test's `run` reaches sorted: "in-process" (CliRunner) and "server" (the real
# `sorted` program through a command server). SORTED_TEST_VIAS=in-process narrows them.
ALL_VIAS = ("in-process", "server")
_VIAS_CHOSEN = [name.strip() for name in os.environ.get("SORTED_TEST_VIAS", "").split(",")]
VIAS = tuple(name for name in ALL_VIAS if name in _VIAS_CHOSEN) or ALL_VIAS


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that runs commands with `run` runs them once in-process and once through the
    command server, with the same expectations; `@pytest.mark.in_process` keeps a test to the
    first (it looks inside the process, or sets up what a server cannot see)."""
    if "run" not in metafunc.fixturenames:
        return
    in_process = metafunc.definition.get_closest_marker("in_process") is not None
    metafunc.parametrize("via", ["in-process"] if in_process else list(VIAS), scope="function")


@pytest.fixture(scope="session")
def command_server() -> Iterator[Path]:
    """A command server for this run's `run` through the server: the folder it listens in.
    It is started here and stopped at the end, and must leave no process behind."""
    runtime = Path(tempfile.mkdtemp(prefix="srt-"))
    env = dict(_unmeasured(), XDG_RUNTIME_DIR=str(runtime), SORTED_SERVER="on")
    started = subprocess.run(
        [str(SORTED), "server", "start"], env=env, capture_output=True, text=True, timeout=60
    )
    assert started.returncode == 0, started.stderr
    yield runtime
    stopped = subprocess.run(
        [str(SORTED), "server", "stop"], env=env, capture_output=True, text=True, timeout=60
    )
    left = stop_servers_in(runtime)
    shutil.rmtree(runtime, ignore_errors=True)
    assert stopped.returncode == 0, stopped.stderr
    assert not left, f"`sorted server stop` left the server running (pid {left})"


def _unmeasured() -> dict[str, str]:
    """This environment, without coverage for the processes started with it: the commands the
    CLI tests run through the server are measured in-process (their other half), and
    tests/test_server.py measures the server itself."""
    return {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE")}


def stop_servers_in(runtime: Path) -> int | None:
    """Kill a command server still holding its lock in RUNTIME (its workers with it); the pid
    it had, or None when none was left."""
    for lock in (runtime / "sorted").glob("server-*.lock"):
        pid = _holder(lock)
        if pid == 0:
            continue
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        return pid or -1
    return None


def _holder(lock: Path) -> int | None:
    """The pid of the server holding LOCK, 0 when none holds it. A server that is starting or
    stopping holds it empty: after a few seconds its pid is found where the kernel lists locks
    (None where it cannot be found)."""
    deadline = time.monotonic() + 5
    while True:
        with lock.open("r+") as held:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return 0
            except BlockingIOError:
                pid = int(held.read().strip() or 0)
        if pid:
            return pid
        if time.monotonic() > deadline:
            return _flock_holder(lock)
        time.sleep(0.05)  # a server stopping empties the lock, then lets it go


def _flock_holder(lock: Path) -> int | None:
    """The pid holding an flock on LOCK, from /proc/locks (Linux), or None."""
    found = lock.stat()
    where = f"{os.major(found.st_dev):02x}:{os.minor(found.st_dev):02x}:{found.st_ino}"
    with contextlib.suppress(OSError):
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()  # "1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF"
            if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == where:
                return int(fields[4])
    return None


@pytest.fixture(params=["own process", "server"])
def either_way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The real `sorted` processes of a test run each command in their own process, and then
    (SORTED_SERVER=require) through this run's command server, with the same expectations."""
    if request.param == "server":
        use_command_server(request.getfixturevalue("command_server"), monkeypatch)
    return str(request.param)


def use_command_server(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the test's `sorted` commands to the server listening in RUNTIME, and never run
    them in their own process instead."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("SORTED_SERVER", "require")
    monkeypatch.setenv("SORTED_SERVER_WAIT", "10")
    # The server is the run's: no connection of one test's is left open for the next (the
    # engines stay, as they do for the databases of a user's commands).
    monkeypatch.setenv("SORTED_CONNECTION_IDLE_TIMEOUT", "0")


@pytest.fixture
def run(via: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs sorted as a user would type it, `run("add", "Buy milk")`: in-process, or as the
    real `sorted` program through a command server (`via`)."""
    if via == "in-process":

        def invoke(*args: str, input: str | None = None) -> Result:
            return CliRunner().invoke(app, list(args), input=input)

        return invoke
    use_command_server(request.getfixturevalue("command_server"), monkeypatch)

    def through_server(*args: str, input: str | None = None) -> Result:
        done = subprocess.run(
            [str(SORTED), *args],
            input=(input or "").encode(),
            env=_unmeasured(),
            capture_output=True,
            timeout=120,
            check=False,
        )
        return Result(
            runner=CliRunner(),
            stdout_bytes=done.stdout,
            stderr_bytes=done.stderr,
            output_bytes=done.stdout + done.stderr,
            return_value=None,
            exit_code=done.returncode,
            exception=SystemExit(done.returncode) if done.returncode else None,
        )

    return through_server


def add_plain_tasks(session: Session, user: User, first: int, last: int) -> None:
    """Tasks numbered FIRST..LAST titled `t<N>`, written in one statement: for tests that need
    many tasks and not the path `sorted add` takes."""
    rows = [
        {"id": uuid.uuid4(), "user_id": user.id, "number": n, "title": f"t{n}", "priority": "none"}
        for n in range(first, last + 1)
    ]
    session.execute(Task.__table__.insert(), rows)  # type: ignore[attr-defined]
    session.commit()


def read_until_closed(leader: int) -> bytes:
    """Everything written to a pseudo-terminal, read from its leader once the writer is done
    (Linux reports the closed terminal as an error instead of end-of-file)."""
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
