"""A desk upgrading from 0.1.x: its config files and the runs 0.1.0 wrote.

tests/data/v010 holds runs 0.1.0 made (its README says how); nothing here installs 0.1.x.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from livesession.cli import main
from livesession.report import render_report
from livesession.verify import verify_run

from crash_harness import KILLED, cli

_BARS = "open,high,low,close,volume\n" + "".join(
    f"{100 + i}.00,{101 + i}.00,{99 + i}.00,{100 + i}.50,1.000\n" for i in range(40)
)


def _desk(tmp_path: Path) -> Path:
    """A desk as 0.1.x had it: ``configs/desk.toml`` naming ``data/bars.csv`` of the desk."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bars.csv").write_text(_BARS, encoding="utf-8")
    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "desk.toml"
    config.write_text('steps = 5\nfeed = "csv:data/bars.csv"\n', encoding="utf-8")
    return config


def test_a_0_1_config_s_data_path_read_from_the_current_directory_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a desk's config written for 0.1.x (``feed = "csv:data/bars.csv"`` in
    ``configs/``, run from the desk's folder, where 0.1.x read the path from) was refused by
    0.2 with ``cannot open data file .../configs/data/bars.csv: No such file or directory``
    alone, beside the file it had always read: nothing said that 0.2 reads a config file's
    data path from the config file's directory, nor what to write instead."""
    config = _desk(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", "configs/desk.toml", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(
        "livesession: error: config file configs/desk.toml, line 2: cannot open data file "
        f"{config.parent.resolve()}/data/bars.csv: No such file or directory; data/bars.csv "
        "is there from the current directory, where livesession 0.1.x read a config file's "
        "data paths: this release reads them from the config file's directory, so write "
        'feed = "csv:../data/bars.csv" (or an absolute path)'
    ), err
    assert not out.exists()
    # What the line says to write runs, from any directory.
    config.write_text('steps = 5\nfeed = "csv:../data/bars.csv"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path / "data")
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 0


def test_a_data_file_missing_from_both_places_is_said_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint is for a file found from the current directory only: elsewhere (here the
    config's own folder, where data/ is not) the line is the plain refusal."""
    config = _desk(tmp_path)
    monkeypatch.chdir(config.parent)
    assert main(["dryrun", "-c", "desk.toml", "--out", str(tmp_path / "runs"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("/configs/data/bars.csv: No such file or directory\n"), err


DATA = Path(__file__).parent / "data" / "v010"


@pytest.mark.broken_run("0.1.0 wrote each RISK_REJECTED without the reason its schema required")
def test_a_0_1_run_a_rail_fired_in_is_held_to_the_reasons_it_lacks_only(tmp_path: Path) -> None:
    """Bug: ``verify`` of a run 0.1.0 wrote where a rail refused eight orders, untouched,
    listed 11 violations: each ``RISK_REJECTED`` lacks ``reason`` (true: 0.1.x wrote none,
    and its own verify said so), but the lines were then dropped from every other check, so
    it also said that the run holds no refusal (``rejects_by_reason is
    {"MAX_ORDER_NOTIONAL":8}, the run says {}``, ``events_by_type`` alike) and that the
    audit's ``C2_REJECT_MAX_ORDER_NOTIONAL`` copies no event: a reviewer read events taken
    out of the run. Each refusal is now checked as the event it is."""
    run = Path(shutil.copytree(DATA / "old-rail", tmp_path / "old-rail"))
    result = verify_run(run)
    assert [text.split(": ", 1)[1] for text in result.violations] == [
        "schema: payload: 'reason' is a required property"
    ] * 8
    assert result.total == 8


@pytest.mark.broken_run("a 0.1.0 refusal changed: its quantity and its reason taken out")
def test_a_0_1_refusal_changed_is_still_found(tmp_path: Path) -> None:
    """Checked as the event it is, a 0.1.0 refusal whose numbers were changed is found by
    its event id, as any other event's change is."""
    run = Path(shutil.copytree(DATA / "old-rail", tmp_path / "old-rail"))
    events = run / "events.jsonl"
    text = events.read_text(encoding="utf-8")
    first = next(line for line in text.splitlines() if '"RISK_REJECTED"' in line)
    events.write_text(
        text.replace(first, first.replace('"quantity":"0.010"', '"quantity":"0.001"')),
        encoding="utf-8",
    )
    said = verify_run(run).violations
    assert any("event_id" in text and "!=" in text for text in said), said


def _header(run: Path) -> str:
    """The report's text before its Verification section, tags taken out."""
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", render_report(run)))
    return html.unescape(text[: text.index("Verification")])


@pytest.mark.broken_run("killed between its metrics.json and its checkpoint, left unsealed")
def test_a_crashed_run_s_report_names_the_checkpoint_resume_continues_from(
    tmp_path: Path,
) -> None:
    """Bug: a run killed as it wrote its checkpoint at step 20 (metrics.json is rewritten
    first) kept the checkpoint of step 10, as ``status`` said (``10 of 30 at the last
    checkpoint``), but its report said ``livesession resume RUN_DIR continues it from its
    last checkpoint (step 20)``: metrics.json's step, a checkpoint that was never written."""
    config = tmp_path / "c.toml"
    config.write_text("steps = 30\ncheckpoint_every = 10\n", encoding="utf-8")
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", config, "--out", out, "--run-id", "c", crash_at="checkpoint:3")
    assert killed.returncode == KILLED, killed.stderr
    run = out / "c"
    assert json.loads((run / "metrics.json").read_bytes())["steps"] == 20
    assert json.loads((run / "checkpoint.json").read_bytes())["steps"] == 10
    assert "continues it from its last checkpoint (step 10)" in _header(run)


@pytest.mark.broken_run("a crashed 0.1.0 run stays unfinished: this release never resumes it")
def test_an_unsealed_0_1_run_is_not_said_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: 0.1.x takes no writer.lock, so a 0.1.x host writing a run of a shared folder
    leaves nothing a 0.2 host can find. ``status`` said so, but ``report`` said ``Not
    running: no process writes this run ... it stopped without sealing (a crash, a kill, a
    power cut)``, ``prom`` ``unsealed run no process writes (crashed)``, and ``verify`` and
    ``resume`` to ``continue it with livesession 0.1.x`` / ``resume it with livesession
    0.1.x``, whose resume takes no lock either: a second writer of a live run. Each now says that it cannot be told, and to look for the
    process on its host first."""
    run = Path(shutil.copytree(DATA / "old-crash", tmp_path / "old-crash"))
    header = _header(run)
    assert "Not running" not in header
    assert "a crash, a kill" not in header
    assert (
        "Not sealed (no C2_DRYRUN_STOP ), and not known to have stopped: livesession 0.1.0 "
        "wrote it and takes no writer.lock , so whether a process still writes it cannot be "
        "told. Look for that process on its host first; once none does, livesession 0.1.x "
        "continues it from its last checkpoint (step 35) (this 0.2.0 continues only runs of "
        "its own release)."
    ) in header
    caution = (
        "once no process writes it: livesession 0.1.0 takes no writer.lock, so whether one "
        "still does cannot be told here (look for it on its host first)"
    )
    assert main(["prom", str(run), "--output", str(tmp_path / "x.prom")]) == 0
    said = capsys.readouterr().out
    assert "crashed" not in said, said
    assert caution in said, said
    assert main(["resume", str(run)]) == 2
    said = capsys.readouterr().err
    assert said.endswith(f"resume it with livesession 0.1.x, {caution}\n"), said
    assert main(["report", str(run)]) == 2
    said = capsys.readouterr().err
    assert "no process writes it)" not in said, said
    assert caution in said, said
    assert main(["verify", str(run)]) == 1
    said = capsys.readouterr().out
    assert (
        f"continue it with livesession 0.1.x, which wrote it (this is 0.2.0, which continues only runs of its own release), {caution}"
        in said
    ), said


@pytest.mark.broken_run("preflight rejects the run on purpose")
def test_a_0_1_config_s_allowlist_refusing_the_file_s_stem_says_where_it_came_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: 0.1.x traded BTC/USDT whatever its data file was named, so a desk's config
    written for it names that pair in its ``allowlist``; 0.2 names the symbol after the file
    when the config sets none, and preflight refused the run with ``rejected:
    SYMBOL_NOT_ALLOWED: symbol 'BARS' is not in allowlist [BTC/USDT]``, nothing saying where
    BARS came from or what to set."""
    (tmp_path / "bars.csv").write_text(_BARS, encoding="utf-8")
    config = tmp_path / "desk.toml"
    config.write_text(
        'steps = 5\nfeed = "csv:bars.csv"\nallowlist = ["BTC/USDT"]\n', encoding="utf-8"
    )
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q", "--run-id", "a"]) == 3
    assert capsys.readouterr().err == (
        "livesession: rejected: SYMBOL_NOT_ALLOWED: symbol 'BARS' is not in allowlist "
        "[BTC/USDT]; BARS is the data file's stem, the symbol of a config that sets none "
        '(livesession 0.1.x traded BTC/USDT then): set symbol = "BTC/USDT" in the config, '
        f"or --symbol BTC/USDT; sealed REJECTED, nothing traded: {out / 'a'}\n"
    )
    # As the line says; and a symbol the allowlist refuses for another cause is said as before.
    argv = ["dryrun", "-c", str(config), "--out", str(out), "-q", "--symbol", "BTC/USDT"]
    assert main([*argv, "--run-id", "b"]) == 0
    argv[-1] = "ETH/USDT"
    assert main([*argv, "--run-id", "c"]) == 3
    assert capsys.readouterr().err == (
        "livesession: rejected: SYMBOL_NOT_ALLOWED: symbol 'ETH/USDT' is not in allowlist "
        f"[BTC/USDT]; sealed REJECTED, nothing traded: {out / 'c'}\n"
    )


@pytest.mark.parametrize("command", ["evidence", "burnin"])
def test_a_re_run_of_a_sealed_0_1_run_is_not_sent_to_a_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """Bug: ``evidence`` (and ``burnin``) of a sealed 0.1.0 run said ``re-run it (evidence,
    burnin) or resume it with livesession 0.1.x``: a sealed run has nothing to resume, which
    0.1.x says too, as this release's ``resume`` of it does."""
    run = Path(shutil.copytree(DATA / "old-done", tmp_path / "old-done"))
    assert main([command, str(run), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: {run} was written by livesession 0.1.0 and this is 0.2.0, which "
        "reads its config.json with keys it added (another config hash): re-run it "
        "(evidence, burnin) with livesession 0.1.x\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_0_1_run_the_kill_switch_halted_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: 0.1.x cleared its checkpoint's ``kill_started_ns`` once the kill switch had the
    book flat and kept no ``kill_halted``, so a sealed 0.1.0 run the daily-loss cap halted
    read ``STOPPED`` in ``list`` (``halted_by`` "") and ``HALTED at the end`` by nothing in
    ``status``, where a 0.2 run reads ``STOPPED, HALTED by the kill switch (DAILY_LOSS)``."""
    run = Path(shutil.copytree(DATA / "old-kill", tmp_path / "runs" / "old-kill"))
    assert main(["list", str(run.parent)]) == 0
    assert "STOPPED, HALTED by the kill switch (DAILY_LOSS)" in capsys.readouterr().out
    assert main(["status", str(run)]) == 0
    assert (
        "trading     HALTED at the end by the kill switch (DAILY_LOSS): new orders were "
        "refused from the halt on\n"
    ) in capsys.readouterr().out


def test_a_0_1_evidence_bundle_is_held_to_its_own_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``verify RUN --manifest manifest.json`` of a 0.1.0 run and the bundle 0.1.0's
    ``evidence`` wrote of it said ``the evidence bundle is not this run's: manifest.json:
    config_hash '...', but the run's record of it cannot be read`` (exit 1): 0.1.x audited
    no config digest (``SESSION_STARTED`` has no ``config_sha256``), and its manifest's is
    ``run.json``'s, a file the manifest's own SHA-256 holds. It is held to that now."""
    run = Path(shutil.copytree(DATA / "old-done", tmp_path / "old-done"))
    manifest = tmp_path / "manifest.json"
    shutil.copyfile(DATA / "old-done.manifest.json", manifest)
    assert main(["verify", str(run), "--manifest", str(manifest)]) == 0
    assert "manifest  manifest.json is run old-done's" in capsys.readouterr().out
    held = json.loads(manifest.read_bytes())
    own = held["config_hash"]
    manifest.write_text(json.dumps({**held, "config_hash": "0" * 64}), encoding="utf-8")
    assert main(["verify", str(run), "--manifest", str(manifest)]) == 1
    assert (
        f"manifest.json: config_hash '{'0' * 64}', but the run's is '{own}': run.json's "
        "config hash differs (the release that wrote the run audited none)"
    ) in capsys.readouterr().out
