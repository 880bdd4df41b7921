r"""Every text of a ``--json`` object as UTF-8, its paths and the commands naming them too.

Under a locale that names files in Latin-1 (``LC_ALL=de_DE.ISO-8859-1``) Python reads a
directory's UTF-8 bytes one character a byte, and a message names ``Q4 \u2013 review`` as
``Q4 \u00e2\x80\x93 review``; a command a message advises names it in ANSI-C quotes, each
byte the locale's (``livesession verify $'/srv/Q4 \u00e2\x80\x93 review/r1'``), so that the
line pasted into that locale's shell names the path. ``run_dir`` and ``error`` were read
as UTF-8 already (``json_path``, ``json_text``), but ``dryrun --json``'s ``detail``,
``status --json``'s ``next`` and the other fields that say a path were not. ``utf8_texts``
reads each text of the object so: a plain path as ``json_text`` reads it, and a quoted word
whose bytes are UTF-8 as that text, quoted as under a UTF-8 locale
(``livesession verify '/srv/Q4 \u2013 review/r1'``). Under a UTF-8 locale nothing changes.
"""

from __future__ import annotations

import codecs
import re
import shlex
import sys
from typing import Any, Final

from .text import json_text, shell_word

__all__ = ["json_words", "utf8_texts"]

_ANSI_C_WORD: Final = re.compile(r"\$'((?:[^'\\]|\\.)*)'")
"""A word ``shell_word`` wrote in ANSI-C quotes: ``$'...'``."""
_QUOTED_PATH: Final = re.compile(r"(livesession [a-z]+ )'([^']*)'")
"""The path a hint's command names, in single quotes (``shell_word``): its first word."""
_ESCAPE: Final = re.compile(r"\\x([0-9a-f]{2})|\\(.)", re.DOTALL)
_UNESCAPED: Final = {"\\": "\\", "'": "'", "n": "\n", "t": "\t", "r": "\r"}


def utf8_texts(value: Any) -> Any:
    """``value`` (a ``--json`` object) with each of its texts read as UTF-8 (``json_words``)."""
    if codecs.lookup(sys.getfilesystemencoding()).name == "utf-8":
        return value
    if isinstance(value, str):
        return json_words(value)
    if isinstance(value, dict):
        return {key: utf8_texts(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [utf8_texts(item) for item in value]
    return value


def json_words(text: str) -> str:
    r"""``text`` with its paths, and its commands' quoted words, read as UTF-8.

    ``$'/srv/Q4 \u00e2\x80\x93 review/r1'`` is ``'/srv/Q4 \u2013 review/r1'``; a word whose
    bytes are not UTF-8 (``$'bad\xffdir'``) or not printable text (a newline) stays as it
    is, as a UTF-8 locale writes it too.
    """
    if text.isascii() and "$'" not in text:
        return text
    return json_text(_QUOTED_PATH.sub(_not_utf8, _ANSI_C_WORD.sub(_as_utf8, text)))


def _not_utf8(found: re.Match[str]) -> str:
    r"""A command's quoted path whose bytes are not UTF-8, as a UTF-8 locale quotes it.

    Under a Latin-1 locale ``/srv/d\xe9p\xf4t`` reads ``'/srv/dépôt'``, which
    ``json_text`` keeps (its bytes are not UTF-8, so it may be text), while ``run_dir``
    beside it said ``\xe9``: the command's word is the path's bytes, ``$'/srv/d\xe9p\xf4t'``.
    """
    word = found.group(2)
    if word.isascii():
        return found.group()
    try:
        data = word.encode(sys.getfilesystemencoding(), "surrogateescape")
        data.decode("utf-8")
    except UnicodeEncodeError:  # no bytes of the locale's: text of its own
        return found.group()
    except UnicodeDecodeError:  # the bytes a UTF-8 locale says in ANSI-C quotes
        return found.group(1) + shell_word(data.decode("utf-8", "surrogateescape"))
    return found.group()  # UTF-8: ``json_text`` reads it


def _as_utf8(word: re.Match[str]) -> str:
    """The ANSI-C quoted ``word``, its bytes read as UTF-8 and quoted again; else as it is."""
    try:
        text = _bytes_of(word.group(1)).decode("utf-8")
    except UnicodeError:  # bytes of no path the locale gives, or not UTF-8: as written
        return word.group()
    return shlex.quote(text) if text.isprintable() else word.group()


def _bytes_of(body: str) -> bytes:
    """The bytes ``$'body'`` stands for: its escapes', and its characters' in the locale's."""
    encoding = sys.getfilesystemencoding()
    data = bytearray()
    at = 0
    for escape in _ESCAPE.finditer(body):
        data += body[at : escape.start()].encode(encoding, "surrogateescape")
        if escape.group(1) is not None:
            data.append(int(escape.group(1), 16))
        else:
            data += _UNESCAPED.get(escape.group(2), escape.group(2)).encode(encoding)
        at = escape.end()
    return bytes(data + body[at:].encode(encoding, "surrogateescape"))
