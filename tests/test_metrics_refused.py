"""metrics.json refused (no file descriptor left, a run directory made read-only): not sealed.

Bug: a metrics.json write that failed mid-run (``prlimit --nofile=5:5`` on a running dryrun,
or ``chmod a-w`` of its run directory) failed the session closed, but the seal still wrote
the audit's ``C2_DRYRUN_STOP`` (only lost events or snapshots withheld it), over a
metrics.json left as the last checkpoint wrote it: ``verify`` said "broken run: 9
violations" (exit 1: keep the run, report a defect) while ``status`` said crashed and
resumable (exit 6), and the CLI's line said "once the file system has room again" to
someone whose ``ulimit -n`` was too low. A metrics.json refused mid-run, or by the seal
itself, now withholds the seal as a lost events line does: ``verify`` and ``status`` agree
(incomplete, resume), ``resume`` finishes the run to the bytes of one that never failed, and
the line names the way out the errno calls for.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names, sinks
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

_REFUSED = pytest.mark.broken_run("metrics.json is refused on purpose; the run is resumed after")
_ONCE = {
    errno.EMFILE: "once the open-file limit is raised (too many open files: `ulimit -n`)",
    errno.EACCES: (
        "once the run directory is writable again (permission denied: make it writable)"
    ),
}
_STRERROR = {errno.EMFILE: "Too many open files", errno.EACCES: "Permission denied"}
_ARGS = ("--steps", "300", "-q")


def _refuse_metrics(monkeypatch: pytest.MonkeyPatch, code: int, *, when: str) -> list[bytes]:
    """From now on FileMetricsSink refuses with ``code`` once ``when`` holds: ``mid-run`` (its
    second write, a periodic checkpoint's) or ``seal`` (the seal's write, status ended)."""
    real = sinks.FileMetricsSink.replace
    calls: list[bytes] = []

    def replace(self: sinks.FileMetricsSink, content: bytes) -> None:
        calls.append(content)
        ended = orjson.loads(content)["status"] != "RUNNING"
        if (when == "mid-run" and len(calls) >= 2) or (when == "seal" and ended):
            raise OSError(code, _STRERROR[code], str(self.path))
        real(self, content)

    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)
    return calls


def _codes(run_dir: Path) -> list[str]:
    lines = (run_dir / names.AUDIT).read_bytes().splitlines()
    return [orjson.loads(line)["code"] for line in lines]


@pytest.fixture(name="whole", scope="module")
def _whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same run, never refused: its events.jsonl and metrics.json."""
    out = tmp_path_factory.mktemp("whole")
    assert main(["dryrun", "--out", str(out), "--run-id", "r", *_ARGS]) == 0
    return {
        "events": (out / "r" / names.EVENTS).read_bytes(),
        "metrics": orjson.loads((out / "r" / names.METRICS).read_bytes()),
    }


@_REFUSED
@pytest.mark.parametrize("when", ["mid-run", "seal"])
@pytest.mark.parametrize("code", [errno.EMFILE, errno.EACCES])
def test_a_refused_metrics_json_leaves_the_run_unsealed_for_resume(
    tmp_path: Path,
    *,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    whole: dict[str, Any],
    code: int,
    when: str,
) -> None:
    run_dir = tmp_path / "r"
    calls = _refuse_metrics(monkeypatch, code, when=when)
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "r", *_ARGS]) == 2
    err = capsys.readouterr().err
    assert len(calls) > 1
    codes = _codes(run_dir)
    assert "C2_DRYRUN_STOP" not in codes, codes  # not sealed over a stale metrics.json
    assert run_status(run_dir).verdict is Verdict.CRASHED
    assert main(["status", str(run_dir)]) == 6
    verified = verify_run(run_dir)
    assert verified.summary.startswith("incomplete run: "), verified.summary
    # One line, naming the way out this errno calls for.
    assert err.count("\n") == 1, err
    assert err.startswith(
        f"livesession: error: the metrics sink failed writing {run_dir / names.METRICS} ({type(OSError(code, '')).__name__}: "
        f"[Errno {code}] {_STRERROR[code]}: '{run_dir / names.METRICS}'): the run is not "
        f"sealed; {_ONCE[code]}, `livesession status {run_dir}` says whether "
        f"`livesession resume {run_dir}` can continue it"
    ), err
    capsys.readouterr()

    monkeypatch.undo()  # the open-file limit raised, the directory writable again
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok
    assert (run_dir / names.EVENTS).read_bytes() == whole["events"]
    resumed = orjson.loads((run_dir / names.METRICS).read_bytes())
    assert {k: v for k, v in resumed.items() if not k.startswith("audit_")} == {
        k: v for k, v in whole["metrics"].items() if not k.startswith("audit_")
    }
    assert _codes(run_dir)[-2:] == ["C2_RESUME", "C2_DRYRUN_STOP"]


def test_a_sealed_run_writes_metrics_json_once_at_its_seal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: dict[str, Any]
) -> None:
    """metrics.json now goes before the stop record it counts: the same bytes, one write."""
    calls = _refuse_metrics(monkeypatch, errno.EMFILE, when="never")
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "r", *_ARGS]) == 0
    assert sum(orjson.loads(content)["status"] != "RUNNING" for content in calls) == 1
    assert orjson.loads((tmp_path / "r" / names.METRICS).read_bytes()) == whole["metrics"]
    assert verify_run(tmp_path / "r").ok
