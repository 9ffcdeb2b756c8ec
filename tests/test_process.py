"""How the `sorted` process starts and ends (sorted_cli/process.py), in this process: its exit
is made to raise instead of ending the test run."""

from __future__ import annotations

import gc
import io
import sys

import pytest

from sorted_cli import process


class Exited(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


@pytest.fixture
def exits(monkeypatch: pytest.MonkeyPatch) -> None:
    def exit_now(code: int) -> None:
        raise Exited(code)

    monkeypatch.setattr("sorted_cli.process.os._exit", exit_now)


@pytest.mark.usefixtures("exits")
@pytest.mark.parametrize(
    ("argv", "code", "output"),
    [(["--version"], 0, "sorted 0.1.0\n"), (["no-such-command"], 2, ""), (["lst"], 2, "")],
)
def test_the_program_ends_with_the_commands_exit_status(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    output: str,
) -> None:
    monkeypatch.setattr(sys, "argv", ["sorted", *argv])
    try:
        with pytest.raises(Exited) as ended:
            process.run()
        assert not gc.isenabled()  # collection stays off for the whole command
    finally:
        gc.enable()
    assert ended.value.code == code
    assert capsys.readouterr().out == output


def test_an_exit_message_is_printed_and_is_a_failure(capsys: pytest.CaptureFixture[str]) -> None:
    assert process.exit_code(SystemExit("something broke")) == 1
    assert capsys.readouterr().err == "something broke\n"
    assert process.exit_code(SystemExit(None)) == 0
    assert process.exit_code(SystemExit(3)) == 3


class Closed(io.StringIO):
    def __init__(self, error: type[Exception]) -> None:
        super().__init__()
        self.error = error

    def flush(self) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "code", "expected"),
    [(BrokenPipeError, 0, 141), (OSError, 0, 1), (OSError, 2, 2), (ValueError, 0, 1)],
)
def test_output_that_cannot_be_flushed_sets_the_exit_status(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception], code: int, expected: int
) -> None:
    monkeypatch.setattr(sys, "stdout", Closed(error))
    assert process._flushed(code) == expected
