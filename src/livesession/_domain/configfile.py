"""Reading a config file: a regular file of bounded size, refused before it is read.

``--config /dev/zero`` read until the process ran out of memory (deaf to SIGTERM all the
while), and ``--config`` a FIFO waited for a writer for ever. A config file is a regular
file of at most ``CONFIG_MAX_BYTES``; anything else is a ``ConfigError`` in one line,
before a byte is read.
"""

from __future__ import annotations

import codecs
import re
import tomllib
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import attrs

from .._exceptions import ConfigError
from .._support.charnames import char_name, foreign_char
from .._support.fsutil import FileTooLarge, NotAFile, read_regular
from .._support.secrets import redact_url_echoes
from .._support.text import iconv_command
from .datafeeds import check_recordable_paths
from .plugin_fields import TOO_DEEP_TO_READ

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator, Mapping

__all__ = [
    "CONFIG_MAX_BYTES",
    "config_keys",
    "in_file",
    "located",
    "misplaced_params",
    "parse_config",
    "place_of",
    "read_config_file",
    "refuse_overridden_invalid",
    "said_plainly",
]

CONFIG_MAX_BYTES: Final = 16 << 20
"""16 MiB: a config of a few hundred lines is some kilobytes; more is not a config."""


def read_config_file(path: Path) -> bytes:
    """The bytes of the config file ``path``; ``ConfigError`` naming what is wrong with it."""
    try:
        return read_regular(path, CONFIG_MAX_BYTES)
    except FileNotFoundError:
        stdin = " (a config is read from a file, never standard input: save it to one)"
        raise ConfigError(
            f"config file not found: {path}{stdin if str(path) == '-' else ''}"
        ) from None
    except (NotAFile, IsADirectoryError) as exc:
        kind = exc.kind if isinstance(exc, NotAFile) else "a directory"
        raise ConfigError(
            f"config file {path} is not a regular file ({kind}): give the path of a TOML file"
        ) from None
    except FileTooLarge as exc:
        raise ConfigError(
            f"config file {path} is {exc.size} bytes, more than the {CONFIG_MAX_BYTES} (16 MiB) "
            "a config file may have: is it the right file?"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def config_keys(path: Path) -> set[str]:
    """The top-level keys the config file ``path`` sets; none when it is no config file.

    For the CLI, which looks at what the file sets before ``load_config`` reads it: the
    file is read as ``load_config`` reads it (a FIFO or ``/dev/zero`` is refused, not
    read), and ``load_config`` says what is wrong with it.
    """
    try:
        return set(parse_config(path, read_config_file(path))[0])
    except ConfigError:
        return set()


def parse_config(path: Path, raw: bytes) -> tuple[dict[str, Any], str]:
    """The TOML document of the config file ``path`` (its bytes ``raw``), and its text.

    A BOM (as Notepad saves UTF-8) is dropped. ``ConfigError`` names the file and what is
    wrong with it: where its first byte that is not UTF-8 stands (a file saved as Latin-1),
    or that it is UTF-16 (what Windows PowerShell's ``>`` and Notepad's "Unicode" write);
    TOML is UTF-8. Either says the ``iconv`` command that converts it, as a data file's
    refusal does.
    """
    body = raw.removeprefix(codecs.BOM_UTF8)
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in body[:2]:
        raise ConfigError(
            f"config file {path} is UTF-16 text, not UTF-8 (TOML is UTF-8): save it as UTF-8, "
            f"or convert it: {iconv_command(path, _utf16_form(body))}"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} {_not_utf8(path, body, exc.start)}") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise not_toml(path, text, exc) from None
    except RecursionError:  # tomllib reads nested arrays and inline tables recursively
        raise ConfigError(f"config file {path} {TOO_DEEP_TO_READ}") from None


def _not_utf8(path: Path, body: bytes, at: int) -> str:
    """What is said of the config file ``path`` whose byte ``at`` of ``body`` is not UTF-8."""
    line = body.count(b"\n", 0, at) + 1
    column = at - body.rfind(b"\n", 0, at)
    return (
        f"is not UTF-8 text (TOML is UTF-8): byte 0x{body[at]:02x} at line {line}, column "
        f"{column} (a file saved as Latin-1 or Windows-1252?): save it as UTF-8, or convert "
        f"it: {iconv_command(path, body[at])}"
    )


def _utf16_form(body: bytes) -> str:
    r"""The form ``iconv`` reads the UTF-16 ``body`` as: with a BOM its own, else by its NULs.

    Without a BOM ``iconv -f UTF-16`` takes big-endian, where Windows writes little-endian:
    ``s\x00`` is UTF-16LE.
    """
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "UTF-16"
    return "UTF-16BE" if body[:1] == b"\x00" else "UTF-16LE"


def said_plainly(exc: ConfigError, tables: Mapping[str, type[Any]]) -> ConfigError:
    """``exc``, raised building a config from a mapping, as its one line should say it.

    A key unknown in its table but known in another (``tables``: each table's attrs class,
    "" the top level's) says where it belongs: ``steps`` written below ``[risk]`` (TOML puts it
    in that table), ``max_order_qty`` at the top level; a character of the key that is not
    ASCII is named (``foreign_char``). And a value quoted in the message
    that looks like a secret (a DSN with a password put in ``account``) is not repeated,
    nor a quoted URL's path and query (``redact_url_echoes``: a webhook's token pasted in
    ``broker``): the message reaches logs and tracebacks.
    """
    if type(exc) is not ConfigError:
        return exc
    if exc.key is not None:
        elsewhere = _misplaced(exc.key, {k: attrs.fields_dict(v) for k, v in tables.items()})
        key = exc.key.removeprefix(f"{exc.table}.") if exc.table else exc.key
        note = foreign_char(key)  # a Cyrillic e (U+0435) in seed looks like seed
        if elsewhere or note:
            return ConfigError.unknown_key(
                key, exc.known, table=exc.table, elsewhere=elsewhere, note=note
            )
    said = redact_url_echoes(str(exc))
    if said == str(exc):
        return exc
    redacted = ConfigError(said)
    redacted.key, redacted.table, redacted.known = exc.key, exc.table, exc.known
    return redacted


def _misplaced(name: str, tables: Mapping[str, Iterable[str]]) -> str:
    """Where ``name`` (``risk.steps``), unknown in its own table, is a key; "" nowhere."""
    table, _, key = name.rpartition(".")
    homes = [home for home, keys in tables.items() if home != table and key in keys]
    if "" in homes:
        return (
            f"{key} is a top-level key, and in TOML every key below the [{table}] header is "
            f"in [{table}]: move {key} above the first [table] header"
        )
    if not homes:
        return ""
    where = " or ".join(f"[{home}]" for home in homes)
    return f"{key} is a key of {where}, not of {f'[{table}]' if table else 'the top level'}"


_KEY_SAID: Final = re.compile(
    r"(?:unknown config key |\[)?([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*)"
)
"""The key a config error begins with (``seed must be ...``, ``[realish] is given``)."""
_PART: Final = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*')"""
_DOTTED: Final = rf"({_PART}(?:[ \t]*\.[ \t]*{_PART})*)"
"""A dotted key as TOML writes one: bare or quoted parts (a quoted one may hold ``=``, ``/``).

Each blank has one place in the patterns below: a run of blanks that several of their parts
could take made a failing match try every way of sharing it out (a line of 10,000 spaces
took minutes).
"""
_TABLE: Final = re.compile(rf"[ \t]*\[\[?[ \t]*{_DOTTED}[ \t]*\]\]?[ \t]*(?:#.*)?$")
"""A table's header, or an array of tables' (``[[risk]]``, which the config refuses)."""
_KEY: Final = re.compile(rf"[ \t]*{_DOTTED}[ \t]*=")
"""A line's key."""


def in_file(
    exc: ConfigError, path: Path, text: str, data: Mapping[str, Any], overridden: Collection[str]
) -> ConfigError:
    """``exc``, raised building the config of the file ``path``, naming the file.

    The line of the key the message begins with is named too, when the file sets that key
    (``text`` its text, ``data`` what it sets). An error of a key a flag set
    (``overridden``) is the flag's: the file's own value was held to its rules already.
    """
    message = str(exc)
    if type(exc) is not ConfigError or message.startswith("config file "):
        return exc
    said = _KEY_SAID.match(message)
    key = exc.key if exc.key is not None else said.group(1) if said is not None else ""
    if key.partition(".")[0] in overridden:
        return exc
    # An unknown key is one the file sets, whatever it holds (a URL's dots and slashes).
    line = _line_of(text, key) if exc.key is not None or _sets(data, key) else None
    written = _written(text, key) if exc.as_written is not None and line is not None else None
    if written is not None and exc.as_written is not None:
        message = exc.as_written(written) or message  # ``0.010`` as written, not 0.01
    return ConfigError(f"config file {path}{'' if line is None else f', line {line}'}: {message}")


def _written(text: str, key: str) -> str | None:
    """The value the line of ``text`` (a TOML document) that sets ``key`` writes, as written.

    The text after its ``=`` up to a comment: that of a float or a datetime, which TOML
    reads rounded (``0.010`` as 0.01, a time to the microsecond). None when no line sets
    ``key`` itself (an inline table's line sets its table).
    """
    lines = _lines(text)
    wanted = tuple(key.split("."))
    for number, names, assigned in _keyed_lines(text):
        found = _KEY.match(lines[number - 1])
        if assigned and names == wanted and found is not None:
            return lines[number - 1][found.end() :].partition("#")[0].strip() or None
    return None


def _sets(data: Mapping[str, Any], key: str) -> bool:
    """Whether ``data`` (a TOML document) sets the dotted ``key``."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


def _line_of(text: str, key: str) -> int | None:
    """The line of ``text`` (a TOML document) that sets ``key`` or opens its table.

    Read line by line, not parsed: the lines within a multi-line string are passed over, and
    a key set in an inline table is found at its table's line. None when not found.
    """
    found: int | None = None
    wanted = tuple(key.split("."))
    for number, names, assigned in _keyed_lines(text):
        if names == wanted:
            return number
        if found is None and names and wanted[: len(names)] == names and assigned:
            found = number  # an inline table: ``risk = { ... }``
        if found is None and names[: len(wanted)] == wanted:
            found = number  # a table opened by a dotted key or header: ``x.y = 1``, ``[x.y]``
    return found


def _keyed_lines(text: str) -> Iterator[tuple[int, tuple[str, ...], bool]]:
    """Each line of ``text`` that sets a key or opens a table, read as ``_line_of`` reads it.

    Its number, the key's whole dotted name (its table's and its own) and whether it sets
    a key (not a header).
    """
    table: tuple[str, ...] = ()
    quoted = False
    for number, line in enumerate(_lines(text), start=1):
        toggles = (line.count('"""') + line.count("'''")) % 2 == 1
        if quoted:  # within a multi-line string: its closing line too
            quoted = not toggles
            continue
        quoted = toggles
        header, assigned = _TABLE.match(line), _KEY.match(line)
        if header is not None:
            table = _dotted(header.group(1))
            yield number, table, False
        elif assigned is not None:
            yield number, (*table, *_dotted(assigned.group(1))), True


def _lines(text: str) -> list[str]:
    """The lines of ``text`` (a TOML document) as TOML counts them, each without its end.

    A line ends at a line feed (CRLF too) alone: a U+2028 LINE SEPARATOR or a NEL in a
    comment or a string is a character of it, which ``str.splitlines`` took for a line end,
    naming the line after a key's.
    """
    return [line.removesuffix("\r") for line in text.split("\n")]


_SET_TWICE: Final = re.compile(
    r"Cannot (?:overwrite a value|declare (?P<table>.*) twice) "
    r"\(at line (?P<line>\d+), column \d+\)"
)
"""The TOML reader's word for a key set twice, or a table declared twice, and its line."""


def not_toml(path: Path, text: str, exc: ValueError) -> ConfigError:
    """``config file PATH is not valid TOML: ...``, the reader's words, for ``exc``.

    A key set twice, or a table declared twice, is named with its line and the line that
    set it first: the reader says only ``Cannot overwrite a value (at line 3, column 9)``.
    A file of JSON (``{...}``) is told the config is TOML.
    """
    found = _SET_TWICE.fullmatch(str(exc))
    names = () if found is None else _names_on(text, int(found["line"]))
    if found is None or not names:
        json = text.lstrip().startswith("{")
        hint = ": it looks like JSON; a config file is TOML (key = value lines)" if json else ""
        return ConfigError(
            f"config file {path} is not valid TOML: {exc}{hint or _foreign(text, exc)}"
        )
    number, key = int(found["line"]), ".".join(names)
    # the first line that sets it, or opens it as a table (``risk.x = 1`` opens [risk])
    first = next((at for at, set_, _ in _keyed_lines(text) if set_[: len(names)] == names), number)
    earlier = f" (first on line {first})" if first < number else ""
    if found["table"] is not None:
        return ConfigError(
            f"config file {path}, line {number}: the table [{key}] is declared twice{earlier}: "
            "TOML takes a table once: put its keys under one header"
        )
    return ConfigError(
        f"config file {path}, line {number}: {key} is set twice{earlier}: TOML takes a key "
        "once: keep one of them"
    )


_AT: Final = re.compile(r"\(at line (\d+), column (\d+)\)$")
"""Where the TOML reader says it stopped."""


def _foreign(text: str, exc: ValueError) -> str:
    """What the character the TOML reader stopped at is, when it is not ASCII; else "".

    ``seed = 5`` with a Cyrillic e (U+0435), full-width letters (U+FF53...), a zero-width space
    pasted after a key: the reader's ``Expected '=' after a key`` points at a character
    that looks like none, or like the letter it replaced.
    """
    at = _AT.search(str(exc))
    lines = _lines(text)
    if at is None or not 0 < int(at[1]) <= len(lines):
        return ""
    line, column = lines[int(at[1]) - 1], int(at[2])
    char = line[column - 1 : column]
    if not char or char.isascii():
        return ""
    return (
        f": that character is {char_name(char)}, not ASCII; TOML writes a bare key, a number, "
        "true and false in ASCII: type it again, or quote it where it belongs in a string"
    )


def _names_on(text: str, number: int) -> tuple[str, ...]:
    """The dotted name line ``number`` of ``text`` sets or opens (() when none)."""
    return next((names for at, names, _ in _keyed_lines(text) if at == number), ())


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in name.split("."))


def refuse_overridden_invalid(
    path: Path, cls: type[Any], data: Mapping[str, Any], overrides: Mapping[str, Any], text: str
) -> None:
    """Refuse a value the file ``path`` sets that is invalid on its own, though overridden.

    An override (a flag of ``livesession dryrun``) replaces the file's value, so the whole
    config never met it: ``steps = "-0"`` or ``run_id = "../evil"`` in a file run with
    ``--steps 20 --run-id ok`` went unchecked, and the file stayed wrong for the next run
    made without the flag. Each such value is held to its own key's rules (type, range,
    form: the field's converter and validator), never to the other keys': what depends on
    them (a data file's existence, ``[strategy_params]`` without a ``strategy_factory``)
    is the overriding config's to judge. ``ConfigError`` names the file, the key's line
    (``text`` is the file's text) and the key.
    """
    fields = attrs.fields_dict(cls)
    for key, value in overrides.items():
        field = fields.get(key)
        if value is None or key not in data or field is None:
            continue
        own = data[key]
        try:
            if field.converter is not None:  # a plain function: the config's are
                own = cast("Callable[[Any], Any]", field.converter)(own)
            if field.validator is not None:
                field.validator(None, field, own)
            if key == "feed":  # its path's form: one a run cannot record or open
                check_recordable_paths(own, None)
        except ConfigError as exc:
            line = _line_of(text, key)
            raise ConfigError(
                f"config file {path}{'' if line is None else f', line {line}'}: "
                f"{redact_url_echoes(str(exc))} (an override replaces it "
                f"for this run, but the file must be valid on its own: fix or drop {key} there)"
            ) from None


_REFERENCE_KEYS: Final = ("strategy_factory", "feed", "broker", "rails")
"""The keys whose references are imported when a run is made, not when the file is read."""
_VENUE_KEYS: Final = ("step_interval_ms",)
"""The keys a venue judges when a run is made (a venue feed's candle length)."""
_RUN_KEYS: Final = ("run_id",)
"""The keys a run directory judges when a run is made (a run id already taken)."""
_PARAMS_TABLES: Final = ("strategy_params", "feed_params", "broker_params")
_PLACES: Final[dict[int, dict[str, str]]] = {}
"""Where the config file a config was read from sets each reference key, by the config's id."""


def located(
    config: Any, path: Path, text: str, data: Mapping[str, Any], overridden: Collection[str]
) -> Any:
    """``config``, remembering the line of ``path`` that sets each of its reference keys.

    A reference is imported when the run is made, long after the file was read: its
    refusal (``cannot import 'desk.s:make'``) names the file and line as a value's does
    (``place_of``), as a misplaced key of a params table's does (``misplaced_params``), and
    as a ``step_interval_ms`` a venue feed's exchange has no candles of does, and as a
    ``run_id`` whose run directory is there already does (``taken_as``). A key
    a flag set (``overridden``) is the flag's, in no file. Kept
    beside the config, never in it (``config.json`` and its hash are the run's).
    """
    keys = [
        key
        for key in (*_REFERENCE_KEYS, *_VENUE_KEYS, *_RUN_KEYS)
        if key in data and key not in overridden
    ]
    for table in _PARAMS_TABLES:  # each of their keys too (``misplaced_params``)
        given = data.get(table)
        keys += [f"{table}.{key}" for key in given] if isinstance(given, dict) else []
    rails = data.get("rails_params")  # a table per rail: ``[rails_params."REF"]``
    for ref, given in rails.items() if isinstance(rails, dict) else ():
        keys += [f"rails_params.{ref}.{key}" for key in given] if isinstance(given, dict) else []
    places = {}
    for key in keys:
        line = _line_of(text, key)
        places[key] = f"config file {path}{'' if line is None else f', line {line}'}: "
    if places:
        _PLACES[id(config)] = places
        weakref.finalize(config, _PLACES.pop, id(config), None)
    return config


def place_of(config: object, key: str) -> str:
    """``config file PATH, line N: `` for the reference ``key`` ``config``'s file set, or ""."""
    return _PLACES.get(id(config), {}).get(key, "")


def misplaced_params(
    config: Any, table: str, *, own: str = "", ref: str | None = None
) -> dict[str, str]:
    """Each key of the params ``table`` of ``config`` that is a config key elsewhere, said.

    ``steps`` or ``max_order_qty`` written below ``[strategy_params]`` by mistake goes to the
    factory, whose ``**kwargs`` takes it without a word: the run goes on with 1,000 steps
    and the day-1 order cap. Said as a misplaced key is (the file and line, where it
    belongs); the keys of the table ``own`` (``strategy``: the demo's, which a strategy of
    one's own takes in its params) are the table's to have. ``config`` is a ``DryrunConfig``.
    With ``ref``, the table is ``table``'s own table for that reference (a rail's
    ``[rails_params."REF"]``).
    """
    tables = {"": type(config)}
    for field in attrs.fields(type(config)):
        value = getattr(config, field.name)
        if attrs.has(type(value)) and field.name != own:
            tables[field.name] = type(value)
    keys = {name: set(attrs.fields_dict(cls)) for name, cls in tables.items()}
    keys[""].discard("base_dir")  # the file's directory, never a setting
    params, name, place = getattr(config, table), table, table
    if ref is not None:
        params, name, place = params.get(ref, {}), f'{table}."{ref}"', f"{table}.{ref}"
    said = {}
    for key in params:
        elsewhere = _misplaced(f"{name}.{key}", keys)
        if elsewhere:
            said[key] = f"{place_of(config, f'{place}.{key}')}{name}.{key} is refused: {elsewhere}"
    return said
