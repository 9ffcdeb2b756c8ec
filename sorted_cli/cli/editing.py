"""`sorted edit REF` with nothing else: the task as a text form in the user's editor.

The editor is `$VISUAL`, else `$EDITOR`, else `vi`, split as a shell splits words (so
`EDITOR="code --wait"` works), run on the terminal sorted runs on (this is why such an edit
never goes to the command server: `process.opens_an_editor`). The form
(`sorted_cli.editform`) is a file `sorted-task-N.txt` in a folder of its own that only the
user can read, removed afterwards.

- The editor exits 0 having saved a change: the change is applied, and the same
  `Updated task N: ...` line as the options' edit prints says so.
- The form saved as it was (or saved with no change that counts): `Nothing changed.`, exit 0.
- The editor fails (exits non-zero, cannot be started): nothing changes, one line says why,
  exit 1.
- The form is invalid (an unknown key, a deleted line, a bad date): the editor opens again
  on what the user wrote, with the error in comment lines at the top.
- The task changed in the database while the editor was open: nothing is saved, and the
  user is told to run `sorted edit N` again (`services.tasks.rewrite_task`).

Ctrl-C is left to the editor while it runs (as git does): an editor reads it as a key.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from sorted_cli.errors import Cancelled, InvalidInput, SortedError

if TYPE_CHECKING:
    from pathlib import Path

    import typer

    from sorted_cli.cli.state import State
    from sorted_cli.editform import Edited
    from sorted_cli.models import Task
    from sorted_cli.services.tasks import TaskInFull

FALLBACK_EDITOR = "vi"


def only_ref(ctx: typer.Context) -> str | None:
    """The REF, when edit got one word and nothing else (no option, no filter): an edit in
    the editor; else None."""
    words = ctx.params.get("words") or []
    others = (value for name, value in ctx.params.items() if name != "words")
    return words[0] if len(words) == 1 and all(_unset(value) for value in others) else None


def _unset(value: object) -> bool:
    """An option not given (None, a flag off) or no words."""
    return value is None or value is False or (isinstance(value, list | tuple) and not value)


def editor_command() -> list[str]:
    """The user's editor as a command's words: $VISUAL, else $EDITOR, else vi (at a terminal
    only: off one, with no editor set, nothing could answer vi)."""
    import shlex
    import sys

    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not chosen and not sys.stdin.isatty():
        raise InvalidInput(
            "No editor to open: VISUAL and EDITOR are not set, and vi needs a terminal. Say "
            "what to change instead: sorted edit 3 --title TEXT, or due:friday."
        )
    chosen = chosen or FALLBACK_EDITOR
    try:
        words = shlex.split(chosen)
    except ValueError as exc:
        raise SortedError(f"Cannot read the editor command {chosen!r}: {exc}.") from None
    if not words:
        raise SortedError("The editor command (VISUAL or EDITOR) is blank.")
    return words


def edit_in_editor(ctx: typer.Context, ref: str) -> None:
    """Open the task REF names in the user's editor and apply the form they save."""
    import shutil
    import tempfile
    from pathlib import Path

    from sorted_cli import editform, render
    from sorted_cli.cli.state import State
    from sorted_cli.services import tasks

    state = State.of(ctx)
    found = state.db.run(
        lambda session: tasks.task_to_rewrite(session=session, user=state.user, ref=ref)
    )
    command = editor_command()
    folder = Path(tempfile.mkdtemp(prefix="sorted-edit-"))  # mode 0700: the user's alone
    path = folder / f"sorted-task-{found.task.number}.txt"
    try:
        text = editform.form_text(found.task, found.tags)
        failed = False  # the form is shown again with an error
        while True:
            path.write_text(text, encoding="utf-8")
            _run_editor(command, path)
            saved = _saved(path)
            if saved == text and failed:  # given up on: as a question answered no
                raise Cancelled("Nothing changed (the form had an error).")
            if saved == text:
                render.line("Nothing changed.")
                return
            try:
                edited = editform.read_form(saved, task=found.task, tags=found.tags)
                if not edited.changes_anything:
                    render.line("Nothing changed.")
                    return
                task, changed = _save(state, found, edited)
            except InvalidInput as exc:  # shown in the form, which opens again
                text, failed = editform.with_error(saved, exc.message), True
                continue
            break
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if changed:
        render.task_line("Updated", task)
    else:
        render.line("Nothing changed.")


def _save(state: State, found: TaskInFull, edited: Edited) -> tuple[Task, bool]:
    """Apply the form, unless the task changed since FOUND was read (`rewrite_task`)."""
    from sorted_cli.services import tasks

    return state.db.run(
        lambda session: tasks.rewrite_task(
            session=session,
            user=state.user,
            ref=str(found.task.id),
            data=edited.data,
            tags=edited.tags,
            seen_updated_at=found.task.updated_at,
        )
    )


def _saved(path: Path) -> str:
    """The form as the editor left it; SortedError when it cannot be read back."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SortedError(f"The form {path.name} is not UTF-8 text; nothing changed.") from None
    except OSError as exc:
        raise SortedError(
            f"Cannot read the form back ({exc.strerror or exc}); nothing changed."
        ) from None


def _run_editor(command: list[str], path: Path) -> None:
    """Run the editor on PATH on this terminal; SortedError unless it exits 0."""
    import signal
    import subprocess

    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        # The user's own editor command, run as they would run it: no shell in between.
        done = subprocess.run([*command, str(path)], check=False)  # noqa: S603
    except OSError as exc:
        raise SortedError(
            f"Cannot run the editor {command[0]!r}: {exc.strerror or exc}; nothing changed "
            "(set VISUAL or EDITOR)."
        ) from None
    finally:
        signal.signal(signal.SIGINT, ignored)
    if done.returncode < 0:
        raise SortedError(
            f"The editor {command[0]!r} was stopped by signal {-done.returncode}; nothing changed."
        )
    if done.returncode != 0:
        raise SortedError(
            f"The editor {command[0]!r} exited with code {done.returncode}; nothing changed."
        )
