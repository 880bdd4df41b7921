"""The EV document says the manifest's ``git_commit`` as the manifest means it.

docs/artifacts.md: ``git_commit`` is null when livesession runs from anything but a git
checkout of its own (an installed wheel); the document said ``git commit `unknown```, as if
a commit had been lost, where there was none to record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

import livesession.evidence
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def _document_line(run: Path, out: Path) -> tuple[object, str]:
    assert main(["evidence", str(run), "--out", str(out)]) == 0
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    (document,) = out.glob("EV-*.md")
    (line,) = [
        ln for ln in document.read_text("utf-8").splitlines() if ln.startswith("- livesession ")
    ]
    return manifest["git_commit"], line


def test_an_installed_package_is_said_to_have_no_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: ``- livesession 0.2.0, git commit `unknown```, of a manifest's null."""
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", "20", "-q"]) == 0
    monkeypatch.setattr(livesession.evidence, "_git_commit", lambda: None)

    commit, line = _document_line(tmp_path / "r", tmp_path / "bundle")

    assert commit is None
    assert line.endswith(
        ", no git commit (it ran from an installed package, not from a git checkout of "
        "livesession: the manifest's `git_commit` is null)"
    )
    assert "unknown" not in line


def test_a_checkout_s_commit_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", "20", "-q"]) == 0
    monkeypatch.setattr(livesession.evidence, "_git_commit", lambda: "ab" * 20)

    commit, line = _document_line(tmp_path / "r", tmp_path / "bundle")

    assert commit == "ab" * 20
    assert line.endswith(f", git commit `{'ab' * 20}`")
