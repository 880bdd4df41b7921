"""A run whose files the host will not let a tool read is not judged: exit 2, one line.

An SRE ran the reading tools as a user who could not read ``audit.jsonl`` of a clean sealed
run (and under ``ulimit -n 6``): ``verify`` called it broken (``audit.jsonl: cannot be read:
PermissionError``, exit 1), ``status`` said its seal was not borne out (exit 5: a tampering
claim about a good run), and ``report`` and ``prom`` wrote their files from what they could
read, exit 0. A file that is there but unread says nothing of the run: each tool now ends
with the file system's refusal, as RUNBOOK's exit 2 says, naming the file and the errno's
text, with nothing written. A missing file, or a directory in a file's place, stays what it
was: the run's own flaw (test_verify.py, test_not_a_run.py).

The refusal is injected (the CI user may be root, whom no mode stops): ``Path.open`` raises
for one file name, as the kernel would for a user without read permission (EACCES) or a
process out of file descriptors (EMFILE).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from livesession.cli import main
from livesession.status import run_status
from livesession.verify import verify_run

from crash_harness import KILLED, Profile, dryrun

REFUSALS = {
    "EACCES": PermissionError(errno.EACCES, os.strerror(errno.EACCES)),
    "EMFILE": OSError(errno.EMFILE, os.strerror(errno.EMFILE)),
}
WAY_OUT = {errno.EMFILE: ": raise the open-file limit (`ulimit -n`)"}
"""What the CLI's line adds after the errno's text (none for a permission denied)."""
CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


def _refuse(monkeypatch: pytest.MonkeyPatch, name: str, refusal: OSError) -> None:
    """Reading any file called ``name`` fails with ``refusal`` (writing is left alone)."""
    real = Path.open

    def refusing(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        if self.name == name and "r" in mode and "+" not in mode:
            raise type(refusal)(refusal.errno, refusal.strerror)  # no file name, as os.read's
        return real(self, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", refusing)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unreadable")
    assert main(["dryrun", "--out", str(out), "--run-id", "clean", "--steps", "60", "-q"]) == 0
    return out / "clean"


def _said(path: Path, refusal: OSError) -> str:
    """``path``, the errno's text and its way out, if it has one."""
    return f"{path}: {refusal.strerror}{WAY_OUT.get(refusal.errno or 0, '')}"


def _one_error(capsys: pytest.CaptureFixture[str], path: Path, refusal: OSError) -> None:
    """stderr is one line naming ``path`` and the errno's text, and stdout is empty."""
    out, err = capsys.readouterr()
    assert err == f"livesession: error: {_said(path, refusal)}\n"
    assert out == ""


def _json_error(capsys: pytest.CaptureFixture[str], path: Path, refusal: OSError) -> None:
    out, err = capsys.readouterr()
    assert json.loads(out) == {"ok": False, "exit_code": 2, "error": _said(path, refusal)}
    assert out.count("\n") == 1
    assert err == f"livesession: error: {_said(path, refusal)}\n"


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize("name", [*CONTRACT, "config.json"])
def test_verify_judges_no_run_it_cannot_read(
    sealed: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    refusal: OSError,
) -> None:
    """Not `broken run: ... cannot be read: PermissionError` (exit 1): exit 2, one line."""
    _refuse(monkeypatch, name, refusal)

    with pytest.raises(OSError, match=refusal.strerror) as raised:
        verify_run(sealed)
    assert raised.value.filename == str(sealed / name)
    assert raised.value.errno == refusal.errno

    assert main(["verify", str(sealed)]) == 2
    _one_error(capsys, sealed / name, refusal)
    assert main(["verify", str(sealed), "--json"]) == 2
    _json_error(capsys, sealed / name, refusal)


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
@pytest.mark.parametrize("name", [*CONTRACT, "checkpoint.json"])
def test_status_does_not_judge_the_seal_of_a_file_it_cannot_read(
    sealed: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    refusal: OSError,
) -> None:
    """Not `needs_operator: the seal is not borne out: audit.jsonl does not end with ...`."""
    assert main(["status", str(sealed)]) == 0
    capsys.readouterr()
    _refuse(monkeypatch, name, refusal)

    with pytest.raises(OSError, match=refusal.strerror):
        run_status(sealed)
    assert main(["status", str(sealed)]) == 2
    _one_error(capsys, sealed / name, refusal)
    assert main(["status", str(sealed), "--json"]) == 2
    _json_error(capsys, sealed / name, refusal)


def test_list_gives_no_verdict_for_a_run_it_cannot_read(
    sealed: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`list` judges no run it cannot read: the line naming the file ends it (exit 2), as
    `status`'s does, and the run is listed `unread`, its problem that line, so the other
    runs are listed all the same (tests/test_status.py)."""
    refusal = REFUSALS["EACCES"]
    _refuse(monkeypatch, "audit.jsonl", refusal)
    said = _said(sealed / "audit.jsonl", refusal)

    assert main(["list", str(sealed.parent)]) == 2
    out, err = capsys.readouterr()
    assert err == f"livesession: error: {said}\n"
    assert [line.split()[:2] for line in out.splitlines()[1:]] == [["?", f"({sealed.name})"]]
    assert main(["list", str(sealed.parent), "--json"]) == 2
    out, err = capsys.readouterr()
    assert err == f"livesession: error: {said}\n"
    document = json.loads(out)
    assert (document["ok"], document["exit_code"], document["error"]) == (False, 2, said)
    (run,) = document["runs"]
    assert (run["verdict"], run["unread"], run["state"]) == ("needs_operator", True, None)
    assert run["problem"].startswith(f"{said}: the system would not let it be read")


@pytest.mark.broken_run("a crashed run, left unfinished: status is asked of it as it is")
@pytest.mark.parametrize("name", ["audit.jsonl", "broker_journal.jsonl"])
def test_status_of_a_crashed_run_does_not_call_it_unresumable_for_a_file_it_cannot_read(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    name: str,
) -> None:
    """Not `needs_operator` with `resumable no: [Errno 13] Permission denied: ...`."""
    profile = Profile(name="crashed", seed=7, steps=150)
    assert dryrun(profile, tmp_path, crash_at="checkpoint:40").returncode == KILLED
    run_dir = tmp_path / profile.name
    refusal = REFUSALS["EACCES"]
    _refuse(monkeypatch, name, refusal)

    assert main(["status", str(run_dir)]) == 2
    _one_error(capsys, run_dir / name, refusal)


@pytest.mark.parametrize(
    "case",
    [
        ("report", "audit.jsonl", "report.html"),
        ("report", "metrics.json", "report.html"),
        ("report", "state_snapshots.jsonl", "report.html"),
        ("prom", "events.jsonl", "livesession.prom"),
        ("prom", "state_snapshots.jsonl", "livesession.prom"),
        ("burnin", "audit.jsonl", "burnin.md"),
        ("burnin", "metrics.json", "burnin.md"),
        ("evidence", "audit.jsonl", "manifest.json"),
    ],
    ids="-".join,
)
def test_the_other_readers_write_nothing_from_a_file_they_cannot_read(
    sealed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: tuple[str, str, str],
) -> None:
    """`report` and `prom` wrote their file from what they could read, exit 0; no more."""
    command, name, written = case
    out = tmp_path / "out"
    flag = "--output" if command in ("report", "prom") else "--out"
    target = out / written if flag == "--output" else out
    out.mkdir()
    refusal = REFUSALS["EACCES"]
    _refuse(monkeypatch, name, refusal)

    assert main([command, str(sealed), flag, str(target)]) == 2
    _one_error(capsys, sealed / name, refusal)
    assert list(out.iterdir()) == []
