"""The livesession CLI: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import errno
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import types
from pathlib import Path

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import DryrunConfig, RunDirectoryError, cli, create_run
from livesession._rundir import holderread
from livesession._rundir.lock import RunLock
from livesession.cli import main
from livesession.verify import verify_run


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


class TestDryrun:
    def test_defaults_run_a_demo(self, tmp_path, capsys):
        """`dryrun` with no arguments (but --out) runs a demo to COMPLETED with exit 0."""
        code = main(["dryrun", "--out", str(tmp_path)])
        out = capsys.readouterr().out
        assert code == 0
        run_dir = tmp_path / "demo-001"
        for name in ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl"):
            assert (run_dir / name).stat().st_size > 0
        assert "COMPLETED" in out
        assert str(run_dir) in out
        assert main(["dryrun", "--out", str(tmp_path), "-q"]) == 0
        assert (tmp_path / "demo-002").is_dir()

    def test_module_entry_point_with_no_arguments_at_all(self, tmp_path):
        """`livesession dryrun` as an operator types it works from any directory."""
        proc = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "dryrun", "--steps", "50"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert (tmp_path / "out" / "runs" / "demo-001" / "audit.jsonl").exists()

    def test_refuses_to_overwrite(self, tmp_path, capsys):
        """An existing run directory is never overwritten (exit 2)."""
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q", "--steps", "20"]) == 0
        before = (tmp_path / "x" / "events.jsonl").read_bytes()
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q"]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: run directory {tmp_path / 'x'} already exists and holds a"
            f" finished run: choose another --run-id (`livesession list {tmp_path}` shows the"
            " runs there)\n"
        )
        assert (tmp_path / "x" / "events.jsonl").read_bytes() == before

    def test_an_unsealed_run_in_the_way_is_offered_a_resume(self, tmp_path, capsys):
        """A crashed run's directory (no sealing checkpoint) is pointed at ``resume``."""
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "run.json").write_text("{}\n")
        (tmp_path / "x" / "checkpoint.json").write_text('{"sealed": false}\n')
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q"]) == 2
        err = capsys.readouterr().err
        assert f"or continue a crashed run with `livesession resume {tmp_path / 'x'}`" in err

    def test_a_crashed_run_started_with_objects_is_pointed_at_resume_run(self, tmp_path, capsys):
        """``livesession resume`` cannot build a strategy object supplied in-process: the
        refusal of a run started with one points at ``resume_run`` in Python instead."""
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "run.json").write_text("{}\n")
        (tmp_path / "x" / "checkpoint.json").write_text('{"sealed": false}\n')
        sources = {"strategy": {"object": "desk.Mine", "supplied": "object supplied in-process"}}
        (tmp_path / "x" / "config.json").write_text(json.dumps({"sources": sources}))
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q"]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: run directory {tmp_path / 'x'} already exists: choose another"
            f" --run-id, or continue a crashed run from Python: resume_run({str(tmp_path / 'x')!r},"
            " strategy=<a desk.Mine>) (it was started with objects, which the command line"
            " cannot rebuild)\n"
        )

    def test_a_directory_in_the_way_that_holds_no_run_says_so(self, tmp_path, capsys):
        """A directory without run.json (not a run, or one killed while being created) is
        named as such, after a moment's wait for a dryrun that may be creating it."""
        (tmp_path / "x").mkdir()
        (tmp_path / "x" / "notes.txt").write_text("mine\n")
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q"]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: run directory {tmp_path / 'x'} already exists but holds no"
            " run (no run.json): choose another --run-id, or remove the directory\n"
        )
        assert _tree(tmp_path / "x") == ["notes.txt"]

    def test_a_file_in_the_way_is_named_as_such_and_nothing_is_written(self, tmp_path, capsys):
        """Bug: a plain file where the run directory goes (``touch out/afileid``) was refused
        as ``out/afileid/writer.lock: Not a directory``."""
        (tmp_path / "afileid").write_text("mine\n")
        said = (
            f"run directory {tmp_path / 'afileid'} already exists and is not a run directory"
            " (it is a file): choose another --run-id, or remove it"
        )
        argv = ["dryrun", "--out", str(tmp_path), "--run-id", "afileid", "--json"]
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.err == f"livesession: error: {said}\n"
        assert orjson.loads(captured.out) == {"ok": False, "exit_code": 2, "error": said}
        assert _tree(tmp_path) == ["afileid"]
        assert (tmp_path / "afileid").read_text() == "mine\n"
        # From Python the same refusal, advising a run_id (there is no --run-id there).
        in_python = said.replace("--run-id", "run_id")
        with pytest.raises(RunDirectoryError, match=f"^{re.escape(in_python)}$"):
            create_run(DryrunConfig(run_id="afileid"), tmp_path)
        assert _tree(tmp_path) == ["afileid"]

    def test_a_directory_another_dryrun_is_creating_is_refused_as_held(
        self, tmp_path, capsys, monkeypatch
    ):
        """Bug: two dryruns of one run id started together: the loser found the directory
        made but not yet locked, and was told to resume a crashed run. It waits for the
        lock, and is refused as the second writer (exit 3).

        The other dryrun takes the lock while the loser pauses for the third time: its own
        pauses are the clock (a 0.05 s timer raced its half second of waiting, and lost on a
        loaded machine)."""
        run_dir = tmp_path / "x"
        run_dir.mkdir()
        taken: list[RunLock] = []
        pauses: list[float] = []

        def pause(seconds: float) -> None:  # the other dryrun locks it at the third pause
            pauses.append(seconds)
            if len(pauses) == 3:
                taken.append(RunLock.acquire(run_dir, "livesession dryrun"))

        monkeypatch.setattr(holderread, "time", types.SimpleNamespace(sleep=pause))
        try:
            code = main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q"])
        finally:
            for lock in taken:
                lock.release()
        assert len(pauses) == 3  # the loser waited until the lock was taken
        err = capsys.readouterr().err
        assert code == 3
        assert f"{run_dir} is being written by pid {os.getpid()} " in err

    def test_out_naming_a_file_says_so(self, tmp_path, capsys):
        """``--out`` naming a file is refused as such, not as a run that already exists."""
        (tmp_path / "runs").write_text("not a directory\n")
        assert main(["dryrun", "--out", str(tmp_path / "runs"), "-q", "--steps", "5"]) == 2
        err = capsys.readouterr().err
        assert (
            err
            == f"livesession: error: {tmp_path / 'runs'} is not a directory: runs go to OUT/<run_id>/\n"
        )
        assert (tmp_path / "runs").read_text() == "not a directory\n"

    @pytest.mark.broken_run("the disk fills up on purpose: the run cannot be sealed")
    def test_a_full_disk_says_the_run_is_unsealed_and_what_next(
        self, tmp_path, capsys, monkeypatch
    ):
        """Every file write fails once the disk is full: one line, the cause, and what next."""
        from livesession._artifacts import sinks

        real = sinks.FileLineSink.write_line
        written = {"events": 0}

        def write_line(self, line: bytes) -> None:
            if written["events"] >= 40:
                raise OSError(28, "No space left on device")
            if self.path.name == "events.jsonl":
                written["events"] += 1
            real(self, line)

        monkeypatch.setattr(sinks.FileLineSink, "write_line", write_line)
        code = main(["dryrun", "--out", str(tmp_path), "--run-id", "full", "-q", "--steps", "200"])
        err = capsys.readouterr().err
        assert code == 2
        assert err.count("\n") == 1, err
        run_dir = tmp_path / "full"
        assert err.startswith("livesession: error: the audit sink failed at record ")
        assert (
            f" writing {run_dir / 'audit.jsonl'} (OSError: [Errno 28] No space left on device): the run is not sealed"
            in err
        )
        assert f"`livesession resume {run_dir}` can continue it" in err
        monkeypatch.setattr(sinks.FileLineSink, "write_line", real)
        assert main(["resume", str(run_dir), "-q"]) == 0  # room again: the run finishes
        assert verify_run(run_dir).ok

    def test_preflight_rejection_exits_3(self, tmp_path, capsys):
        """A session rejected by preflight exits 3, says why in one line, and so does its audit."""
        cfg = tmp_path / "live.toml"
        cfg.write_text("enabled = true\n")
        assert main(["dryrun", "-c", str(cfg), "--out", str(tmp_path), "--run-id", "r", "-q"]) == 3
        audit = (tmp_path / "r" / "audit.jsonl").read_bytes().splitlines()
        assert orjson.loads(audit[1])["code"] == "C2_REJECT_LIVE_ENABLED"
        detail = orjson.loads(audit[1])["payload"]["detail"]
        said = f"livesession: rejected: LIVE_ENABLED: {detail}; sealed REJECTED, nothing traded: {tmp_path / 'r'}\n"
        assert capsys.readouterr() == ("", said)

    def test_failed_session_exits_4(self, tmp_path):
        """A session that fails (here: stop cannot finish) exits 4."""
        cfg = tmp_path / "slow.toml"
        cfg.write_text("stop_max_polls = 1\n[fill_model]\nlatency_ms = 600000\n")
        code = main(
            [
                "dryrun",
                "-c",
                str(cfg),
                "--out",
                str(tmp_path),
                "--run-id",
                "f",
                "-q",
                "--steps",
                "60",
            ]
        )
        metrics = orjson.loads((tmp_path / "f" / "metrics.json").read_bytes())
        assert (code, metrics["status"]) == (4, "FAILED")

    def test_config_file_and_flags(self, tmp_path):
        """Flags override the config file; the effective config is kept with the run."""
        cfg = tmp_path / "c.toml"
        cfg.write_text('run_id = "fromfile"\nseed = 5\nsteps = 30\n')
        assert main(["dryrun", "-c", str(cfg), "--seed", "6", "--out", str(tmp_path), "-q"]) == 0
        saved = orjson.loads((tmp_path / "fromfile" / "config.json").read_bytes())
        assert (saved["seed"], saved["steps"], saved["durability"]) == (6, 30, "step")


class TestSummary:
    def test_the_summary_lines(self, tmp_path, capsys):
        """The summary adds risk blocks, venue rejects and retries, from metrics.json's counts.

        Deliberate change (issue 13): three lines after ``fills``; the others are as before.
        Deliberate change: ``trading`` after ``risk blocks`` (a halted run still completes).
        """
        code = main(["dryrun", "--out", str(tmp_path), "--run-id", "s", "--steps", "60"])
        captured = capsys.readouterr()
        assert (code, captured.err) == (0, "")
        metrics = orjson.loads((tmp_path / "s" / "metrics.json").read_bytes())
        labels = [line[:12].rstrip() for line in captured.out.splitlines()]
        assert labels == [
            "status",
            "run",
            "steps",
            "orders",
            "fills",
            "risk blocks",
            "trading",
            "position",
            "rejected",
            "retries",
            "pnl",
            "equity",
            "wall",
            "artifacts",
        ]
        lines = captured.out.splitlines()
        assert lines[3] == f"orders      {metrics['orders_submitted']}"
        assert lines[5:10] == [
            "risk blocks 0",
            "trading     ACTIVE",
            # The demo strategy still holds its last buy at step 1000: the wind-down sold it.
            (
                "position    flat, no open orders (the session flattened SELL 0.010 BTC/USDT as "
                "it wound down)"
            ),
            "rejected    0 by the venue",
            f"retries     {metrics['sink_retries']} (sink {metrics['sink_retries']}, broker 0)",
        ]

    def test_a_run_short_of_its_plan_says_so_as_status_does(self, tmp_path, capsys, monkeypatch):
        """``dryrun --steps 1000`` on a 40-row CSV said ``steps 40``, while ``status`` and
        ``evidence`` said ``40 of 1000``: the summary now says it their way, so the operator
        sees the run ended short of its plan (the feed ran out)."""
        monkeypatch.chdir(tmp_path)
        eurusd_csv(tmp_path / "eurusd.csv", 40)
        (tmp_path / "desk.toml").write_text(EURUSD_TOML, encoding="utf-8")
        argv = ["dryrun", "-c", "desk.toml", "--out", "runs", "--run-id", "short"]
        assert main([*argv, "--steps", "1000"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "status      COMPLETED (FEED_EXHAUSTED)"
        assert out[2] == "steps       40 of 1000"
        assert main(["status", "runs/short"]) == 0
        assert "steps       40 of 1000 at the last checkpoint" in capsys.readouterr().out
        assert main([*argv[:-1], "full", "--steps", "30"]) == 0
        assert (  # and a run that took its plan says what it left of the file
            "steps       30 of 30 (10 of the data file's 40 bars were not played: the run's 30 "
            "steps ran out first; steps = 40 plays them all)"
        ) in capsys.readouterr().out.splitlines()

    def test_the_json_summary_says_the_plan_as_status_json_does(
        self, tmp_path, capsys, monkeypatch
    ):
        """``dryrun --json`` had ``steps`` alone: a run whose feed ran out short of its plan
        could not be told from one that ran it all. ``steps_planned`` says it, as
        ``status --json`` names it."""
        monkeypatch.chdir(tmp_path)
        eurusd_csv(tmp_path / "eurusd.csv", 40)
        (tmp_path / "desk.toml").write_text(EURUSD_TOML, encoding="utf-8")
        argv = ["dryrun", "-c", "desk.toml", "--out", "runs", "--run-id", "short", "--json"]
        assert main([*argv, "--steps", "1000"]) == 0
        said = json.loads(capsys.readouterr().out)
        assert (said["steps"], said["steps_planned"]) == (40, 1000)
        assert main(["status", "runs/short", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["steps_planned"] == 1000

    def test_money_is_never_in_exponent_form(self, tmp_path, capsys):
        """initial_cash 1E+29 (one significant digit: taken) was summed up as
        ``equity 1.000000000000000000000000000E+29``. 1E+29 is now refused (30 digits
        written out, more than Decimal keeps); 1E+22, as large as the default grids carry
        exactly, is in exponent form all the same."""
        config = tmp_path / "rich.toml"
        config.write_text('initial_cash = "1E+22"\n', encoding="utf-8")
        code = main(["dryrun", "-c", str(config), "--out", str(tmp_path), "--steps", "5"])
        out = capsys.readouterr().out.splitlines()
        assert code == 0
        assert "equity      10000000000000000000000.00" in out
        assert "pnl         0.00" in out

    def test_a_halted_run_says_so(self, tmp_path, capsys):
        """A run the daily-loss cap killed ends COMPLETED; the summary, --json and status say
        that trading was halted from the kill on (before, nothing the CLI printed did)."""
        config = tmp_path / "loss.toml"
        config.write_text('[risk]\ndaily_loss_pct = "0.000001"\n', encoding="utf-8")
        base = ["dryrun", "--config", str(config), "--out", str(tmp_path), "--steps", "200"]
        assert main([*base, "--run-id", "loss"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "status      COMPLETED"
        assert "trading     HALTED (kill switch 1 by DAILY_LOSS)" in out  # what pulled it
        assert main([*base, "--run-id", "loss2", "--json"]) == 0
        outcome = orjson.loads(capsys.readouterr().out)
        assert (outcome["status"], outcome["trading"], outcome["kills"]) == (
            "COMPLETED",
            "HALTED",
            1,
        )
        assert main(["status", str(tmp_path / "loss")]) == 0
        status = capsys.readouterr().out
        said = (
            "trading     HALTED at the end by the kill switch (DAILY_LOSS): new orders were "
            "refused from the halt on"
        )
        assert said in status.splitlines()  # what pulled it, as the summary's line
        assert main(["status", "--json", str(tmp_path / "loss")]) == 0
        as_json = orjson.loads(capsys.readouterr().out)
        assert (as_json["trading"], as_json["kill_halted"]) == ("HALTED", True)
        assert as_json["halted_by"] == "the kill switch (DAILY_LOSS)"

    def test_a_throttled_run_names_the_throttle(self, tmp_path, capsys):
        """A run the execution throttle halted said ``trading     HALTED`` alone, where a
        halt by the kill switch or an unhealthy broker is named on that line."""
        config = tmp_path / "throttle.toml"
        config.write_text("[risk]\nmax_executions = 3\n", encoding="utf-8")
        argv = ["dryrun", "-c", str(config), "--out", str(tmp_path), "--run-id", "thr"]
        assert main([*argv, "--steps", "600"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert "risk blocks 1 (EXECUTION_THROTTLE 1)" in out
        assert "trading     HALTED (execution throttle 1)" in out
        assert verify_run(tmp_path / "thr").ok

    def test_quiet_prints_nothing(self, tmp_path, capsys):
        """-q: no summary, nothing on stdout or stderr for a completed run."""
        assert main(["dryrun", "--out", str(tmp_path), "--run-id", "q", "--steps", "30", "-q"]) == 0
        assert capsys.readouterr() == ("", "")

    @pytest.mark.parametrize(
        ("events", "by_reason", "shown"),
        [
            ({}, {}, "0"),
            ({"RISK_REJECTED": 3}, {"MAX_ORDER_QTY": 3}, "3 (MAX_ORDER_QTY 3)"),
            # a caller's own rail, with no venue rejects: still by rule
            ({"RISK_REJECTED": 2}, {"MY_RULE": 2}, "2 (MY_RULE 2)"),
            # venue rejects too: the built-in rules are told apart, and add up
            (
                {"RISK_REJECTED": 3, "ORDER_REJECTED": 1},
                {"DAILY_LOSS": 1, "ORDER_RATE": 2, "SEND_FAILED": 1},
                "3 (DAILY_LOSS 1, ORDER_RATE 2)",
            ),
            # ... unless a caller's rail hides among them: the count alone
            (
                {"RISK_REJECTED": 3, "ORDER_REJECTED": 1},
                {"MY_RULE": 1, "ORDER_RATE": 2, "SEND_FAILED": 1},
                "3",
            ),
            # too many rules for one line: the count alone
            (
                {"RISK_REJECTED": 5},
                dict.fromkeys(("ALLOWLIST", "DAILY_LOSS", "ORDER_RATE", "PRICE_COLLAR", "X"), 1),
                "5",
            ),
        ],
    )
    def test_risk_blocks_by_rule_when_short(self, events, by_reason, shown):
        """By rule only when the metrics tell the rules apart and the list is short."""
        from livesession._artifacts.metrics import MetricsCollector
        from livesession._cli_runs import risk_blocks as _risk_blocks

        metrics = MetricsCollector()
        metrics.by_type = dict(events)
        metrics.rejects_by_reason = dict(by_reason)
        assert _risk_blocks(metrics) == shown

    def test_a_failed_send_is_not_said_to_be_the_venues_rejection(self, tmp_path, capsys):
        """``rejected N by the venue`` counted every ``ORDER_REJECTED``, the sends that failed
        (``"reason":"SEND_FAILED","error":"Transient"``: the venue never saw them) too. The
        venue's refusals and the failed sends are now counted apart, in --json too."""
        config = tmp_path / "flaky.toml"
        config.write_text(_FLAKY, encoding="utf-8")
        base = ["dryrun", "--config", str(config), "--durability", "none", "--out"]
        assert main([*base, str(tmp_path)]) == 0
        lines = capsys.readouterr().out.splitlines()
        metrics = orjson.loads((tmp_path / "flaky" / "metrics.json").read_bytes())
        assert metrics["rejects_by_reason"] == {"SEND_FAILED": 1, "VENUE_REJECT": 1}
        assert "rejected    1 by the venue, 1 send failed" in lines
        assert main([*base, str(tmp_path / "again"), "--json", "-q"]) == 0
        said = orjson.loads(capsys.readouterr().out)
        assert (said["venue_rejects"], said["send_failures"]) == (1, 1)

    @pytest.mark.parametrize(
        ("reasons", "shown"),
        [
            ([], "0 by the venue"),
            (["VENUE_REJECT"], "1 by the venue"),
            (["SEND_FAILED"], "0 by the venue, 1 send failed"),
            (["SEND_FAILED", "VENUE_REJECT", "SEND_FAILED"], "1 by the venue, 2 sends failed"),
        ],
    )
    def test_the_rejected_line(self, reasons, shown):
        """A failed send is said only when there was one; the venue's count always is."""
        from livesession._artifacts.metrics import MetricsCollector
        from livesession._cli_summary import rejected_line

        metrics = MetricsCollector()
        for reason in reasons:
            metrics.on_event("ORDER_REJECTED", {"client_order_id": "c", "reason": reason})
        assert rejected_line(metrics) == shown


_FLAKY = """\
run_id = "flaky"
broker = "realish"
seed = 62
steps = 300

[strategy]
protect_pct = "0.002"

[fill_model]
reject_rate = "0.02"

[realish]
transient_rate = "0.3"
timeout_rate = "0.2"
duplicate_ack_rate = "0.3"
late_fill_rate = "0.4"
late_fill_ms = 120000
"""
"""A run the venue refuses one order of, and one send of fails (after its retries).

Seed 62: the order refused is a take profit whose stop still rests (nothing is lost). Under
seed 28 it was a protective leg whose position it left uncovered, which pulls the kill switch
(PROTECTION_LOST) since that fix, and the halted run sent nothing more to fail."""


class TestBadInput:
    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["dryrun", "--seed", "abc"], "--seed"),
            (["dryrun", "--seed", "-1"], "must not be negative"),
            (["dryrun", "--steps", "0"], "--steps: '0' must be a positive integer"),
            (["dryrun", "--steps", "-5"], "--steps: '-5' must be a positive integer"),
            (["dryrun", "--steps", "ten"], "--steps: 'ten' is not an integer"),
            (["dryrun", "--steps", "2000000"], "max_steps"),
            (["dryrun", "--run-id", "a/b"], "run_id"),
            (["dryrun", "--run-id", "a\\b"], "run_id"),
            (["dryrun", "--run-id", ".."], "run_id"),
            (["dryrun", "--run-id", ""], "run_id"),
            (["dryrun", "--run-id", "x" * 65], "run_id"),
            (["dryrun", "--clock", "wall"], "--clock"),
            (["dryrun", "--config", "missing.toml"], "config file not found"),
            (["dryrun", "--bogus"], "unrecognized arguments"),
            (["nonsense"], "invalid choice"),
            (["resume", "no/such/run"], "does not exist"),
        ],
    )
    def test_one_line_exit_2_nothing_written(self, tmp_path, capsys, argv, fragment):
        """Bad input gives one line on stderr, exit code 2, and no files."""
        out = tmp_path / "out"
        code = main([*argv, "--out", str(out)] if argv[0] == "dryrun" else argv)
        err = capsys.readouterr().err
        assert code == 2
        assert fragment in err
        assert err.count("\n") == 1
        assert "Traceback" not in err
        assert _tree(out) == []

    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["dryrun", "--out", ""], "argument --out: must not be empty"),
            (["dryrun", "--out", " "], "argument --out: must not be empty"),
            (["dryrun", "--symbol", ""], "argument --symbol: must not be empty"),
            (["dryrun", "--config", ""], "argument --config/-c: must not be empty"),
            (["verify", ""], "argument run_dir: must not be empty"),
            (["report", ""], "argument run_dir: must not be empty"),
        ],
    )
    def test_an_empty_argument_is_refused_not_taken_for_here(
        self, tmp_path, monkeypatch, capsys, argv, fragment
    ):
        """Bug: ``--out ''`` wrote the run into the current directory, and ``--symbol ''``
        ran on the default symbol. An empty path or name is refused: exit 2, one line."""
        monkeypatch.chdir(tmp_path)
        code = main([*argv, "-q", "--steps", "5"] if argv[0] == "dryrun" else argv)
        err = capsys.readouterr().err
        assert code == 2
        assert fragment in err
        assert err.count("\n") == 1
        assert _tree(tmp_path) == []

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("bogus = 1\n", "unknown config key bogus"),
            ("x = [\n", "not valid TOML"),
            ('strategy_id = "  "\n', "strategy_id"),
            ("seed = -4\n", "seed"),
            ("seed = 1.5\n", "seed"),
            ('run_id = "../up"\n', "run_id"),
            ("steps = 0\n", "steps"),
        ],
    )
    def test_bad_config_files(self, tmp_path, capsys, text, fragment):
        """A bad config file is one line, exit 2, and nothing is written."""
        cfg = tmp_path / "bad.toml"
        cfg.write_text(text)
        out = tmp_path / "out"
        assert main(["dryrun", "-c", str(cfg), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert fragment in err
        assert err.count("\n") == 1
        assert _tree(out) == []


class TestSecrets:
    def test_secret_env_never_reaches_artifacts_or_logs(self, tmp_path):
        """A secret in the environment appears in no file of the run and no output."""
        secret = "sk-live-DO-NOT-LEAK-9f8e7d"
        env = {**os.environ, "LIVESESSION_BINANCE_API_SECRET": secret, "API_KEY": secret}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "livesession.cli",
                "dryrun",
                "--steps",
                "50",
                "--out",
                str(tmp_path),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert secret not in proc.stdout + proc.stderr
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path


def test_a_reader_that_goes_away_is_no_error(tmp_path):
    """`livesession verify DIR | head -1` ends quietly: no BrokenPipeError traceback."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "--out", str(tmp_path),
         "--run-id", "pipe", "--steps", "50", "-q"],
        check=True,
    )  # fmt: skip
    assert done.returncode == 0
    # Quoted: a checkout (its venv's python) or a TMPDIR under a directory with a space in
    # its name split the command, and bash ran `/tmp/a` (exit 127).
    verify = shlex.join([sys.executable, "-m", "livesession.cli", "verify", str(tmp_path / "pipe")])
    script = f"{verify} | head -c 0; exit ${{PIPESTATUS[0]}}"
    piped = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, check=False, timeout=300
    )
    assert "Traceback" not in piped.stderr, piped.stderr
    assert piped.returncode == 0, piped.stderr


@pytest.mark.broken_run("it edits a count in metrics.json, for verify to find")
def test_a_reader_that_goes_away_does_not_change_the_exit_code(tmp_path):
    """The verdict stays the exit code when the reader leaves early (`... | head -1`).

    A closed pipe made every command exit 0: `verify` of a broken run, `evidence` that said
    FAIL, a `dryrun` sealed FAILED or REJECTED. Each now exits with its verdict.
    """
    import subprocess
    import sys

    def piped(*args: str) -> subprocess.CompletedProcess[str]:
        command = shlex.join([sys.executable, "-m", "livesession.cli", *args])  # a space too
        script = f"{command} | head -c 0; exit ${{PIPESTATUS[0]}}"
        return subprocess.run(
            ["bash", "-c", script],
            capture_output=True, text=True, check=False, cwd=tmp_path, timeout=300,
        )  # fmt: skip

    (tmp_path / "live.toml").write_text("enabled = true\n", encoding="utf-8")
    refused = piped("dryrun", "--config", "live.toml", "--out", "runs", "--run-id", "live")
    assert refused.returncode == 3, refused.stderr
    assert "livesession: rejected" in refused.stderr
    made = piped("dryrun", "--out", "runs", "--run-id", "bent", "--steps", "60", "-q")
    assert made.returncode == 0, made.stderr
    metrics = tmp_path / "runs" / "bent" / "metrics.json"
    data = orjson.loads(metrics.read_bytes())
    data["fills"] += 1
    metrics.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    for command in (("verify", "runs/bent"), ("verify", "runs/bent", "--json")):
        broken = piped(*command)
        assert (broken.returncode, "Traceback" in broken.stderr) == (1, False), command


def test_what_a_run_left_open_is_in_the_summary_and_the_json(tmp_path):
    """A run sealed in ERROR_REQUIRES_OPERATOR without a wind-down may leave a position and
    orders at the venue; the summary and --json said nothing of them (the run looked flat).
    The session side is in tests/test_broker_guard.py (the result holds what was left)."""
    from decimal import Decimal

    import attrs

    from livesession import DryrunResult, SessionState, SessionStatus
    from livesession._artifacts.metrics import MetricsCollector
    from livesession._cli_summary import exposure_line, result_json

    left = DryrunResult(
        accepted=True,
        status=SessionStatus.FAILED,
        run_id="left",
        state=SessionState.ERROR_REQUIRES_OPERATOR,
        steps=41,
        orders_submitted=2,
        fills=1,
        equity=Decimal("99995.54"),
        pnl=Decimal("-4.46"),
        reason="RECONCILE_MISMATCH",
        positions={"BTC/USDT": Decimal("0.010"), "ETH/USDT": Decimal("-1.5")},
        open_orders=("ls1",),
    )
    assert exposure_line(left) == "BTC/USDT 0.010, ETH/USDT -1.5, 1 open order"
    said = result_json(left, tmp_path, 0.1, MetricsCollector(), code=4)
    assert said["positions"] == {"BTC/USDT": "0.010", "ETH/USDT": "-1.5"}
    assert said["open_orders"] == ["ls1"]
    flat = attrs.evolve(left, positions={"BTC/USDT": Decimal("0.000")}, open_orders=("a", "b"))
    assert exposure_line(flat) == "flat, 2 open orders"


def test_a_sigterm_while_the_arguments_are_parsed_ends_with_one_line(monkeypatch, capsys):
    """SIGTERM before the command had started (in build_parser) escaped as a traceback and
    exit 1, which the exit-code table reserves for violations; it is 143 and one line."""
    import os
    import signal

    from livesession import cli

    built = cli.build_parser

    def terminated_while_building() -> object:
        os.kill(os.getpid(), signal.SIGTERM)
        return built()

    monkeypatch.setattr(cli, "build_parser", terminated_while_building)
    assert cli.main(["list", "."]) == 143
    assert capsys.readouterr().err == "livesession: terminated\n"


# -- a run directory that cannot take the output ------------------------------------------------

_WRITES = {
    "report": ("{run}/report.html", "--output PATH"),
    "prom": ("{run}/livesession.prom", "--output PATH"),
    "evidence": ("the evidence bundle (manifest.json, EV-*.md) to {run}", "--out DIR"),
    "burnin": ("the burn-in reports (burnin.md, burnin.json) to {run}", "--out DIR"),
}


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory):
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "ro", "--steps", "60", "-q"]) == 0
    return out / "ro"


def _refused_line(command: str, run: Path, why: str) -> str:
    what, flag = _WRITES[command]
    return (
        f"livesession: error: cannot write {what.format(run=run)} ({why}): write it elsewhere "
        f"with {flag}\n"
    )


class TestReadOnlyRunDirectory:
    """report, prom, evidence and burnin name the output they cannot write and the way out.

    They used to say `livesession: error: DIR/.report.html.19429.0.tmp: Read-only file
    system`. Exit 2 (the file system refused), one line, nothing written.
    """

    @pytest.fixture(name="run")
    def _run(self, sealed, tmp_path):
        run = tmp_path / "ro"
        shutil.copytree(sealed, run)
        return run

    @pytest.mark.parametrize("command", sorted(_WRITES))
    def test_a_read_only_directory(self, run, capsys, command):
        """chmod 555: refused before anything is read (as root, chmod stops nothing)."""
        before = _tree(run)
        run.chmod(0o555)
        try:
            probe = run / ".probe"
            try:
                probe.touch()
            except PermissionError:
                pass
            else:
                probe.unlink()
                pytest.skip("this user writes where the mode says no (root): see the next tests")
            assert main([command, str(run)]) == 2
        finally:
            run.chmod(0o755)
        captured = capsys.readouterr()
        assert captured.err == _refused_line(command, run, "Permission denied")
        assert _tree(run) == before

    @pytest.mark.parametrize("command", sorted(_WRITES))
    def test_a_read_only_file_system(self, run, capsys, monkeypatch, command):
        """The temporary file refused (EROFS, as on a read-only mount): the output is named."""
        real_open = os.open

        def read_only(path, flags, *args, **kwargs):
            if Path(path).parent == run and str(path).endswith(".tmp"):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
            return real_open(path, flags, *args, **kwargs)

        before = _tree(run)
        monkeypatch.setattr(os, "open", read_only)
        assert main([command, str(run)]) == 2
        monkeypatch.undo()
        captured = capsys.readouterr()
        assert captured.err == _refused_line(command, run, "Read-only file system")
        assert ".tmp" not in captured.err
        assert _tree(run) == before
        flag = _WRITES[command][1].split()[0]
        elsewhere = run.parent / ("out.file" if flag == "--output" else "out")
        monkeypatch.setattr(os, "open", read_only)
        assert main([command, str(run), flag, str(elsewhere)]) in (0, 1)  # 1: burn-in FAIL
        assert elsewhere.exists()
        assert _tree(run) == before

    @pytest.mark.parametrize("command", ["evidence", "burnin"])
    def test_refused_before_the_work(self, run, capsys, monkeypatch, command):
        """A directory the process may not write is refused before the minute of evidence."""
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda p, m: Path(p) != run and real_access(p, m))
        monkeypatch.setattr("livesession.evidence.write_evidence", _never)
        monkeypatch.setattr("livesession.burnin.run_burnin", _never)
        assert main([command, str(run), "--json"]) == 2
        captured = capsys.readouterr()
        assert captured.err == _refused_line(command, run, "Permission denied")
        assert orjson.loads(captured.out)["exit_code"] == 2


def _never(*_args, **_kwargs):
    raise AssertionError("the work started before the output was known to be writable")


_HELPED_EXITS = {
    "dryrun": {0, 2, 3, 4, 129, 130, 143},
    "resume": {0, 2, 3, 4, 129, 130, 143},
    "verify": {0, 1, 2},
    "evidence": {0, 1, 2, 3},
    "report": {0, 2},
    "prom": {0, 2},
    "stop": {0, 3, 4, 8, 9},
    "kill": {0, 3, 8, 9},
    "ack": {0, 3, 8, 9},
    "status": {0, 2, 3, 4, 5, 6, 7},
    "list": {0, 2},
    "burnin": {0, 1, 2, 3},
}


def test_every_command_s_help_names_its_exit_codes() -> None:
    """dryrun, resume, verify, evidence, report, prom and list named no exit code in their
    --help; stop's said "0 done or nothing to do" (stop has no nothing-to-do: a sealed run
    is 8) while kill's left out the 0 it gives when trading is HALTED and flat already; and
    the top-level 1 said "violations found", not evidence's FAIL nor a burn-in not met. Then
    the evidence's verdict became VERIFIED / NOT VERIFIED and the top-level help still said
    FAIL, a word `evidence` no longer prints: it names the verdict's own constant."""
    import argparse

    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert set(sub.choices) == set(_HELPED_EXITS)
    known = {value for name, value in vars(cli).items() if name.startswith("EXIT_")}
    for name, command in sub.choices.items():
        description = " ".join((command.description or "").split())
        assert "Exit codes: " in description, name
        tail = description.split("Exit codes: ", 1)[1]
        named = {int(code) for code in re.findall(r"(?:^|[ /])(\d+)(?=[ /])", tail)}
        assert named == _HELPED_EXITS[name], name
        assert named <= known, name
    assert "nothing to do" in sub.choices["kill"].description
    assert "nothing to do" not in sub.choices["stop"].description
    epilog = " ".join((parser.epilog or "").split())
    from livesession.evidence._verdict import EVIDENCE_NOT_VERIFIED

    said = f"1 violations found (verify), {EVIDENCE_NOT_VERIFIED} (evidence) or a criterion not met"
    assert said in epilog
    assert said.replace(" found", "") in " ".join((cli.__doc__ or "").split())


def test_help_names_outputs_as_the_messages_and_runbook_do() -> None:
    """--help showed `--output OUTPUT` and `--out OUT` where every error line and RUNBOOK
    say `--output PATH` and `--out DIR`."""
    import argparse

    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {name: " ".join(c.format_help().split()) for name, c in sub.choices.items()}
    for name in ("report", "prom"):
        assert f"usage: livesession {name} [-h] [--output PATH]" in helped[name]
        assert (
            "a symlink is followed and kept (/dev/stdout: the file alone on stdout)" in helped[name]
        )
    for name in ("evidence", "burnin"):
        assert "[--out DIR]" in helped[name], name


def test_dryrun_help_says_the_default_run_id_and_the_dot_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--run-id's help said the default is "next demo-NNN" (a strategy of one's own gets
    <strategy_id>-NNN) and left out the enforced "not starting with '.'"."""
    with pytest.raises(SystemExit):
        main(["dryrun", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "not starting with '.'" in text
    assert "<strategy_id>-NNN" in text
