"""The evidence bundle, and the verify / report / prom commands on a real run."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, RunHeld, __version__, create_run, evidence, verify_run
from livesession._artifacts import sinks
from livesession._artifacts.runread import iter_records
from livesession._domain.clock import format_utc_ns
from livesession._domain.decimal import amount_text
from livesession._exceptions import LiveSessionError
from livesession.burnin import Thresholds, evaluate_run
from livesession.cli import main
from livesession.evidence import _rerun, scan_secrets, write_evidence
from livesession.evidence._difference import first_difference
from livesession.evidence._operator import recorded_actions
from livesession.evidence._outcome import outcome
from livesession.status import Verdict, run_status

from _helpers import KILLED_THEN_LIFTED, peak_memory, steered_run
from _runfactory import grown_run


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    assert (
        main(
            [
                "dryrun",
                "--out",
                str(out),
                "--run-id",
                "ev",
                "--steps",
                "300",
                "-q",
                "--durability",
                "none",
            ]
        )
        == 0
    )
    return out / "ev"


class TestEvidence:
    def test_bundle_digests_match_and_determinism_passes(self, run_dir, capsys):
        """The manifest's digests match the files, verify is clean, the re-run matches."""
        assert main(["evidence", str(run_dir)]) == 0
        manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
        for name, digest in manifest["artifacts"].items():
            assert hashlib.sha256((run_dir / name).read_bytes()).hexdigest() == digest, name
        for name in ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl"):
            assert name in manifest["artifacts"]
        assert manifest["verify"]["ok"] is True
        assert manifest["determinism"]["status"] == "match"
        assert manifest["secret_scan"]["clean"] is True
        assert manifest["approval"] == {"name": "", "role": "", "date": ""}
        assert set(manifest["fired"]["rails"]) >= {"ALLOWLIST", "MAX_ORDER_QTY", "DAILY_LOSS"}
        docs = list(run_dir.glob("EV-*-ev.md"))
        assert len(docs) == 1
        text = docs[0].read_text()
        assert "| Name | |" in text
        assert "\n- Evidence: **VERIFIED** (the run's files are intact and every check of the " in (
            text
        )
        assert "\n- Run ended: **COMPLETED**: " in text

    def test_the_tools_files_beside_the_run_are_not_its_artifacts(self, run_dir, tmp_path):
        """Bug: a reviewer who ran `report` and `burnin` on a copy, or kept the bundle of an
        earlier day, got a manifest whose `artifacts` digested report.html, burnin.md,
        burnin.json and that EV document too, so two bundles of one run differed in more
        than what is measured as they are written (docs/artifacts.md). They are the tools'
        files, not the run's, and are left out as manifest.json is."""
        clean = tmp_path / "clean" / "ev"
        shutil.copytree(run_dir, clean)
        for name in ("manifest.json", *(p.name for p in clean.glob("EV-*.md"))):
            (clean / name).unlink(missing_ok=True)
        copy = tmp_path / "copy" / "ev"
        shutil.copytree(clean, copy)
        assert main(["report", str(copy)]) == 0
        assert main(["prom", str(copy)]) == 0
        assert main(["burnin", str(copy)]) in (0, 1)
        (copy / "EV-20250101-ev.md").write_text("# Evidence: an earlier day's\n")
        (copy / "manifest.json").write_text("{}")  # the bundle received
        first = write_evidence(clean, out_dir=tmp_path / "first")
        second = write_evidence(copy, out_dir=tmp_path / "second")
        artifacts = [orjson.loads(r.manifest.read_bytes())["artifacts"] for r in (first, second)]
        assert artifacts[0] == artifacts[1]
        assert not {"report.html", "livesession.prom", "burnin.md", "EV-20250101-ev.md"} & set(
            artifacts[1]
        )

    def test_the_config_digest_is_the_audited_one(self, run_dir, tmp_path):
        """The manifest and the document carry the config digest the audit chain covers
        (``SESSION_STARTED``'s, copied by ``C2_DRYRUN_START``), named so; run.json's hash of
        the whole config (durability included) is there under a name of its own."""
        write_evidence(run_dir, out_dir=tmp_path)
        manifest = orjson.loads((tmp_path / "manifest.json").read_bytes())
        started = next(iter_records(run_dir / "events.jsonl"))["payload"]
        start = orjson.loads((run_dir / "audit.jsonl").read_bytes().splitlines()[0])
        meta = orjson.loads((run_dir / "run.json").read_bytes())

        assert manifest["config_hash"] == started["config_sha256"]
        assert manifest["config_hash"] == start["payload"]["config_sha256"]
        assert manifest["full_config_sha256"] == meta["config_hash"] != started["config_sha256"]
        assert "config_sha256" not in manifest  # one name for it: the contract's config hash
        (document,) = tmp_path.glob("EV-*-ev.md")
        text = document.read_text()
        assert "- Config SHA-256 (`config_sha256`, in the audit chain: " in text
        assert f"`C2_DRYRUN_START`): `{started['config_sha256']}`" in text
        assert f"`base_dir` too): `{meta['config_hash']}`" in text

    def test_secret_scan_finds_a_planted_secret(self, tmp_path):
        """A secret planted in any file of a run is found, and the finding does not repeat it."""
        (tmp_path / "notes.txt").write_text('ok\nexchange api_key = "Zq81mVbX2kP0sL9dQw3e"\n')
        (tmp_path / "leak.log").write_text("connecting to postgresql://u:hunter2hunter2@db/x\n")
        (tmp_path / "env.txt").write_text("value sk-planted-0123456789 here\n")
        findings = scan_secrets(tmp_path, environ={"MY_API_SECRET": "sk-planted-0123456789"})
        assert "notes.txt:2: assigned_secret" in findings
        assert "leak.log:1: url_password" in findings
        assert "env.txt:1: value of $MY_API_SECRET" in findings
        assert not any("Zq81mVbX2kP0sL9dQw3e" in f or "hunter2" in f for f in findings)

    def test_evidence_fails_when_a_secret_is_planted(self, tmp_path, capsys):
        """A bundle over a run with a planted secret is marked FAIL (exit 1)."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "leaky", "--steps", "50", "-q"]) == 0
        (out / "leaky" / "operator-notes.txt").write_text("password: Tr0ub4dor3xyzzy\n")
        assert main(["evidence", str(out / "leaky")]) == 1
        manifest = orjson.loads((out / "leaky" / "manifest.json").read_bytes())
        assert manifest["secret_scan"]["findings"] == ["operator-notes.txt:1: assigned_secret"]
        assert manifest["ok"] is False


class TestAnotherVersion:
    def test_a_mismatch_names_the_version_that_wrote_the_run(self, run_dir, tmp_path, monkeypatch):
        """A run written by another livesession cannot be expected to re-run the same: say so.

        The run is written as livesession 0.1.0 would write it: its audited record
        (``SESSION_STARTED``) and ``run.json`` both say 0.1.0. (It was made by editing
        run.json alone, which the audit does not cover: a change that now fails the bundle
        on its own, below.)
        """
        with monkeypatch.context() as patched:
            for module in ("_rundir.layout", "_session.preflight"):
                patched.setattr(f"livesession.{module}.__version__", "0.1.0")
            args = ["dryrun", "--out", str(tmp_path), "--run-id", "ev", "--steps", "300", "-q"]
            assert main([*args, "--durability", "none"]) == 0
        copy = tmp_path / "ev"
        assert next(iter_records(copy / "events.jsonl"))["payload"]["version"] == "0.1.0"
        assert orjson.loads((copy / "run.json").read_bytes())["version"] == "0.1.0"
        mismatch = {"status": "MISMATCH", "compared": {"events.jsonl": False}}
        monkeypatch.setattr(_rerun.Rerun, "verdict", lambda _self: mismatch)
        result = write_evidence(copy, out_dir=tmp_path / "bundle")
        assert not result.ok
        said = (
            f"the determinism re-run does not match (the run was written by livesession 0.1.0, "
            f"the re-run is {__version__}: re-run the config with {__version__}, or check it "
            "with livesession 0.1.0)"
        )
        assert result.problems == (said,)
        # Written by this version, a mismatch is only a mismatch.
        result = write_evidence(run_dir, out_dir=tmp_path / "same")
        assert result.problems == ("the determinism re-run does not match",)

    @pytest.mark.broken_run("a copy whose run.json version is edited: verify fails it too")
    def test_the_run_version_is_the_audited_one(self, run_dir, tmp_path):
        """The manifest's ``run_version`` came from run.json, which the audit chain does not
        cover: run.json edited to 9.9.9 gave a PASS with ``run_version`` 9.9.9 while
        ``SESSION_STARTED`` and ``C2_DRYRUN_START`` said 0.2.0. It is now the audited
        record's, and a run.json that says otherwise fails the bundle, naming both."""
        result = write_evidence(run_dir, out_dir=tmp_path / "as-is")
        manifest = orjson.loads(result.manifest.read_bytes())
        started = next(iter_records(run_dir / "events.jsonl"))["payload"]
        assert (result.ok, manifest["run_version"]) == (True, started["version"])

        copy = tmp_path / "ev"
        shutil.copytree(run_dir, copy)
        for name in ("manifest.json", *(p.name for p in copy.glob("EV-*.md"))):
            (copy / name).unlink(missing_ok=True)  # a bundle written before: not the run's
        meta = orjson.loads((copy / "run.json").read_bytes())
        (copy / "run.json").write_bytes(orjson.dumps(meta | {"version": "9.9.9"}))
        result = write_evidence(copy, out_dir=tmp_path / "edited")
        manifest = orjson.loads(result.manifest.read_bytes())

        assert not result.ok
        assert manifest["run_version"] == started["version"] == __version__
        said = (
            "run.json says livesession 9.9.9, but the run's audited record (SESSION_STARTED, "
            f"C2_DRYRUN_START) says livesession {__version__} wrote it: run.json was changed "
            "after the run; keep the run as it is and report it"
        )
        assert result.problems == (said,)
        assert manifest["problems"] == list(result.problems)
        assert "FAIL" in result.document.read_text(encoding="utf-8")


class TestNotApplicable:
    def test_the_document_says_why_there_was_no_re_run(self, tmp_path, capsys):
        """A system-clock run cannot be re-run: the EV document says so, and why."""
        config = tmp_path / "system.toml"
        config.write_text('clock_mode = "system"\nsteps = 20\n')
        args = ["dryrun", "--config", str(config), "--out", str(tmp_path), "--run-id", "sys"]
        assert main([*args, "-q"]) == 0
        result = write_evidence(tmp_path / "sys")
        document = result.document.read_text(encoding="utf-8")
        assert (
            "Status: **not_applicable**\n\nReason: the system clock stamped its records" in document
        )


_REMEMBERS = '''
from decimal import Decimal
from pathlib import Path
from livesession import OrderIntent, Side

COUNT = Path(__file__).with_name("made.txt")


class Remembers:
    """Buys at bar 10 the first time it is made, at bar 11 after: not deterministic."""

    def __init__(self, strategy_id):
        made = int(COUNT.read_text()) if COUNT.exists() else 0
        COUNT.write_text(str(made + 1))
        self.strategy_id, self.at, self.n = strategy_id, 10 + min(made, 1), 0

    def on_bar(self, bar, view):
        self.n += 1
        if self.n == self.at:
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.01"))]
        return []

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def make(*, strategy_id):
    return Remembers(strategy_id)
'''


class TestMismatch:
    def test_a_strategy_that_is_not_deterministic_fails_and_says_where(self, tmp_path, capsys):
        """The re-run catches a strategy whose decisions depend on more than its inputs, and
        says where the files part: the place to start looking."""
        (tmp_path / "rememberplug").mkdir()
        (tmp_path / "rememberplug" / "__init__.py").write_text(_REMEMBERS)
        config = tmp_path / "remembers.toml"
        config.write_text(
            'strategy_id = "remembers"\nstrategy_factory = "rememberplug:make"\nsteps = 30\n'
        )
        args = ["--config", str(config), "--out", str(tmp_path), "--run-id", "nd", "-q"]
        assert main(["dryrun", *args]) == 0
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        verdict = _rerun.determinism(tmp_path / "nd", rerunnable=True, scratch=scratch)
        assert verdict["status"] == "MISMATCH"
        assert verdict["compared"]["events.jsonl"] is False
        said = verdict["first_difference"]
        # Bug: the line number alone said where; the step, and its bar's time, say which
        # decision of the strategy differs (it buys at bar 10 in the run, 11 in the re-run).
        assert re.fullmatch(
            r"events\.jsonl line \d+ \(step 10, its bar of 2026-01-01T00:10:00Z\): SIGNAL "
            r"\(seq \d+\) in the run, (BAR|STATE_CHANGED) \(seq \d+\) in the re-run",
            said,
        ), said
        result = write_evidence(tmp_path / "nd")
        # Bug: the one line said "the determinism re-run does not match" and no more: where
        # the files part, and which code to suspect, were in the document alone. Then it
        # named neither the environment nor the page that says what else to suspect.
        assert result.problems == (
            (
                f"the determinism re-run does not match: {said} (is strategy "
                "'rememberplug:make' deterministic? an unseeded random source, the wall clock, "
                "the order of a set, id() or hash(), threads, state kept outside the object, "
                "or an environment variable or file that differs here: docs/plugins.md, 'A "
                "strategy that repeats'; the testing kit's run_failure_matrix finds most, "
                "docs/testing.md)"
            ),
        )
        assert "First difference: events.jsonl line " in result.document.read_text()


_FULL_DISK_WORKER = """\
import errno, io, os, stat, sys
from pathlib import Path
from livesession._artifacts import sinks
from livesession.evidence._rerun import main

FULL = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
scratch, real = Path(sys.argv[2]), sinks._write_some

def write_some(fd, data):
    if Path(f"/proc/self/fd/{fd}").readlink().is_relative_to(scratch):
        raise FULL
    return real(fd, data)

class Stderr(io.RawIOBase):  # within the bytes the file holds (allocated), else refused
    def writable(self):
        return True
    def write(self, data):
        if os.lseek(2, 0, os.SEEK_CUR) + len(data) > os.fstat(2).st_size:
            raise FULL
        return os.write(2, data)

sinks._write_some = write_some
if stat.S_ISREG(os.fstat(2).st_mode):
    sys.stderr = io.TextIOWrapper(Stderr(), line_buffering=True)
sys.exit(main(sys.argv[1:]))
"""
"""A re-run child whose disk is full: ``python -m`` runs it as the re-run's ``MODULE``."""


class TestRerunProcess:
    """The determinism re-run runs in a second process, bounded, and says why when it fails."""

    def test_the_worker_gives_the_in_process_verdict(self, run_dir, tmp_path):
        """Same verdict (order of what was compared included) as re-running here."""
        here = tmp_path / "here"
        here.mkdir()
        expected = _rerun.determinism(run_dir, rerunnable=True, scratch=here)
        rerun = _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=120)
        try:
            assert rerun.running
            verdict = rerun.verdict()
        finally:
            rerun.close()
        assert verdict == expected
        assert list(verdict["compared"]) == list(expected["compared"])
        assert verdict["status"] == "match"

    def test_a_worker_that_cannot_run_is_an_error_with_its_reason(
        self, run_dir, tmp_path, monkeypatch
    ):
        """The child's own last line of stderr is the reason; the bundle fails."""
        monkeypatch.setattr(_rerun, "MODULE", "livesession.no_such_worker")
        result = write_evidence(run_dir, out_dir=tmp_path)
        manifest = orjson.loads(result.manifest.read_bytes())
        det = manifest["determinism"]
        assert det["status"] == "ERROR"
        assert det["reason"].startswith("the re-run process exited with code 1: ")
        assert "No module named livesession.no_such_worker" in det["reason"]
        assert result.ok is False
        # The line says why: it sent an operator to the manifest for it.
        assert f"the determinism re-run did not complete ({det['reason']})" in result.problems
        text = result.document.read_text()
        assert "Status: **ERROR**" in text
        assert f"Reason: {det['reason']}." in text
        assert manifest["verify"]["ok"] is True  # the rest of the bundle is still there

    def test_a_killed_worker_is_an_error_naming_the_signal(self, run_dir, tmp_path, monkeypatch):
        """SIGKILL at the re-run's first checkpoint (the crash harness, in the child only)."""
        monkeypatch.setenv("LIVESESSION_CRASH_AT", "checkpoint:1")  # read at import: not here
        result = write_evidence(run_dir, out_dir=tmp_path)
        det = orjson.loads(result.manifest.read_bytes())["determinism"]
        assert det == {"status": "ERROR", "reason": "the re-run process was killed by signal 9"}
        assert result.ok is False

    def test_a_worker_past_its_time_limit_is_stopped(self, run_dir, tmp_path, monkeypatch):
        """Never a hang: the limit stops the child, and its scratch directory goes.

        10 ms is less than the child's interpreter start and imports alone.
        """
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        rerun = _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=0.01)
        try:
            verdict = rerun.verdict()
            assert rerun.process is not None
            assert rerun.process.returncode == -9  # stopped, and reaped
        finally:
            rerun.close()
        assert verdict == {
            "status": "ERROR",
            "reason": "the re-run process did not finish within 0.01 s and was stopped",
        }
        assert list(scratch.iterdir()) == []

    def test_a_re_run_still_writing_its_run_is_given_another_limit(self, tmp_path, monkeypatch):
        """Bug: a strategy slow per bar (a model's 100 ms: 2,000 bars, 200 s) had its re-run
        stopped at the limit (120 s plus 5 ms a step) while it still stepped, so the
        evidence of a slow strategy's run could never verify. A re-run that wrote to its
        run since the last limit is given another; one that wrote nothing is stopped.
        The limits pass as a fake process's waits do: no wall time is waited on."""

        class Waits:
            """A process that outlasts ``limits`` waits, then ends with code 0."""

            def __init__(self, limits: int) -> None:
                self.limits, self.returncode = limits, None

            def wait(self, timeout: float | None = None) -> int:
                if self.returncode is not None:  # killed
                    return self.returncode
                if self.limits:
                    self.limits -= 1
                    raise subprocess.TimeoutExpired("rerun", timeout or 0.0)
                self.returncode = 0
                return 0

            def poll(self) -> int | None:
                return self.returncode

            def kill(self) -> None:
                self.limits, self.returncode = 0, -9

        def rerun_of(process: Waits, writes: list[int]) -> _rerun.Rerun:
            scratch = tmp_path / f"scratch{len(writes)}"
            scratch.mkdir()
            (scratch / "result.json").write_bytes(b'{"status": "match"}')
            states[scratch] = iter(writes)
            return _rerun.Rerun(process, scratch, deadline=0.0, timeout_s=120)  # type: ignore[arg-type]

        states: dict[Path, Iterator[int]] = {}
        monkeypatch.setattr(
            _rerun.Rerun,
            "_written",
            lambda self: frozenset({next(states[self.scratch])}),
            raising=False,
        )

        # Written to at each of three limits (events, a checkpoint): it finishes, and matches.
        slow = rerun_of(Waits(limits=3), writes=[0, 1, 2, 3])
        assert slow.verdict() == {"status": "match"}
        # Written to at the first limit, then nothing: stuck, stopped at the next.
        stuck = rerun_of(Waits(limits=5), writes=[0, 1, 1])
        said = stuck.verdict()["reason"]
        assert re.fullmatch(
            r"the re-run process wrote nothing to its run for 120 s \(after \d+ s in all\) "
            r"and was stopped",
            said,
        ), said
        assert stuck.process is not None
        assert stuck.process.returncode == -9

    def test_the_re_run_says_its_steps_as_it_goes(self, run_dir, tmp_path, monkeypatch):
        """The sign the parent reads: its run files, written without fsync, are held in
        64 KiB before any byte reaches them, so a slow re-run showed no progress there."""
        monkeypatch.setattr("livesession.evidence._operator._PROGRESS_EVERY_S", 0.0)
        scratch, progress = tmp_path / "scratch", tmp_path / "progress.txt"
        scratch.mkdir()
        verdict = _rerun.determinism(run_dir, rerunnable=True, scratch=scratch, progress=progress)
        assert verdict["status"] == "match"
        steps = orjson.loads((run_dir / "metrics.json").read_bytes())["steps"]
        assert progress.read_text() == f"{steps}\n"

    @pytest.mark.broken_run("the re-run's disk refuses its files on purpose")
    @pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
    @pytest.mark.parametrize(
        ("code", "way"),
        [
            (errno.ENOSPC, r"give it room \(it runs in a directory under TMPDIR\)"),
            # Bug: a file size limit (`ulimit -f`) was told to give room to a roomy TMPDIR.
            (errno.EFBIG, r"raise the file size limit \(`ulimit -f`\): its files grow .+"),
        ],
    )
    def test_a_re_run_the_disk_refuses_says_so_not_a_mismatch(
        self, run_dir, tmp_path, monkeypatch, code, way
    ):
        """Bug: evidence with a small ``TMPDIR`` that filled under the re-run said the run
        did not repeat (``NOT VERIFIED: the determinism re-run does not match: events.jsonl
        line 704: BAR (seq 704) in the run, nothing (the file ends) in the re-run``): a
        sound run, its strategy suspected. The re-run's refused files are its error now."""
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        real = sinks._write_some

        def full(fd: int, data: bytes | bytearray) -> int:
            if Path(f"/proc/self/fd/{fd}").readlink().is_relative_to(scratch):
                raise OSError(code, os.strerror(code))
            return real(fd, data)

        monkeypatch.setattr(sinks, "_write_some", full)
        with pytest.raises(LiveSessionError) as refused:
            _rerun.determinism(run_dir, rerunnable=True, scratch=scratch)
        assert re.fullmatch(
            rf"the re-run's files were refused \(events sink failed at line \d+ \(OSError: "
            rf"\[Errno {code}\] {os.strerror(code)}\)(; .+)?\), so it says nothing of the run: "
            rf"{way}, then run evidence again",
            str(refused.value),
        ), refused.value

    @pytest.mark.broken_run("the re-run's disk refuses its files on purpose")
    @pytest.mark.skipif(not hasattr(os, "posix_fallocate"), reason="no posix_fallocate")
    def test_a_re_run_on_a_full_disk_still_says_why(self, run_dir, tmp_path, monkeypatch):
        """Bug: with a ``TMPDIR`` that filled under the re-run, its stderr (a file there)
        was refused too, and the reason read ``the re-run process exited with code 1:
        OSError: [Errno 28] No space left on device``, never to give it room. The child
        here meets a full disk: its run files refused, its stderr taking no byte more than
        the file already holds. Its stderr has room taken for it before it starts now."""
        worker = tmp_path / "mods" / "full_disk_worker.py"
        worker.parent.mkdir()
        worker.write_text(_FULL_DISK_WORKER)
        monkeypatch.syspath_prepend(str(worker.parent))
        monkeypatch.setattr(_rerun, "MODULE", "full_disk_worker")
        rerun = _rerun.Rerun.start(run_dir, rerunnable=True, timeout_s=120)
        try:
            verdict = rerun.verdict()
        finally:
            rerun.close()
        assert verdict["status"] == "ERROR"
        assert verdict["reason"].startswith(
            "the re-run process exited with code 1: LiveSessionError: the re-run's files were "
            "refused (events sink failed at line "
        ), verdict["reason"]
        assert "give it room" in verdict["reason"]

    def test_evidence_gives_the_re_run_its_time_limit(self, run_dir, tmp_path, monkeypatch):
        """Scaled to the run's steps by default; the caller's limit when given."""
        limits: list[float] = []
        start = _rerun.Rerun.start.__func__

        def spy(cls, run_dir, *, rerunnable, timeout_s, **rest):
            limits.append(timeout_s)
            return start(cls, run_dir, rerunnable=rerunnable, timeout_s=timeout_s, **rest)

        monkeypatch.setattr(_rerun.Rerun, "start", classmethod(spy))
        write_evidence(run_dir, out_dir=tmp_path / "a")
        write_evidence(run_dir, out_dir=tmp_path / "b", rerun_timeout_s=300)
        assert limits == [_rerun.timeout_for(300), 300]

    def test_the_time_limit_scales_with_the_run(self):
        assert _rerun.timeout_for(100_000) > _rerun.timeout_for(1_000) >= _rerun.TIMEOUT_BASE_S
        assert _rerun.timeout_for(1_000_000) >= 1_000_000 / 1_000  # below 1,000 steps/s only

    def test_no_process_when_the_run_cannot_be_rerun(self, run_dir):
        rerun = _rerun.Rerun.start(run_dir, rerunnable=False, timeout_s=1)
        assert not rerun.running
        assert rerun.verdict()["status"] == "not_applicable"
        rerun.close()

    def test_phases_on_a_terminal_only(self, run_dir, tmp_path, capsys, monkeypatch):
        """Phase lines on stderr when it is a terminal; none otherwise, none with --json."""
        assert main(["evidence", str(run_dir), "--out", str(tmp_path / "a")]) == 0
        assert capsys.readouterr().err == ""
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        assert main(["evidence", str(run_dir), "--out", str(tmp_path / "b")]) == 0
        err = re.sub(r"\x1b\[[0-9;]*m", "", capsys.readouterr().err)  # a terminal's colours
        for phase in (
            "determinism re-run started in a second process",
            "verifying the run",
            "secret scan",
            "waiting for the determinism re-run",
        ):
            assert phase in err
        assert all(re.match(r"evidence +\d+\.\d s  ", line) for line in err.splitlines())
        assert main(["evidence", str(run_dir), "--json", "--out", str(tmp_path / "c")]) == 0
        assert capsys.readouterr().err == ""


class TestTwoBundlesOfOneRun:
    def test_the_path_typed_is_not_in_the_bundle(self, run_dir, tmp_path, monkeypatch):
        """The manifest's ``burnin.run_dir`` was the path as typed: ``runs/ev``,
        ``/tmp/.../runs/ev/`` and ``.`` gave three bundles of one run that differed there,
        which docs/artifacts.md does not list among what two bundles differ in. It is the
        run directory's own name, however the path was written (a symlink to it too)."""
        link = tmp_path / "link"
        link.symlink_to(run_dir, target_is_directory=True)
        monkeypatch.chdir(run_dir.parent)
        said = []
        for n, typed in enumerate([Path(run_dir.name), Path(f"{run_dir}/"), link]):
            result = write_evidence(typed, out_dir=tmp_path / f"bundle{n}")
            said.append(orjson.loads(result.manifest.read_bytes())["burnin"]["run_dir"])
        monkeypatch.chdir(run_dir)
        result = write_evidence(Path(), out_dir=tmp_path / "bundle-here")
        said.append(orjson.loads(result.manifest.read_bytes())["burnin"]["run_dir"])
        assert said == [run_dir.name] * 4


class TestOneAtATime:
    """Two evidences of one run at once both passed and printed a manifest SHA-256, but
    only the last one's manifest.json stayed: the other hash matched no file (a false
    tamper alarm for the reviewer), and the manifest and the document could come from
    two processes. A second evidence is now refused (exit 3) while the first is at work."""

    def test_a_second_evidence_of_the_run_is_refused_and_writes_nothing(self, tmp_path):
        run = tmp_path / "ev"
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "ev", "--steps", "60",
                     "-q", "--durability", "none"]) == 0  # fmt: skip
        before = sorted(p.name for p in run.iterdir())
        seen: dict[str, object] = {}

        def meanwhile(phase: str) -> None:
            if phase != "verifying the run":
                return
            second = subprocess.run(
                [sys.executable, "-m", "livesession.cli", "evidence", str(run)],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            seen["cli"] = second
            seen["files"] = sorted(p.name for p in run.iterdir())
            with pytest.raises(RunHeld) as refused:
                write_evidence(run)
            seen["api"] = str(refused.value)

        result = write_evidence(run, progress=meanwhile)
        second = seen["cli"]
        assert second.returncode == 3, second.stderr
        assert second.stdout == ""
        (line,) = second.stderr.splitlines()
        assert line.startswith(f"livesession: rejected: {run}: another livesession evidence")
        assert "(held by another process, pid " in line
        assert "nothing was written" in line
        assert seen["files"] == before  # the second wrote nothing
        assert "nothing was written" in seen["api"]
        # The first one's SHA-256 is that of the manifest it left, beside its own document.
        assert hashlib.sha256(result.manifest.read_bytes()).hexdigest() == (result.manifest_sha256)
        assert sorted(p.name for p in run.iterdir()) == sorted(
            [*before, "manifest.json", result.document.name]
        )
        assert write_evidence(run).ok  # the lock went with the first one

    def test_an_out_dir_the_file_system_will_not_make_is_refused_before_the_work(
        self, run_dir, tmp_path, capsys, monkeypatch
    ):
        """``--out /proc/nope`` said ``livesession: error: /proc/nope: No such file or
        directory``, naming neither the output nor the way out (burnin's had been fixed)."""
        out = tmp_path / "refusing" / "bundle"
        real = os.mkdir

        def refusing(path, *args, **kwargs):
            if Path(os.fsdecode(path)) == out:
                raise FileNotFoundError(2, os.strerror(2), str(path))
            real(path, *args, **kwargs)

        def never(*_args, **_kwargs):
            raise AssertionError("the work ran before the refusal")

        monkeypatch.setattr(os, "mkdir", refusing)
        monkeypatch.setattr("livesession.evidence.write_evidence", never)
        assert main(["evidence", str(run_dir), "--out", str(out)]) == 2
        assert capsys.readouterr() == (
            "",
            (
                "livesession: error: cannot write the evidence bundle (manifest.json, EV-*.md) "
                f"to {out} (No such file or directory): write it elsewhere with --out DIR\n"
            ),
        )
        assert not (tmp_path / "refusing").exists()  # the directory on the way: taken away

    def test_two_runs_into_one_out_directory_one_at_a_time(self, run_dir, tmp_path):
        out = tmp_path / "bundle"
        out.mkdir()
        other = tmp_path / "copy"
        shutil.copytree(run_dir, other)
        refused: list[str] = []

        def meanwhile(phase: str) -> None:
            if phase == "verifying the run":
                with pytest.raises(RunHeld) as second:
                    write_evidence(other, out_dir=out)
                refused.append(str(second.value))

        result = write_evidence(run_dir, out_dir=out, progress=meanwhile)
        assert refused[0].startswith(f"{out}: another livesession evidence")
        assert sorted(p.name for p in out.iterdir()) == sorted(
            ["manifest.json", result.document.name]
        )
        assert hashlib.sha256(result.manifest.read_bytes()).hexdigest() == (result.manifest_sha256)


class TestCommands:
    def test_verify_clean_run(self, run_dir, capsys):
        """verify exits 0 on an untouched run."""
        assert main(["verify", str(run_dir)]) == 0
        assert capsys.readouterr().out.startswith("OK ")

    @pytest.mark.broken_run("it tampers with a run")
    def test_verify_tampered_run(self, tmp_path, capsys):
        """verify exits 1 and lists violations when a byte changed."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "50", "-q"]) == 0
        events = out / "t" / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAR_"', 1))
        assert main(["verify", str(out / "t")]) == 1
        assert "events.jsonl" in capsys.readouterr().out

    @pytest.mark.broken_run("it tampers with a run")
    def test_evidence_counts_every_violation_not_the_listed_ones(self, tmp_path, capsys):
        """verify lists at most 50 violations per file; evidence gives how many there are."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "120", "-q"]) == 0
        events = out / "t" / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAR_"'))
        verified = verify_run(out / "t")
        assert verified.total > len(verified.violations)
        assert main(["evidence", str(out / "t"), "--out", str(tmp_path / "ev"), "--json"]) == 1
        problems = orjson.loads(capsys.readouterr().out)["problems"]
        assert f"verify found {verified.total} violation(s)" in problems

    @pytest.mark.broken_run("it tampers with a run")
    def test_evidence_names_the_first_violation(self, tmp_path, capsys):
        """`evidence  NOT VERIFIED: verify found 2 violation(s); ...` (once `result    FAIL: ...`)
        named no file and no line: the
        operator had to run verify to learn which file was changed."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "t", "--steps", "50", "-q"]) == 0
        events = out / "t" / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAR_"', 1))
        first = verify_run(out / "t").violations[0]
        assert first.startswith("events.jsonl:")
        assert main(["evidence", str(out / "t"), "--out", str(tmp_path / "ev")]) == 1
        result = [
            line for line in capsys.readouterr().out.splitlines() if line.startswith("evidence")
        ]
        assert result == [result[0]]
        assert result[0].startswith("evidence  NOT VERIFIED: verify found ")
        assert f"; the first: {first}" in result[0]

    def test_missing_run_directory(self, tmp_path, capsys):
        """verify/evidence/report on a missing directory: one line, exit 2."""
        for command in ("verify", "evidence", "report", "prom"):
            assert main([command, str(tmp_path / "nope")]) == 2
            assert "does not exist" in capsys.readouterr().err

    def test_report_and_prom(self, run_dir):
        """report writes one HTML file; prom writes trader_* metrics."""
        assert main(["report", str(run_dir)]) == 0
        html = (run_dir / "report.html").read_text()
        assert "<html" in html.lower()
        assert "ev" in html
        assert main(["prom", str(run_dir)]) == 0
        assert "trader_orders_placed_total" in (run_dir / "livesession.prom").read_text()


class TestCcxtGate:
    def test_ccxt_without_credentials_writes_nothing(self, tmp_path, capsys, monkeypatch):
        """A ccxt run without credentials names the variables, exits 2, and leaves no files."""
        monkeypatch.delenv("LIVESESSION_BINANCE_API_KEY", raising=False)
        monkeypatch.delenv("LIVESESSION_BINANCE_API_SECRET", raising=False)
        out = tmp_path / "out"
        assert main(["dryrun", "--broker", "ccxt:binance", "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert "LIVESESSION_BINANCE_API_KEY" in err
        assert not out.exists()


class TestOutcome:
    """The bundle opens with how the run ended: before, a run that failed and left an order
    open at the venue got a document that said PASS and nothing of the failure."""

    def test_a_completed_run_says_so_first(self, run_dir):
        assert main(["evidence", str(run_dir)]) == 0
        manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
        lines = (run_dir / "events.jsonl").read_bytes().splitlines()
        stopped = orjson.loads(lines[-1])["payload"]
        assert manifest["outcome"] == {
            "sealed": True,
            "status": "COMPLETED",
            "fsm_state": "STOPPED",
            "reason": "",
            "stop_reason": "session closed",
            "steps": 300,
            "steps_planned": 300,
            "equity": stopped["equity"],
            "pnl": stopped["pnl"],
            "positions": {},
            "open_orders": [],
            "operator_actions": [],  # the close after the planned steps is the run's end
            "time_span": ["2026-01-01T00:00:00Z", "2026-01-01T05:00:00Z"],  # its first, last
            # The demo held 0.010 at its last bar: the wind-down sold it, not the strategy.
            "flattened": [
                {
                    "side": "SELL",
                    "quantity": "0.010",
                    "symbol": "BTC/USDT",
                    "after_step": 300,
                    "at": "2026-01-01T05:00:00Z",
                    "filled": "0.010",
                    "ended": "filled",
                }
            ],
        }
        (doc,) = run_dir.glob("EV-*-ev.md")
        text = doc.read_text()
        ended = text.index("## How the run ended")
        assert ended < text.index("## Verification")
        # A run that ran all its steps names no stop, as the report's header does not.
        assert "- **COMPLETED** in `STOPPED` after 300 of 300 steps.\n" in text
        shown = amount_text(Decimal(stopped["equity"]))  # as the report shows it: 99995.3355
        assert f"position flat; no open order; equity {shown}" in text
        assert "- Operator actions: none.\n" in text
        assert "- Run time: 2026-01-01T00:00:00Z to 2026-01-01T05:00:00Z (UTC, " in text

    def test_a_faulted_run_names_the_fault_and_what_it_left_open(self, tmp_path):
        from _scripted import at, buy
        from test_broker_guard import UserBroker, _run

        broker = UserBroker(fill=lambda f: {"quantity": f.quantity * 2})
        run_dir, _ = _run(tmp_path, "overfilled", broker, at({2: [buy("0.010")]}))
        write_evidence(run_dir)
        outcome = orjson.loads((run_dir / "manifest.json").read_bytes())["outcome"]
        problem = "its quantity 0.020 is more than the 0.010 left of the order"
        (cid,) = broker.sent
        trade_id = outcome["fault"]["detail"]["trade_id"]
        assert (outcome["status"], outcome["fsm_state"], outcome["reason"]) == (
            "FAILED",
            "ERROR_REQUIRES_OPERATOR",
            "BROKER_REPORT_INVALID",
        )
        assert outcome["fault"] == {
            "reason": "BROKER_REPORT_INVALID",
            "detail": {"client_order_id": cid, "problem": problem, "trade_id": trade_id},
        }
        assert [o["client_order_id"] for o in outcome["open_orders"]] == [cid]
        (doc,) = run_dir.glob("EV-*-overfilled.md")
        text = doc.read_text()
        assert "- **FAILED** in `ERROR_REQUIRES_OPERATOR` after " in text
        assert f"problem: {problem}; trade_id: {trade_id}." in text
        assert f"1 open order(s): {cid} BUY 0/0.010 BTC/USDT;" in text

    def test_a_rejected_run_names_the_check_that_refused_it(self, tmp_path):
        session = create_run(
            DryrunConfig(run_id="refused", steps=50, enabled=True, durability="none"), tmp_path
        )
        assert not session.preflight()
        session.close()
        write_evidence(tmp_path / "refused")
        outcome = orjson.loads((tmp_path / "refused" / "manifest.json").read_bytes())["outcome"]
        assert (outcome["status"], outcome["reason"]) == ("REJECTED", "LIVE_ENABLED")
        (check,) = outcome["refused_by"]
        assert check["check"] == "live_trading_disabled"
        (doc,) = (tmp_path / "refused").glob("EV-*.md")
        assert f"- Preflight check `live_trading_disabled` refused it: {check['detail']}." in (
            doc.read_text()
        )

    def test_a_checks_count_is_labelled_as_its_failures(self, tmp_path):
        """Bug: the document's table headed every count `fired`, so `| check |
        live_trading_disabled | 1 |` read as a check that ran, or passed, once, not one that
        refused the run. The column says a check's count is its failures; the manifest's
        `fired.checks` keeps its key and its counts."""
        session = create_run(
            DryrunConfig(run_id="refused", steps=50, enabled=True, durability="none"), tmp_path
        )
        assert not session.preflight()
        session.close()
        result = write_evidence(tmp_path / "refused")
        manifest = orjson.loads(result.manifest.read_bytes())
        assert manifest["fired"]["checks"]["live_trading_disabled"] == 1
        assert manifest["fired"]["checks"]["config_valid"] == 0
        text = result.document.read_text()
        assert "| kind | name | fired |" not in text
        table = text[text.index("## Preflight checks and safety rails") :]
        assert table.startswith(
            "## Preflight checks and safety rails\n\nA preflight check fires by failing: it "
            "refuses the run before it trades. A rail fires by refusing an order (the "
            "daily-loss cap: by pulling the kill switch).\n\n"
            "| kind | name | times failed (a check) or fired (a rail) |\n| --- | --- | --- |\n"
        )
        assert "| check | live_trading_disabled | 1 |\n" in table

    @pytest.mark.broken_run("the final snapshot is tampered with on purpose")
    def test_a_broken_final_snapshot_is_left_out_not_a_crash(self, run_dir, tmp_path):
        """Evidence must describe a broken run too (verify says what is wrong)."""
        from livesession._artifacts.runread import read_records
        from livesession.evidence._outcome import outcome

        broken = tmp_path / "broken"
        shutil.copytree(run_dir, broken)
        snapshots = broken / "state_snapshots.jsonl"
        lines = snapshots.read_bytes().splitlines()
        final = orjson.loads(lines[-1]) | {"positions": ["x"], "open_orders": {"a": 1}}
        snapshots.write_bytes(b"\n".join([*lines[:-1], orjson.dumps(final)]) + b"\n")
        found = outcome(broken, read_records(broken / "events.jsonl"))
        assert (found["positions"], found["open_orders"]) == ({}, [])
        assert found["status"] == "COMPLETED"

    def test_a_crashed_run_is_said_to_be_unsealed_and_not_re_run(self, tmp_path):
        """Before, a crashed run's bundle listed the crash's marks as violations and spent
        a whole re-run of the config on a determinism MISMATCH; it now says the run is not
        sealed and how to finish it, and skips the re-run. The document's verdict line
        shows the command as code: it showed ``\\`livesession resume ...\\` `` (the
        backticks escaped, so a reader saw them and no code)."""
        from livesession import resume_run
        from test_interrupts import _interrupt_after

        run_dir = tmp_path / "crashed"
        session = create_run(DryrunConfig(run_id="crashed", steps=300, durability="none"), tmp_path)
        _interrupt_after(session, 200, KeyboardInterrupt)
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(300)
        result = write_evidence(run_dir)
        assert not result.ok
        assert result.problems[0] == (
            f"the run is not sealed: `livesession resume {run_dir}` finishes it, then write "
            "its evidence again"
        )
        manifest = orjson.loads(result.manifest.read_bytes())
        assert manifest["determinism"]["status"] == "not_applicable"
        assert "not sealed" in manifest["determinism"]["reason"]
        assert manifest["outcome"]["sealed"] is False
        document = result.document.read_text()
        assert "The run is **not sealed**" in document
        (verdict,) = [line for line in document.splitlines() if line.startswith("- Evidence:")]
        assert verdict.startswith(
            f"- Evidence: **NOT VERIFIED** (the run is not sealed: `livesession resume "
            f"{run_dir}` finishes it, then write its evidence again; "
        )
        with resume_run(run_dir) as resumed:  # finished, its evidence passes
            resumed.run_to_end(300)
        assert write_evidence(run_dir).ok


def test_the_determinism_re_run_does_not_sync_its_throwaway_files(tmp_path, monkeypatch):
    """A ``durability = "step"`` run's re-run used to fsync its scratch files every step and
    at every checkpoint: evidence of a 300,000-step run took 59 s, 12 s without. The re-run
    keeps the run's checkpoint cadence (which can change its bytes) and drops only the
    syncs (which cannot): its sync count no longer grows with the steps, and it matches."""
    syncs = {"n": 0}

    def counted(real):
        def sync(fd):
            syncs["n"] += 1
            return real(fd)

        return sync

    counts = []
    for steps in (200, 600):
        run_id = f"durable{steps}"
        with create_run(DryrunConfig(run_id=run_id, steps=steps, durability="step"), tmp_path) as s:
            s.run_to_end(steps)
        scratch = tmp_path / f"scratch{steps}"
        scratch.mkdir()
        syncs["n"] = 0
        with monkeypatch.context() as patch:
            patch.setattr(os, "fsync", counted(os.fsync))
            patch.setattr(os, "fdatasync", counted(os.fdatasync))
            verdict = _rerun.determinism(tmp_path / run_id, rerunnable=True, scratch=scratch)
        assert verdict["status"] == "match", verdict
        counts.append(syncs["n"])
    assert counts[0] == counts[1] <= 8, counts


def _bars_before(run_dir, event_type: str) -> int:
    """The steps (BAR events) a run had taken when it wrote its first ``event_type``."""
    bars = 0
    for line in (run_dir / "events.jsonl").read_bytes().splitlines():
        event = orjson.loads(line)
        if event["event_type"] == event_type:
            return bars
        bars += event["event_type"] == "BAR"
    raise AssertionError(f"no {event_type} in {run_dir}")


class TestHaltsAndResumes:
    """A sealed COMPLETED run said nothing of a halt or of a crash: "How the run ended" now
    says trading was HALTED from step N and by what, and that the run was resumed."""

    def test_a_daily_loss_halt_is_the_rail_firing_and_is_told(self, tmp_path):
        """Before: the KILL_SWITCH (DAILY_LOSS) halted the run at step 27, yet the rails
        table and the control map said DAILY_LOSS fired 0 times and the outcome only
        COMPLETED ... stopped: session closed."""
        cfg = DryrunConfig(
            run_id="loss",
            seed=11,
            steps=200,
            durability="none",
            strategy={"fast": 3, "slow": 8, "order_qty": "0.100"},
            risk={"daily_loss_pct": "0.0002"},
        )
        create_run(cfg, tmp_path).run_to_end(200)
        run_dir = tmp_path / "loss"
        step = _bars_before(run_dir, "KILL_SWITCH")
        result = write_evidence(run_dir)
        assert result.ok, result.problems
        manifest = orjson.loads(result.manifest.read_bytes())
        assert manifest["fired"]["rails"]["DAILY_LOSS"] == 1
        (credit,) = [c for c in manifest["controls"] if c["control"].startswith("Credit")]
        assert credit["fired"] == 1
        assert manifest["outcome"]["halts"] == [
            {
                "from_step": step,
                "last_turn": step - 1,  # the cap halts at the bar, before the strategy's turn
                "event": "KILL_SWITCH",
                "reason": "DAILY_LOSS",
                "by": "the daily-loss cap pulled the kill switch",
                "until_step": None,
                "reenabled_by": None,
            }
        ]
        text = result.document.read_text()
        assert "| rail | DAILY_LOSS | 1 (1 by pulling the kill switch) |" in text
        ended = text[text.index("## How the run ended") : text.index("## Verification")]
        assert (
            f"- Trading **HALTED** from step {step} to the end of the run (no new order from "
            "then on): the daily-loss cap pulled the kill switch (`KILL_SWITCH` reason "
            "`DAILY_LOSS`).\n"
        ) in ended

    def test_an_operator_kill_lifted_and_a_throttle_halt_are_told(self, tmp_path):
        from livesession._artifacts.runread import read_records
        from livesession.evidence._outcome import outcome, outcome_lines

        cfg = DryrunConfig(
            run_id="steered", steps=400, durability="none", risk={"max_executions": 4}
        )
        run_dir = steered_run(cfg, tmp_path, KILLED_THEN_LIFTED)
        throttled = _bars_before(run_dir, "TRADING_STATE_CHANGED")
        found = outcome(run_dir, read_records(run_dir / "events.jsonl"))
        assert [(h["from_step"], h["until_step"], h["reenabled_by"]) for h in found["halts"]] == [
            (30, 50, "alice"),
            (throttled, None, None),
        ]
        text = "\n".join(outcome_lines(found, run_dir))
        assert (
            "- Trading **HALTED** from step 30 until `alice` re-enabled it after step 50: an "
            "operator's kill (`KILL_SWITCH` reason `desk`)."
        ) in text
        assert (
            f"- Trading **HALTED** from step {throttled} to the end of the run (no new order "
            "from then on): the execution throttle (`TRADING_STATE_CHANGED` reason "
            "`EXECUTION_THROTTLE`)."
        ) in text

    def test_burnin_and_evidence_tell_a_halt_in_one_s_words(self):
        """One ``halt_text`` for both: the evidence's Markdown differs only in its spans."""
        from livesession._rundir.halts import halt_text
        from livesession._support.text import md_code, md_text

        lifted = {
            "from_step": 30,
            "event": "KILL_SWITCH",
            "reason": "desk",
            "by": "an operator's kill",
            "until_step": 50,
            "reenabled_by": "",  # no operator's name recorded
        }
        assert halt_text(lifted, "to the end") == (
            "from step 30 until an operator re-enabled it after step 50: an operator's kill "
            "(KILL_SWITCH reason desk)"
        )
        lasting = lifted | {"reason": "", "until_step": None, "reenabled_by": None}
        assert halt_text(lasting, "to the end", md_code, md_text) == (
            "from step 30 to the end: an operator's kill (`KILL_SWITCH`)"
        )

    def test_a_resumed_run_says_from_which_step_and_what_was_set_aside(self, tmp_path):
        """Before: COMPLETED, operator actions none, and no word of the crash."""
        from livesession import resume_run
        from test_interrupts import _interrupt_after

        cfg = DryrunConfig(run_id="again", steps=300, durability="none", checkpoint_every=100)
        session = create_run(cfg, tmp_path)
        _interrupt_after(session, 300, KeyboardInterrupt, written_out=True)  # at step 217
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(300)
        run_dir = tmp_path / "again"
        with resume_run(run_dir) as resumed:
            resumed.run_to_end(300)
        audit = [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
        (resume,) = [r["payload"] for r in audit if r["code"] == "C2_RESUME"]
        torn = {name: size for name, size in sorted(resume["torn_bytes"].items()) if size}
        assert resume["from_step"] == 200
        assert torn, "the crash left bytes past the checkpoint: they are set aside"
        result = write_evidence(run_dir)
        assert result.ok, result.problems
        manifest = orjson.loads(result.manifest.read_bytes())
        assert manifest["outcome"]["resumes"] == [
            {"from_step": 200, "checkpoint": True, "torn_bytes": torn}
        ]
        sizes = ", ".join(f"{name} {size} B" for name, size in torn.items())
        text = result.document.read_text()
        ended = text[text.index("## How the run ended") : text.index("## Verification")]
        assert (
            "- **Resumed** after a crash once: from step 200 (torn bytes set aside in "
            f"`<file>.torn`: {sizes}).\n"
        ) in ended
        # "torn bytes" and "checkpoint" in words a reader of the document has
        assert (
            "- What that means: the process stopped without sealing the run (killed, or its "
            "machine went down), and `livesession resume` went on from the last checkpoint, "
            "doing the steps after it again; the torn bytes are what the stopped process had "
            "written past that checkpoint, kept apart in `<file>.torn`, outside the run's "
            "record.\n"
        ) in ended


class TestFirstDifference:
    """Before, a one-byte edit to a BAR's close said only ``BAR (seq 101) in the run, BAR
    (seq 101) in the re-run``, and a difference in audit.jsonl alone said nowhere where."""

    @staticmethod
    def _copy(run_dir, tmp_path):
        copy = tmp_path / "run" / run_dir.name
        shutil.copytree(run_dir, copy)
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        return copy, scratch

    @classmethod
    def _edited(cls, run_dir, tmp_path, name, number, *, edit):
        """A copy of the run whose file ``name`` has ``edit[0]`` made ``edit[1]`` in line
        ``number``: that file's path in the copy, and a scratch directory."""
        old, new = edit
        copy, scratch = cls._copy(run_dir, tmp_path)
        path = copy / name
        lines = path.read_bytes().splitlines(keepends=True)
        lines[number - 1] = lines[number - 1].replace(old, new, 1)
        path.write_bytes(b"".join(lines))
        return path, scratch

    @pytest.mark.broken_run("a bar's close is edited on purpose")
    def test_two_lines_of_one_kind_name_the_field_and_both_values(self, run_dir, tmp_path):
        lines = (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
        number = next(
            n for n, line in enumerate(lines, start=1) if n > 100 and b'"event_type":"BAR"' in line
        )
        close = orjson.loads(lines[number - 1])["payload"]["close"]
        edited = close[:-1] + ("1" if close[-1] != "1" else "2")  # one byte
        edit = (f'"close":"{close}"'.encode(), f'"close":"{edited}"'.encode())
        path, scratch = self._edited(run_dir, tmp_path, "events.jsonl", number, edit=edit)
        verdict = _rerun.determinism(path.parent, rerunnable=True, scratch=scratch)
        assert verdict["status"] == "MISMATCH"
        step = sum(b'"event_type":"BAR"' in line for line in lines[:number])
        at = orjson.loads(lines[number - 1])["ts_utc"]
        assert verdict["first_difference"] == (
            f"events.jsonl line {number} (step {step}, its bar of {at}), BAR (seq {number}): "
            f"payload.close {edited} in the run, {close} in the re-run"
        )

    @pytest.mark.broken_run("the first event's seq is edited on purpose")
    def test_an_event_before_the_first_bar_says_so(self, run_dir, tmp_path):
        copy, _ = self._copy(run_dir, tmp_path)
        path = copy / "events.jsonl"
        path.write_bytes(path.read_bytes().replace(b'"seq":1,', b'"seq":7,', 1))
        assert first_difference(path, run_dir / "events.jsonl") == (
            "events.jsonl line 1 (before the first bar), SESSION_STARTED (seq 7): seq 7 in the "
            "run, 1 in the re-run"
        )

    @pytest.mark.broken_run("a bar's simulated time is edited on purpose")
    def test_two_bars_that_differ_are_named_by_the_run_s_bar_time(self, run_dir, tmp_path):
        """The step of two BARs that differ is the next one, and its time the run's own."""
        lines = (run_dir / "events.jsonl").read_bytes().splitlines()
        number = [n for n, line in enumerate(lines, start=1) if b'"event_type":"BAR"' in line][2]
        ts_sim = orjson.loads(lines[number - 1])["ts_sim"]
        edited = ts_sim + 30 * 10**9
        edit = (f'"ts_sim":{ts_sim}'.encode(), f'"ts_sim":{edited}'.encode())
        path, _ = self._edited(run_dir, tmp_path, "events.jsonl", number, edit=edit)
        assert first_difference(path, run_dir / "events.jsonl") == (
            f"events.jsonl line {number} (step 3, its bar of {format_utc_ns(edited)}), BAR "
            f"(seq {number}): ts_sim {edited} in the run, {ts_sim} in the re-run"
        )

    @pytest.mark.broken_run("a state snapshot's seq is edited on purpose")
    def test_a_snapshot_line_is_given_no_bar_s_step(self, run_dir, tmp_path):
        """A snapshot names its own step; only event lines are given their bar's."""
        path, _ = self._edited(
            run_dir, tmp_path, "state_snapshots.jsonl", 3, edit=(b'"seq":3,', b'"seq":9,')
        )
        assert first_difference(path, run_dir / "state_snapshots.jsonl") == (
            "state_snapshots.jsonl line 3, activate at step 0 (seq 9): seq 9 in the run, 3 in "
            "the re-run"
        )

    @pytest.mark.broken_run("an audit record is edited on purpose")
    def test_a_difference_in_the_audit_alone_is_named_too(self, run_dir, tmp_path):
        copy, scratch = self._copy(run_dir, tmp_path)
        path = copy / "audit.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        assert b'"code":"C2_DRYRUN_START"' in lines[0]
        lines[0] = lines[0].replace(b'"symbol":"BTC/USDT"', b'"symbol":"BTC/USDC"')
        path.write_bytes(b"".join(lines))
        verdict = _rerun.determinism(copy, rerunnable=True, scratch=scratch)
        assert verdict["status"] == "MISMATCH"
        assert list(verdict["compared"].values()) == [True, True, False]
        assert verdict["first_difference"] == (
            "audit.jsonl line 1, C2_DRYRUN_START (seq 1): payload.symbol BTC/USDC in the run, "
            "BTC/USDT in the re-run"
        )

    @pytest.mark.broken_run("converted to Windows line endings, as git's core.autocrlf does")
    def test_a_copy_with_windows_line_endings_blames_the_copy_not_the_strategy(
        self, run_dir, tmp_path
    ):
        """A reviewer's checkout with core.autocrlf=true: every record as the re-run wrote it.

        Before, the re-run's first difference was ``SESSION_STARTED (seq 1): the line {...}
        in the run, {...} in the re-run`` (the same text twice) and the bundle's one line asked
        whether the strategy was deterministic: a desk sent after a fault its code does not
        have.
        """
        copy, _ = self._copy(run_dir, tmp_path)
        for name in ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl"):
            path = copy / name
            path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        result = write_evidence(copy, out_dir=tmp_path / "bundle")
        said = (
            "events.jsonl line 1, SESSION_STARTED (seq 1): the same record on both sides, but "
            "the run's line ends with \\r\\n, the re-run's with \\n alone (a copy changed the "
            "file: Windows line endings, git's core.autocrlf, an editor's BOM?)"
        )
        assert orjson.loads(result.manifest.read_bytes())["determinism"]["first_difference"] == said
        assert result.problems[-1] == (
            f"the determinism re-run does not match: {said} (a copy changed the run's bytes "
            "after it was written: check a copy that keeps them, byte for byte)"
        )
        assert "deterministic?" not in " ".join(result.problems)

    @pytest.mark.broken_run("a byte order mark is put before the first line")
    def test_a_byte_order_mark_a_copy_added_is_named(self, run_dir, tmp_path):
        copy, _ = self._copy(run_dir, tmp_path)
        path = copy / "events.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        assert first_difference(path, run_dir / "events.jsonl") == (
            "events.jsonl line 1, SESSION_STARTED (seq 1): the same record on both sides, but "
            "the run's line starts with a UTF-8 byte order mark (BOM) (a copy changed the "
            "file: Windows line endings, git's core.autocrlf, an editor's BOM?)"
        )
        edited = path.read_bytes().replace(b'"seq":1,', b'"seq":7,', 1)
        path.write_bytes(edited)  # more than the mark: the fields are compared as before
        assert "the same record" not in first_difference(path, run_dir / "events.jsonl")


class TestLongRuns:
    """Evidence's readers stream a long run's files: memory does not grow with the run.

    Memory, not speed (tracemalloc's count does not depend on the machine's load). Holding
    the events (about 2 KB a parsed line) takes some 2 MB for the small run below and 16 MB
    for the large one; streaming takes the same for both.
    """

    @pytest.mark.broken_run("it appends copies of a BAR line to a run")
    @pytest.mark.parametrize("reader", ["outcome", "burn-in", "secret scan", "operator actions"])
    def test_peak_memory_does_not_grow_with_the_events(self, tmp_path, monkeypatch, reader):
        monkeypatch.setattr(evidence, "_SCAN_BLOCK", 1 << 16)  # blocks smaller than the files
        drill = {"status": "measured", "wall_s": 0.1}  # the run's config is not read for it
        reads = {
            "outcome": lambda run: outcome(run, iter_records(run / "events.jsonl")),
            "burn-in": lambda run: evaluate_run(run, Thresholds(), drill=drill),
            "secret scan": lambda run: scan_secrets(run, environ={}),
            # What the determinism re-run holds while it runs the whole session again.
            "operator actions": lambda run: recorded_actions(run / "events.jsonl"),
        }
        read = reads[reader]
        read(grown_run(tmp_path / "warm", 10))  # imports, compiled patterns
        small_run, large_run = (
            grown_run(tmp_path / "small", 1_000),
            grown_run(tmp_path / "large", 8_000),
        )
        small = peak_memory(lambda: read(small_run))
        large = peak_memory(lambda: read(large_run))

        assert large < 2 * small + 256 * 1024, (small, large)


@pytest.mark.parametrize("kind", ["fifo", "symlink"])
def test_a_manifest_that_is_no_regular_file_is_refused_unread(tmp_path, run_dir, capsys, kind):
    """A FIFO named manifest.json where the bundle goes held evidence waiting for ever (it
    read the file to see whose bundle it was); a symlink was read through, naming another
    run's bundle, or replaced when it led nowhere. Both are refused now, unread: exit 2,
    one line naming the file, nothing written."""
    out = tmp_path / "handover"
    out.mkdir()
    manifest = out / "manifest.json"
    if kind == "fifo":
        os.mkfifo(manifest)
    else:
        manifest.symlink_to(tmp_path / "elsewhere" / "manifest.json")
    assert main(["evidence", str(run_dir), "--out", str(out)]) == 2
    said = f"{manifest} is not a regular file ({'a FIFO' if kind == 'fifo' else 'a symbolic link'})"
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]
    assert not (tmp_path / "elsewhere").exists()


def test_a_bundle_of_another_run_in_out_is_not_replaced(tmp_path, run_dir, capsys):
    """`evidence A --out DIR`, then `evidence B --out DIR`, replaced A's manifest.json with
    B's and exited 0: A's EV document stayed beside another run's manifest, and the SHA-256
    published for A matched no file. B is refused now (exit 2, nothing written); A again,
    and a run of A's run id, replace A's bundle as before."""
    out = tmp_path / "handover"
    assert main(["evidence", str(run_dir), "--out", str(out)]) == 0
    kept = {p.name: p.read_bytes() for p in out.iterdir()}
    other = tmp_path / "runs"
    assert main(["dryrun", "--out", str(other), "--run-id", "other", "--steps", "20", "-q"]) == 0
    capsys.readouterr()

    assert main(["evidence", str(other / "other"), "--out", str(out), "--json"]) == 2
    said = orjson.loads(capsys.readouterr().out)["error"]
    assert said == (
        f"{out} holds the evidence bundle of run ev (manifest.json), which the bundle of run "
        "other would replace; nothing was written: write it elsewhere with --out DIR"
    )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == kept
    (out / "manifest.json").write_bytes(b"not a bundle")
    assert main(["evidence", str(other / "other"), "--out", str(out)]) == 2
    assert "holds a manifest.json that is no evidence bundle" in capsys.readouterr().err
    (out / "manifest.json").write_bytes(kept["manifest.json"])
    assert main(["evidence", str(run_dir), "--out", str(out)]) == 0


def test_the_api_takes_a_str_path_as_create_run_does(run_dir, tmp_path):
    """Bug: ``write_evidence("runs/ev")`` raised ``TypeError: unsupported operand type(s)
    for /: 'str' and 'str'`` and ``run_status("runs/ev")`` ``AttributeError: 'str' object
    has no attribute 'exists'``: a host holding its run paths as text (from its own config,
    a queue message) met a traceback where ``create_run``, ``resume_run``, ``verify_run``
    and ``write_report`` take a ``str``. Both take a ``str`` or any path now."""
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)  # one reading: the age is the same
    standing = run_status(str(run_dir), now=now)
    assert standing.verdict is Verdict.COMPLETED
    assert standing == run_status(run_dir, now=now)
    result = write_evidence(str(run_dir), out_dir=str(tmp_path / "bundle"))
    assert result.ok, result.problems
    assert (tmp_path / "bundle" / "manifest.json").is_file()
