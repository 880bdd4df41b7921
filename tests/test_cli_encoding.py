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
