"""Attributes typed among a task's words, the way Taskwarrior and todo.txt users type them.

`sorted add Buy bread +errand due:friday pri:h` is the task "Buy bread", tagged `errand`, due
on Friday, of high priority. Understood in `add` and `edit`:

- `+TAG` is a tag (`+errand`, `+1`); a lone `+` is a word of the title, and so is a quoted
  word with a space in it (`"Buy +milk"` is a title as typed).
- `KEY:VALUE` for the keys below is the option of that name (`due:friday` is `--due friday`;
  quote a value with a space: `"due:friday 17:00"`; the value follows the colon at once, so
  `"Due: the report"` is a title); an empty value (`due:`) removes it in `edit`, as `--no-due`
  does, and in `add`, where there is nothing to remove, it is a word of the title (`sorted add
  Due: the report`). The keys, in any case: `due`, `wait`, `scheduled` (`sched`), `every`
  (`recur`), `until`, `times`, `pri` (`priority`). Another word with a colon (`http://x`,
  `re:`) is a word of the title.
- Every other word is the title's, joined by single spaces.

After `--` every word is the title's (`sorted add -- C++ +1 review`). An attribute typed twice,
or both inline and as its option, is refused: which one was meant is not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sorted_cli.errors import InvalidInput

# Each key people type -> the option it stands for.
KEYS = {
    "due": "due",
    "wait": "wait",
    "scheduled": "scheduled",
    "sched": "scheduled",
    "every": "every",
    "recur": "every",
    "until": "until",
    "times": "times",
    "pri": "priority",
    "priority": "priority",
}


@dataclass
class Typed:
    """What the words of a task said: its title (None when every word was an attribute), its
    tags as typed, and the options given inline (option -> text; '' removes)."""

    title: str | None = None
    tags: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)

    def option(self, name: str, given: object) -> str | None:
        """The text of option NAME typed inline; refused when the option GIVEN on the
        command line (not None, not False) says it too."""
        if name not in self.options:
            return None
        if given is not None and given is not False and given != []:
            raise InvalidInput(f"Give {name} once: as {name}: or as --{name}, not both.")
        return self.options[name]


def read_words(words: list[str], *, literal: int = 0, removes: bool = False) -> Typed:
    """The attributes among WORDS; the last LITERAL words (those after `--`) are all title.
    An empty value (`due:`) removes the attribute when REMOVES (edit), else it is a word."""
    typed = Typed()
    title: list[str] = []
    cut = len(words) - literal
    for word in words[:cut]:
        if len(word) > 1 and word.startswith("+") and not _spaced(word):
            typed.tags.append(word[1:])
            continue
        key, colon, value = word.partition(":")
        # The value follows the colon at once, as Taskwarrior's do: `Due: the report` is a title.
        option = KEYS.get(key.lower()) if colon and not _spaced(key + value[:1]) else None
        if option is None or not (value or removes):
            title.append(word)
            continue
        if option in typed.options:
            raise InvalidInput(f"Give {option} once: {key}: came twice.")
        typed.options[option] = value.strip()
    title += words[cut:]
    typed.title = " ".join(title).strip() or None
    return typed


def _spaced(text: str) -> bool:
    """Whether TEXT holds white space: a word quoted with spaces in it (`"Buy +milk"`) is
    a title as it is, not attributes."""
    return any(character.isspace() for character in text)
