"""A reviewer under a Latin-1 locale, given a run whose data file's path is not ASCII.

A run records its data file's path as text, written under a UTF-8 locale: ``café`` is the
bytes ``caf\\xc3\\xa9`` on the disk. Under a Latin-1 locale (``LC_ALL=de_DE.ISO-8859-1``)
Python names ``café`` with the one byte 0xe9: ``evidence`` (which re-runs the run) and
``resume`` said ``No such file or directory: ... put that file at this path`` of a file
that is there. The line now says that the process's locale names it otherwise, and how to
run it.

And ``--json``'s paths (``dryrun``'s, ``verify``'s ``run_dir``, ``evidence``'s ``manifest``
and ``document``) were the locale's reading of the bytes, ``"Q4 \\u00e2\\u0080\\u0093
review"`` for ``Q4 \u2013 review``: a JSON reader took them for another path. They are the
path's bytes read as UTF-8 now, the same under every locale.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from _eurusd import eurusd_csv
from _locales import latin_1_locale
from livesession.cli import main


def test_evidence_says_the_locale_names_the_data_file_otherwise(tmp_path: Path) -> None:
    locale = latin_1_locale(tmp_path)
    home = tmp_path / "café"
    home.mkdir()
    data = home / "eurusd.csv"
    eurusd_csv(data, 60)
    args = ["dryrun", "--feed", f"csv:{data}", "--symbol", "EUR/USD", "--steps", "20"]
    assert main([*args, "--out", str(home / "runs"), "--run-id", "r1", "-q"]) == 0
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "evidence", os.fsencode(home / "runs" / "r1"),
         "--out", os.fsencode(tmp_path / "bundle")],
        capture_output=True, env={**os.environ, **locale}, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    err = done.stderr.decode("latin-1")  # the locale's stderr
    assert err.count("\n") == 1
    assert (
        "No such file or directory: this process names files in iso8859-1 (its locale), and "
        "the path's UTF-8 bytes, the file the run read, are there: run under a UTF-8 locale "
        "(LC_ALL=C.UTF-8)"
    ) in err
    assert "put that file at this path" not in err
    assert not (tmp_path / "bundle").exists()


def test_json_paths_are_the_paths_bytes_under_any_locale(tmp_path: Path) -> None:
    locale = latin_1_locale(tmp_path)
    out = tmp_path / "Q4 \u2013 review"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run = out / "r1"
    said = {}
    for command in (["verify", os.fsencode(run)], ["evidence", os.fsencode(run)]):
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *command, "--json"],
            capture_output=True, env={**os.environ, **locale}, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.isascii()
        said |= json.loads(done.stdout)
    assert said["run_dir"] == str(run)
    assert said["manifest"] == str(run / "manifest.json")
    assert Path(said["document"]).parent == run


def test_status_list_and_burnin_json_paths_are_the_paths_bytes_too(tmp_path: Path) -> None:
    """The same for ``status``'s ``run_dir``, ``list``'s ``out_dir`` and its runs', and
    ``burnin``'s sessions' ``run_dir`` and ``reports``: under a Latin-1 locale they said
    ``Q4 \\u00e2\\u0080\\u0093 review``."""
    locale = latin_1_locale(tmp_path)
    out = tmp_path / "Q4 \u2013 review"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run = out / "r1"
    said = {}
    for name, command in (
        ("status", ["status", os.fsencode(run)]),
        ("list", ["list", os.fsencode(out)]),
        ("burnin", ["burnin", os.fsencode(run), "--out", os.fsencode(out / "burnin")]),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *command, "--json"],
            capture_output=True, env={**os.environ, **locale}, check=False, timeout=300,
        )  # fmt: skip
        assert done.stdout.isascii(), name
        said[name] = json.loads(done.stdout)
    assert said["status"]["run_dir"] == str(run)
    assert said["list"]["out_dir"] == str(out)
    assert said["list"]["runs"][0]["run_dir"] == str(run)
    assert [s["run_dir"] for s in said["burnin"]["sessions"]] == [str(run)]
    assert said["burnin"]["reports"] == [str(out / "burnin" / "r1-burnin.md")]


def test_an_error_names_the_path_as_the_json_and_the_terminal_each_read_it(
    tmp_path: Path,
) -> None:
    """Bug: under a Latin-1 locale the ``--json`` ``error`` said a path beyond ASCII as the
    locale read its bytes (``run directory Q4 \\u00e2\\\\x80\\\\x93 review/r1 does not
    exist``, ``caf\\u00c3\\u00a9``), where the object's other paths are the bytes read as
    UTF-8; so did ``status --json``'s ``problem``. They are read as UTF-8 now; stderr keeps
    the path's own bytes, which the Latin-1 terminal shows as ``ls`` does there (a byte it
    cannot show escaped), so a command pasted from the line names the path."""
    locale = latin_1_locale(tmp_path)
    for name in ("Q4 \u2013 review", "caf\u00e9"):
        run = tmp_path / name / "r1"
        run.parent.mkdir()
        said = {}
        for command in ("verify", "list", "status"):
            done = subprocess.run(
                [sys.executable, "-m", "livesession.cli", command, os.fsencode(run), "--json"],
                capture_output=True, env={**os.environ, **locale}, check=False, timeout=300,
            )  # fmt: skip
            assert done.returncode == 2, done.stderr
            assert done.stdout.isascii()
            said[command] = json.loads(done.stdout), done.stderr
        assert said["verify"][0]["error"] == f"run directory {run} does not exist"
        assert said["list"][0]["error"] == f"{run} does not exist, so it is not a directory of runs"
        assert said["status"][0]["problem"] == f"{run} does not exist"
        on_disk = os.fsencode(run)
        shown = on_disk.replace(b"\x80", b"\\x80").replace(b"\x93", b"\\x93")  # C1: escaped
        assert (
            said["verify"][1]
            == b"livesession: error: run directory " + shown + b" does not exist\n"
        )


def test_json_text_reads_only_what_the_locale_read_of_utf8(monkeypatch) -> None:
    """Text of a message that no locale read from a path (a config's ``é``, a ``€``) stays."""
    from livesession._support.text import json_text

    said = "run r\u00e9gion (caf\u00e9, 5 \u20ac) in " + "Q4 \u2013 r\u00e9v".encode().decode(
        "latin-1"
    )
    assert json_text(said) == said  # a UTF-8 locale: as it is
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "iso8859-1")
    assert json_text(said) == "run r\u00e9gion (caf\u00e9, 5 \u20ac) in Q4 \u2013 r\u00e9v"
    assert json_text("bad \udcff name") == "bad \udcff name"  # a byte no locale could read


def test_every_json_text_names_its_paths_and_commands_in_utf_8(tmp_path: Path) -> None:
    """Bug: under a Latin-1 locale ``status --json``'s ``next`` said ``livesession verify
    $'/tmp/Q4 \\u00e2\\x80\\x93 review/r1'`` (the locale's bytes, for its shell), and
    ``dryrun --json``'s fields (``error``, ``detail``) the same, while ``run_dir`` beside
    them was ``Q4 \\u2013 review``. Every text of a ``--json`` object is UTF-8 now, its
    commands quoted as a UTF-8 locale quotes them."""
    locale = latin_1_locale(tmp_path)
    out = tmp_path / "Q4 \u2013 review"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run = out / "r1"
    said = []
    for command in (
        ["status", os.fsencode(run)],
        ["dryrun", "--out", os.fsencode(out), "--run-id", "r1", "--steps", "20"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", *command, "--json"],
            capture_output=True, env={**os.environ, **locale}, check=False, timeout=300,
        )  # fmt: skip
        assert done.stdout.isascii()
        said.append(json.loads(done.stdout))
    status, again = said
    assert status["next"] == (
        f"verify before handing it over: `livesession verify '{run}'`, then `livesession "
        f"evidence '{run}'` (status reads only the ends of the files)"
    )
    assert again["error"] == (
        f"run directory {run} already exists and holds a finished run: choose another "
        f"--run-id (`livesession list '{out}'` shows the runs there)"
    )
