r"""Text a plug-in hands the session, made fit for the run's files and its one-line messages.

A plug-in's text is not always valid Unicode: a name from ``os.listdir`` (or any bytes
decoded with ``errors="surrogateescape"``) holds a lone surrogate for each byte that is not
UTF-8 (``b"report_\xff.csv"`` is ``"report_\udcff.csv"``), and no JSON line can hold one.
``valid_text`` is the one rule for such text, wherever JSON or a terminal line must hold it:
a surrogate that stands for a byte is said as that byte, ``\xff`` (the form ``printf`` takes
back), any other lone surrogate as ``\udXXX``; valid text is left exactly as it is.
``exception_text`` is an exception's message, even when its ``__str__`` itself raises.
``one_line`` makes text one printable line for stderr:
whitespace runs (newlines, tabs, U+2028, ...) become one space and every other control
character its ``\xNN`` escape (a NUL, an ESC a terminal would act on); ``printable_line``
escapes each of them instead (``\n``), for a message quoted in a line of one's own.
``command`` is the one way a hint writes a command with a path in it for a person to paste
(``shell_word`` each word of it, ``option`` a flag and its value); ``path_text`` a path a
line of plain output names (``artifacts``, ``status``'s ``run``, a ``list`` row).
``md_text`` and ``md_code`` put such text in a Markdown document (the evidence's EV
document, the burn-in report) as one printable line that renders as the text it is: no
heading, emphasis, link, HTML tag or comment of its own, whatever it holds.
``iconv_command`` is the command a refusal of a file that is not UTF-8 gives to convert it.
``natural_key`` sorts names with numbers in them as a person reads them (``rails[2]``
before ``rails[10]``).
"""

from __future__ import annotations

import codecs
import os
import re
import shlex
import sys
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Final

import orjson

from .decimalwords import decimal_words
from .secrets import redact_text

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "UNPRINTABLE",
    "age_words",
    "command",
    "error_line",
    "exception_text",
    "iconv_command",
    "json_dumps",
    "json_path",
    "json_text",
    "md_cell",
    "md_code",
    "md_said",
    "md_text",
    "natural_key",
    "one_line",
    "option",
    "path_text",
    "printable_line",
    "shell_word",
    "span_words",
    "surrogate_at",
    "text_field",
    "valid_payload",
    "valid_text",
]


_ESCAPED_BYTES: Final = range(0xDC80, 0xDD00)
"""The surrogates ``surrogateescape`` stands a byte 0x80-0xff for."""


def valid_text(text: str) -> str:
    r"""``text`` with each lone surrogate said in backslash form (``\xff``): valid UTF-8.

    Text that is already valid (nearly all) is returned as it is, checked at C speed.
    """
    if text.isascii():
        return text
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


def surrogate_at(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``; None when it is valid Unicode."""
    if valid_text(text) is text:
        return None
    return next(i for i, char in enumerate(text) if "\ud800" <= char <= "\udfff")


def valid_payload(value: Any) -> Any:
    r"""``value`` (JSON-like: mappings, lists, strings) with every string made ``valid_text``.

    Keys too. It walks the whole value, so it is for a payload that failed to serialise, or
    a rare one (an alert): the per-step records never pay for it.
    """
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {valid_payload(k): valid_payload(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_payload(v) for v in value]
    return value


LOG_TEXT_MAX: Final = 65_536
"""The most characters of one text a log line holds (a traceback): a plug-in's exception
may carry megabytes (a response body, a whole file), and the line would carry them all."""


def cut_middle(text: str, limit: int = LOG_TEXT_MAX) -> str:
    """``text``, or its first and last ``limit // 2`` characters and how many were cut between.

    For a traceback: its head holds the outer frames, its tail the exception's type and the
    end of its message. Cut after redacting, so no cut leaves part of a secret unrecognised.
    """
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... ({len(text) - 2 * half} characters cut) ...\n{text[-half:]}"


INTENT_TEXT_MAX: Final = 1_000
"""The most characters of an intent's text (an ``OrderIntent``'s ``symbol`` or ``reason``, a
``CancelIntent``'s ``reason``): each is recorded with every signal and order, and a
strategy's ``reason=str(frame)`` of megabytes made a run of gigabytes in one bar."""


def too_long(field: str, value: str) -> str:
    """Why ``value``, an intent's ``field`` longer than ``INTENT_TEXT_MAX``, is refused."""
    return (
        f"{field} must be at most {INTENT_TEXT_MAX:,} characters, got {len(value):,}: it is "
        "recorded in the run's files with every signal and order (keep a short label)"
    )


UNPRINTABLE: Final = "<exception str() failed>"
"""The message of an exception whose ``str`` raised: Python's own traceback says so."""


def exception_text(exc: BaseException) -> str:
    """``str(exc)`` as a plain ``str``, or ``UNPRINTABLE`` when that raises.

    A plug-in's exception class may have a ``__str__`` that fails (a format string its
    arguments do not fit): the plug-in's error is still the one the run records, never the
    second error its ``__str__`` raised while the session described the first. One whose
    ``__str__`` gives an instance of a ``str`` subclass (its message's own, returning
    itself) gives the text it holds (``str.__str__``): a subclass's ``isascii``, ``split``,
    ``__len__`` or slicing may say anything, and the text is checked, cut and written by them.
    """
    try:
        text = decimal_words(exc) or str(exc)  # decimal's own names the condition alone
    except Exception:  # noqa: BLE001 - the plug-in's __str__ failed: name the exception alone
        return UNPRINTABLE
    return text if type(text) is str else str.__str__(text)


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""A control character (C0, DEL, C1): those that are not whitespace are left after
``str.split`` joins the rest."""


_BIDI: Final = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""A bidi control (embedding, override, isolate, mark): a terminal or browser obeys one, and
text from a run (a strategy's error, a strategy id) would reorder what is drawn after it on
the line, so that the line reads otherwise than it is."""


def escape_bidi(text: str) -> str:
    r"""``text`` with each bidi control shown as its escape (``\u202e``), not obeyed."""
    return _BIDI.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


_DIGITS: Final = re.compile(r"(\d+)")


def age_words(age_s: float) -> str:
    """``12.3 s ago``, or how far ahead of this machine's clock a time is, said as such.

    A minute or more is said in days, hours and minutes (``1 d 2 h 5 min ago``): a run
    crashed overnight reads so, not ``93900.0 s ago``.
    """
    if age_s >= 0:
        return f"{span_words(age_s)} ago"
    return f"{span_words(-age_s)} in the future by this machine's clock, so its age cannot be told"


def span_words(seconds: float) -> str:
    """``12.3 s`` below a minute, else whole minutes in days and hours (``2 h 0 min``)."""
    if seconds < 60:  # noqa: PLR2004 - a minute
        return f"{seconds:.1f} s"
    hours, minutes = divmod(int(seconds // 60), 60)
    days, hours = divmod(hours, 24)
    parts = [f"{days} d"] if days else []
    if days or hours:
        parts.append(f"{hours} h")
    return " ".join([*parts, f"{minutes} min"])


def natural_key(text: str) -> tuple[str | int, ...]:
    """``text`` to sort by with its runs of digits as numbers: ``rails[2]`` before ``rails[10]``.

    For display only (the run's recorded files keep their sorted keys): text and numbers
    alternate in the same places of every key, so any two compare.
    """
    return tuple(int(part) if n % 2 else part for n, part in enumerate(_DIGITS.split(text)))


def one_line(text: str) -> str:
    r"""``text`` as one printable line: whitespace runs one space, other controls ``\xNN``.

    Lone surrogates are escaped too (``valid_text``), so the line encodes on any stream, and
    bidi controls (``escape_bidi``), so the line reads as it is.
    """
    joined = " ".join(valid_text(text).split())
    return escape_bidi(_CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", joined))


_MARKDOWN: Final = re.compile(
    r"[`*\[\]<>|~&#]|(?<![^\W_])_|_(?![^\W_])|\\(?=[!-/:-@\[-`{-~]|$)"
    r"|^[-+](?= |$)|^[-=](?=[-= ]*$)"
)
"""What Markdown (CommonMark, GitHub's tables) would act on in a line of text: a backtick,
emphasis, a link's brackets, an HTML tag, comment or entity, a table's ``|``,
strikethrough, a heading, a list item (``- ``) or rule (``---``) the line starts with (a
number, ``-4.66``, starts none), and a backslash where it would escape what follows it (or
break the line). An ``_`` inside a word (``trade_id``) is no emphasis, nor a backslash
before a letter (``one_line``'s ``\\x1b``) an escape: both are left as they are."""
_NUMBERED: Final = re.compile(r"^(\d{1,9})([.)])(?= |$)")
"""A line that starts ``1.`` or ``1)`` and a space starts a numbered list (``1.5`` does not)."""


def printable_line(text: str) -> str:
    r"""``text`` as one printable line with nothing lost: each unprintable character escaped.

    A newline is ``\n``, a tab ``\t``, an ESC ``\x1b``, U+2028 ``\u2028``, a lone surrogate
    ``\udcff`` (the escapes of Python's ``repr``); text that is printable already, nearly
    all, is returned as it is. For a message quoted inside a line of one's own (a finding):
    unlike ``one_line`` it keeps where the text's lines broke.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def md_text(value: object) -> str:
    r"""``value`` as one printable line of Markdown that renders as the text it is.

    ``one_line`` first (a newline would start a section of the plug-in's own, an ESC act on
    a terminal that shows the file), then each character Markdown acts on backslash-escaped:
    ``<!--`` is ``\<!--``, ``**PASS**`` is ``\*\*PASS\*\*``. Plain words are left as they are.
    """
    return _md_escaped(one_line(str(value)))


def _md_escaped(line: str) -> str:
    """``line`` (one line already) with each character Markdown acts on backslash-escaped."""
    return _NUMBERED.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\g<0>", line))


def md_code(value: object) -> str:
    """``value`` as one printable line in a Markdown code span, which shows it as it is.

    Inside a code span nothing is markup, but no backslash escape works either, so a
    backtick in the text cannot be escaped: the span is fenced with one backtick more than
    the longest run of them in the text, and padded with a space where the text starts or
    ends with one (the renderer takes that space away). Not for a table's cell, where a
    ``|`` ends the cell even in a code span: ``md_text`` is.
    """
    text = one_line(str(value))
    if not text:
        return "` `"
    runs = [len(run) for run in re.findall("`+", text)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if text[0] == "`" or text[-1] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


_SPAN: Final = re.compile(r"`([^`]+)`")
"""A span livesession's own sentences show as code: a command to type, between backticks."""


def md_said(value: object) -> str:
    """``value``, a sentence livesession says, as one line of Markdown: its spans as code.

    For a verdict and its problems: each span between backticks in it as code
    (``md_code``), the rest as text (``md_text``). ``md_text`` alone escaped the backticks:
    a reader saw them around the command, not the command as code. A backtick left without
    its pair is text.
    """
    return _spans_as_code(one_line(str(value)), md_code)


def md_cell(value: object) -> str:
    r"""``md_said`` for a table's cell: its spans as code, and every ``|`` escaped (``\|``).

    A ``|`` ends a cell even inside a code span, where a table takes ``\|`` for the ``|``
    (GitHub's tables): the burn-in criteria's details, whose advice names a command.
    """
    return _spans_as_code(one_line(str(value)), lambda span: md_code(span).replace("|", "\\|"))


def _spans_as_code(text: str, code: Callable[[str], str]) -> str:
    """``text`` (one line already): each span between backticks ``code``, the rest escaped."""
    parts, at = [], 0
    for span in _SPAN.finditer(text):
        parts += [_md_escaped(text[at : span.start()]), code(span[1])]
        at = span.end()
    return "".join([*parts, _md_escaped(text[at:])])


def json_dumps(value: Any, option: int = 0) -> bytes:
    """``orjson.dumps(value, option=option)``, with text that is not UTF-8 said by ``valid_text``.

    For every JSON document the tools write (``--json``, the evidence): a path's bytes.

    Raises:
        orjson.JSONEncodeError: ``value`` holds what JSON cannot (other than such text).
    """
    try:
        return orjson.dumps(value, option=option)
    except orjson.JSONEncodeError:
        return orjson.dumps(valid_payload(value), option=option)


def json_path(path: str | os.PathLike[str]) -> str:
    r"""A path of this process for a JSON document: its bytes read as UTF-8 (``json_dumps``).

    Under a locale that names files in Latin-1 (``LC_ALL=de_DE.ISO-8859-1``), Python reads
    a directory's UTF-8 bytes one character a byte: ``Q4 \u2013 review`` was written
    ``"Q4 \u00e2\u0080\u0093 review"``, which a JSON reader takes for another path. The
    path's own bytes, read as UTF-8, are the same text under every locale; a byte that is
    not UTF-8 stays a surrogate, which ``json_dumps`` says ``\xff``, as under UTF-8.
    """
    return os.fsencode(path).decode("utf-8", "surrogateescape")


_BEYOND_ASCII: Final = re.compile(r"[^\x00-\x7f]+")


def json_text(text: str) -> str:
    r"""``text`` (a message naming paths) for a JSON document: its paths read as ``json_path``.

    Under a locale that names files in Latin-1, a message's path is the locale's reading of
    its bytes (``Q4 \u00e2\x80\x93 review``): each run of characters beyond ASCII that is
    the locale's reading of UTF-8 bytes is read as UTF-8 (``Q4 \u2013 review``), as
    ``json_path`` reads a whole path. Any other run is text (``é`` of a config's value,
    ``€``) and stays as it is; under a UTF-8 locale ``text`` is returned as it is.
    """
    encoding = sys.getfilesystemencoding()
    if text.isascii() or codecs.lookup(encoding).name == "utf-8":
        return text

    def as_utf8(run: re.Match[str]) -> str:
        try:  # the bytes the locale read, as ``json_path`` takes them (``os.fsencode``)
            return run.group().encode(encoding, "surrogateescape").decode("utf-8")
        except UnicodeError:  # no bytes of the locale's, or not UTF-8: text of its own
            return run.group()

    return _BEYOND_ASCII.sub(as_utf8, text)


def error_line(message: str, *, in_json: bool = False) -> str:
    r"""An error's one line, redacted: the CLI's on stderr, or (``in_json``) its JSON ``error``.

    The two say the same, but a path under a locale that names files in Latin-1: on stderr
    it is what the terminal shows of the path's bytes (``Q4 \u00e2\x80\x93 review``, as
    ``ls`` there shows it; a command in the line pastes back as that path), in the JSON the
    bytes read as UTF-8 (``Q4 \u2013 review``), as its other paths (``json_text``).
    """
    return one_line(redact_text(json_text(message) if in_json else message))


def command(verb: str, path: str | os.PathLike[str]) -> str:
    """``livesession resume '/tmp/x y/r1'``: a command a hint prints, to be pasted into a shell.

    The path is one ``shell_word``: pasted as it was, a run under ``/tmp/x y`` resumed
    ``/tmp/x``. A relative path that starts with ``-`` is said ``./-runs/r1``, which the
    command does not take for an option. A plain path (letters, digits, ``@%+=:,./-_``)
    is left as it is, so the hints of ordinary runs read as before.
    """
    return f"livesession {verb} {shell_word(_not_an_option(os.fspath(path)))}"


_CP1252_OWN: Final = range(0x80, 0xA0)
"""The bytes Windows-1252 gives characters of its own (``€`` 0x80), control codes in Latin-1."""


def iconv_command(path: str | os.PathLike[str], source: str | int) -> str:
    r"""``iconv -f latin1 -t utf-8 desk.toml > desk-utf8.toml``: converting ``path`` to UTF-8.

    ``source`` is the file's encoding (``UTF-16``), or the first byte of it that is not
    UTF-8: a file saved as Latin-1 or Windows-1252 (``caf\xe9`` from an older spreadsheet
    or editor), read from Windows-1252 when the byte is one of its own (0x80-0x9f: ``€`` is
    0x80). The copy is written beside the file, its name ending ``-utf8``; both paths are
    ``shell_word``s, so the line pastes as it reads.
    """
    if isinstance(source, int):
        source = "cp1252" if source in _CP1252_OWN else "latin1"
    path = PurePath(path)
    converted = path.with_name(f"{path.stem}-utf8{path.suffix}")
    return f"iconv -f {source} -t utf-8 {shell_word(str(path))} > {shell_word(str(converted))}"


def path_text(path: str | os.PathLike[str]) -> str:
    r"""``path`` for a line of plain output: as it is, unless that would not be one line.

    A directory named with a newline or a tab (a control character) broke a line that a
    supervisor reads one field at a time: ``artifacts   out/nl`` and then ``run/r1`` on a
    line of its own. Such a path is said as a pasted command says it (``shell_word``),
    ``$'out/nl\nrun/r1'``. Every other path is left exactly as it is (spaces, and a byte
    that is not UTF-8, which the output stream says as ``\xff``, as before).
    """
    text = os.fspath(path)
    return text if valid_text(text).isprintable() else shell_word(text)


def option(flag: str, value: str) -> str:
    """``--run-id r1`` for a hint's command; ``--run-id=-r1`` for a value an option would be.

    Given apart, a value that starts with ``-`` is taken for an option of its own
    (``--run-id: expected one argument``); joined by ``=``, it is the flag's.
    """
    word = shell_word(value)
    return f"{flag}={word}" if value.startswith("-") else f"{flag} {word}"


def _not_an_option(path: str) -> str:
    return f"./{path}" if path.startswith("-") else path


_ANSI_C: Final = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
"""The characters ``$'...'`` writes with a backslash of their own."""


def shell_word(text: str) -> str:
    r"""``text`` as one word of a command line that bash, zsh and ksh read back as ``text``.

    Printable text is quoted as a POSIX shell reads it (``shlex.quote``: plain text as it
    is, anything else in single quotes). Text with a character that is not printable (a
    newline or a tab in a directory's name, a byte that is not UTF-8) is written in
    ANSI-C quotes instead, ``$'nl\nrun'`` and ``$'bad\xffdir'``: single quotes would hold
    it, but a one-line message makes a newline a space and that byte the four characters
    ``\xff`` (``one_line``), and the word pasted back named another path. Written so, the
    word is one printable line, which every message and document keeps as it is.
    """
    if text.isprintable():
        return shlex.quote(text)
    return "$'" + "".join(_ansi_c(char) for char in text) + "'"


def _ansi_c(char: str) -> str:
    if char in _ANSI_C:
        return _ANSI_C[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code in _ESCAPED_BYTES:  # the byte os.fsdecode stood this surrogate for
        return f"\\x{code - 0xDC00:02x}"
    return "".join(f"\\x{byte:02x}" for byte in _as_passed(char))


def _as_passed(char: str) -> bytes:
    r"""The bytes of ``char`` in a command line: in the file system's (the locale's) encoding.

    Under a Latin-1 locale a directory named ``Q4 \u2013 review`` (UTF-8 bytes on the disk)
    is ``Q4 \xe2\x80\x93 review`` to Python, one character a byte; its ``\x80`` was
    written as its UTF-8 bytes ``\xc2\x80``, and the pasted command named another path.
    A character that encoding cannot hold (no path of this host has it) is said in UTF-8.
    """
    try:
        return char.encode(sys.getfilesystemencoding())
    except UnicodeEncodeError:
        return char.encode("utf-8", "surrogatepass")


def text_field(record: dict[str, Any] | None, key: str) -> str | None:
    """``record[key]`` when it is a string, else None (unknown).

    A file a tool damaged (``"fsm_state": 7``) is said as unknown, never handed on as a
    state: ``list`` failed on it with a traceback.
    """
    value = (record or {}).get(key)
    return value if isinstance(value, str) else None
