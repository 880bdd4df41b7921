"""The flatten criterion counts a kill drill only when it measured this run, and says so.

A prober found that the drill ``burnin`` reads from ``manifest.json`` was taken unchecked:
``wall_s: -5`` passed, another run's manifest copied in passed (its ``run_id`` and
``audit_head`` not this run's), and ``{"status": "measured"}`` or ``wall_s: null`` ended in
a traceback (``KeyError: 'wall_s'``, exit 1, nothing on stdout under ``--json``).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, burnin, create_run
from livesession._artifacts import sinks
from livesession.burnin import Thresholds, evaluate_run, kill_drill
from livesession.cli import main
from test_burnin import _criteria, _oco_run

from _helpers import DRILL_WALL_S, desk_config, pin_drill_clock

_EVIDENCE = "evidence kill drill (a re-run on the simulated venue)"
_AGAIN = " (run `livesession evidence` again, or `burnin --drill`)"


@pytest.fixture(name="made", scope="module")
def _made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run that meets every criterion but flatten, which no drill has measured."""
    return _oco_run(tmp_path_factory.mktemp("drill") / "runs")


@pytest.fixture(name="run")
def _run(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / made.name))


def _head(run: Path) -> str:
    return hashlib.sha256((run / "audit.jsonl").read_bytes().splitlines()[-1]).hexdigest()


def _manifest(run: Path, drill: dict[str, Any], **fields: Any) -> None:
    """A manifest.json as evidence writes it, as far as burnin reads one."""
    document = {"run_id": "oco", "audit_head": _head(run), "kill_drill": drill} | fields
    (run / "manifest.json").write_bytes(orjson.dumps(document))


def _burnin(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    """``burnin --json RUN``: the exit code and the flatten criterion (one JSON object)."""
    code = main(["burnin", "--json", str(run)])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, out
    return code, _criteria(json.loads(out)["sessions"][0])["flatten"]


def test_the_runs_own_evidence_drill_counts(run: Path, capsys: pytest.CaptureFixture) -> None:
    _manifest(run, {"status": "measured", "wall_s": 0.038, "source": _EVIDENCE})
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"], flatten["value"]) == (0, "pass", 0.038)
    assert flatten["detail"] == f"kill switch to flat in 0.038000 s ({_EVIDENCE} in manifest.json)"


@pytest.mark.parametrize(
    ("drill", "said"),
    [
        ({"status": "measured", "wall_s": -5}, "its wall_s is -5, no number of seconds >= 0"),
        ({"status": "measured"}, "its wall_s is null, no number of seconds >= 0"),
        ({"status": "measured", "wall_s": None}, "its wall_s is null, no number of seconds >= 0"),
        ({"status": "not_flat", "wall_s": "0.1"}, 'its wall_s is "0.1", no number of seconds >= 0'),
        ({"status": "measured", "wall_s": True}, "its wall_s is true, no number of seconds >= 0"),
    ],
    ids=["negative", "missing", "null", "text", "bool"],
)
def test_a_wall_s_that_is_no_time_fails_naming_it(
    run: Path, capsys: pytest.CaptureFixture, drill: dict[str, Any], said: str
) -> None:
    """Not a pass, not a traceback: the criterion fails, and says what the manifest holds."""
    _manifest(run, drill | {"source": _EVIDENCE})
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"], flatten["value"]) == (1, "FAIL", None)
    assert flatten["detail"] == (
        f"the kill drill ({_EVIDENCE} in manifest.json) does not count: {said}{_AGAIN}"
    )


def test_another_runs_manifest_does_not_count(run: Path, capsys: pytest.CaptureFixture) -> None:
    _manifest(run, {"status": "measured", "wall_s": 0.03}, run_id="other-1")
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"]) == (1, "FAIL")
    assert flatten["detail"] == (
        'the kill drill (in manifest.json) does not count: it is the manifest of run "other-1", '
        f"not of this run (oco){_AGAIN}"
    )


def test_a_manifest_of_another_audit_does_not_count(
    run: Path, capsys: pytest.CaptureFixture
) -> None:
    """The same run id (a fixed one, or a copy run again) but another audit chain's head."""
    _manifest(run, {"status": "measured", "wall_s": 0.03}, audit_head="ab" * 32)
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"]) == (1, "FAIL")
    assert flatten["detail"] == (
        f'the kill drill (in manifest.json) does not count: its audit_head "{"ab" * 32}" is '
        f"not this run's ({_head(run)}): it is another run's manifest, or was written before "
        f"the run changed{_AGAIN}"
    )


def test_a_manifest_that_is_no_json_object_does_not_count(
    run: Path, capsys: pytest.CaptureFixture
) -> None:
    (run / "manifest.json").write_bytes(b'{"kill_drill": ')
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"]) == (1, "FAIL")
    assert "(in manifest.json) does not count: it is not JSON" in flatten["detail"]


def test_a_manifest_without_a_measurement_leaves_flatten_unmeasured(
    run: Path, capsys: pytest.CaptureFixture
) -> None:
    """A drill that measured nothing (``not_measured``) is no claim, of this run or another."""
    _manifest(run, {"status": "not_measured", "reason": "no position"}, run_id="other-1")
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"]) == (0, "not measured")


def test_a_drill_of_this_run_that_measured_nothing_says_why_not_to_run_it_again(
    run: Path, capsys: pytest.CaptureFixture
) -> None:
    """Bug: `evidence` on a run that never held a position drilled it (`not_measured`, `no
    position opened in 600 steps`), and its own burn-in section, and `burnin` after it,
    said `no wall-time kill drill for this run (run livesession evidence, or burnin
    --drill)`: the drill had run, and running it again measures nothing again. The
    criterion, still skipped and not passed, now says the drill measured nothing, and why."""
    _manifest(run, {"status": "not_measured", "reason": "no position opened in 600 steps"})
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"], flatten["value"]) == (0, "not measured", None)
    assert flatten["detail"] == (
        "the kill drill in manifest.json measured nothing: no position opened in 600 steps: "
        "skipped, not passed"
    )
    drill = {"status": "not_measured", "reason": "no position opened in 600 steps"}
    (run / "manifest.json").unlink()
    judged = evaluate_run(run, Thresholds(), drill=drill)  # as evidence passes its own drill
    (flat,) = [c for c in judged["criteria"] if c["name"] == "flatten"]
    assert flat["detail"] == (
        "the kill drill measured nothing: no position opened in 600 steps: skipped, not passed"
    )


def test_the_plain_output_names_it_in_one_line(run: Path, capsys: pytest.CaptureFixture) -> None:
    _manifest(run, {"status": "measured"})
    assert main(["burnin", str(run)]) == 1
    said = capsys.readouterr()
    assert "Traceback" not in said.err
    assert said.err.splitlines() == [
        f"livesession: burn-in failed: oco: flatten (run directory {run})"
    ]


def test_burnin_drill_says_it_measured_it_not_evidence(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``burnin --drill`` labelled its own measurement "evidence kill drill (...)", though no
    evidence ran: it is labelled by who ran it."""
    ran = "burnin --drill (a kill drill re-run on the simulated venue)"
    pin_drill_clock(monkeypatch)
    code, flatten = _burnin_args(run, capsys, "--drill")
    assert (code, flatten["result"], flatten["value"]) == (0, "pass", DRILL_WALL_S)
    assert flatten["detail"].endswith(f" s ({ran})")
    assert "evidence" not in flatten["detail"]
    report = json.loads((run / "burnin.json").read_text())
    assert report["kill_drill"]["source"] == ran
    assert kill_drill(run)["source"] == _EVIDENCE  # evidence's own drill keeps its label


def _burnin_args(
    run: Path, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any]]:
    code = main(["burnin", "--json", str(run), *args])
    return code, _criteria(json.loads(capsys.readouterr().out)["sessions"][0])["flatten"]


def test_a_drill_run_now_that_measured_nothing_is_not_made_up_for_by_the_manifest(
    run: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: ``burnin --drill`` whose drill measured nothing (its scratch run refused under
    ``ulimit -f``) passed flatten on the figure an older ``manifest.json`` records, the
    one RUNBOOK has a reviewer run ``--drill`` not to trust. The drill asked for decides:
    not measured, with its reason; evidence's own drill likewise."""
    _manifest(run, {"status": "measured", "wall_s": 0.038, "source": _EVIDENCE})
    failed = {"status": "not_measured", "reason": "its scratch run's files were refused"}
    monkeypatch.setattr(burnin, "burnin_drill", lambda run_dir: failed)
    code, flatten = _burnin_args(run, capsys, "--drill")
    assert (code, flatten["result"], flatten["value"]) == (0, "not measured", None)
    said = "the kill drill measured nothing: its scratch run's files were refused"
    assert flatten["detail"] == f"{said}: skipped, not passed"
    judged = evaluate_run(run, Thresholds(), drill=failed)  # as evidence passes its own
    (flat,) = [c for c in judged["criteria"] if c["name"] == "flatten"]
    assert (flat["result"], flat["detail"]) == ("not measured", f"{said}: skipped, not passed")
    assert evaluate_run(run, Thresholds())["criteria"] != judged["criteria"]  # the manifest's


def test_what_a_manifest_holds_is_quoted_redacted_and_short(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line quotes what a hand-edited manifest says: never a secret, never a whole file."""
    forged = "AKIAIOSFODNN7EXAMPLE " + "x" * 5000
    _manifest(run, {"status": "measured", "wall_s": 0.03}, run_id=forged)
    assert main(["burnin", str(run)]) == 1
    out = capsys.readouterr().out
    assert "AKIAIOSFODNN7EXAMPLE" not in out
    assert "AKIAIOSFODNN7EXAMPLE" not in (run / "burnin.json").read_text()
    (line,) = [x for x in out.splitlines() if " flatten: " in x]
    assert 'it is the manifest of run "***' in line
    assert len(line) < 400


class TestTheDrillNeedsTheRunsDataFile:
    """A reviewer ran ``burnin --drill`` on a run whose data file had changed since (its last
    row cut): the line was the dryrun's, `does not match the feed_sha256 pinned in the
    config ... give the run the file the config pins, or pin this one`, advice that cannot
    apply to a finished run; a missing file said only `No such file or directory`. The drill
    re-runs the run: it is refused as ``evidence`` refuses it, naming the file the run read,
    and the line says what judges the run without the drill."""

    @staticmethod
    def _csv_run(tmp_path: Path) -> tuple[Path, Path]:
        # Up 12 bars, down 12: the demo's moving averages cross, and it holds a position.
        closes = [100 + min(i % 24, 24 - i % 24) for i in range(80)]
        lines = ["timestamp,open,high,low,close,volume"] + [
            f"2026-11-02T{14 + i // 60:02d}:{i % 60:02d}:00Z,{c}.00,{c + 1}.00,{c - 1}.00,{c}.00,5"
            for i, c in enumerate(closes)
        ]
        csv = tmp_path / "eth.csv"
        csv.write_text("\n".join(lines) + "\n")
        out = tmp_path / "runs"
        argv = ["dryrun", "--out", str(out), "--run-id", "day", "--steps", "60", "-q"]
        assert main([*argv, "--feed", f"csv:{csv}", "--durability", "none"]) == 0
        return out / "day", csv

    @pytest.mark.parametrize("change", ["cut", "gone"])
    def test_refused_in_one_line_naming_the_file_the_run_read(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str
    ) -> None:
        run, csv = self._csv_run(tmp_path)
        read = csv.read_bytes()
        if change == "cut":
            csv.write_bytes(read[: read.rindex(b"\n", 0, -1) + 1])
        else:
            csv.unlink()
        capsys.readouterr()
        assert main(["burnin", str(run), "--drill"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        said = {
            "cut": f"data file {csv} changed since run {run} (SHA-256 "
            f"{hashlib.sha256(read).hexdigest()[:12]}..., now ",
            "gone": f"cannot read data file {csv} of run {run}: No such file or directory: the "
            f"run read a file of {len(read)} bytes, SHA-256 {hashlib.sha256(read).hexdigest()}",
        }[change]
        assert said in err
        assert "pin this one" not in err
        assert err.endswith(
            f"; burnin --drill re-runs the run, so it needs the run's code and data file here: "
            f"without --drill, `livesession burnin {run}` judges the run, running nothing "
            "(nothing was written)\n"
        )
        assert not (run / "burnin.json").exists()
        assert not (run / "burnin.md").exists()
        csv.write_bytes(read)
        assert main(["burnin", str(run), "--drill", "--min-signals", "0"]) in (0, 1)
        drill = json.loads((run / "burnin.json").read_text())["kill_drill"]
        assert drill["status"] == "measured", drill


def _killed_holding(cfg: DryrunConfig, out: Path, **objects: Any) -> Path:
    """Run ``cfg`` (10 steps, a buy on bar 1) under ``out``, killed once it holds the buy."""
    feed, strategy = ScriptedFeed(["40000.00"] * 10), ScriptedStrategy(at({1: [buy("0.010")]}))
    with create_run(cfg, out, feed=feed, strategy=strategy, **objects) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        assert any(session.book.positions.values())
        session.kill("OPERATOR")
        session.run_to_end(10)
    return out / cfg.run_id


def test_a_kill_that_found_the_run_already_flat_measured_no_flatten(tmp_path: Path) -> None:
    """Bug: a run on the system clock killed with no position and no open order records
    ``time_to_flat_ns`` 0 (nothing to flatten), and burnin read it as a measured flatten:
    PASS, `kill switch to flat in 0.000000 s`. It measured nothing, and says so; a kill
    that flattened a position is still measured."""
    cfg = DryrunConfig(run_id="flatkill", steps=10, clock_mode="system")
    with create_run(cfg, tmp_path) as session:
        assert session.preflight()
        session.activate()
        session.kill("OPERATOR")
        session.run_to_end(10)
    flatten = _criteria(evaluate_run(tmp_path / "flatkill", Thresholds()))["flatten"]
    assert (flatten["result"], flatten["value"]) == ("not measured", None)
    assert flatten["detail"] == (
        "the kill drill measured nothing: the run's own kill switch found it already flat (no "
        "position, no open order): it flattened nothing: skipped, not passed"
    )
    cfg = DryrunConfig(
        run_id="heldkill",
        strategy_id="scripted",
        steps=10,
        clock_mode="system",
        fill_model={"latency_ms": 60000},  # the flatten fills at a later reading of the clock
    )
    run = _killed_holding(cfg, tmp_path, clock=_TickingClock())
    flatten = _criteria(evaluate_run(run, Thresholds()))["flatten"]
    assert flatten["result"] == "pass", flatten
    assert flatten["detail"].endswith("(the run's own kill switch (system clock))")


class _TickingClock:
    """A wall clock read a quarter second later each time it is read."""

    def __init__(self) -> None:
        self._now = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)

    def now(self) -> dt.datetime:
        self._now += dt.timedelta(milliseconds=250)
        return self._now


def test_the_runs_own_kill_is_measured_in_wall_time_not_run_time(tmp_path: Path) -> None:
    """Bug: a run on the system clock measured its own kill switch to flat by
    ``time_to_flat_ns``, which is run time (``ts_sim``): a flatten filled on the next
    one-minute bar read `kill switch to flat in 60.000000 s (the run's own kill switch
    (system clock))` and failed the 2 s criterion, whatever the wall time (and a flatten
    slow on the wall within one bar read 0). It is the wall clock's time from the kill's
    record to the flat one's, their ``ts_utc``."""
    cfg = DryrunConfig(
        run_id="slowfill",
        strategy_id="scripted",
        steps=10,
        clock_mode="system",
        fill_model={"latency_ms": 60000},  # the flatten fills a bar later, in run time
    )
    run = _killed_holding(cfg, tmp_path, clock=_TickingClock())
    kills = {
        e["event_type"]: e
        for e in map(json.loads, (run / "events.jsonl").read_text().splitlines())
        if e["event_type"].startswith("KILL_SWITCH")
    }
    assert kills["KILL_SWITCH_FLAT"]["payload"]["time_to_flat_ns"] == 60 * 10**9  # run time
    read = {kind: dt.datetime.fromisoformat(e["ts_utc"]) for kind, e in kills.items()}
    wall = read["KILL_SWITCH_FLAT"] - read["KILL_SWITCH"]  # the wall clock's readings
    assert 0 < wall.total_seconds() < 60
    flatten = _criteria(evaluate_run(run, Thresholds()))["flatten"]
    assert (flatten["result"], flatten["value"]) == ("pass", wall.total_seconds()), flatten
    assert flatten["detail"].endswith("(the run's own kill switch (system clock))")


def test_a_kill_flat_within_one_reading_of_the_system_clock_is_not_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the system clock is read at each step and each wait, so a kill switch whose
    flatten filled before the next reading (a market order on the mock venue, in the same
    step) stamped ``KILL_SWITCH`` and ``KILL_SWITCH_FLAT`` with one ``ts_utc``, and burnin
    said `kill switch to flat in 0.000000 s (the run's own kill switch (system clock))`,
    pass, however long the flatten took on the wall (a venue slow to fill it read 0 all the
    same). Nothing measured it: it is `not measured`, saying why."""
    cfg = DryrunConfig(run_id="heldkill", strategy_id="scripted", steps=10, clock_mode="system")
    run = _killed_holding(cfg, tmp_path, clock=_TickingClock())
    stamps = {
        e["event_type"]: e["ts_utc"]
        for e in map(json.loads, (run / "events.jsonl").read_text().splitlines())
        if e["event_type"].startswith("KILL_SWITCH")
    }
    assert stamps["KILL_SWITCH"] == stamps["KILL_SWITCH_FLAT"]  # one reading of the clock
    flatten = _criteria(evaluate_run(run, Thresholds()))["flatten"]
    assert (flatten["result"], flatten["value"]) == ("not measured", None), flatten
    assert flatten["detail"] == (
        "the kill drill measured nothing: the run's own kill switch went flat before the "
        "system clock was read again (it is read at each step and each wait: KILL_SWITCH and "
        "KILL_SWITCH_FLAT carry one ts_utc), so its wall time was not measured: skipped, "
        "not passed"
    )
    assert main(["evidence", str(run)]) == 0  # its drill: not_applicable (system clock)
    capsys.readouterr()
    main(["burnin", str(run)])  # fails on the signals a 10-step run lacks, not on flatten
    assert "not measured flatten: the kill drill measured nothing: the run's own kill switch" in (
        " ".join(capsys.readouterr().out.split())
    )


def test_a_manifest_a_copy_gave_a_byte_order_mark_still_counts(
    run: Path, capsys: pytest.CaptureFixture
) -> None:
    """Bug: a manifest handed over through an editor or a Windows tool that added a UTF-8
    byte order mark made the drill ``invalid`` (``it is not JSON``), where ``verify
    --manifest`` reads it as evidence wrote it: burnin reads it so too."""
    _manifest(run, {"status": "measured", "wall_s": 0.038, "source": _EVIDENCE})
    manifest = run / "manifest.json"
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes())
    code, flatten = _burnin(run, capsys)
    assert (code, flatten["result"], flatten["value"]) == (0, "pass", 0.038)


@pytest.mark.broken_run("the drill's scratch run is refused its files on purpose")
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
@pytest.mark.parametrize(
    ("code", "way"),
    [
        (errno.ENOSPC, "give it room (it runs in a directory under TMPDIR)"),
        # Bug: a file size limit (`ulimit -f`) was told to give room to a TMPDIR with plenty.
        (errno.EFBIG, "raise the file size limit (`ulimit -f`): its files grow as large as"),
        (errno.EMFILE, "raise the open-file limit (`ulimit -n`)"),
    ],
)
def test_a_drill_whose_scratch_run_the_disk_refuses_says_so(
    run: Path, monkeypatch: pytest.MonkeyPatch, code: int, way: str
) -> None:
    """Bug: with a ``TMPDIR`` that filled under the drill's scratch run, the drill said
    ``no position opened in 3000 steps`` of a run that had opened one (its session stopped
    when its sinks died), and the flatten criterion quoted it as the run's."""
    real = sinks._write_some

    def full(fd: int, data: bytes | bytearray) -> int:
        if "livesession-drill-" in str(Path(f"/proc/self/fd/{fd}").readlink()):
            raise OSError(code, os.strerror(code))
        return real(fd, data)

    monkeypatch.setattr(sinks, "_write_some", full)
    drill = kill_drill(run)
    assert drill["status"] == "not_measured"
    assert drill["reason"].startswith("its scratch run's files were refused (events sink failed")
    assert f"(OSError: [Errno {code}] {os.strerror(code)})): {way}" in drill["reason"]
    assert drill["reason"].endswith(", then run the drill again")


BLIND_VENUE = '''
from decimal import Decimal

from livesession import MockBroker, OrderIntent, OrderType, Side, Transient


class Blind(MockBroker):
    """A paper venue whose open orders can never be read: no cancel is ever confirmed."""

    simulated = True

    def open_orders(self):
        raise Transient("open orders unavailable")


def make(*, journal=None):
    return Blind(seed=1, journal=journal)


class Rest:
    """Buys at the market once, and rests a bid below it that the kill must cancel."""

    def __init__(self, strategy_id):
        self.strategy_id, self.sent = strategy_id, False

    def on_bar(self, bar, view):
        if self.sent:
            return []
        self.sent = True
        bid = (bar.close * Decimal("0.999")).quantize(Decimal("0.01"))
        return [
            OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010")),
            OrderIntent(
                symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010"),
                order_type=OrderType.LIMIT, limit_price=bid,
            ),
        ]

    def get_state(self):
        return {"sent": self.sent}

    def set_state(self, state):
        self.sent = state["sent"]


def rest(*, strategy_id):
    return Rest(strategy_id)
'''


def test_a_drill_on_a_venue_that_never_confirms_gives_up_not_flat(tmp_path: Path) -> None:
    """Bug: the drill stepped on after its kill until ``KILL_SWITCH_FLAT`` or ``max_steps``:
    on a venue that never confirmed the kill's cancels (its open orders unreadable) that
    is a million steps by default, and ``evidence`` sat in it for most of an hour. It
    gives up after the config's ``stop_max_polls`` steps now, ``not_flat``."""
    cfg = desk_config(
        tmp_path,
        "blind",
        {"venue.py": BLIND_VENUE},
        'run_id = "blind"\nsteps = 4\nmax_steps = 3000\nstop_max_polls = 5\n'
        'strategy_factory = "blind.venue:rest"\nbroker = "blind.venue:make"\n',
    )
    with create_run(cfg, tmp_path / "runs") as session:
        session.run_to_end(4)
    drill = kill_drill(tmp_path / "runs" / "blind")
    assert (drill.get("status"), drill.get("steps_to_flat")) == ("not_flat", 5), drill
    # The evidence says so, never "kill switch to flat in ..." of a drill that never was.
    from livesession.evidence import write_evidence

    write_evidence(tmp_path / "runs" / "blind")
    (document,) = (tmp_path / "runs" / "blind").glob("EV-*.md")
    said = document.read_text(encoding="utf-8")
    assert "**not_flat**, still not flat 5 step(s) (" in said
    assert "after the kill switch tripped." in said
