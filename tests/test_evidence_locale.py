r"""The evidence bundle names a run's path as its bytes read as UTF-8, under any locale.

Bug: ``evidence`` under a Latin-1 locale (``LC_ALL=de_DE.ISO-8859-1``) of a run in a
directory named in UTF-8 (``dépôt``) wrote the commands its ``manifest.json`` and
``EV-*.md`` advise with the locale's reading of those bytes, one character each
(``livesession resume '.../d\u00c3\u00a9p\u00c3\u00b4t/r'``): a path that does not exist, where ``status
--json`` of the same run, and the bundle written under a UTF-8 locale, name the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from _locales import latin_1_locale
from livesession._support.text import command
from livesession.cli import main

from _helpers import checkpoint_refused


def test_evidence_under_a_latin_1_locale_names_the_runs_own_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    locale = latin_1_locale(tmp_path)
    run_dir = checkpoint_refused(tmp_path / "d\u00e9p\u00f4t", monkeypatch)
    resume = command("resume", run_dir)  # as the run's bytes read as UTF-8 say it
    for name, env in (("utf-8", {"LC_ALL": "C.UTF-8"}), ("latin-1", locale)):
        bundle = tmp_path / f"bundle-{name}"
        done = subprocess.run(
            [
                *(sys.executable, "-m", "livesession.cli", "evidence"),
                *(os.fsencode(run_dir), b"--out", os.fsencode(bundle)),
            ],
            capture_output=True,
            env={**os.environ, "PYTHONUTF8": "0", **env},
            check=False,
            timeout=300,
        )
        assert done.returncode == 1, done.stderr  # NOT VERIFIED: the run is not sealed
        manifest = json.loads((bundle / "manifest.json").read_bytes())
        assert manifest["problems"][0] == (
            f"the run is not sealed: `{resume}` finishes it, then write its evidence again"
        ), name
        (document,) = bundle.glob("EV-*.md")
        text = document.read_text(encoding="utf-8")
        assert f"`{resume}`" in text, name
        assert "\u00c3" not in text, name  # no byte of the path read one character each
    capsys.readouterr()
    assert main(["resume", str(run_dir), "-q"]) == 0


def test_a_path_not_utf_8_is_named_by_its_bytes_under_either_locale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a directory named in Latin-1 (``d\\xe9p\\xf4t``, as a Latin-1 terminal types it):
    under that locale ``status --json`` said ``run_dir`` ``d\\xe9p\\xf4t`` (its bytes) and
    ``next`` ``livesession resume '.../d\u00e9p\u00f4t/r'`` (the locale's reading, which a
    UTF-8 shell takes for other bytes), and so did the evidence manifest's commands. Each
    command now names the bytes as a UTF-8 locale does, ``$'.../d\\xe9p\\xf4t/r'``."""
    locale = latin_1_locale(tmp_path)
    out = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xe9p\xf4t"))
    run_dir = checkpoint_refused(out, monkeypatch)
    said: dict[str, tuple[str, str, str]] = {}
    for name, env in (("utf-8", {"LC_ALL": "C.UTF-8"}), ("latin-1", locale)):
        bundle = tmp_path / f"bundle-{name}"

        def cli(*args: bytes, env: dict[str, str] = env) -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [sys.executable, "-m", "livesession.cli", *args],
                capture_output=True,
                env={**os.environ, "PYTHONUTF8": "0", **env},
                check=False,
                timeout=300,
            )

        status = cli(b"status", os.fsencode(run_dir), b"--json")
        assert status.returncode == 6, status.stderr
        found = json.loads(status.stdout)
        done = cli(b"evidence", os.fsencode(run_dir), b"--out", os.fsencode(bundle))
        assert done.returncode == 1, done.stderr
        problem = json.loads((bundle / "manifest.json").read_bytes())["problems"][0]
        said[name] = (found["run_dir"], found["next"], problem)
    assert said["latin-1"] == said["utf-8"]
    assert said["utf-8"][1].endswith("livesession resume $'" + said["utf-8"][0] + "'")
    capsys.readouterr()
    assert main(["resume", str(run_dir), "-q"]) == 0
