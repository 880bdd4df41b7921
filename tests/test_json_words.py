"""``jsonwords``: a ``--json`` text's paths and quoted commands read as UTF-8, any locale.

Under a Latin-1 locale Python names the UTF-8 bytes of ``Q4 \u2013 review`` one character a
byte, and a command names them in ANSI-C quotes (``$'Q4 \u00e2\\x80\\x93 review'``) for
that locale's shell. A ``--json`` object says them as UTF-8 text instead, as it says
``run_dir``.
"""

from __future__ import annotations

import sys

import pytest

from livesession._support.jsonwords import json_words, utf8_texts
from livesession._support.text import command

_ON_DISK = "/srv/Q4 \u2013 review/r1".encode()


@pytest.fixture(name="latin_1")
def _latin_1(monkeypatch: pytest.MonkeyPatch) -> str:
    """The path as a Latin-1 locale's ``os.fsdecode`` names it, under that locale."""
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "iso8859-1")
    return _ON_DISK.decode("latin-1")


def test_a_command_and_a_path_are_read_as_utf_8(latin_1: str) -> None:
    said = f"{latin_1}/events.jsonl refused: then `{command('resume', latin_1)}` continues it"
    assert "$'" in said
    assert json_words(said) == (
        "/srv/Q4 \u2013 review/r1/events.jsonl refused: then "
        "`livesession resume '/srv/Q4 \u2013 review/r1'` continues it"
    )


def test_what_is_not_utf_8_or_not_printable_stays_as_written(latin_1: str) -> None:
    del latin_1
    for word in ("$'/srv/bad\\xffdir'", "$'/srv/nl\\nrun'", "$'it\\'s \\xe9'"):
        assert json_words(f"`livesession verify {word}`") == f"`livesession verify {word}`"
    assert json_words("caf\u00e9 \u20ac") == "caf\u00e9 \u20ac"  # text, not a locale's bytes


def test_an_escaped_quote_in_a_word_is_kept(latin_1: str) -> None:
    path = f"{latin_1}/it's"
    assert json_words(command("verify", path)) == (
        "livesession verify '/srv/Q4 \u2013 review/r1/it'\"'\"'s'"
    )


def test_every_text_of_an_object_is_read_so(latin_1: str) -> None:
    said = utf8_texts({"next": [command("verify", latin_1)], "steps": 3, "ok": True})
    assert said == {
        "next": ["livesession verify '/srv/Q4 \u2013 review/r1'"],
        "steps": 3,
        "ok": True,
    }


def test_under_utf_8_nothing_changes() -> None:
    value = {"next": "livesession verify $'/srv/bad\\xffdir'", "n": 1}
    assert utf8_texts(value) is value
