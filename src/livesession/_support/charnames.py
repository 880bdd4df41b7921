"""A character a name or a key may not hold, named: a homoglyph or an invisible one.

``seed = 5`` with its e Cyrillic (U+0435), or a quoted ``seed`` with a zero-width space
(U+200B) pasted after it, looks like ``seed`` on every screen: a refusal quoting it shows
nothing wrong. The first character that is not ASCII is named by its code point and Unicode
name.
"""

from __future__ import annotations

import unicodedata

__all__ = ["char_name", "foreign_char", "foreign_note"]


def foreign_char(text: str) -> str:
    """``its character 2 is U+0435 CYRILLIC SMALL LETTER IE ('...'), not ASCII``; "" if none.

    The first character of ``text`` that is not ASCII; its glyph is shown only when a screen
    shows one (a zero-width space is named alone).
    """
    at = next((i for i, char in enumerate(text) if not char.isascii()), None)
    if at is None:
        return ""
    return f"its character {at + 1} is {char_name(text[at])}, not ASCII"


def foreign_note(value: object) -> str:
    """`` (its character 1 is U+0412 ...)``, to follow a refused value; "" for any other."""
    foreign = foreign_char(value) if isinstance(value, str) else ""
    return f" ({foreign})" if foreign else ""


def char_name(char: str) -> str:
    """``U+0435 CYRILLIC SMALL LETTER IE ('...')``: the glyph only when a screen shows one."""
    glyph = f" ({char!r})" if char.isprintable() else ""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'unnamed')}{glyph}"
