r"""JSON that any path can go into: the one rule for bytes of a path that are not UTF-8.

A POSIX path is bytes, and need not be UTF-8 (``printf '/tmp/bad\xffname'``). Python hands
such a path to the program as a str with lone surrogates (``os.fsdecode``: byte 0xff is
U+DCFF), which no UTF-8 document can hold: orjson refuses it, and ``verify --json`` ended in
a traceback where the plain ``verify`` printed the path. Every JSON document the tools
write (the one ``--json`` object of a command, the evidence manifest and its document)
goes through ``dumps``, which says each such byte as ``\xff`` (Python's
``backslashreplace``, the form ``printf`` takes back); any other lone surrogate is said as
``\uDXXX``. Text that is valid UTF-8 is left exactly as it is, so no other output changes.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["dumps", "json_safe", "json_text"]

_ESCAPED_BYTES = range(0xDC80, 0xDD00)
"""The surrogates ``surrogateescape`` stands a byte 0x80-0xff for."""


def json_text(text: str) -> str:
    r"""``text`` with each lone surrogate said in backslash form (``\xff``); else unchanged."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join(_said(char) for char in text)
    return text


def _said(char: str) -> str:
    code = ord(char)
    if code in _ESCAPED_BYTES:
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # noqa: PLR2004 - the surrogate block
        return f"\\u{code:04x}"
    return char


def json_safe(value: Any) -> Any:
    """``value`` with every str in it (keys too) made ``json_text``; lists for tuples."""
    if isinstance(value, str):
        return json_text(value)
    if isinstance(value, dict):
        return {json_safe(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def dumps(value: Any, option: int = 0) -> bytes:
    """``orjson.dumps(value, option=option)``, a path that is not UTF-8 said by ``json_text``.

    Raises:
        orjson.JSONEncodeError: ``value`` holds what JSON cannot (other than such text).
    """
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(json_safe(value), option=option)
