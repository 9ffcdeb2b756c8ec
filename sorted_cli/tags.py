"""What a tag is, kept free of pydantic and SQLAlchemy: shell completion normalises the
tag being typed with it."""

from __future__ import annotations

import re
import unicodedata

TAG_MAX = 64

# A tag: letters, combining marks and digits of any script (and the zero-width joiners their
# words need), and `_ . : / @ -`, starting with a letter, a digit or `@` and one of those
# (`@home`, as Taskwarrior users write contexts). No commas (lists of tags are joined with
# them) and no white space (it is turned into `-`).
# Python's `\w` leaves out marks (the vowel signs of हिंदी, the dot of `i̇`), hence categories.
_WORD_CATEGORIES = ("L", "M", "N")  # Unicode general categories, by their first letter
_FIRST_CATEGORIES = ("L", "N")  # a tag does not start with a mark
# Zero-width (non-)joiners: Persian, Malayalam and other scripts write words with them.
_PUNCTUATION = frozenset("_.:/@-\u200c\u200d")
_SPACES = re.compile(r"\s+")


def normalise_tag(value: str) -> str:
    """The stored form of a tag as typed: trimmed, case-folded (NFKC), inner white space as
    `-`, and without a leading `+` (so `--tag +home` is the tag `home`). Raises ValueError."""
    folded = unicodedata.normalize("NFKC", value).casefold()  # full-width ABC is abc, ß is ss
    tag = _SPACES.sub("-", folded.strip().removeprefix("+").strip())
    if not tag:
        raise ValueError("a tag must not be empty")
    if len(tag) > TAG_MAX:
        raise ValueError(f"the tag {tag!r} is {len(tag)} characters long; at most {TAG_MAX} fit")
    if not _is_tag(tag):
        raise ValueError(
            f"{value.strip()!r} is not a valid tag: use letters, marks and digits of any "
            "script and _ . : / @ -, starting with a letter or digit (or @ and one)"
        )
    return tag


def in_tag(character: str) -> bool:
    """May CHARACTER be part of a tag (a letter, mark or digit, or one of `_ . : / @ -`)?"""
    return character in _PUNCTUATION or unicodedata.category(character)[0] in _WORD_CATEGORIES


def _is_tag(text: str) -> bool:
    first = text[1:2] if text.startswith("@") else text[:1]
    return (
        first != ""
        and unicodedata.category(first)[0] in _FIRST_CATEGORIES
        and all(in_tag(character) for character in text)
    )


def normalise_tags(values: object) -> object:
    """Tags normalised, without repeats, in sorted order (the order they are shown in)."""
    if not isinstance(values, list | tuple | set | frozenset):
        return values
    return sorted({normalise_tag(value) if isinstance(value, str) else value for value in values})
