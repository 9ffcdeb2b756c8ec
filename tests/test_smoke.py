from __future__ import annotations

from conftest import Run

from sorted_cli.models import User


def test_add_then_list(ada: User, run: Run) -> None:
    result = run("add", "Buy milk")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "Added task 1: Buy milk\n", "")
    listing = run("list")
    assert listing.exit_code == 0
    assert "Buy milk" in listing.stdout
