"""Deterministic identifiers, and the names a run records (see docs/artifacts.md).

``stable_id`` and client order ids; the forms a run id and a symbol may take (a
derivative's name refused with a note); free text made a record code (``record_code``).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from .._support.charnames import foreign_note
from .._support.secrets import redact_text

__all__ = [
    "RUN_ID_PATTERN",
    "SYMBOL_FORMS",
    "client_order_id",
    "derivative_note",
    "is_valid_run_id",
    "is_valid_symbol",
    "record_code",
    "stable_id",
    "symbol_note",
]

RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
# A pair (BASE/QUOTE) or a plain ticker (GOOG, BRK.B, BF-B), in upper case.
_SYMBOL = re.compile(r"^(?:[A-Z0-9]{2,12}/[A-Z0-9]{2,12}|[A-Z0-9](?:[A-Z0-9.-]{0,10}[A-Z0-9])?)$")
_SETTLE = re.compile(r"[A-Z0-9]{2,12}(?:-[A-Z0-9]{1,12})?")
"""A derivative's settle currency, and a future's expiry (``USDT``, ``USDT-251226``)."""
SYMBOL_FORMS = "a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT), in upper case"
"""What a symbol may look like, in words (for messages)."""
_CLIENT_ID_PREFIX = "ls"
_CLIENT_ID_LEN = 32


_MAX_CODE = 48
_CODE = re.compile(rf"[A-Z][A-Z0-9_]{{0,{_MAX_CODE - 1}}}")


def record_code(text: object, *, default: str) -> str:
    """``text`` as the short upper-case code a record carries, ``default`` when none is left.

    The audit writes a refusal's reason or rule into a record code (``C2_REJECT_<CODE>``),
    and the metrics count by it. A code passes as it is; free text that a plug-in gave
    (``"Insufficient balance"``) is redacted and made one (``INSUFFICIENT_BALANCE``), at
    most 48 characters.
    """
    given = text if isinstance(text, str) else ""
    if _CODE.fullmatch(given):
        return given
    words = re.findall(r"[A-Z0-9]+", redact_text(given).upper().replace("***", " "))
    code = "_".join(words)[:_MAX_CODE].strip("_")
    return code if _CODE.fullmatch(code) else default


def stable_id(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of ``parts`` (sorted keys), first 24 hex characters.

    The same parts give the same id on every machine and every ``PYTHONHASHSEED``.
    """
    return hashlib.sha256(orjson.dumps(list(parts), option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]


def client_order_id(run_id: str, strategy_id: str, intent_seq: int, leg: str = "main") -> str:
    """The client order id of one order leg: 32 characters of ``[A-Za-z0-9]``.

    Derived only from (run_id, strategy_id, intent sequence, leg), so a resumed or retried
    session computes the same id for the same intent; accepted by Binance, Bybit and OKX.
    """
    digest = hashlib.sha256(
        orjson.dumps([run_id, strategy_id, intent_seq, leg], option=orjson.OPT_SORT_KEYS)
    ).hexdigest()
    return (_CLIENT_ID_PREFIX + digest)[:_CLIENT_ID_LEN]


def is_valid_run_id(run_id: str) -> bool:
    """Whether ``run_id`` is a plain name: 1-64 of ``[A-Za-z0-9_.-]``, not starting with ``.``."""
    return bool(RUN_ID_PATTERN.fullmatch(run_id))


def derivative_note(value: str) -> str:
    """Why ``value`` is no symbol beyond ``SYMBOL_FORMS``, when it says: "" otherwise.

    ``BTC/USDT:USDT`` is how ccxt names a perpetual swap (a future adds its expiry): a
    venue's derivative, which a session does not trade; its spot pair is ``BTC/USDT``.
    Only a value of that exact form gets the note (one that merely holds a colon, a URL
    whose path may be a token, say, is echoed by the caller alone, which redacts it).
    """
    base, colon, settle = value.partition(":")
    if not colon or "/" not in base or not is_valid_symbol(base) or not _SETTLE.fullmatch(settle):
        return ""
    return (
        f" ({value} is a derivative's name, BASE/QUOTE:SETTLE as ccxt writes a perpetual swap "
        f"or a future, and a session trades spot symbols only: its spot pair is {base})"
    )


def symbol_note(value: str) -> str:
    """Why ``value`` is no symbol beyond ``SYMBOL_FORMS``, with the one it means when it says.

    ``aapl`` or ``btc/usdt`` is refused for its case: the note names ``AAPL`` or
    ``BTC/USDT`` rather than leave the user to work it out; a character that is not ASCII
    is named (a Cyrillic letter that looks like a Latin one); a derivative's name gets
    ``derivative_note``'s. "" otherwise.
    """
    upper = value.upper()
    if upper != value and is_valid_symbol(upper):
        return f" (did you mean {upper}?)"
    return foreign_note(value) or derivative_note(value)  # a Cyrillic letter looks Latin


def is_valid_symbol(symbol: str) -> bool:
    """Whether ``symbol`` is a plain ticker or ``BASE/QUOTE``, in upper case (``SYMBOL_FORMS``)."""
    return bool(_SYMBOL.fullmatch(symbol))
