"""A config file's refusal names the file, the key's line, and where a misplaced key belongs.

Bugs: a value refused in a config file did not say which file (``seed must be a
non-negative integer, got '5'``); a top-level key written below a ``[table]`` header (which
TOML puts in that table) was ``unknown config key risk.steps``, with no word that ``steps``
is a known key in the wrong place; a file saved as Latin-1 or UTF-16 was "not valid TOML:
'utf-8' codec can't decode byte 0xff in position 0"; and a secret put in a plain key
(``account = "postgresql://u:PASSWORD@h/db"``) was repeated in the exception
``load_config`` raised (the command line redacts its own line, a program's log does not).
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from livesession import ConfigError, DryrunConfig, load_config
from livesession.cli import main


def _refusal(tmp_path, text: str | bytes, overrides=None) -> tuple[str, str]:
    path = tmp_path / "desk.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value), str(path)


@pytest.mark.parametrize(
    ("text", "line", "said"),
    [
        ('# my desk\n\nseed = "5"\n', 3, "seed must be a non-negative integer, got '5'"),
        ('steps = 10\n[risk]\nmax_order_qty = "0"\n', 3, "risk.max_order_qty must be greater"),
        ("[risk]\nmax_order_qty = 0.1\n", 2, "risk.max_order_qty: floats are not accepted"),
        ('seed = 1\nrisk = { max_order_qty = "-1" }\n', 2, "risk.max_order_qty must be"),
        ('seed = 1\nrisk.max_order_qty = "-1"\n', 2, "risk.max_order_qty must be"),
        ('[ risk ]  # the rails\nmax_order_qty = "-1"\n', 2, "risk.max_order_qty must be"),
        ('"seed" = "x"\n', 1, "seed must be a non-negative"),
        ("[strategy]\nfast = 20\nslow = 5\n", 2, "strategy.fast (20) must be smaller"),
        ("seed = 1\n[realish]\nlatency_ms = 1\n", 2, "[realish] is given, but broker is 'mock'"),
        ("seed = 1\nrisk = 5\n", 2, "risk must be a table, got 5"),
        # An array of tables' header (``[[risk]]`` for ``[risk]``) was no header to the finder.
        ('seed = 1\n[[risk]]\nmax_order_qty = "1"\n', 2, "risk must be a table, got [{"),
        ("seed = 1\n[[ strategy ]]  # x\nfast = 3\n", 2, "strategy must be a table, got [{"),
        ("seed = 1\nsede = 5\n", 2, "unknown config key sede (did you mean seed?)"),
        # An unknown key TOML reads but the message's own pattern did not (a hyphen, upper
        # case, a leading digit) lost its line, or got its table's header line.
        ("seed = 1\nmax-steps = 5\n", 2, "unknown config key max-steps (did you mean max_st"),
        ("seed = 1\nSteps = 5\n", 2, "unknown config key Steps (did you mean steps?)"),
        ("seed = 1\n2seed = 5\n", 2, "unknown config key 2seed (did you mean seed?)"),
        ("seed = 1\n[Risk]\n", 2, "unknown config key Risk (did you mean risk?)"),
        ('[risk]\nMax_order_qty = "2"\n', 2, "unknown config key risk.Max_order_qty (did"),
        ("[strategy]\nfast = 3\nFast = 3\n", 3, "unknown config key strategy.Fast (did you"),
        ("[alerts]\nTimeout_ms = 5\n", 2, "unknown config key alerts.Timeout_ms (did you"),
        # A dotted key that opens an unknown table is found at its line.
        ("seed = 1\nx.y = 1\n", 2, "unknown config key x; known keys"),
        # A quoted key TOML takes but no bare key could be is written as TOML writes it:
        # ``"seed "`` read ``unknown config key seed (did you mean seed?)``.
        ('seed = 1\n"seed " = 5\n', 2, 'unknown config key "seed " (did you mean seed?)'),
        ('seed = 1\n"" = 5\n', 2, 'unknown config key ""; known keys'),
        ('[risk]\n"max order qty" = 5\n', 2, 'unknown config key risk."max order qty" (did'),
        # A key with digits, and the data-file pin checked once the config is made.
        ('seed = 1\nfeed_sha256 = "00"\n', 2, "feed_sha256 must be 64 lower-case hex digits"),
        (f'seed = 1\nfeed_sha256 = "{"a" * 64}"\n', 2, "feed_sha256 is given ("),
        # A multi-line string's lines are no keys: the key is the one after it.
        (
            (
                'strategy_factory = "desk.s:make"\n[strategy_params]\nnote = """\n[risk]\n'
                'max_order_qty = "-1"\n"""\n[risk]\nmax_order_qty = "-1"\n'
            ),
            8,
            "risk.max_order_qty must be greater",
        ),
    ],
)
def test_a_refused_value_names_the_file_and_its_line(tmp_path, text, line, said):
    message, path = _refusal(tmp_path, text)
    assert message.startswith(f"config file {path}, line {line}: {said}")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "override", "line", "said"),
    [
        ('seed = 1\nsteps = "-0"\n', {"steps": 20}, 2, "steps must be a positive integer"),
        ('seed = 1\n\n[risk]\nmax_order_qty = "0"\n', {"seed": 2}, 4, "risk.max_order_qty"),
        ('# desk\nrun_id = "../evil"\n', {"run_id": "ok"}, 2, "run_id must be a plain name"),
    ],
)
def test_a_file_value_a_flag_overrides_is_refused_at_its_line(tmp_path, text, override, line, said):
    """A value the file sets that a flag overrides is held to its own rules; its refusal
    said ``config file desk.toml: steps must be ...`` without the line every other
    refusal of a file's value names."""
    message, path = _refusal(tmp_path, text, override)
    assert message.startswith(f"config file {path}, line {line}: {said}")


@pytest.mark.parametrize(
    "filler",
    [
        " " * 200_000 + "\n",  # a line of nothing but blanks
        "allowlist = [\n  [" + " " * 200_000 + '"X"],\n]\n',  # an array's line opening "["
        "allowlist = [\n  " + " \t" * 100_000 + '"a=b",\n]\n',  # a line with "=" in a string
    ],
    ids=["blank", "bracket", "equals"],
)
def test_a_long_line_of_blanks_does_not_stall_the_line_finder(tmp_path, filler):
    """The patterns that find a key's line matched a run of blanks three ways (before the
    key, in it, after it): a line of 10,000 spaces took 380 s, and the refusal (or any run
    naming a plug-in, whose lines are found as the file is read) waited for it."""
    started = time.perf_counter()
    message, path = _refusal(tmp_path, f"{filler}seed = -1\n")
    assert time.perf_counter() - started < 10  # some ms; the cubic search, hours
    assert message.startswith(f"config file {path}, line {filler.count(chr(10)) + 1}: seed")


def test_a_flags_own_value_is_not_blamed_on_the_file(tmp_path):
    """``--run-id ../x`` with a file whose run_id is fine: the flag's value is refused."""
    message, _ = _refusal(tmp_path, 'run_id = "ok"\n', {"run_id": "../x"})
    assert message.startswith("run_id must be a plain name")


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        (
            '[risk]\nmax_order_qty = "1"\nsteps = 10\n',
            3,
            (
                "unknown config key risk.steps (steps is a top-level key, and in TOML every key "
                "below the [risk] header is in [risk]: move steps above the first [table] header)"
            ),
        ),
        (
            "[alerts]\ntimeout_ms = 100\nseed = 10\n",
            3,
            (
                "unknown config key alerts.seed (seed is a top-level key, and in TOML every key "
                "below the [alerts] header is in [alerts]"
            ),
        ),
        (
            'max_order_qty = "1"\n',
            1,
            (
                "unknown config key max_order_qty (max_order_qty is a key of [risk], not of the "
                "top level)"
            ),
        ),
        (
            "[risk]\nfast = 5\n",
            2,
            "unknown config key risk.fast (fast is a key of [strategy], not of [risk])",
        ),
        (
            "latency_ms = 5\n",
            1,
            (
                "unknown config key latency_ms (latency_ms is a key of [fill_model] or [realish], "
                "not of the top level)"
            ),
        ),
    ],
)
def test_a_key_in_the_wrong_table_says_where_it_belongs(tmp_path, text, line, where):
    message, path = _refusal(tmp_path, text)
    assert message.startswith(f"config file {path}, line {line}: {where}")
    assert "; known keys: " in message


def test_a_misplaced_key_is_said_from_python_too():
    with pytest.raises(ConfigError, match=r"^unknown config key risk\.fast \(fast is a key of"):
        DryrunConfig.from_mapping({"risk": {"fast": 5}})


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (
            b"seed = 1\n# caf\xe9\n",
            (
                "is not UTF-8 text (TOML is UTF-8): byte 0xe9 at line 2, column 6 (a file saved "
                "as Latin-1 or Windows-1252?): save it as UTF-8"
            ),
        ),
        (
            b"\xef\xbb\xbfseed = 1\n\xff\n",
            "is not UTF-8 text (TOML is UTF-8): byte 0xff at line 2, column 1",
        ),
        ("seed = 1\n".encode("utf-16"), "is UTF-16 text, not UTF-8 (TOML is UTF-8)"),
        ("seed = 1\n".encode("utf-16-le"), "is UTF-16 text, not UTF-8 (TOML is UTF-8)"),
    ],
)
def test_a_file_not_in_utf8_says_where_and_what(tmp_path, raw, said):
    message, path = _refusal(tmp_path, raw)
    assert message.startswith(f"config file {path} {said}")


@pytest.mark.parametrize(
    ("raw", "source"),
    [
        ("seed = 1\n# café\n".encode("latin1"), "latin1"),
        ('seed = 1\nstrategy_id = "5 €"\n'.encode("cp1252"), "cp1252"),
        ("# Notepad\r\nseed = 1\r\n".encode("utf-16"), "UTF-16"),  # its BOM says the order
        ("seed = 1\n".encode("utf-16-le"), "UTF-16LE"),  # no BOM: iconv would take it BE
        ("seed = 1\n".encode("utf-16-be"), "UTF-16BE"),
    ],
    ids=["latin1", "cp1252", "utf16-bom", "utf16le", "utf16be"],
)
def test_a_file_not_in_utf8_gives_the_command_that_converts_it(tmp_path, raw, source):
    """Bug: a config file saved as Latin-1 or UTF-16 was told to be saved as UTF-8 and no
    more, where a data file's refusal gives the ``iconv`` line; now the config's does too,
    and the command, run as given, makes a file the config reads."""
    folder = tmp_path / "my desk"
    folder.mkdir()
    path = folder / "desk.toml"
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    command = f"iconv -f {source} -t utf-8 '{path}' > '{folder / 'desk-utf8.toml'}'"
    assert str(info.value).endswith(f": save it as UTF-8, or convert it: {command}")
    if shutil.which("iconv") is None:
        return  # the line's command is iconv's
    subprocess.run(command, shell=True, check=True, timeout=30)  # noqa: S602 - the line's
    converted = load_config(folder / "desk-utf8.toml")
    assert converted.seed == 1
    assert converted.strategy_id == ("5 €" if source == "cp1252" else "sma_demo")


def test_the_cli_gives_the_command_in_one_line(tmp_path, capsys):
    path = tmp_path / "desk.toml"
    path.write_bytes("steps = 5\n".encode("utf-16"))
    assert main(["dryrun", "--config", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"livesession: error: config file {path} is UTF-16 text, not UTF-8 (TOML is UTF-8): "
        f"save it as UTF-8, or convert it: iconv -f UTF-16 -t utf-8 {path} > "
        f"{tmp_path / 'desk-utf8.toml'}\n"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["desk.toml"]  # nothing written


@pytest.mark.parametrize(
    "text",
    [
        'account = "postgresql://desk:Sekr1tPassw0rd@127.0.0.1/db"\n',
        'run_id = "api_key=Sekr1tPassw0rd"\n',
        'symbol = "postgresql://desk:Sekr1tPassw0rd@127.0.0.1/db"\n',
    ],
)
def test_a_secret_in_a_plain_key_is_not_repeated_by_the_exception(tmp_path, text):
    message, _ = _refusal(tmp_path, text)
    assert "Sekr1tPassw0rd" not in message
    assert "***" in message
    key, _, value = text.partition(" = ")
    with pytest.raises(ConfigError) as info:
        DryrunConfig.from_mapping({key: value.strip().strip('"')})
    assert "Sekr1tPassw0rd" not in str(info.value)


def test_the_cli_says_it_in_one_line_and_writes_nothing(tmp_path, capsys):
    config = tmp_path / "desk.toml"
    config.write_text('[risk]\nmax_order_qty = "1"\nsteps = 10\n')
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"livesession: error: config file {config}, line 3: unknown config key risk.steps "
        "(steps is a top-level key"
    )
    assert err.count("\n") == 1
    assert not out.exists()


_HOOK = "https://hooks.example/abc123SECRETTOKEN"
"""A webhook URL whose token no secret rule knows: no ``/hooks/`` segment, no secret word."""


@pytest.mark.parametrize(
    "text",
    [
        f'account = "{_HOOK}"\n',
        f'symbol = "{_HOOK}?sig=Q9x"\n',
        f'allowlist = "{_HOOK}"\n',
        f'start_time = "{_HOOK}"\n',
        f'[risk]\nmax_order_qty = "{_HOOK}"\n',
    ],
)
def test_a_url_echoed_in_a_refusal_keeps_its_host_not_its_path(tmp_path, text):
    """Before: ``account must be a plain name ..., got 'https://hooks.example/abc123SECRET...'``
    repeated the token; now the echo is ``'https://hooks.example/***'``."""
    message, _ = _refusal(tmp_path, text)
    assert "SECRETTOKEN" not in message
    assert "sig=" not in message
    assert "'https://hooks.example/***'" in message


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (f'"{_HOOK}" = 1\n', 'unknown config key "https://hooks.example/***"; known keys'),
        (f'[alerts]\n"{_HOOK}" = 1\n', 'unknown config key alerts."https://hooks.example/***"'),
    ],
)
def test_a_url_written_as_a_key_is_not_echoed(tmp_path, text, said):
    """A webhook URL pasted where a key goes (quoted, as TOML then needs) was repeated whole:
    ``unknown config key https://hooks.example/abc123SECRETTOKEN``, unquoted, so the
    redaction of a quoted URL's path did not find it."""
    message, path = _refusal(tmp_path, text)
    assert "SECRETTOKEN" not in message
    assert message.startswith(f"config file {path}, line {text.count(chr(10))}: {said}")


def test_a_url_in_an_overridden_key_is_not_echoed_either(tmp_path):
    message, _ = _refusal(tmp_path, f'broker = "{_HOOK}"\n', {"broker": "mock"})
    assert "SECRETTOKEN" not in message
    assert "got 'https://hooks.example/***' (an override replaces it" in message


def test_a_url_given_on_the_command_line_is_not_echoed(tmp_path, capsys):
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--broker", _HOOK, "--json"]) == 2
    said = capsys.readouterr()
    assert "SECRETTOKEN" not in said.err + said.out
    assert "got 'https://hooks.example/***'" in said.err
    assert not out.exists()


@pytest.mark.parametrize(
    ("feed", "said"),
    [
        ("csv:nosuch.csv", "cannot open data file {tmp}/nosuch.csv: No such file or directory"),
        ("csv:data/GOOG.csv", "cannot open data file {tmp}/data/GOOG.csv: No such file or"),
        ("parquet:nosuch.parquet", "cannot open data file {tmp}/nosuch.parquet: No such file"),
        ("csv:data", "cannot open data file {tmp}/data: Is a directory"),
    ],
)
def test_a_data_file_not_there_names_the_feed_line(tmp_path, capsys, feed, said):
    """Bug: ``feed = "csv:nosuch.csv"`` in a config file was refused as ``cannot open data
    file .../nosuch.csv: No such file or directory``, the one refusal of a file's value that
    named neither the config file nor the line that sets ``feed``."""
    (tmp_path / "data").mkdir()
    config = tmp_path / "desk.toml"
    config.write_text(f'steps = 5\n\nfeed = "{feed}"\n', encoding="utf-8")
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    said = said.format(tmp=tmp_path.resolve())
    assert err.startswith(f"livesession: error: config file {config}, line 3: {said}"), err
    assert err.count("\n") == 1
    assert not out.exists()


def test_a_feed_flag_names_no_config_line(tmp_path, capsys):
    """``--feed csv:nosuch.csv`` is the flag's value, in no file: named as it was, even with
    a config file whose own ``feed`` the flag replaces."""
    config = tmp_path / "desk.toml"
    config.write_text('steps = 5\nfeed = "random_walk"\n', encoding="utf-8")
    missing = tmp_path / "nosuch.csv"
    out = tmp_path / "runs"
    argv = ["dryrun", "-c", str(config), "--feed", f"csv:{missing}", "--out", str(out), "-q"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert (
        err == f"livesession: error: cannot open data file {missing}: No such file or directory\n"
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("steps = 30\nseed = 1\nseed = 2\n", "line 3: seed is set twice (first on line 2)"),
        ('"seed" = 1\nseed = 2\n', "line 2: seed is set twice (first on line 1)"),
        (
            "[risk]\nmax_executions = 2\nmax_executions = 3\n",
            "line 3: risk.max_executions is set twice (first on line 2)",
        ),
        (
            '[risk]\nmax_order_qty = "1"\n[risk]\nmax_executions = 3\n',
            "line 3: the table [risk] is declared twice (first on line 1)",
        ),
        (
            'risk.max_order_qty = "1"\n[risk]\nmax_executions = 3\n',
            "line 2: the table [risk] is declared twice (first on line 1)",
        ),
        (
            '{"steps": 30}\n',
            (
                "is not valid TOML: Invalid statement (at line 1, column 1): it looks like "
                "JSON; a config file is TOML (key = value lines)"
            ),
        ),
    ],
    ids=["key", "quoted-key", "key-in-table", "table", "dotted-then-table", "json"],
)
def test_a_key_or_table_given_twice_is_named_with_both_lines(tmp_path, text, said) -> None:
    """Bug: ``seed = 1`` then ``seed = 2`` was refused as ``config file desk.toml is not valid
    TOML: Cannot overwrite a value (at line 3, column 9)``, naming no key (a second
    ``[risk]``: ``Cannot declare ('risk',) twice``), and a JSON config file as an
    ``Invalid statement`` alone. The refusal names the key (or table), its line and the line
    that set it first; a JSON file is told the config is TOML."""
    message, path = _refusal(tmp_path, text)
    assert message.startswith(f"config file {path}")
    assert said in message
    assert "\n" not in message
