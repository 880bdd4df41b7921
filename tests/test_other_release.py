"""Runs a release before this one wrote (tests/data/v010: two runs 0.1.0 made).

0.2 reads them (verify, status, report, prom) and holds them to what 0.1.0 promised, not to
what 0.2 added; it never continues one (``resume`` refuses a run of another release, naming
both versions and the release to resume it with).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest

from _forge import tampered
from livesession import DryrunConfig, RiskLimits, StrategyConfig, create_run
from livesession._version import __version__
from livesession.cli import main
from livesession.prom import render_textfile
from livesession.verify import verify_run

DATA = Path(__file__).parent / "data" / "v010"


@pytest.fixture
def old_done(tmp_path: Path) -> Path:
    """A copy of a clean 0.1.0 run that placed two orders."""
    return Path(shutil.copytree(DATA / "old-done", tmp_path / "old-done"))


@pytest.fixture
def old_crash(tmp_path: Path) -> Path:
    """A copy of a 0.1.0 run killed mid-way (three orders, no SESSION_STOPPED)."""
    return Path(shutil.copytree(DATA / "old-crash", tmp_path / "old-crash"))


class TestVerify:
    def test_a_clean_0_1_run_is_not_held_to_the_links_0_2_added(self, old_done: Path) -> None:
        result = verify_run(old_done)
        assert list(result.violations) == []
        assert result.ok

    @pytest.mark.broken_run("a line taken out of a 0.1.0 run")
    def test_a_0_1_run_s_other_faults_stay_violations(self, old_done: Path) -> None:
        events = old_done / "events.jsonl"
        lines = events.read_bytes().splitlines(keepends=True)
        del lines[-3]  # a line from the end: the seq then jumps
        events.write_bytes(b"".join(lines))
        assert not verify_run(old_done).ok


class TestVerifySaysTheRelease:
    """Bug: a reviewer checking a run with another installed livesession read ``OK`` and
    nothing of the versions (``verify --json`` neither): that the verdict was this
    release's, and for a run of a later release, a contract that knows nothing of what that
    release added. A line under the verdict names both, and ``--json`` ``run_version``."""

    def test_a_run_of_an_earlier_release(
        self, old_done: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["verify", str(old_done)]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0].startswith(f"OK {old_done}: ")
        said = (
            f"version   written by livesession 0.1.0, checked by {__version__}: an earlier "
            "release: held to what that release's runs promise"
        )
        assert lines[1:] == [said]
        assert main(["verify", str(old_done), "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["run_version"] == "0.1.0"

    def test_a_run_of_a_later_release_and_of_this_one(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        argv = ["dryrun", "--out", str(tmp_path), "--run-id", "later", "--steps", "20", "-q"]
        assert main(argv) == 0
        run = tmp_path / "later"
        assert main(["verify", str(run), "--json"]) == 0  # this release's: no line
        assert json.loads(capsys.readouterr().out)["run_version"] == __version__
        assert main(["verify", str(run)]) == 0
        assert len(capsys.readouterr().out.splitlines()) == 1

        for name, wanted in (
            ("events.jsonl", lambda r: r.get("event_type") == "SESSION_STARTED"),
            ("audit.jsonl", lambda r: r.get("code") == "C2_DRYRUN_START"),
        ):
            tampered(run, name, wanted, lambda r: r["payload"].update(version="9.1.0"))
        for name in ("run.json", "checkpoint.json"):  # outside the chain: as 9.1.0 wrote them
            kept = json.loads((run / name).read_bytes())
            (run / name).write_text(json.dumps(kept | {"version": "9.1.0"}))
        assert main(["verify", str(run)]) == 0
        lines = capsys.readouterr().out.splitlines()
        said = (
            f"version   written by livesession 9.1.0, checked by {__version__}: a later "
            "release than this one: held to this release's contract, which knows nothing of "
            "what 9.1 added; check it with livesession 9.1.x"
        )
        assert lines[1:] == [said]


def _as_written_by(run: Path, version: str) -> None:
    """Make ``run`` say ``version`` wrote it, its stop record with no reason (as 0.1.x wrote it)."""
    for name, wanted in (
        ("events.jsonl", lambda r: r.get("event_type") == "SESSION_STARTED"),
        ("audit.jsonl", lambda r: r.get("code") == "C2_DRYRUN_START"),
    ):
        tampered(run, name, wanted, lambda r: r["payload"].update(version=version))
    tampered(
        run,
        "audit.jsonl",
        lambda r: r.get("code") == "C2_DRYRUN_STOP",
        lambda r: r["payload"].pop("reason"),
    )


@pytest.mark.broken_run("a run's version rewritten to 0.1.0's, its stop record as 0.1.0 wrote it")
class TestStopReason:
    """0.1.x wrote no ``reason`` in ``C2_DRYRUN_STOP``: its rejected and failed runs have one
    in ``SESSION_STOPPED`` only, which is no tampering."""

    @staticmethod
    def _rejected(tmp_path: Path) -> Path:
        config = DryrunConfig(
            run_id="rejected",
            steps=10,
            strategy=StrategyConfig(order_qty=Decimal("0.050")),
            risk=RiskLimits(max_order_qty=Decimal("0.040")),
        )
        session = create_run(config, tmp_path, idempotency_backend="memory", alerts=False)
        assert not session.run_to_end(10).accepted
        return tmp_path / "rejected"

    @pytest.mark.parametrize(("version", "ok"), [("0.1.0", True), ("0.2.0", False)])
    def test_a_0_1_stop_record_without_reason_is_no_violation(
        self, tmp_path: Path, version: str, ok: bool
    ) -> None:
        run = self._rejected(tmp_path)
        assert verify_run(run).ok
        _as_written_by(run, version)  # in a 0.2 run, the same record is a reason taken out
        result = verify_run(run)
        assert result.ok is ok, result.violations
        if not ok:
            assert any("stop reason '' but SESSION_STOPPED" in v for v in result.violations)

    def test_a_0_1_stop_record_s_own_reason_is_still_held_to_its_event(
        self, tmp_path: Path
    ) -> None:
        run = self._rejected(tmp_path)
        _as_written_by(run, "0.1.0")
        tampered(
            run,
            "audit.jsonl",
            lambda r: r.get("code") == "C2_DRYRUN_STOP",
            lambda r: r["payload"].update(reason="LEASE_HELD"),
        )
        violations = verify_run(run).violations
        assert any("stop reason 'LEASE_HELD' but SESSION_STOPPED" in v for v in violations)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("livesession: error: ")
    return lines[0]


@pytest.mark.broken_run("a crashed 0.1.0 run stays unfinished: this release never resumes it")
class TestAnotherReleaseIsNotContinued:
    @pytest.mark.parametrize("run", ["old-crash"])
    def test_resume_refuses_it_naming_both_versions_and_changes_nothing(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], run: str
    ) -> None:
        run_dir = Path(shutil.copytree(DATA / run, tmp_path / run))
        before = _tree(run_dir)
        assert main(["resume", str(run_dir)]) == 2
        line = _one_error(capsys)
        assert "written by livesession 0.1.0 and this is 0.2.0" in line
        assert "resume it with livesession 0.1.x" in line
        assert "config hash" not in line  # refused before the hash is looked at
        assert _tree(run_dir) == before

    def test_resume_of_its_sealed_run_says_there_is_nothing_to_resume(
        self, old_done: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """0.1.x would say so too: "resume it with livesession 0.1.x" sent the operator to a
        release that has nothing to resume either. What is left is to read it, which 0.2
        does."""
        before = _tree(old_done)
        assert main(["resume", str(old_done)]) == 2
        line = _one_error(capsys)
        assert line == (
            f"livesession: error: nothing to resume: {old_done} already ended with status "
            f"COMPLETED (sealed by livesession 0.1.0; this 0.2.0 reads it: `livesession verify "
            f"{old_done}` checks it, `livesession report {old_done}` shows it)"
        )
        assert "resume it with" not in line
        assert _tree(old_done) == before
        assert main(["verify", str(old_done)]) == 0  # as the line says
        assert main(["report", str(old_done), "--output", str(old_done.parent / "r.html")]) == 0

    @pytest.mark.parametrize("command", ["evidence", "burnin"])
    def test_a_re_run_names_both_versions(
        self, old_crash: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        assert main([command, str(old_crash), "--out", str(tmp_path / "out")]) == 2
        line = _one_error(capsys)
        assert "written by livesession 0.1.0 and this is 0.2.0" in line
        assert "with livesession 0.1.x" in line
        assert not (tmp_path / "out").exists()

    def test_status_verify_dryrun_and_prom_never_advise_this_release_s_resume(
        self, old_crash: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        said = []
        for argv in (
            ["status", str(old_crash)],
            ["verify", str(old_crash)],
            ["dryrun", "--run-id", "old-crash", "--out", str(old_crash.parent)],
            ["prom", str(old_crash), "--output", str(tmp_path / "x.prom")],
            ["stop", str(old_crash)],
        ):
            main(argv)
            captured = capsys.readouterr()
            said.append(captured.out + captured.err)
        for text in said:
            assert "livesession resume" not in text, text
            assert "livesession 0.1." in text, text


@pytest.mark.broken_run("a crashed 0.1.0 run stays unfinished: this release never resumes it")
class TestAReleaseWithoutWriterLocks:
    """0.1.x takes no writer.lock: an unsealed run of it may be live, and nothing says which."""

    def test_status_cannot_tell_whether_a_process_writes_it(
        self, old_crash: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["status", str(old_crash)]) == 5
        out = capsys.readouterr().out
        assert "whether a process still writes it cannot be told" in out
        assert "its heartbeat is " in out
        assert " s old" in out
        assert "crashed" not in out
        assert "resumable" not in out
        assert "resume" not in out.replace("cannot continue it", "")

    def test_a_heartbeat_ahead_of_the_clock_is_not_said_as_negative_seconds_old(
        self, old_crash: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        ahead = time.time() + 600
        os.utime(old_crash / "checkpoint.json", (ahead, ahead))
        assert main(["status", str(old_crash)]) == 5
        out = capsys.readouterr().out
        # Ten minutes ahead, said in minutes since a heartbeat's age of a minute or more is.
        ahead_by = r"its heartbeat is (9|10) min in the future by this machine's clock"
        assert re.search(ahead_by + ", so its age cannot be told", out), out
        assert " s old" not in out
        assert " min old" not in out

    @pytest.mark.parametrize("action", ["stop", "kill"])
    def test_stop_and_kill_say_they_cannot_signal_it(
        self, old_crash: Path, capsys: pytest.CaptureFixture[str], action: str
    ) -> None:
        before = _tree(old_crash)
        assert main([action, str(old_crash)]) == 3
        err = capsys.readouterr().err
        assert f"cannot {action} {old_crash}" in err
        assert "signal that process yourself by its pid" in err
        assert "nothing holds" not in err
        assert "livesession resume" not in err
        assert _tree(old_crash) == before

    def test_a_writer_lock_file_says_the_writer_takes_locks(
        self, old_crash: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With the lock file there (a release that takes locks), a run no one holds crashed."""
        (old_crash / "writer.lock").write_bytes(b"")
        main(["status", str(old_crash)])
        out = capsys.readouterr().out
        assert "cannot be told" not in out
        assert "resumable   no:" in out

    def test_its_sealed_run_is_only_sealed(
        self, old_done: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["status", str(old_done)]) == 0
        assert "cannot be told" not in capsys.readouterr().out
        assert main(["stop", str(old_done)]) == 0  # stopped already
        assert "is stopped already: sealed COMPLETED" in capsys.readouterr().out
        assert main(["kill", str(old_done)]) == 8
        assert "nothing holds" in capsys.readouterr().err


class TestStatusOfASealedRun:
    """status reads a 0.1.0 run's run.json and config, and names the release to re-run it."""

    def test_it_is_not_called_an_application_s_run_without_run_json(
        self, old_done: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        before = _tree(old_done)
        assert main(["status", str(old_done)]) == 0
        out = capsys.readouterr().out
        assert "no run.json" not in out
        assert "an application wrote it" not in out
        assert "livesession 0.1.0 wrote it" in out
        assert "write its evidence bundle with livesession 0.1.x" in out
        assert f"livesession evidence {old_done}" not in out  # evidence refuses it
        assert "32 of 32 at the last checkpoint" in out
        assert _tree(old_done) == before

    @pytest.mark.broken_run("a 0.1.0 run's run.json says it took a lease")
    def test_its_lease_is_not_said_to_be_none(
        self, old_done: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        meta = json.loads((old_done / "run.json").read_bytes())
        (old_done / "run.json").write_text(json.dumps(meta | {"lease": True}))
        main(["status", "--json", str(old_done)])
        lease = json.loads(capsys.readouterr().out)["lease"]
        assert lease is not None
        assert lease["backend"] == "file"


class TestProm:
    @staticmethod
    def _counters(run_dir: Path) -> dict[str, float]:
        text = render_textfile(run_dir)
        counters = {}
        for line in text.splitlines():
            name, _, value = line.partition("{")
            if name.endswith("_total"):
                counters[name] = float(value.rpartition(" ")[2])
        return counters

    def test_a_0_1_run_s_decisions_are_its_signalled_intents_decided(self, old_done: Path) -> None:
        """0.1.0 wrote no signal_id: its decisions were 0 beside 2 orders placed."""
        counters = self._counters(old_done)
        assert counters["trader_decisions_total"] == 2
        assert counters["trader_orders_placed_total"] == 2

    @pytest.mark.broken_run("a 0.1.0 run given a flatten order and a protective leg by hand")
    def test_a_0_1_run_s_own_orders_are_no_decisions(self, old_done: Path) -> None:
        """A flatten order (no SIGNAL of its intent) and a leg are the session's, as in 0.2."""
        events = old_done / "events.jsonl"
        lines = events.read_bytes().splitlines(keepends=True)
        submitted = next(json.loads(line) for line in lines if b"ORDER_SUBMITTED" in line)
        flatten = submitted | {"payload": submitted["payload"] | {"intent_seq": 99}}
        leg = submitted | {"payload": submitted["payload"] | {"oco_group": "x", "leg": "TP"}}
        extra = [json.dumps(flatten).encode() + b"\n", json.dumps(leg).encode() + b"\n"]
        events.write_bytes(b"".join([*lines[:-1], *extra, lines[-1]]))
        counters = self._counters(old_done)
        assert counters["trader_orders_placed_total"] == 4
        assert counters["trader_decisions_total"] == 2


class TestRunFormat:
    def test_a_run_of_this_release_says_a_format_0_1_refuses(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """0.1.x resumes only ``livesession-run/1``: a 0.2 run must not claim it."""
        args = ["dryrun", "--out", str(tmp_path), "--run-id", "new", "--steps", "5", "-q"]
        assert main(args) == 0
        meta = json.loads((tmp_path / "new" / "run.json").read_bytes())
        assert meta["format"] == "livesession-run/2"
        assert meta["version"].startswith("0.2.")

    def test_this_release_still_reads_a_run_1_run(
        self, old_done: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert json.loads((old_done / "run.json").read_bytes())["format"] == "livesession-run/1"
        assert main(["status", str(old_done)]) == 0
        assert main(["report", str(old_done), "--output", str(tmp_path / "r.html")]) == 0
        assert main(["list", str(old_done.parent)]) == 0
        capsys.readouterr()
