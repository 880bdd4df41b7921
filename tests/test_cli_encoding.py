"""The CLI's output under a stdout or stderr that cannot encode every character.

With ``PYTHONIOENCODING=ascii`` (or a terminal set to a legacy code page) a path beyond
ASCII (``env/ünï``) ended ``dryrun`` after its run was sealed, and ``status`` and ``verify
--json`` after their work, with a traceback in ``_cli_output.py`` (``UnicodeEncodeError``)
and exit 1, whatever the verdict. Now ``--json`` is ASCII under any locale (escapes,
``\\u00fc``) and plain output degrades to backslash escapes (``env/\\xfcn\\xef``); the exit
codes are the documented ones.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livesession._cli_output import emit_json
from livesession.cli import main

NAME = "\u00fcn\u00ef"  # ünï
SAID = "\\xfcn\\xef"  # as an ASCII stream takes it


def _ascii_cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    env.pop("LIVESESSION_CRASH_AT", None)
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )


def _text(raw: bytes) -> str:
    assert raw.isascii(), raw
    return raw.decode("ascii")


def test_commands_on_a_path_beyond_ascii_under_an_ascii_stdout(tmp_path: Path) -> None:
    """The SRE's three commands: no traceback, their exit codes, what they print said."""
    out = tmp_path / "env" / NAME
    run_dir = out / "asc1"

    ran = _ascii_cli("dryrun", "--out", out, "--steps", "60", "--run-id", "asc1")
    assert b"Traceback" not in ran.stderr, ran.stderr.decode("ascii", "replace")
    assert ran.returncode == 0
    assert f"artifacts   {tmp_path}/env/{SAID}/asc1" in _text(ran.stdout)

    status = _ascii_cli("status", run_dir)
    assert (status.returncode, status.stderr) == (0, b"")
    assert f"run         asc1 ({tmp_path}/env/{SAID}/asc1)" in _text(status.stdout)

    verified = _ascii_cli("verify", "--json", run_dir)
    assert (verified.returncode, verified.stderr) == (0, b"")
    assert f'"run_dir":"{tmp_path}/env/\\u00fcn\\u00ef/asc1"' in _text(verified.stdout)
    assert json.loads(verified.stdout)["run_dir"] == str(run_dir)

    missing = _ascii_cli("verify", "--json", out / "nope")
    assert missing.returncode == 2
    assert _text(missing.stderr) == (
        f"livesession: error: run directory {tmp_path}/env/{SAID}/nope does not exist\n"
    )
    assert json.loads(missing.stdout)["error"] == f"run directory {out / 'nope'} does not exist"


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "utf-8"])
def test_plain_output_degrades_where_the_stream_cannot_encode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """A stream's own encoding takes what it can; the rest is backslash escapes."""
    out = io.BytesIO()
    err = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(out, encoding=encoding))
    monkeypatch.setattr(sys, "stderr", io.TextIOWrapper(err, encoding=encoding))
    missing = tmp_path / f"{NAME}\u20ac"  # ünï€: latin-1 has ü and ï, not €

    assert main(["status", str(missing)]) == 2
    assert main(["verify", str(missing), "--json"]) == 2
    sys.stdout.flush()
    sys.stderr.flush()

    said = {
        "ascii": f"{SAID}\\u20ac",
        "latin-1": f"{NAME}\\u20ac",
        "utf-8": f"{NAME}\u20ac",
    }[encoding]
    assert err.getvalue().decode(encoding).splitlines() == [
        f"livesession: error: {tmp_path}/{said} does not exist",
        f"livesession: error: run directory {tmp_path}/{said} does not exist",
    ]
    assert out.getvalue().isascii()
    assert json.loads(out.getvalue())["error"] == f"run directory {missing} does not exist"


def test_json_escapes_every_character_beyond_ascii(capsys: pytest.CaptureFixture[str]) -> None:
    """One form under any locale: BMP characters as one escape, others as a pair."""
    emit_json({"path": "/runs/\u00fc\u2028\U0001f600", "bad": "bad\udcffname"})

    printed = capsys.readouterr().out
    assert printed == '{"bad":"bad\\\\xffname","path":"/runs/\\u00fc\\u2028\\ud83d\\ude00"}\n'
    assert json.loads(printed) == {"path": "/runs/\u00fc\u2028\U0001f600", "bad": "bad\\xffname"}


def test_a_path_that_is_not_utf8_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A config file's directory or a data file named with a byte that is not UTF-8.

    ``r\\xe9sultats`` (a Latin-1 name) reaches Python as ``r\\udce9sultats``, which no JSON
    holds: ``dryrun`` died of ``TypeError: str is not valid UTF-8`` while it wrote
    ``config.json`` (exit 1, a traceback). Now: exit 2, one line naming the path as bytes.
    """
    latin1 = tmp_path / "r\udce9sultats"  # os.fsencode: b"r\xe9sultats"
    latin1.mkdir()
    config = latin1 / "desk.toml"
    config.write_text("steps = 5\n")
    data = latin1 / "eurusd.csv"
    data.write_text("timestamp,open,high,low,close,volume\n2026-01-01T00:00:00Z,1,1,1,1,1\n")
    out = tmp_path / "runs"

    assert main(["dryrun", "-q", "--config", str(config), "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert "Traceback" not in said
    assert said == (
        f"livesession: error: the config file's directory {tmp_path}/r\\xe9sultats is not "
        "UTF-8 text as this process reads file names (utf-8), and a run records the path in "
        "its files, which hold UTF-8 only: rename it (or the directory it is in)\n"
    )
    assert main(["dryrun", "-q", "--feed", f"csv:{data}", "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert said.startswith(
        f"livesession: error: the data file {tmp_path}/r\\xe9sultats/eurusd.csv is not UTF-8"
    ), said
    assert not out.exists()  # nothing written


def test_a_non_ascii_path_under_an_ascii_file_name_encoding(tmp_path: Path) -> None:
    """``LANG=C`` without the UTF-8 coercion: Python reads and writes file names as ASCII.

    A config file in ``ünï/`` came as surrogates (``TypeError`` writing ``config.json``); a
    data file the TOML names ``dätä.csv`` could not be opened (``UnicodeEncodeError``).
    Both tracebacks, exit 1; now exit 2, one line, with the way out (a UTF-8 locale).
    """
    where = tmp_path / NAME
    where.mkdir()
    (where / "desk.toml").write_text("steps = 5\n")
    elsewhere = tmp_path / "cfg"
    elsewhere.mkdir()
    (elsewhere / "desk.toml").write_text(f'feed = "csv:{where}/d\u00e4t\u00e4.csv"\n')
    env = dict(os.environ, LANG="C", LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    env.pop("LIVESESSION_CRASH_AT", None)
    cli = [sys.executable, "-m", "livesession.cli", "dryrun", "-q", "--out", tmp_path / "runs"]
    for config, said in (
        (where / "desk.toml", "the config file's directory"),
        (elsewhere / "desk.toml", "the data file"),
    ):
        ran = subprocess.run(
            [*cli, "--config", config],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        err = ran.stderr.decode("ascii", "replace")
        assert ran.returncode == 2, err
        assert err.count("\n") == 1, err
        assert err.startswith(f"livesession: error: {said} "), err
        assert "LC_ALL=C.UTF-8" in err, err
    assert not (tmp_path / "runs").exists()


def test_status_says_a_byte_that_is_not_utf8_as_the_other_commands_do(tmp_path: Path) -> None:
    r"""``status`` of a missing ``runs/bad\xffname`` said ``bad\udcffname``; now ``\xff``."""
    missing = tmp_path / "bad\udcffname"
    env = {k: v for k, v in os.environ.items() if k != "LIVESESSION_CRASH_AT"}
    said = []
    for verb in ("status", "verify"):
        ran = subprocess.run(
            [sys.executable, "-m", "livesession.cli", verb, missing],
            env=env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert ran.returncode == 2
        said.append(_text(ran.stderr))
    assert said == [
        f"livesession: error: {tmp_path}/bad\\xffname does not exist\n",
        f"livesession: error: run directory {tmp_path}/bad\\xffname does not exist\n",
    ]


def test_a_run_read_back_under_an_ascii_file_name_encoding(tmp_path: Path) -> None:
    """A run whose config (with a reference) sits in ``ünï/``, read back under ``LANG=C``.

    ``evidence`` died of ``UnicodeEncodeError`` importing the feed from the directory, and
    a first fix said ``config.json is corrupt``: the file is sound, the locale cannot name
    the directory. One line says so, exit 2.
    """
    where = tmp_path / NAME
    where.mkdir()
    (where / "myfeed.py").write_text(
        "from decimal import Decimal\nfrom livesession import RandomWalkFeed\n\n\n"
        "def make(symbol):\n    return RandomWalkFeed(symbol=symbol, seed=1, "
        'initial_price=Decimal("100.00"), tick=Decimal("0.01"), lot=Decimal("0.001"))\n'
    )
    (where / "desk.toml").write_text('steps = 5\nfeed = "myfeed:make"\n')
    out = tmp_path / "runs"
    args = ["dryrun", "-q", "--config", str(where / "desk.toml"), "--out", str(out)]
    assert main([*args, "--run-id", "r"]) == 0
    env = dict(os.environ, LANG="C", LC_ALL="C", PYTHONCOERCECLOCALE="0", PYTHONUTF8="0")
    env.pop("LIVESESSION_CRASH_AT", None)
    env.pop("PYTHONIOENCODING", None)  # the locale's stderr: a shell's latin-1 wrote the bytes
    ran = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "evidence", out / "r", "--out", tmp_path / "e"],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    err = ran.stderr.decode("ascii", "replace")
    assert ran.returncode == 2, err
    assert err == (
        f"livesession: error: {out}/r/config.json: the config file's directory {tmp_path}/"
        "\\xfcn\\xef cannot be named to the file system in this process's file name encoding "
        "(ascii, a locale such as LANG=C without UTF-8): run under a UTF-8 locale "
        "(LC_ALL=C.UTF-8), or rename it to ASCII\n"
    )
    assert not (tmp_path / "e").exists()
