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

from .text import valid_payload, valid_text

__all__ = ["dumps", "json_safe", "json_text"]

json_text = valid_text
"""``text`` with each lone surrogate said in backslash form (``\\xff``); else unchanged: the
one rule, ``_support.text.valid_text``."""
json_safe = valid_payload
"""``value`` with every str in it (keys too) made ``json_text``; lists for tuples."""


def dumps(value: Any, option: int = 0) -> bytes:
    """``orjson.dumps(value, option=option)``, a path that is not UTF-8 said by ``json_text``.

    Raises:
        orjson.JSONEncodeError: ``value`` holds what JSON cannot (other than such text).
    """
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(json_safe(value), option=option)
