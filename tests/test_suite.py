"""Rules the test suite keeps about itself.

A Click `Result` or a `subprocess.CompletedProcess` is always true, so `assert run("add", ...)`
passes whatever the command did. Every assertion on a command's outcome must compare something
it carries (its exit code, its output).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# Calls that hand back a command's outcome: the `run` fixture, Click's runner, subprocess.
OUTCOME_CALLS = {"run", "invoke", "subprocess.run", "Popen"}
# Return annotations that mark a helper of this suite as one that hands back an outcome.
OUTCOME_TYPES = {
    "Result",
    "Completed",
    "CompletedProcess",
    "subprocess.CompletedProcess",
    "Popen",
    "subprocess.Popen",
}


def _name(node: ast.expr) -> str:
    return ast.unparse(node).split("[", 1)[0]


def _outcome_helpers(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.returns is not None
        and _name(node.returns).strip("'\"") in OUTCOME_TYPES
    }


def always_true_assertions(source: str) -> list[int]:
    """Lines of `assert CALL(...)` (or `assert not CALL(...)`) where CALL hands back an
    outcome object, which is always true (or always false), and of `assert NAME` where NAME was
    given such an outcome (`result = run(...)`)."""
    tree = ast.parse(source)
    calls = {name.split(".")[-1] for name in OUTCOME_CALLS | _outcome_helpers(tree)}

    def is_outcome(node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and _name(node.func).split(".")[-1] in calls

    outcomes = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and is_outcome(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            test = test.operand
        if is_outcome(test) or (isinstance(test, ast.Name) and test.id in outcomes):
            found.append(node.lineno)
    return found


def test_the_rule_finds_assertions_on_outcome_objects() -> None:
    source = (
        "def helper() -> Completed: ...\n"
        "assert run('add', 'x')\n"
        "assert run('add').exit_code == 0\n"
        "assert not CliRunner().invoke(app, [])\n"
        "assert helper()\n"
        "assert stored(server, 1)\n"
        "result = run('list')\n"
        "assert result\n"
        "assert result.exit_code == 0\n"
    )
    assert always_true_assertions(source) == [2, 4, 5, 8]


def test_no_test_asserts_an_outcome_object_itself() -> None:
    found = [
        f"{path.name}:{line}"
        for path in sorted(TESTS.glob("*.py"))
        for line in always_true_assertions(path.read_text(encoding="utf-8"))
    ]
    assert found == []
