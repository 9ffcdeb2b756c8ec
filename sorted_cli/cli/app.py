"""The `sorted` command: global options, the command groups, and the one error boundary."""

from __future__ import annotations

import copy
import inspect
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn

import typer
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandInfo

from sorted_cli import __version__
from sorted_cli.cli import db, history, server, settings, tasks, transfer, users
from sorted_cli.cli import next as next_tasks
from sorted_cli.cli.options import examples
from sorted_cli.cli.state import State
from sorted_cli.cli.typos import no_such_command
from sorted_cli.errors import (
    Cancelled,
    InvalidInput,
    SortedError,
    refused_by_system,
    stop_exit_code,
)
from sorted_cli.process import command_word, root_words

# What `sorted` alone runs, as `task` alone shows its default report.
DEFAULT_COMMAND = "list"
# The root's options that work after the command's name too (`sorted list --user ada@x`), by
# their parameters' names. None has a short form that a command's own option could clash with
# but `-u`, which no command has; `--debug` has none (`-d` is `--description` of add and edit).
GLOBAL_OPTIONS = ("database_url", "user", "debug")
HELP_OPTIONS = ("-h", "--help")
_ROOT_ANSWERS = (*HELP_OPTIONS, "--version")  # answered before any command would run


class UnknownCommand(UsageError):
    """A command word that names no command: one line, without the usage and the pointer to
    `--help` that Click adds to other usage errors (the line names the command meant)."""

    def show(self, file: Any = None) -> None:
        typer.echo(f"Error: {self.format_message()}", err=True)


def _resolve(group: TyperGroup, ctx: typer.Context, args: list[str]) -> None:
    """Stop on ARGS' first word when it names none of GROUP's commands (`UnknownCommand`).
    Words that look like options, and completion (which offers nothing instead), are left to
    Click."""
    word = args[0] if args else ""
    if ctx.resilient_parsing or word.startswith("-") or group.get_command(ctx, word) is not None:
        return
    names = [n for n in group.list_commands(ctx) if not group.commands[n].hidden]
    within = "" if ctx.parent is None else ctx.command_path.partition(" ")[2]
    raise UnknownCommand(no_such_command(word, names, group=within), ctx)


class _GlobalOptionsAfter(typer._click.Command):
    """A command, or a group of them, that takes the root's `GLOBAL_OPTIONS` after its name
    too: the very options of the root, so they parse, complete and show in `--help` as there
    (after the command's own, before `--help`)."""

    def get_params(self, ctx: typer._click.Context) -> list[typer._click.Parameter]:
        params = super().get_params(ctx)
        shared = [p for p in ctx.find_root().command.params if p.name in GLOBAL_OPTIONS]
        own = len(self.params)
        return [*params[:own], *shared, *params[own:]]

    def invoke(self, ctx: typer._click.Context) -> Any:
        # Taken off the parameters (the command's function knows nothing of them) and put on
        # the command's state, before anything of the command runs.
        given = {name: ctx.params.pop(name, None) for name in GLOBAL_OPTIONS}
        _take_global_options(State.of(ctx), **given)
        return super().invoke(ctx)


class Command(_GlobalOptionsAfter, TyperCommand):
    """Every command of sorted's: global options after its name too."""


_WITH_GLOBAL_OPTIONS: dict[type[TyperCommand], type[TyperCommand]] = {TyperCommand: Command}


def _with_global_options(cls: type[TyperCommand]) -> type[TyperCommand]:
    """CLS taking the global options after the command too: `Command`, or for a command of
    a class of its own (`options.WordsCommand`) that class with them."""
    if cls not in _WITH_GLOBAL_OPTIONS:
        _WITH_GLOBAL_OPTIONS[cls] = type(cls.__name__, (_GlobalOptionsAfter, cls), {})
    return _WITH_GLOBAL_OPTIONS[cls]


class CommandGroup(_GlobalOptionsAfter, TyperGroup):
    """A group of commands (`user`, `db`, `server`): global options after its name too, and a
    mistyped command named with the closest real one."""

    def resolve_command(  # type: ignore[override]
        self, ctx: typer.Context, args: list[str]
    ) -> tuple[str | None, typer._click.Command | None, list[str]]:
        _resolve(self, ctx, args)
        return super().resolve_command(ctx, args)


class SortedGroup(TyperGroup):
    """The `sorted` command. Alone it runs `DEFAULT_COMMAND`; a mistyped command is named with
    the closest real one (`typos`).

    It turns every expected failure into one line on stderr and its exit code.
    A `SortedError` is expected; so is a database driver error, which the command's database
    words (`Database.describe_error`, password masked). Anything else is a bug and keeps its
    traceback. `--debug` shows the traceback of expected failures too.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]
        rest = super().parse_args(ctx, args)
        if not ctx._protected_args and not ctx.resilient_parsing:  # no command: the default
            ctx._protected_args = [DEFAULT_COMMAND]
        return rest

    def resolve_command(  # type: ignore[override]
        self, ctx: typer.Context, args: list[str]
    ) -> tuple[str | None, typer._click.Command | None, list[str]]:
        _resolve(self, ctx, args)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as stop:  # Ctrl-C, or a signal to stop (`errors.Stopped`)
            raise typer.Exit(stop_exit_code(stop)) from None
        except Cancelled as exc:  # the user's own choice, not an error
            from sorted_cli import render

            render.error(exc.message)
            raise typer.Exit(exc.exit_code) from None
        except SortedError as exc:
            _fail(ctx, exc)
        except UnicodeEncodeError as exc:
            if "surrogates" in exc.reason:  # bytes that are not UTF-8 on the command line
                _fail(ctx, InvalidInput("An argument is not valid UTF-8 text."))
            _fail(  # output to a stream whose encoding (PYTHONIOENCODING, the locale) lacks it
                ctx,
                SortedError(
                    f"The output's encoding, {exc.encoding}, cannot hold "
                    f"U+{ord(exc.object[exc.start]):04X}: use a UTF-8 locale or "
                    "PYTHONIOENCODING=utf-8."
                ),
            )
        except OSError as exc:
            # The system said no: output that cannot be written (a full disk, a closed stdout),
            # a file that cannot be read. Not a bug, and any change to the database is already
            # committed by then.
            _fail(ctx, _refused(exc))
        except Exception as exc:
            if type(exc).__module__.startswith("sqlalchemy"):
                described = State.of(ctx).db.describe_error(exc)
                if described is not None:
                    _fail(ctx, described)
            raise


def _refused(exc: OSError) -> SortedError:
    """The error for what the system refused. A reader that went away (`sorted export |
    head`) made its choice: nothing is printed, and sorted exits as a program stopped by
    SIGPIPE does, so pipefail still sees it."""
    _silence_stdout()
    if isinstance(exc, BrokenPipeError):
        raise typer.Exit(128 + 13) from None
    return refused_by_system(exc)


def _silence_stdout() -> None:
    """Send what is left of stdout to /dev/null, so exiting does not fail on it again."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no /dev/null: nothing to silence with
        return
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (a test runner's): nothing to silence
        pass
    finally:
        os.close(devnull)  # a worker of the command server runs many commands


def _fail(ctx: typer.Context, error: SortedError) -> NoReturn:
    from sorted_cli import render

    if State.of(ctx).debug:
        import traceback

        traceback.print_exc()
    render.error(f"Error: {error.message}")
    raise typer.Exit(error.exit_code)


app = typer.Typer(
    cls=SortedGroup,
    name="sorted",
    help="A fast todo list for your terminal, on your laptop or your team's PostgreSQL.",
    epilog=(
        'Start with: sorted add "Buy milk", then sorted alone (your list, as sorted list shows '
        "it) and sorted done 1. --database-url, --user and --debug work after the command too: "
        "sorted list --user ada@example.com.\n\n"
        + examples(
            "sorted add Buy bread +errand due:friday pri:h    (no quotes needed)",
            "sorted next    (the few most urgent tasks)",
            "sorted done 1-3,7",
            "sorted done --tag errand --overdue    (the list filters pick the tasks)",
            "sorted edit 3 +car due:eow",
            "sorted edit 3    (in $VISUAL or $EDITOR)",
            "sorted tag --search invoice urgent",
        )
    ),
    subcommand_metavar="[COMMAND [ARGS]...]",  # none: `DEFAULT_COMMAND`
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain help and usage errors: loading Rich costs `--help` 45 ms
    context_settings={"help_option_names": list(HELP_OPTIONS)},
)
app.add_typer(tasks.app)
app.add_typer(next_tasks.app)
app.add_typer(history.app)
app.add_typer(transfer.app)
app.add_typer(settings.app)
app.add_typer(users.app, cls=CommandGroup)
app.add_typer(db.app, cls=CommandGroup)
app.add_typer(server.app, cls=CommandGroup)


def _unwrapped(text: str) -> str:
    """A docstring as `--help` should show it: each paragraph one line, for Rich to wrap to the
    terminal (Typer keeps the source's line breaks, which wrap again mid-sentence)."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)


def _unwrap_help(typer_app: typer.Typer) -> None:
    """Unwrap every command's help, and make each a `Command` (global options after it)."""
    for command in typer_app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = _unwrapped(command.callback.__doc__)
        command.cls = _with_global_options(command.cls or TyperCommand)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _unwrap_help(group.typer_instance)


_unwrap_help(app)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"sorted {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            metavar="URL",
            show_default=False,
            help=(
                "PostgreSQL or SQLite URL (default: $DATABASE_URL, else the embedded database). "
                "Other users of the machine can see a command's arguments: put a password in "
                "$SORTED_DATABASE_URL or the config file instead."
            ),
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            "-u",
            metavar="EMAIL",
            show_default=False,
            help="Act as this user (default: $SORTED_USER, else the one chosen by `user switch`).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and SQL.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """A fast todo list for your terminal, on your laptop or your team's PostgreSQL."""
    ctx.obj = State(root=ctx)
    _take_global_options(ctx.obj, database_url=database_url, user=user, debug=debug)


def _take_global_options(
    state: State, *, database_url: str | None, user: str | None, debug: bool | None
) -> None:
    """Put the global options given on the command's STATE: those before the command's name,
    then those after it (`Command`), which win, as an option given twice does (`sorted -u a
    list -u b` acts as b). Before any of the command's work: nothing has read the settings yet.

    After a command they mean what they mean before it, whatever the command: `sorted user show
    --user ada@x` shows ada, acting as her (a `user` command's EMAIL argument names the user it
    works on; `--user` always names who acts)."""
    assert "settings" not in vars(state), "global options come before the settings are read"
    if database_url is not None:
        _hide_password(database_url)
        state.database_url = database_url
    if user is not None:
        state.user_email = user
    if debug and not state.debug:
        state.debug = True
        assert state.root is not None
        state.root.with_resource(_sql_logged())


@contextmanager
def _sql_logged() -> Iterator[None]:
    """Log SQL (and what else is logged) on this command's stderr, until it ends: the next
    command in the same process logs nothing. As `logging.basicConfig` does, a logging set-up
    already there (a test runner's) is left to handle the messages."""
    import logging

    root_logger, sql = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    added = not root_logger.handlers
    if added:
        root_logger.addHandler(handler)
    level = sql.level
    sql.setLevel(logging.INFO)
    try:
        yield
    finally:
        sql.setLevel(level)
        if added:
            root_logger.removeHandler(handler)


def _hide_password(url: str) -> None:
    """Star the password of a --database-url in the process list (`process.hide_argument`)."""
    from sorted_cli.urls import starred_password

    if (starred := starred_password(url)) is not None:
        from sorted_cli.process import hide_argument

        hide_argument(url, starred)


# The whole command line, built once by a process that runs many commands (the server's).
_PREPARED: list[typer._click.Command] = []


def prepare() -> None:
    """Build the whole command line now, for a process that will run many commands."""
    _PREPARED.append(typer.main.get_command(app))


def run_command(argv: list[str]) -> int:
    """Run the command ARGV (the words after `sorted`) as a process of its own would, and return
    its exit status: for the `sorted` program and for a process that runs many commands, each
    starting as if it were the first (`process.one_command`). A bug's traceback is printed as
    Python prints it for a process that dies of it, with its status, 1."""
    from sorted_cli.process import exit_code, one_command

    with one_command():
        try:
            main(argv)
        except SystemExit as stop:
            return exit_code(stop)
        except KeyboardInterrupt as stop:  # one that came before the boundary
            return stop_exit_code(stop)
        except Exception:
            sys.excepthook(*sys.exc_info())
            return 1
    return 0  # pragma: no cover - Click ends every command with SystemExit


def main(argv: list[str] | None = None) -> None:
    """Run the command ARGV (default: this process's arguments); ends with SystemExit."""
    args = sys.argv[1:] if argv is None else argv
    try:
        if _PREPARED:
            _PREPARED[0].main(args=args, prog_name="sorted")
        else:
            _app_for(args)(args=args, prog_name="sorted")
    except OSError as exc:  # help or the version, written before any command's boundary
        from sorted_cli import render

        render.error(f"Error: {_refused(exc).message}")
        raise SystemExit(1) from None


def _app_for(args: list[str]) -> typer.Typer:
    """The app with only the command ARGS run: Typer builds every command's parameters before
    it runs one (without this `sorted --help` took 1.17-1.21 times as long, 15-25 ms more;
    everyday commands 0-6 % more: measured side by side, 2026-12-01; a command server builds
    the whole app once, `prepare`). `sorted` alone, or with root options only, runs
    `DEFAULT_COMMAND`. Asking for help or the version without a command (`sorted --help`), the
    commands are listed but none is run, so none needs its parameters; so too for a word that
    names no command (the error names the closest one: `SortedGroup`). The whole app for shell
    completion."""
    if "_SORTED_COMPLETE" in os.environ:
        return app
    name = command_word(args)
    if name is None and not any(word in _ROOT_ANSWERS for word in root_words(args)):
        name = DEFAULT_COMMAND  # `sorted` alone, or with root options only
    if name is None:
        return _listing(app)
    trimmed = copy.copy(app)
    trimmed.registered_groups = []
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        if sub.info.name == name:  # a group of commands: `user`, `db`
            trimmed.registered_groups = [group]
            return trimmed
        commands = [c for c in sub.registered_commands if _name_of(c) == name]
        if commands and not isinstance(sub.info.name, str):  # merged into the root
            only = copy.copy(sub)
            only.registered_commands = commands
            trimmed.registered_groups = [copy.copy(group)]
            trimmed.registered_groups[0].typer_instance = only
            return trimmed
    return _listing(app)


def _listing(typer_app: typer.Typer) -> typer.Typer:
    """TYPER_APP with each command's help but none of its parameters."""
    listing = copy.copy(typer_app)
    listing.registered_commands = [_unparameterised(c) for c in typer_app.registered_commands]
    listing.registered_groups = []
    for group in typer_app.registered_groups:
        assert group.typer_instance is not None
        listed = copy.copy(group)
        listed.typer_instance = _listing(group.typer_instance)
        listing.registered_groups.append(listed)
    return listing


def _unparameterised(command: CommandInfo) -> CommandInfo:
    stub = copy.copy(command)
    stub.name = _name_of(command)
    stub.callback = _never_run
    return stub


def _never_run() -> None:  # pragma: no cover - a listed command is never invoked
    raise AssertionError("a command listed for help was run")


def _name_of(command: CommandInfo) -> str | None:
    if command.name:
        return command.name
    return (
        None if command.callback is None else typer.main.get_command_name(command.callback.__name__)
    )
