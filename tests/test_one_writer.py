"""One writer per run, readers beside it: real processes racing for a run directory.

A live writer here is a child process that builds a run with ``create_run``, steps it
past a checkpoint and then waits on its stdin, holding the run's writer lock: the test
decides when it goes on, so nothing depends on timing. Every child is finished (or
killed) before its test ends.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, _cli_runs, create_run
from livesession._artifacts import names
from livesession._rundir.lock import holder_of
from livesession.cli import EXIT_OK, EXIT_REJECTED, main
from livesession.verify import verify_run
from test_api_edges import _crashed

from _helpers import child
from crash_harness import KILLED, Profile, dryrun, duplicate_submits, run_baseline

_RUN_ID = "live"
_FIRST, _TOTAL, _EVERY = 205, 400, 10
_WRITER = """
import pathlib, sys
from livesession import DryrunConfig, create_run
out, run_id = pathlib.Path(sys.argv[1]), sys.argv[2]
first, total, every = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cfg = DryrunConfig(run_id=run_id, steps=total, checkpoint_every=every, seed=3, durability="step")
session = create_run(cfg, out)
assert session.preflight()
session.activate()
session.run_n_steps(first)
print("ready", flush=True)
sys.stdin.readline()
session.run_to_end(total)
print("done", flush=True)
"""


def _config() -> DryrunConfig:
    return DryrunConfig(
        run_id=_RUN_ID, steps=_TOTAL, checkpoint_every=_EVERY, seed=3, durability="step"
    )


class LiveWriter:
    """A child process writing ``out/live``, paused after ``_FIRST`` steps."""

    def __init__(self, out: Path) -> None:
        self.run_dir = out / _RUN_ID
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(out), _RUN_ID, *map(str, (_FIRST, _TOTAL, _EVERY))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.close()  # no writer left running, nor its pipes left open, past this test
            pytest.fail(f"the writer did not start: {line!r}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def finish(self) -> None:
        """Let the writer run to its end and seal the run."""
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        try:
            assert self.proc.stdout.readline().strip() == "done"
            assert self.proc.wait(timeout=60) == 0
        finally:
            self.close()

    def close(self) -> None:
        """Kill the writer if it still runs (a test that failed half-way) and close its pipes."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=60)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[LiveWriter]:
    live = LiveWriter(tmp_path / "runs")
    try:
        yield live
    finally:
        if live.proc.poll() is None:
            live.finish()
        live.close()


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def _uninterrupted_events(tmp_path: Path) -> bytes:
    session = create_run(_config(), tmp_path / "baseline")
    session.run_to_end(_TOTAL)
    return (tmp_path / "baseline" / _RUN_ID / names.EVENTS).read_bytes()


def _cut_events(run_dir: Path) -> list[dict[str, object]]:
    """The events up to the live run's last checkpoint, as a reader must see them."""
    checkpoint = orjson.loads((run_dir / names.CHECKPOINT).read_bytes())
    offset = checkpoint["recorder"]["offsets"]["events"]
    with (run_dir / names.EVENTS).open("rb") as f:
        return [orjson.loads(line) for line in f.read(offset).splitlines()]


def test_report_of_a_crashed_run_without_output_is_refused_not_left_for_the_seal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `report RUN` of a crashed run (unsealed, no process writes it) wrote
    RUN/report.html, `NOT SEALED as of step 11`; `resume` then sealed the run and the stale
    report stayed beside it, where a reader took it for the final one. Without --output it
    is refused in one line (exit 2), nothing written, as for a live run; with --output it
    is written there; once resumed and sealed, RUN/report.html is the run's."""
    run_dir = _crashed(tmp_path / "out", "crashed", desk=False)
    before = _files(run_dir)
    assert main(["report", str(run_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"livesession: error: {run_dir} is not sealed (no C2_DRYRUN_STOP; no process writes "
        f"it): a report of it now is of the steps recorded, not of the run, and "
        f"{run_dir / 'report.html'} is the sealed run's: write it elsewhere with --output "
        f"PATH, or continue it with `livesession resume {run_dir}` and report again once it "
        "is sealed\n"
    )
    assert _files(run_dir) == before
    partial = tmp_path / "partial.html"
    assert main(["report", str(run_dir), "--output", str(partial)]) == EXIT_OK
    assert "NOT SEALED" in partial.read_text(encoding="utf-8")
    assert main(["resume", str(run_dir), "-q"]) == EXIT_OK
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == EXIT_OK
    assert "NOT SEALED" not in (run_dir / "report.html").read_text(encoding="utf-8")


class TestReadersBesideALiveWriter:
    def test_verify_checks_a_live_run_up_to_its_last_checkpoint(
        self, writer: LiveWriter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        before = _files(writer.run_dir)
        # The writer is past its checkpoint at step 200: the files hold more than it covers.
        assert len(_cut_events(writer.run_dir)) < len(before[names.EVENTS].splitlines())
        assert main(["verify", str(writer.run_dir)]) == EXIT_OK
        out = capsys.readouterr().out.strip()
        assert out.startswith(f"OK {writer.run_dir} (live run, written by pid {writer.pid} ")
        assert "read up to step 200 (its last checkpoint)" in out
        assert "bars=200" in out
        assert _files(writer.run_dir) == before, "a reader changed the run"
        holder = holder_of(writer.run_dir)
        assert holder is not None
        assert holder.pid == writer.pid, "a reader disturbed the lock"
        writer.finish()
        result = verify_run(writer.run_dir)
        assert result.ok, result.violations
        assert not result.live
        assert result.counts["bars"] == _TOTAL

    def test_verify_json_of_a_live_run_says_it_was_read_up_to_its_checkpoint(
        self, writer: LiveWriter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The object said `"ok": true` and nothing more: a script took a cut for the run."""
        assert main(["verify", "--json", str(writer.run_dir)]) == EXIT_OK
        said = json.loads(capsys.readouterr().out)
        assert said["ok"] is True
        assert said["live"].startswith(f"live run, written by pid {writer.pid} ")
        assert said["live"].endswith("read up to step 200 (its last checkpoint)")
        writer.finish()
        assert main(["verify", "--json", str(writer.run_dir)]) == EXIT_OK
        assert json.loads(capsys.readouterr().out)["live"] == ""

    def test_report_and_prom_read_the_live_run_as_its_checkpoint_left_it(
        self, writer: LiveWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        before = _files(writer.run_dir)
        html, prom = tmp_path / "report.html", tmp_path / "run.prom"
        assert main(["report", str(writer.run_dir), "--output", str(html)]) == EXIT_OK
        assert main(["prom", str(writer.run_dir), "--output", str(prom)]) == EXIT_OK
        out = capsys.readouterr().out
        assert out.count("read up to step 200 (its last checkpoint)") == 2, out
        page = html.read_text(encoding="utf-8")
        assert f"Live run, written by pid {writer.pid}" in page
        assert "<strong>Integrity checked:</strong>" in page, "the cut must check out"
        # Not sealed yet: as of its last checkpoint's step, never "final" (the last snapshot
        # is the activation's, at step 0).
        assert "NOT SEALED</span> &middot; as of step 200 of 400 (the last step recorded)" in page
        assert "final equity" not in page
        full = tmp_path / "full.html"
        assert main(["report", str(writer.run_dir), "--output", str(full), "--verify"]) == EXIT_OK
        assert "<strong>Verified:</strong>" in full.read_text("utf-8"), "the cut must verify"
        capsys.readouterr()
        submitted = sum(e["event_type"] == "ORDER_SUBMITTED" for e in _cut_events(writer.run_dir))
        assert submitted > 0
        assert f'trader_orders_placed_total{{run_id="{_RUN_ID}"}} {float(submitted)}\n' in (
            prom.read_text("utf-8")
        )
        assert _files(writer.run_dir) == before, "a reader changed the run"

    def test_report_of_a_live_run_without_output_is_refused_not_left_beside_it(
        self, writer: LiveWriter, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bug: `report RUN` of a live run wrote RUN/report.html, `NOT SEALED, as of step
        200`; after the seal it stayed beside the run, where a reader took it for the final
        report. Without --output it is refused in one line, nothing read or written; with
        --output it is written there; once sealed, RUN/report.html is the run's."""
        before = _files(writer.run_dir)
        holder = holder_of(writer.run_dir)
        assert holder is not None
        assert main(["report", str(writer.run_dir)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"livesession: error: {writer.run_dir} is being written by {holder.describe()}: "
            "a report of it now is of its last checkpoint, not of the run, and "
            f"{writer.run_dir / 'report.html'} is the sealed run's: write it elsewhere with "
            "--output PATH, or report again once the run is sealed\n"
        )
        assert _files(writer.run_dir) == before
        partial = tmp_path / "partial.html"
        assert main(["report", str(writer.run_dir), "--output", str(partial)]) == EXIT_OK
        assert "NOT SEALED" in partial.read_text(encoding="utf-8")
        assert main(["prom", str(writer.run_dir)]) == EXIT_OK  # a live run's metrics: its use
        writer.finish()
        capsys.readouterr()
        assert main(["report", str(writer.run_dir)]) == EXIT_OK
        assert "NOT SEALED" not in (writer.run_dir / "report.html").read_text(encoding="utf-8")

    def test_the_report_says_what_it_checked_of_a_live_run(self, writer: LiveWriter) -> None:
        """A live run's report said "the audit chain is whole and closes over the bytes of
        the events and snapshots read here" and listed "the stop record's SHA-256 digests"
        as checked: a live run has no stop record yet. It says what was checked."""
        from livesession.report import render_report

        text = " ".join(
            html.unescape(re.sub(r"<[^>]+>", " ", render_report(writer.run_dir))).split()
        )
        verification = text[text.index("Verification") : text.index("Identity")]

        assert (
            "Integrity checked: up to the last checkpoint (step 200), the audit chain is whole "
            "and that checkpoint's metrics.json agrees with the events, snapshots and audit "
            "read. The run is live: it has no stop record yet, so no digests close over the "
            "files."
        ) in verification
        assert "closes over the bytes" not in verification
        assert "digests against" not in verification
        writer.finish()
        sealed = " ".join(
            html.unescape(re.sub(r"<[^>]+>", " ", render_report(writer.run_dir))).split()
        )
        assert "the stop record's SHA-256 digests against events.jsonl" in sealed

    def test_status_says_running_and_names_the_writer(
        self, writer: LiveWriter, capsys: pytest.CaptureFixture[str]
    ) -> None:
        before = _files(writer.run_dir)
        assert main(["status", str(writer.run_dir), "--json"]) == 7
        (line,) = capsys.readouterr().out.splitlines()
        status = json.loads(line)
        assert status["verdict"] == "running"
        assert status["writer"]["pid"] == writer.pid
        assert status["writer"]["host"] == socket.gethostname()
        assert status["state"] == "DRYRUN_ACTIVE"
        assert status["steps"] == 200
        assert status["steps_planned"] == _TOTAL
        assert status["heartbeat_utc"] is not None
        assert status["resumable"] is False
        assert _files(writer.run_dir) == before
        writer.finish()
        assert main(["status", str(writer.run_dir)]) == EXIT_OK
        text = capsys.readouterr().out
        assert "completed (exit 0)" in text
        assert "writer      none" in text


class TestASecondWriterIsRefused:
    def test_a_supervisor_restarting_a_live_run_changes_nothing(
        self, writer: LiveWriter, tmp_path: Path
    ) -> None:
        """`resume` and `dryrun` of the same run id while the old process lives: exit 3."""
        before = _files(writer.run_dir)
        out = writer.run_dir.parent
        for argv in (
            ["resume", str(writer.run_dir), "-q"],
            ["dryrun", "--out", str(out), "--run-id", _RUN_ID, "-q"],
            ["evidence", str(writer.run_dir)],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "livesession.cli", *argv],
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert proc.returncode == EXIT_REJECTED, (argv, proc.stderr)
            (line,) = proc.stderr.splitlines()
            assert line.startswith(f"livesession: rejected: {writer.run_dir} is being written by")
            assert f"pid {writer.pid} on {socket.gethostname()} since " in line
            if argv[0] == "dryrun":  # it said "or wait for it to end": the id stays taken
                assert line.endswith(
                    "(one writer per run: choose another --run-id; waiting will not free this "
                    "one, which stays that run's)"
                ), line
            assert proc.stdout == ""
            assert _files(writer.run_dir) == before, f"{argv[0]} changed the run"
        writer.finish()
        assert verify_run(writer.run_dir).ok
        events = (writer.run_dir / names.EVENTS).read_bytes()
        assert events == _uninterrupted_events(tmp_path)

    def test_dryrun_of_an_existing_finished_run_id_says_choose_another(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A finished run nobody holds: another run id, not a resume (it would be refused)."""
        out = tmp_path / "runs"
        argv = ["dryrun", "--out", str(out), "--run-id", "once", "--steps", "20", "-q"]
        assert main(argv) == EXIT_OK
        before = _files(out / "once")
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1
        assert "already exists and holds a finished run: choose another --run-id" in err[0]
        assert "resume" not in err[0]
        assert _files(out / "once") == before

    def test_a_demo_id_another_dryrun_took_is_chosen_again(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two ``livesession dryrun`` without --run-id, started together, both chose demo-001
        (the first free one when each looked): the second was refused with exit 3 for an
        id the user never gave. Now it takes the next free one."""
        out = tmp_path / "runs"
        assert (
            main(["dryrun", "--out", str(out), "--run-id", "demo-001", "--steps", "20", "-q"]) == 0
        )
        before = _files(out / "demo-001")
        real = _cli_runs.free_run_id
        stale = iter(["demo-001"])  # what the second process saw before the first made it
        monkeypatch.setattr(
            _cli_runs, "free_run_id", lambda o, cfg: next(stale, None) or real(o, cfg)
        )
        assert main(["dryrun", "--out", str(out), "--steps", "20", "-q"]) == EXIT_OK
        assert _files(out / "demo-001") == before
        assert (out / "demo-002" / names.RUN_META).exists()

    def test_dryrun_without_a_run_id_passes_a_dangling_symlink_named_like_a_run(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bug (found by a desk's CI script whose out directory held a link left by a clean-up,
        demo-001 -> a run moved away): ``dryrun`` without --run-id chose demo-001, the link
        being no file it could see, and stopped, exit 2, `cannot create run directory
        .../demo-001: ... is a broken symlink ...: choose another --run-id, or remove it`, for
        an id the user never gave. A name taken by anything, a dangling link too, is passed."""
        out = tmp_path / "runs"
        out.mkdir()
        (out / "demo-001").symlink_to(tmp_path / "moved-away")
        assert main(["dryrun", "--out", str(out), "--steps", "20", "-q"]) == EXIT_OK
        assert capsys.readouterr().err == ""
        assert (out / "demo-002" / names.RUN_META).exists()
        assert (out / "demo-001").is_symlink()  # left as it was

    def test_dryrun_of_an_existing_crashed_run_id_says_resume(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A crashed run nobody holds: the refusal offers ``resume``, and it works."""
        profile = Profile(name="crashed", seed=7, steps=300)
        out = tmp_path / "runs"
        assert dryrun(profile, out, crash_at="checkpoint:2").returncode == KILLED
        run_dir = out / "crashed"
        before = _files(run_dir)
        argv = ["dryrun", "--out", str(out), "--run-id", "crashed", "--steps", "20", "-q"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [
            (
                f"livesession: error: run directory {run_dir} already exists: choose another "
                f"--run-id, or continue a crashed run with `livesession resume {run_dir}`"
            )
        ]
        assert _files(run_dir) == before
        assert main(["resume", str(run_dir), "-q"]) == EXIT_OK
        assert verify_run(run_dir).ok

    def test_two_resumes_started_together_exactly_one_runs(self, tmp_path: Path) -> None:
        """After a kill, two `livesession resume DIR` at once: one finishes, one exits 3."""
        profile = Profile(name="twin", seed=7, steps=1500)
        baseline = run_baseline(profile, tmp_path / "baseline")
        out = tmp_path / "crashed"
        assert dryrun(profile, out, crash_at="checkpoint:40").returncode == KILLED
        run_dir = out / profile.name
        argv = [sys.executable, "-m", "livesession.cli", "resume", str(run_dir), "-q"]
        with contextlib.ExitStack() as running:  # each killed, if still running, and closed
            procs = [
                running.enter_context(
                    child(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                )
                for _ in range(2)
            ]
            results = []
            for proc in procs:
                stdout, stderr = proc.communicate(timeout=300)
                results.append((proc.returncode, proc.pid, stdout, stderr))
        codes = sorted(code for code, *_ in results)
        assert codes == [EXIT_OK, EXIT_REJECTED], results
        (winner,) = (r for r in results if r[0] == EXIT_OK)
        (loser,) = (r for r in results if r[0] == EXIT_REJECTED)
        (line,) = loser[3].splitlines()
        assert f"pid {winner[1]} on {socket.gethostname()} since " in line
        assert "(livesession resume)" in line
        assert "nothing was changed" in line
        # The run is the uninterrupted one: no order went out twice, the bytes agree.
        assert not duplicate_submits(run_dir / names.JOURNAL)
        for name in (names.EVENTS, names.SNAPSHOTS):
            assert (run_dir / name).read_bytes() == (baseline / name).read_bytes(), name
        audit = [orjson.loads(x) for x in (run_dir / names.AUDIT).read_bytes().splitlines()]
        assert sum(r["code"] == "C2_RESUME" for r in audit) == 1
        result = verify_run(run_dir)
        assert result.ok, result.violations


def test_verify_of_a_live_run_before_its_first_checkpoint_checks_nothing_and_says_so(
    tmp_path: Path,
) -> None:
    """Held (by this process: the lock is per open file, not per process) with no checkpoint,
    then with the one ``activate`` saves at step 0: before, that one was "no checkpoint yet"
    too, beside the checkpoint.json it had written."""
    session = create_run(
        DryrunConfig(run_id="early", steps=50, checkpoint_every=100, durability="step"), tmp_path
    )
    try:
        assert session.preflight()
        result = verify_run(tmp_path / "early")
        assert (result.ok, result.counts) == (True, {})
        assert result.live.endswith(": no checkpoint yet, so nothing is checked")
        assert f"pid {os.getpid()}" in result.live
        session.activate()
        session.run_n_steps(5)
        assert (tmp_path / "early" / names.CHECKPOINT).is_file()
        result = verify_run(tmp_path / "early")
        assert (result.ok, result.counts) == (True, {})
        assert result.live.endswith(
            ": its last checkpoint is at step 0 (before its first step), so nothing is checked"
        )
        # Nothing counted: the OK line ends with the note, not with an empty `: ` list.
        (line,) = result.render("early")
        assert line == f"OK early ({result.live})"
    finally:
        session.run_to_end(50)
    result = verify_run(tmp_path / "early")
    assert result.ok, result.violations
    assert not result.live
