"""Every command explains itself: a help text, examples, and paragraphs that wrap cleanly."""

from __future__ import annotations

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from sorted_cli.cli.app import _app_for, app


def commands(group: TyperGroup, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        if isinstance(command, TyperGroup):
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def _root() -> TyperGroup:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    return root


ROOT = _root()
EVERY_COMMAND = commands(ROOT)


def test_the_commands_are_all_there() -> None:
    names = {" ".join(path) for path in EVERY_COMMAND}
    for expected in (
        "add",
        "list",
        "next",
        "note",
        "tag",
        "untag",
        "stats",
        "export",
        "import",
        "db upgrade",
    ):
        assert expected in names


def test_the_root_help_gives_examples_of_how_people_type() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    examples = result.stdout.split("Examples:")[1].splitlines()
    for typed in (
        "sorted add Buy bread +errand due:friday pri:h",
        "sorted next",
        "sorted done 1-3,7",
        "sorted done --tag errand --overdue",
        "sorted edit 3 +car due:eow",
        "sorted edit 3",
    ):
        assert any(line.strip().startswith(typed) for line in examples), typed


@pytest.mark.parametrize(
    ("path", "forms"),
    [
        (("done",), ["sorted done 1-3,7", "sorted done --tag errand --overdue"]),
        (("tag",), ["sorted tag 1-4,9 urgent", "sorted tag --overdue --search invoice urgent"]),
        (("edit",), ["sorted edit 1-3,7 due:friday", "sorted edit --tag work --priority high"]),
        (("note",), ["sorted note 4-6", "sorted note --tag plumbing"]),
        (("delete",), ["sorted delete --search"]),
        (("next",), ["sorted next -n 10"]),
    ],
)
def test_the_commands_that_change_tasks_show_ranges_and_filters(
    path: tuple[str, ...], forms: list[str]
) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    shown = result.stdout.split("Examples:")[1]
    for form in forms:
        assert form in shown, form


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=" ".join)
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert f"sorted {' '.join(path)}" in result.stdout.split("Examples:")[1]


@pytest.mark.parametrize("path", EVERY_COMMAND, ids=" ".join)
def test_help_paragraphs_are_single_lines_for_the_terminal_to_wrap(path: tuple[str, ...]) -> None:
    command = ROOT.commands[path[0]]
    for name in path[1:]:
        assert isinstance(command, TyperGroup)
        command = command.commands[name]
    assert command.help
    for paragraph in command.help.split("\n\n"):
        assert "\n" not in paragraph, paragraph


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h"],
        ["--version"],
        ["--debug"],
        ["-u", "ada@example.com"],
        ["-u", "ada@example.com", "--help"],
        ["--user", "--help"],
        ["add", "-h"],
        ["list", "-u", "ada@example.com"],
        ["user", "list", "--user", "ada@example.com"],
        ["lst"],
        ["xyzzy"],
        ["user", "lsit"],
    ],
    ids=repr,
)
def test_the_app_built_for_one_invocation_answers_as_the_whole_app(args: list[str]) -> None:
    """`main` builds only what ARGS need (see `_app_for`); what a user sees is the same. (Each
    runs on a database made with a user first, so that both answer alike.)"""
    for setup in (["user", "add", "ada@example.com"], ["user", "switch", "ada@example.com"]):
        assert CliRunner().invoke(app, setup).exit_code == 0
    whole = CliRunner().invoke(app, args, env={"COLUMNS": "100"})
    built = CliRunner().invoke(_app_for(args), args, env={"COLUMNS": "100"})
    assert (built.exit_code, built.stdout, built.stderr) == (
        whole.exit_code,
        whole.stdout,
        whole.stderr,
    )
