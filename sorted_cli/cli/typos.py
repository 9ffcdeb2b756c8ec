"""The real command a mistyped one was meant to be: `sorted lst` is `list`, `sorted shwo` is
`show`; `sorted xyzzy` is nothing. (Counted in edits, two swapped letters being one,
rather than by `difflib`'s ratio of letters in common, which offers `user` for `srever` too.)
"""

from __future__ import annotations

from collections.abc import Iterable

MOST_EDITS = 2  # a word further than this from every command was meant as none of them


def edit_distance(first: str, second: str) -> int:
    """How many one-letter edits turn FIRST into SECOND: an insertion, a deletion, a change of
    one letter, or two neighbours swapped (`shwo` -> `show` is one), each counting one. (The
    Damerau-Levenshtein distance, in its optimal string alignment form: no letter is edited
    twice.)"""
    rows = [list(range(len(second) + 1))]
    for i, letter in enumerate(first, start=1):
        row = [i]
        for j, other in enumerate(second, start=1):
            cost = 0 if letter == other else 1
            row.append(min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost))
            if i > 1 and j > 1 and letter == second[j - 2] and first[i - 2] == other:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def closest(word: str, names: Iterable[str]) -> list[str]:
    """The NAMES nearest to WORD (case aside), when near enough to be what was meant: at most
    `MOST_EDITS` edits away, and fewer edits than half the letters typed (one edit makes a
    two-letter word into too many others: `dd` is `add` as much as `db`); several only when
    they are equally near."""
    typed = word.casefold()
    distances = {name: edit_distance(typed, name.casefold()) for name in names}
    nearest = min(distances.values(), default=MOST_EDITS + 1)
    if nearest > MOST_EDITS or 2 * nearest >= len(typed):
        return []
    return [name for name, distance in distances.items() if distance == nearest]


def no_such_command(word: str, names: Iterable[str], *, group: str = "") -> str:
    """The message for a command WORD that is none of NAMES (the commands of GROUP, `user`, or
    of sorted itself), with the closest of them if any: "No such command 'lst'. Did you mean
    'list'?", "No such command 'user lsit'. Did you mean 'user list'?"."""
    within = f"{group} " if group else ""
    message = f"No such command {within + word!r}."
    found = closest(word, names)
    if found:
        message += f" Did you mean {' or '.join(repr(within + name) for name in found)}?"
    return message
