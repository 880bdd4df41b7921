"""Outputs the file system refuses part-way (a full disk): each named, none half-written.

`evidence`, `burnin`, `report` and `prom` write their files atomically, but a write or sync
refused with ENOSPC names no file: the CLI said `livesession: error: No space left on
device: free space`, naming neither the output nor the way out. And `evidence` and `burnin`
wrote their files one by one: a disk that took the first refused the next, leaving a
`manifest.json` without its EV document (or with the EV document of the bundle before),
a `burnin.json` without its `.md`, and an empty `--out` directory, all with exit 2.
"""

from __future__ import annotations

import errno
import os
import re
import sys
from pathlib import Path

import pytest

from livesession.cli import main

from _helpers import cli_under

resource = pytest.importorskip("resource")  # POSIX

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads a descriptor's name from /proc"
)

_NO_SPACE = "(No space left on device)"


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    args = ["dryrun", "--out", str(out), "--run-id", "full", "--steps", "120", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    return out / "full"


def _refuse_sync_of(monkeypatch: pytest.MonkeyPatch, pattern: str) -> None:
    """``os.fsync`` of a temporary file whose name matches ``pattern`` fails: disk full."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if re.search(pattern, str(Path(f"/proc/self/fd/{fd}").readlink())):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


def test_evidence_out_on_a_full_disk_is_named_and_leaves_nothing(
    run_dir, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "bundles" / "full"
    _refuse_sync_of(monkeypatch, r"/\.EV-[^/]*\.md\.\d+\.\d+\.tmp$")
    assert main(["evidence", str(run_dir), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "livesession: error: cannot write the evidence bundle (manifest.json, EV-*.md) to "
        f"{out} {_NO_SPACE}: write it elsewhere with --out DIR\n"
    )
    assert not (tmp_path / "bundles").exists()  # no manifest.json alone, no empty --out


def test_a_refused_bundle_leaves_the_one_before_as_it_was(run_dir, monkeypatch, capsys):
    """Into the run directory, over a bundle written before: both files stay the old ones
    (the manifest had been replaced, and named an EV document that was still the old one)."""
    assert main(["evidence", str(run_dir)]) == 0
    before = _files(run_dir)
    capsys.readouterr()
    _refuse_sync_of(monkeypatch, r"/\.EV-[^/]*\.md\.\d+\.\d+\.tmp$")
    assert main(["evidence", str(run_dir)]) == 2
    assert _NO_SPACE in capsys.readouterr().err
    assert _files(run_dir) == before
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_burnin_on_a_full_disk_leaves_no_report_without_its_pair(
    run_dir, tmp_path, monkeypatch, capsys
):
    out = tmp_path / "burnin"
    _refuse_sync_of(monkeypatch, r"-burnin\.md\.\d+\.\d+\.tmp$")
    assert main(["burnin", str(run_dir), "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        "livesession: error: cannot write the burn-in reports (burnin.md, burnin.json) to "
        f"{out} {_NO_SPACE}: write it elsewhere with --out DIR\n"
    )
    assert not out.exists()


@pytest.mark.parametrize("command", ["report", "prom"])
def test_a_report_on_a_full_disk_is_named(run_dir, tmp_path, monkeypatch, capsys, command):
    output = tmp_path / f"out.{command}"
    _refuse_sync_of(monkeypatch, rf"/\.out\.{command}\.\d+\.\d+\.tmp$")
    assert main([command, str(run_dir), "--output", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: cannot write {output} {_NO_SPACE}: write it elsewhere with "
        "--output PATH\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_set_refused_part_way_changes_nothing(tmp_path, monkeypatch):
    """The helper itself: every path as it was, no temporary file, no directory it made."""
    from livesession._support.fsutil import atomic_write_set

    old = tmp_path / "a.json"
    old.write_bytes(b"old")
    new = tmp_path / "deep" / "er" / "b.md"
    _refuse_sync_of(monkeypatch, r"/\.b\.md\.\d+\.\d+\.tmp$")
    with pytest.raises(OSError, match="No space") as refused:
        atomic_write_set([(old, b"new"), (new, b"doc")])
    assert refused.value.filename == str(new)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.json"]
    assert old.read_bytes() == b"old"
    monkeypatch.undo()
    atomic_write_set([(old, b"new"), (new, b"doc")])
    assert (old.read_bytes(), new.read_bytes()) == (b"new", b"doc")


def test_a_ctrl_c_between_the_renames_leaves_the_whole_new_set(tmp_path, monkeypatch):
    """A SIGINT as the first file is renamed waits for the second: never a new manifest
    beside an old EV document of the same date and run id."""
    import os
    import signal
    from pathlib import Path

    from livesession._support.fsutil import atomic_write_set

    manifest, document = tmp_path / "manifest.json", tmp_path / "EV.md"
    manifest.write_bytes(b"old manifest")
    document.write_bytes(b"old document")
    real = Path.replace

    def replace_then_ctrl_c(self, target):
        done = real(self, target)
        if Path(target) == manifest:
            os.kill(os.getpid(), signal.SIGINT)  # delivered at the next bytecode
        return done

    monkeypatch.setattr(Path, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_set([(manifest, b"new manifest"), (document, b"new document")])
    assert (manifest.read_bytes(), document.read_bytes()) == (b"new manifest", b"new document")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["EV.md", "manifest.json"]


@pytest.mark.parametrize("command", ["report", "prom"])
def test_an_output_over_the_file_size_limit_says_to_raise_it(run_dir, tmp_path, command):
    """Bug: under ``ulimit -f 1`` the line said ``cannot write OUT (File too large): write
    it elsewhere with --output PATH``, where every disk refuses it the same: the limit is
    the process's. It says to raise the limit."""
    output = tmp_path / f"out.{command}"
    done = cli_under(command, run_dir, "--output", output, limit=(resource.RLIMIT_FSIZE, 512))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"livesession: error: cannot write {output} (File too large): raise the file size "
        "limit (`ulimit -f`), then run it again\n"
    )
    assert list(tmp_path.iterdir()) == []
