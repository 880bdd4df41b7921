"""RUNBOOK's operator drill as written, and what ``ack`` gives back after each halt.

The page showed no command's output for a live run (``status``, ``kill``, ``ack``,
``stop``): an operator on duty could not tell a good answer from a bad one. Its drill is
now a console transcript; this runs its commands and holds each line they print to the
page's, pids, hosts, times and counts aside.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from livesession import DryrunConfig, create_run

from _helpers import stepping, until

ROOT = Path(__file__).resolve().parent.parent
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_DIGEST = re.compile(r"\b[0-9a-f]{64}\b")
_HELD_NOW = ("position", "open orders")
"""``status`` lines of a live run that say what it holds at that moment: only their label
is held to the page."""


def _transcript(name: str) -> list[tuple[str, list[str]]]:
    """The ``$ command`` lines of RUNBOOK's block ``name``, each with the lines after it."""
    text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    block = text.split(f"<!-- BEGIN {name} -->")[1].split(f"<!-- END {name} -->")[0]
    body = block.split("```console\n")[1].split("```")[0]
    steps: list[tuple[str, list[str]]] = []
    for line in body.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _shape(line: str, pid: int) -> str:
    """``line`` with what differs from run to run (pid, host, times, counts, digests) masked."""
    line = line.replace(f"pid {pid} ", "pid 4242 ").replace(socket.gethostname(), "host-a")
    return _NUMBER.sub("N", _STAMP.sub("T", _DIGEST.sub("H", line)))


_FLATTENED = re.compile(r"(cancelled, )flattened [A-Z]+ N [^,]+, ")
"""What a live run's kill closed (``flattened SELL 0.010 BTC/USDT, ``): the position it
held at that moment, the page's or none (tests/test_operator_durability.py holds the words)."""


def _held_now(line: str) -> str:
    """``line`` (shaped) without what the live run held as the command acted."""
    return _FLATTENED.sub(r"\1", line)


def _label(line: str) -> str:
    return line[:12].strip()


def _play(name: str, tmp_path: Path, **env: str) -> tuple[int, str]:
    """Run RUNBOOK's transcript ``name`` in ``tmp_path``: its first command (``livesession
    dryrun ... &``) in the background, under ``env`` added to this one's; ``kill -9 %1``
    waits for that process to be killed (``env`` arms its crash point); every other command
    is run, its exit code held to its ``verdict`` line's (else 0), its lines to the page's.
    Returns the background dry run's exit code and its stderr."""
    (start, none), *steps = _transcript(name)
    assert start.endswith(" &")
    assert not none
    argv = shlex.split(start[: -len(" &")])
    assert argv[:2] == ["livesession", "dryrun"]
    assert "-q" in argv  # the page's reason: no bar over the terminal's other output
    cli = [sys.executable, "-m", "livesession.cli"]
    run_id = argv[argv.index("--run-id") + 1]
    with subprocess.Popen(
        [*cli, *argv[1:]],
        cwd=tmp_path,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as dryrun:
        try:
            if not env:
                until("the run to step", lambda: stepping(tmp_path / "out/runs" / run_id), dryrun)
            for command, shown in steps:
                if command == "kill -9 %1":
                    assert dryrun.wait(timeout=300) == -signal.SIGKILL
                    continue
                _said_as_shown(command, shown, tmp_path, dryrun.pid)
            _, err = dryrun.communicate(timeout=300)
        finally:
            if dryrun.poll() is None:
                dryrun.kill()
                dryrun.wait(timeout=30)
    return dryrun.returncode, _shape(err.strip(), dryrun.pid)


def _said_as_shown(command: str, shown: list[str], cwd: Path, pid: int) -> None:
    """``command`` run in ``cwd`` prints ``shown`` (``pid`` the dry run's), and exits with
    the code its ``verdict`` line names, else 0."""
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", *shlex.split(command)[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    codes = [
        int(code)
        for code in re.findall(r"^verdict .*\(exit (\d+)\)$", "\n".join(shown), re.MULTILINE)
    ]
    assert done.returncode == (codes[0] if codes else 0), (command, done.stderr)
    live = codes == [7]
    got = [_held_now(_shape(line, pid)) for line in done.stdout.splitlines()]
    want = [_held_now(_shape(line, 4242)) for line in shown]
    assert [_label(line) for line in got] == [_label(line) for line in want], command
    assert [_label(line) if live and _label(line) in _HELD_NOW else line for line in got] == [
        _label(line) if live and _label(line) in _HELD_NOW else line for line in want
    ], command


def test_the_operator_drill_prints_what_the_page_shows(tmp_path: Path) -> None:
    """Bug: RUNBOOK's "Acting on a live run" gave the commands and no output, so the
    operator had to guess what a good ``kill`` or ``status`` looks like. Every line the
    page now shows is what the commands print."""
    code, err = _play("OPERATOR DRILL", tmp_path)
    assert code == 0
    assert err == _shape(
        "livesession: stopped by SIGTERM after 5412 steps: cancelled, flattened and sealed "
        "COMPLETED: out/runs/drill-02",
        4242,
    )


def test_the_crash_drill_prints_what_the_page_shows(tmp_path: Path) -> None:
    """Bug: RUNBOOK's "After a crash" gave ``resume`` alone: not what a crashed run looks
    like to ``status`` nor what ``resume`` answers. The test's dry run dies by SIGKILL at a
    fixed point (its sixth checkpoint), as ``kill -9`` would kill it anywhere."""
    code, _ = _play("CRASH DRILL", tmp_path, LIVESESSION_CRASH_AT="checkpoint:6")
    assert code == -signal.SIGKILL


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [e for e in map(json.loads, lines) if e["event_type"] == event_type]


def _acked_once_halted(cfg: DryrunConfig, out: Path, halted: str) -> tuple[Any, Path]:
    """``create_run(cfg, out)`` stepped until its events hold ``halted``, then re-enabled
    by an operator (what ``livesession ack`` does): the session, and its run directory."""
    session = create_run(cfg, out)
    session.preflight()
    session.activate()
    run_dir = out / cfg.run_id
    while not _events(run_dir, halted):
        session.run_n_steps(1)
    assert session.reenable_trading("desk")
    return session, run_dir


def test_ack_after_the_daily_loss_kill_refuses_new_exposure_until_the_next_day(
    tmp_path: Path,
) -> None:
    """RUNBOOK ("`ack` and ERROR_REQUIRES_OPERATOR"): trading ACTIVE again after the cap's
    kill, but every order that would add is refused by the DAILY_LOSS rail that day."""
    cfg = DryrunConfig(run_id="dl", seed=7, steps=3000, risk={"daily_loss_pct": "0.00002"})
    session, run_dir = _acked_once_halted(cfg, tmp_path, "KILL_SWITCH_FLAT")
    session.run_n_steps(200)
    [kill] = _events(run_dir, "KILL_SWITCH")
    assert kill["payload"]["reason"] == "DAILY_LOSS"
    refused = _events(run_dir, "RISK_REJECTED")
    assert refused
    assert {e["payload"]["rule"] for e in refused} == {"DAILY_LOSS"}
    day_ns = 86_400_000_000_000
    assert {e["ts_sim"] // day_ns for e in refused} == {kill["ts_sim"] // day_ns}
    session.run_to_end(cfg.steps)
    session.close()


def test_ack_after_the_execution_throttle_counts_executions_from_zero(tmp_path: Path) -> None:
    """RUNBOOK and docs/config.md: after an ``ack`` of the throttle's halt the run halts
    again after another ``max_executions`` fills."""
    cfg = DryrunConfig(run_id="th", seed=7, steps=1500, risk={"max_executions": 10})
    session, run_dir = _acked_once_halted(cfg, tmp_path, "TRADING_STATE_CHANGED")
    session.run_to_end(cfg.steps)
    session.close()
    halts = [
        e
        for e in _events(run_dir, "TRADING_STATE_CHANGED")
        if e["payload"]["reason"] == "EXECUTION_THROTTLE"
    ]
    assert len(halts) == 2  # once at 10 fills, and again 10 fills after the ack


def test_the_dry_run_of_your_own_strategy_runs_as_the_page_writes_it(tmp_path: Path) -> None:
    """Bug: RUNBOOK's "Run a dry run" said to "install mydesk (examples/mydesk) first",
    which pip refuses (``Directory 'examples/mydesk' is not installable``: a bare package,
    no project), and gave the command without the ``PYTHONPATH`` it needs. The command is
    now written with it, and runs from the checkout on a data file of one's own."""
    text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    [line] = [ln for ln in text.splitlines() if "--strategy mydesk.breakout:make_strategy" in ln]
    assert "install mydesk (examples/mydesk)" not in text
    assert not (ROOT / "examples" / "mydesk" / "pyproject.toml").exists()
    variable, *argv = shlex.split(line)
    assert variable == "PYTHONPATH=examples"
    assert argv[:2] == ["livesession", "dryrun"]
    rows = ["timestamp,open,high,low,close,volume"]
    for minute in range(40):
        price = f"1.{7000 + (minute * 7) % 23:05d}"
        rows.append(f"2026-01-05T00:{minute:02d}:00Z,{price},{price},{price},{price},10")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "examples").symlink_to(ROOT / "examples")
    (checkout / "data.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", *argv[1:], "-q"],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": "examples"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (checkout / "out" / "runs" / "breakout-001" / "audit.jsonl").exists()


def test_an_edited_config_put_back_as_the_page_writes_it_resumes(tmp_path: Path) -> None:
    """Bug: ``resume`` and ``status`` of a crashed run whose ``config.json`` was edited say
    ``put config.json back as it was (its checkpoint.json holds it under "config")``, and
    the page said no more: how was left to guess. Its command gives back the very bytes the
    run wrote, and the run resumes."""
    text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN PUT CONFIG BACK -->")[1].split("<!-- END PUT CONFIG BACK -->")[0]
    script = block.split("```sh\n")[1].split("```")[0]
    cli = [sys.executable, "-m", "livesession.cli"]
    crashed = subprocess.run(
        [*cli, "dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", "300", "-q"],
        env={**os.environ, "LIVESESSION_CRASH_AT": "checkpoint:3"},
        capture_output=True,
        check=False,
    )
    assert crashed.returncode == -signal.SIGKILL
    run_dir = tmp_path / "r"
    written = (run_dir / "config.json").read_bytes()
    edited = json.loads(written)
    edited["risk"]["max_order_qty"] = "5"
    (run_dir / "config.json").write_text(json.dumps(edited), encoding="utf-8")
    status = [*cli, "status", str(run_dir)]
    assert subprocess.run(status, capture_output=True, check=False).returncode == 5
    subprocess.run(["sh", "-c", script], env={**os.environ, "run": str(run_dir)}, check=True)
    assert (run_dir / "config.json").read_bytes() == written
    assert subprocess.run(status, capture_output=True, check=False).returncode == 6
    resumed = subprocess.run([*cli, "resume", str(run_dir), "-q"], capture_output=True, check=False)
    assert resumed.returncode == 0, resumed.stderr
