"""`livesession status` and `livesession list`: one verdict, one exit code per situation.

The live verdicts (a process holding the run) are tested with a real writer process in
test_one_writer.py; here are the runs no process holds.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from _pages import installed_script, operator_flat
from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, LiveSessionOrchestrator, cli, create_run, resume_run
from livesession import status as status_module
from livesession._artifacts import names
from livesession._domain.clock import format_utc_ns
from livesession._risk.governor import TradingState
from livesession._rundir.holder import writer_command
from livesession._rundir.standing import run_book
from livesession._rundir.statuswords import describe_positions
from livesession.cli import main
from livesession.leases import FileLease
from livesession.status import RunStatus, Verdict, list_runs, run_status
from livesession.verify import verify_run

from _helpers import RaisesOnBar, dryrun_checking, held_by_a_child
from crash_harness import KILLED, Profile, dryrun
from crash_harness import cli as crash_cli

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def _status(capsys: pytest.CaptureFixture[str], run_dir: Path) -> tuple[int, dict[str, object]]:
    code = main(["status", str(run_dir), "--json"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1, f"--json prints exactly one line: {out!r}"
    document = json.loads(out)
    assert isinstance(document, dict)
    assert document["exit_code"] == code
    return code, document


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


@pytest.fixture
def completed(tmp_path: Path) -> Path:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "done", "--steps", "60", "-q"]) == 0
    return out / "done"


def test_every_verdict_has_the_cli_exit_code_runbook_documents() -> None:
    assert Verdict.COMPLETED.value == cli.EXIT_OK
    assert Verdict.NOT_A_RUN.value == cli.EXIT_BAD_INPUT
    assert Verdict.REJECTED.value == cli.EXIT_REJECTED
    assert Verdict.FAILED.value == cli.EXIT_FAILED
    assert Verdict.NEEDS_OPERATOR.value == cli.EXIT_NEEDS_OPERATOR
    assert Verdict.CRASHED.value == cli.EXIT_CRASHED
    assert Verdict.RUNNING.value == cli.EXIT_RUNNING
    assert len({v.value for v in Verdict}) == len(Verdict), "one code per situation"


def test_a_completed_run(completed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _files(completed)
    code, status = _status(capsys, completed)
    assert code == 0
    assert status["verdict"] == "completed"
    assert status["state"] == "STOPPED"
    assert status["status"] == "COMPLETED"
    assert status["steps"] == 60
    assert status["writer"] is None
    assert status["resumable"] is False
    assert status["lease"] is None
    assert status["positions"] == {"BTC/USDT": "0.000"}
    assert status["open_orders"] == []
    assert status["heartbeat_utc"]
    assert _files(completed) == before, "status wrote into the run"
    assert main(["status", str(completed)]) == 0
    text = capsys.readouterr().out
    assert "verdict     completed (exit 0)" in text
    assert "heartbeat" in text
    assert "checkpoint.json written" in text


def _raises_at(bar: int) -> ScriptedStrategy:
    """A strategy that trades nothing and raises at its bar ``bar``."""
    seen = itertools.count(1)

    def script(*_: object) -> tuple[()]:
        if next(seen) == bar:
            raise RuntimeError("boom")
        return ()

    return ScriptedStrategy(script)


def test_a_live_session_waiting_in_error_requires_operator_needs_one(tmp_path: Path) -> None:
    """Held (here by this very process) and in ERROR_REQUIRES_OPERATOR: 5, not 7."""
    config = DryrunConfig(run_id="op", steps=100, durability="step", strategy_id="scripted")
    session = create_run(config, tmp_path, strategy=_raises_at(21))
    run_dir = tmp_path / "op"
    assert session.preflight()
    session.activate()
    session.run_n_steps(20)
    assert run_status(run_dir).verdict is Verdict.RUNNING
    session.run_n_steps(1)
    found = run_status(run_dir)
    assert found.verdict is Verdict.NEEDS_OPERATOR
    assert found.state == "ERROR_REQUIRES_OPERATOR"
    assert found.writer is not None
    assert found.writer["pid"] == os.getpid()
    session.acknowledge("op")
    session.close()
    found = run_status(run_dir)
    assert found.verdict is Verdict.FAILED
    assert found.reason == "STRATEGY_ERROR"


def test_a_rejected_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "rej.toml"
    config.write_text('run_id = "rej"\nsteps = 20\nallowlist = ["ETH/USDT"]\n', encoding="utf-8")
    assert main(["dryrun", "--config", str(config), "--out", str(tmp_path), "-q"]) == 3
    capsys.readouterr()
    code, status = _status(capsys, tmp_path / "rej")
    assert code == 3
    assert status["verdict"] == "rejected"
    assert status["state"] == "PREFLIGHT_FAILED"
    assert status["reason"] == "SYMBOL_NOT_ALLOWED"


def test_a_crashed_run_is_resumable_and_resume_completes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = Profile(name="crashed", seed=7, steps=150)
    assert dryrun(profile, tmp_path, crash_at="checkpoint:40").returncode == KILLED
    run_dir = tmp_path / profile.name
    code, status = _status(capsys, run_dir)
    assert code == 6
    assert status["verdict"] == "crashed"
    assert status["resumable"] is True
    assert status["resumable_from"] == "command line"
    assert status["writer"] is None
    assert status["state"] == "DRYRUN_ACTIVE"
    assert isinstance(status["steps"], int)
    assert 0 < status["steps"] < 150
    assert status["next"] == f"continue it: livesession resume {run_dir}"
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert _status(capsys, run_dir)[0] == 0


@pytest.mark.broken_run("a venue journal line is damaged on purpose: resume must refuse it")
def test_a_crashed_run_that_resume_would_refuse_needs_an_operator(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = Profile(name="damaged", seed=7, steps=150)
    assert dryrun(profile, tmp_path, crash_at="checkpoint:40").returncode == KILLED
    run_dir = tmp_path / profile.name
    journal = run_dir / names.JOURNAL
    journal.write_bytes(b"not json\n" + journal.read_bytes())
    code, status = _status(capsys, run_dir)
    assert code == 5
    assert status["verdict"] == "needs_operator"
    assert status["resumable"] is False
    assert "corrupt journal line" in str(status["resume_problem"])
    assert "cannot be resumed" in str(status["next"])


@pytest.mark.broken_run("the sealing checkpoint is edited to stand for other endings")
@pytest.mark.parametrize(
    ("edit", "verdict"),
    [
        ({"failed": True}, "failed"),
        ({"failed": True, "fsm_state": "ERROR_REQUIRES_OPERATOR"}, "needs_operator"),
    ],
)
def test_sealed_endings(
    completed: Path,
    capsys: pytest.CaptureFixture[str],
    edit: dict[str, object],
    verdict: str,
) -> None:
    """FAILED after a wind-down is 4; sealed in ERROR_REQUIRES_OPERATOR needs a person (5).

    The seal's own records are edited alike: a sealing checkpoint they do not bear out is
    damaged (``test_status_readers``).
    """
    path = completed / names.CHECKPOINT
    checkpoint = orjson.loads(path.read_bytes())
    path.write_bytes(orjson.dumps(checkpoint | edit))
    _edit_last(completed / names.AUDIT, lambda stop: stop["payload"].update(status="FAILED"))
    state = edit.get("fsm_state", checkpoint["fsm_state"])
    _edit_last(completed / names.SNAPSHOTS, lambda final: final.update(fsm_state=state))
    code, status = _status(capsys, completed)
    assert status["verdict"] == verdict
    assert code == {"failed": 4, "needs_operator": 5}[verdict]
    main(["status", str(completed)])
    text = capsys.readouterr().out
    if verdict == "needs_operator":
        assert "resumable   no: the run is sealed\n" in text  # it said "no: None"


def _edit_last(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Apply ``edit`` to the last line of the JSON Lines file ``path``."""
    *kept, last = path.read_bytes().splitlines(keepends=True)
    record = orjson.loads(last)
    edit(record)
    path.write_bytes(b"".join([*kept, orjson.dumps(record) + b"\n"]))


def test_the_runbooks_four_files_are_judged_by_their_stop_record(
    completed: Path, tmp_path: Path
) -> None:
    """A run with no checkpoint or run.json (the runbook's invocation) is sealed by its audit."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in (*names.ARTIFACTS.values(), names.METRICS):
        shutil.copyfile(completed / name, bare / name)
    assert run_status(bare).verdict is Verdict.COMPLETED


_FOUR = (*names.ARTIFACTS.values(), names.METRICS)
_NO_WHOLE_RUN = "the seal is not borne out: no run.json; "
_DOUBTED_SEALS = {
    # name: (files kept, events.jsonl replaced by, the problem said)
    "events and audit only": (
        (names.EVENTS, names.AUDIT),
        None,
        _NO_WHOLE_RUN + "state_snapshots.jsonl and metrics.json are missing",
    ),
    "random events": (
        (names.AUDIT,),
        bytes(range(256)) * 20,
        _NO_WHOLE_RUN + "state_snapshots.jsonl and metrics.json are missing; events.jsonl "
        "does not end with SESSION_STOPPED (no JSON line at its end)",
    ),
    "four files, empty events": (
        _FOUR,
        b"",
        _NO_WHOLE_RUN + "events.jsonl does not end with SESSION_STOPPED (no JSON line at its end)",
    ),
}


@pytest.mark.broken_run("it copies parts of a run, or breaks one, to see status doubt its seal")
@pytest.mark.parametrize("case", sorted(_DOUBTED_SEALS))
def test_files_that_do_not_bear_out_the_seal_are_not_completed(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """An audit log ending C2_DRYRUN_STOP beside files that are no whole run: a person looks.

    A directory holding only events.jsonl and audit.jsonl (or random bytes for events) was
    "completed (exit 0)" with state "? (?)".
    """
    kept, events, said = _DOUBTED_SEALS[case]
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in kept:
        shutil.copyfile(completed / name, bare / name)
    if events is not None:
        (bare / names.EVENTS).write_bytes(events)
    code, status = _status(capsys, bare)
    assert (code, status["verdict"], status["problem"]) == (5, "needs_operator", said)
    assert main(["status", str(bare)]) == 5
    text = capsys.readouterr().out
    assert f"problem     {said}\n" in text
    assert f"next        a person must look: `livesession verify {bare}` says what" in text
    assert "completed" not in text


@pytest.mark.broken_run("it cuts the audit log of a sealed run")
def test_a_sealed_run_whose_audit_was_cut_is_not_completed(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`head -n 1 audit.jsonl > audit.jsonl`: the checkpoint is sealed, the audit is not."""
    cut = tmp_path / "cut"
    shutil.copytree(completed, cut)
    audit = cut / names.AUDIT
    audit.write_bytes(audit.read_bytes().splitlines(keepends=True)[0])
    code, status = _status(capsys, cut)
    assert (code, status["verdict"]) == (5, "needs_operator")
    assert status["problem"] == (
        "the seal is not borne out: audit.jsonl does not end with C2_DRYRUN_STOP"
    )


@pytest.mark.broken_run("it empties or cuts the state snapshots of a sealed run")
@pytest.mark.parametrize(
    ("keep", "said"),
    [
        (0, "state_snapshots.jsonl holds no snapshot"),
        (1, "state_snapshots.jsonl does not end with the final snapshot (its last is 'start')"),
    ],
)
def test_a_sealed_run_without_its_final_snapshot_is_not_completed(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], keep: int, said: str
) -> None:
    """`: > state_snapshots.jsonl`: status said completed (exit 0) while verify found the
    run broken (`state_snapshots.jsonl: empty file`): the seal writes the final snapshot
    before its audit record, so without it the files do not bear the seal out."""
    cut = tmp_path / "cut"
    shutil.copytree(completed, cut)
    snapshots = cut / names.SNAPSHOTS
    snapshots.write_bytes(b"".join(snapshots.read_bytes().splitlines(keepends=True)[:keep]))
    code, status = _status(capsys, cut)
    assert (code, status["verdict"]) == (5, "needs_operator")
    assert status["problem"] == f"the seal is not borne out: {said}"
    assert not verify_run(cut).ok


_AFTER_THE_SEAL = {
    # name: (the tail appended, the problem said of the file)
    "torn": (b'{"code":"C2_X"', " does not end with a whole line"),
    "foreign": (b"garbage\n", "'s last line is not a JSON object"),
}


@pytest.mark.broken_run("it appends to the events or audit log of a sealed run")
@pytest.mark.parametrize("name", [names.EVENTS, names.AUDIT])
@pytest.mark.parametrize("case", sorted(_AFTER_THE_SEAL))
def test_a_line_after_the_seal_is_not_completed(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, case: str
) -> None:
    """Nothing is written after the seal: a torn or foreign line after SESSION_STOPPED or
    C2_DRYRUN_STOP was skipped as the end was read, and status said completed (exit 0)
    while verify found the run broken (the same tail on the snapshots was doubted)."""
    tail, said = _AFTER_THE_SEAL[case]
    cut = tmp_path / "cut"
    shutil.copytree(completed, cut)
    with (cut / name).open("ab") as f:
        f.write(tail)
    code, status = _status(capsys, cut)
    assert (code, status["verdict"]) == (5, "needs_operator")
    assert status["problem"] == f"the seal is not borne out: {name}{said}"
    assert not verify_run(cut).ok


_A_DIRECTORY = b"<a directory>"
_KEPT_LOST = {
    # name: (file, its new bytes (None: removed), the problem said)
    "checkpoint removed": (
        names.CHECKPOINT,
        None,
        "checkpoint.json is missing, but the run recorded 60 steps",
    ),
    "checkpoint emptied": (names.CHECKPOINT, b"", "checkpoint.json is not a JSON object"),
    "checkpoint cut": (names.CHECKPOINT, b'{"book": {', "checkpoint.json is not a JSON object"),
    "run.json removed": (names.RUN_META, None, "run.json is missing"),
    "config.json cut": (names.CONFIG, b'{"run_id": "do', "config.json is not a JSON object"),
    # A directory in the file's place (found over a desk's out/runs): status, and list with
    # it for every run, said `livesession: error: DIR/run.json: Is a directory`, exit 2, as
    # for a file the system will not let it read, where it is the run's own flaw.
    "run.json a directory": (names.RUN_META, _A_DIRECTORY, "run.json is not a JSON object"),
    "config.json a directory": (names.CONFIG, _A_DIRECTORY, "config.json is not a JSON object"),
}


@pytest.mark.broken_run("it removes or cuts a file a sealed run keeps beside its artifacts")
@pytest.mark.parametrize("case", sorted(_KEPT_LOST))
def test_a_sealed_run_that_lost_a_kept_file_is_not_completed(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """`rm checkpoint.json` (or run.json, config.json, or one cut) in a sealed run: status said
    completed (exit 0), "no checkpoint yet", while verify found the run broken."""
    name, data, said = _KEPT_LOST[case]
    cut = tmp_path / "cut"
    shutil.copytree(completed, cut)
    if data is None or data is _A_DIRECTORY:
        (cut / name).unlink()
    if data is _A_DIRECTORY:
        (cut / name).mkdir()
    elif data is not None:
        (cut / name).write_bytes(data)
    code, status = _status(capsys, cut)
    assert (code, status["verdict"]) == (5, "needs_operator")
    assert status["problem"] == f"the seal is not borne out: {said}"
    assert not verify_run(cut).ok
    assert main(["list", str(tmp_path)]) == 0
    assert [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]] == [
        ["done", "(cut)", "needs_operator"]
    ]


@pytest.mark.parametrize("what", ["missing", "empty", "file", "foreign"])
def test_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str], what: str) -> None:
    path = tmp_path / "x"
    if what == "empty":
        path.mkdir()
    elif what == "file":
        path.write_text("hello", encoding="utf-8")
    elif what == "foreign":
        path.mkdir()
        (path / "events.jsonl").write_text("", encoding="utf-8")
    code, status = _status(capsys, path)
    assert code == 2
    assert status["verdict"] == "not_a_run"
    assert status["problem"]
    assert main(["status", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("livesession: error: ")


def test_the_lease_is_read_from_the_lease_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert (
        main(["dryrun", "--out", str(out), "--run-id", "ls", "--steps", "30", "--lease", "-q"]) == 0
    )
    _, status = _status(capsys, out / "ls")
    lease = status["lease"]
    assert isinstance(lease, dict)
    assert lease["backend"] == "file"
    assert lease["fence"] == 1
    assert lease["holder"] is None, "released at the end of the run"
    assert lease["held"] is False


@pytest.mark.broken_run("its config.json is edited after the run, as an operator might")
def test_the_lease_of_a_run_whose_config_json_was_edited_is_still_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a `--lease` run whose config.json was changed after it began (its seed, say)
    showed `lease  none (the run takes no lease)`: status read the lease settings from
    config.json alone. It reads them from the config the checkpoint ran with."""
    out = tmp_path / "runs"
    args = ["dryrun", "--out", str(out), "--run-id", "ed", "--steps", "30", "--lease", "-q"]
    assert main(args) == 0
    config = out / "ed" / "config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["seed"] = 999
    config.write_text(json.dumps(data), encoding="utf-8")
    _, status = _status(capsys, out / "ed")
    assert "seed differs" in status["next"]  # config.json does not read as it is
    lease = status["lease"]
    assert isinstance(lease, dict)
    assert (lease["backend"], lease["fence"], lease["held"]) == ("file", 1, False)
    assert main(["status", str(out / "ed")]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("lease")]
    assert "file: nobody, fence 1 (free or expired)" in line


def test_a_sealed_runs_lease_is_not_the_later_run_that_holds_its_pair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `status` of a sealed `--lease` run read the pair's lease file as it is now, so
    once a later run of the same account and strategy took the lease, the sealed run's line
    named that run (`lease  file: later@h:1, fence 2 (held)`; `--json`: its holder, its fence,
    `held` true), as if the sealed run held it. It says what the run's own record does, as
    with PostgreSQL: `released when the run sealed (its last grant: fence 1)`."""
    out = tmp_path / "runs"
    args = ["dryrun", "--out", str(out), "--run-id", "first", "--steps", "30", "--lease", "-q"]
    assert main(args) == 0
    path = out / ".leases" / "default__sma_demo.lease"
    later = FileLease(path, "default", "sma_demo").acquire("later@h:1", 0, 4 * 10**18)
    assert later is not None
    assert later.token == 2

    _, status = _status(capsys, out / "first")
    lease = status["lease"]
    assert isinstance(lease, dict)
    assert (lease["backend"], lease["holder"], lease["fence"]) == ("file", None, 1)
    assert lease["held"] is not True
    assert main(["status", str(out / "first")]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("lease")]
    assert "later@h:1" not in line
    assert "released when the run sealed (its last grant: fence 1)" in line


def test_list_shows_every_run_with_its_verdict(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = completed.parent
    profile = Profile(name="crashed", seed=7, steps=150)
    assert dryrun(profile, tmp_path / "k", crash_at="checkpoint:40").returncode == KILLED
    shutil.copytree(tmp_path / "k" / profile.name, out / profile.name)
    (out / "not-a-run").mkdir()
    (out / ".leases").mkdir()
    assert main(["list", str(out), "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    assert document["out_dir"] == str(out)
    assert [(r["run_id"], r["verdict"]) for r in document["runs"]] == [
        ("crashed", "crashed"),
        ("done", "completed"),
    ]
    assert main(["list", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "RUN",
        "VERDICT",
        "STATE",
        "STEPS",
        "HEARTBEAT",
        "WRITER",
        "PROBLEM",
    ]
    assert lines[1].split()[:2] == ["crashed", "crashed"]
    assert lines[2].split()[:4] == ["done", "completed", "STOPPED", "60/60"]
    assert [s.verdict for s in list_runs(out)] == [Verdict.CRASHED, Verdict.COMPLETED]
    # Copies of one run carry its run id: the directory's name tells them apart.
    shutil.copytree(out / "done", out / "done-copy")
    assert main(["list", str(out)]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [
        ["crashed", "crashed", "DRYRUN_ACTIVE"],
        ["done", "completed", "STOPPED"],
        ["done", "(done-copy)", "completed"],
    ]
    assert main(["list", str(out), "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert [(r["run_id"], Path(r["run_dir"]).name) for r in json.loads(line)["runs"]][1:] == [
        ("done", "done"),
        ("done", "done-copy"),
    ]
    shutil.rmtree(out / "done-copy")
    # The crashed copy is resumed so the run directories this test leaves verify.
    assert main(["resume", str(out / profile.name), "-q"]) == 0
    assert main(["resume", str(tmp_path / "k" / profile.name), "-q"]) == 0


def test_list_puts_runs_in_the_order_of_their_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `list` sorted run ids as text, so `demo-1000` came between `demo-100` and
    `demo-101` (a batch past a thousand runs). Numbers now sort as numbers."""
    out = tmp_path / "runs"
    for run_id in ("b-100", "b-1000", "b-99", "b-101", "a"):
        assert main(["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "3", "-q"]) == 0
    capsys.readouterr()
    assert main(["list", str(out), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in document["runs"]] == ["a", "b-99", "b-100", "b-101", "b-1000"]


def test_list_goes_on_past_a_run_it_cannot_read(
    completed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: one run whose file the system would not let `list` read (no permission, an I/O
    error) ended `list` with that one line, exit 2, and no run listed: a fleet check was
    blinded by one bad run. Every run is listed, that one `unread` with its problem, and
    the line still ends it, exit 2 (RUNBOOK: no verdict is drawn from a file not read)."""
    out = completed.parent
    shutil.copytree(completed, out / "locked")
    snapshots = out / "locked" / names.SNAPSHOTS
    real = status_module.last_whole_line

    def refused(path: Path) -> Any:
        if path == snapshots:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(status_module, "last_whole_line", refused)
    assert main(["list", str(out), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"livesession: error: {snapshots}: Permission denied\n"
    runs = json.loads(captured.out)["runs"]
    assert [(r["run_dir"], r["verdict"], r["unread"]) for r in runs] == [
        (str(completed), "completed", False),
        (str(out / "locked"), "needs_operator", True),
    ]
    assert runs[1]["problem"].startswith(f"{snapshots}: Permission denied: the system would")
    assert main(["list", str(out)]) == 2
    captured = capsys.readouterr()
    assert [line.split()[:2] for line in captured.out.splitlines()[1:]] == [
        ["done", "completed"],
        ["?", "(locked)"],
    ]
    assert captured.err == f"livesession: error: {snapshots}: Permission denied\n"
    with pytest.raises(PermissionError):  # the API without refused= raises, as it did
        list_runs(out)


def test_list_goes_on_past_a_directory_it_may_not_look_into(
    completed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug (found over a desk's out/runs, as a user other than the runs' owner): a directory
    `list` may not look into (another user's run made with umask 077, the `lost+found` of
    a file system mounted at out/runs) ended `list` with `livesession: error:
    DIR/run.json: Permission denied`, exit 2, and no run listed: the earlier fix for an
    unreadable run file covered the run's files, not the look at whether it is a run. It
    is listed `unread`, as that run is, and the others with it."""
    out = completed.parent
    private = out / "private"
    private.mkdir()
    real = status_module.is_run_dir

    def refused(path: Path) -> bool:
        if path == private:  # stat of private/run.json without search permission on private
            raise PermissionError(13, "Permission denied", str(private / names.RUN_META))
        return real(path)

    monkeypatch.setattr(status_module, "is_run_dir", refused)
    assert main(["list", str(out), "--json"]) == 2
    captured = capsys.readouterr()
    said = f"{private / names.RUN_META}: Permission denied"
    assert captured.err == f"livesession: error: {said}\n"
    runs = json.loads(captured.out)["runs"]
    assert [(r["run_dir"], r["verdict"], r["unread"]) for r in runs] == [
        (str(completed), "completed", False),
        (str(private), "needs_operator", True),
    ]
    assert main(["list", str(out)]) == 2
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["done", "completed"], ["?", "(private)"]]


@pytest.mark.broken_run("a tool wrote numbers where the last snapshot's state and status were")
def test_list_goes_on_past_a_snapshot_whose_state_is_no_text(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug (found over a desk's out/runs): one run whose last snapshot a tool damaged
    (`"fsm_state": 7`) ended `list` with a traceback (`TypeError: object of type 'int' has
    no len()`), no run listed; `status --json` handed the 7 on as the state. Such a value
    is unknown, as a missing one is."""
    out = completed.parent
    damaged = out / "damaged"
    shutil.copytree(completed, damaged)
    snapshots = damaged / names.SNAPSHOTS
    *kept, last = snapshots.read_bytes().splitlines(keepends=True)
    record = orjson.loads(last) | {"fsm_state": 7, "status": ["STOPPED"], "run_id": {}}
    snapshots.write_bytes(b"".join(kept) + orjson.dumps(record) + b"\n")
    (damaged / names.RUN_META).unlink()  # the run id then comes from the snapshot

    assert main(["list", str(out)]) == 0
    rows = [line.split()[:3] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["?", "(damaged)", "needs_operator"], ["done", "completed", "STOPPED"]]
    code, status = _status(capsys, damaged)
    assert code == 5
    # The state is then the checkpoint's; the status and the run id are unknown.
    assert (status["state"], status["status"], status["run_id"]) == ("STOPPED", None, None)


def test_list_of_a_missing_directory_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["list", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is not a directory of runs" in err


def test_list_says_when_the_path_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `livesession list sup/nope` (a path that does not exist) said only that it "is
    not a directory of runs", as for a file in the way: it says that it does not exist."""
    missing = tmp_path / "sup" / "nope"
    assert main(["list", str(missing)]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: {missing} does not exist, so it is not a directory of runs\n"
    )
    a_file = tmp_path / "runs.txt"
    a_file.write_text("", encoding="utf-8")
    assert main(["list", str(a_file)]) == 2
    assert capsys.readouterr().err == f"livesession: error: {a_file} is not a directory of runs\n"


def test_list_of_a_run_id_or_a_name_beside_out_runs_says_the_list_to_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug (a new user's first hour): ``livesession list aapl-0302`` beside the
    ``out/runs/aapl-0302`` dryrun printed said ``aapl-0302 does not exist (a run is named by
    its directory, ...), so it is not a directory of runs``, and ``list runs`` said nothing
    of the ``out/runs`` there. Each is now one sentence naming ``livesession list out/runs``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out" / "runs" / "aapl-0302").mkdir(parents=True)
    assert main(["list", "aapl-0302"]) == 2
    assert capsys.readouterr().err == (
        "livesession: error: aapl-0302 does not exist, but out/runs/aapl-0302 does: "
        "`livesession list out/runs` lists the runs there (`livesession status "
        "out/runs/aapl-0302` says where that one stands)\n"
    )
    assert main(["list", "runs"]) == 2
    assert capsys.readouterr().err == (
        "livesession: error: runs does not exist: `livesession list out/runs` lists the runs "
        "there, where dryrun puts them without --out\n"
    )
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["aapl-0302", "out", "runs"]


# -- RUNBOOK's restart recipe, run as written ---------------------------------------------------

_ROOT = Path(__file__).resolve().parent.parent


def _recipe(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """RUNBOOK's livesession-supervise script, and an environment whose `livesession` is ours."""
    script = installed_script("SUPERVISE", tmp_path / "bin", "livesession-supervise")
    env = dict(os.environ)
    env["PATH"] = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("LIVESESSION_CRASH_AT", None)
    return script, env


def _supervise(
    tmp_path: Path, out: Path, run_id: str, config: Path, *, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    script, env = _recipe(tmp_path)
    return subprocess.run(
        [str(script), str(out), run_id, str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_restart_recipe_starts_a_run_and_resumes_a_crashed_one(tmp_path: Path) -> None:
    config = tmp_path / "session.toml"
    config.write_text("steps = 40\n", encoding="utf-8")
    out = tmp_path / "runs"
    done = _supervise(tmp_path, out, "fresh", config)
    assert done.returncode == 0, done.stderr
    assert run_status(out / "fresh").verdict is Verdict.COMPLETED
    profile = Profile(name="crashed", seed=7, steps=150)
    assert dryrun(profile, out, crash_at="checkpoint:40").returncode == KILLED
    assert run_status(out / profile.name).verdict is Verdict.CRASHED
    done = _supervise(tmp_path, out, profile.name, config)
    assert done.returncode == 0, done.stderr
    assert run_status(out / profile.name).verdict is Verdict.COMPLETED


def _killed_with_lease(tmp_path: Path, run_id: str, *, ttl_ms: int) -> tuple[Path, Path]:
    """A ``--lease`` dryrun of ``run_id`` SIGKILLed mid-run: ``(out, config)``."""
    out = tmp_path / "runs"
    out.mkdir()
    config = tmp_path / "leased.toml"
    toml = f'run_id = "{run_id}"\nsteps = 150\nlease_ttl_ms = {ttl_ms}\n'
    config.write_text(toml, encoding="utf-8")
    with_lease = ("dryrun", "--config", config, "--out", out, "--lease", "-q")
    assert crash_cli(*with_lease, crash_at="write_events:150").returncode == KILLED
    return out, config


def test_the_restart_recipe_waits_for_a_killed_runs_lease_and_does_not_count_it(
    tmp_path: Path,
) -> None:
    """Bug: a leased run (`--lease`) killed by SIGKILL keeps its lease until it expires, so
    each `resume` of it exits 3 (LEASE_HELD) until then and changes nothing. The recipe
    counted each refusal as a resume that crashed again: five of them in a few seconds, and
    it gave up (exit 5, `crashed again after 5 resumes`) on a run never resumed once. A
    refused resume is not counted now: the recipe waits and resumes once the lease is free."""
    out, config = _killed_with_lease(tmp_path, "leased", ttl_ms=15000)
    lease = run_status(out / "leased").lease
    assert lease is not None
    assert lease["held"] is True  # the dead process's, until it expires
    done = _supervise(tmp_path, out, "leased", config)
    assert done.returncode == 0, done.stderr
    assert "LEASE_HELD" in done.stderr  # the refused resume's line: why it waited
    assert "crashed again" not in done.stderr
    assert not (out / "leased.supervisor").exists()
    assert run_status(out / "leased").verdict is Verdict.COMPLETED


def test_the_restart_recipe_hands_a_lease_another_session_keeps_to_a_person(
    tmp_path: Path,
) -> None:
    """The recipe waits for a killed run's lease, but not for ever: a lease another session
    took over (its renewals keep it) would leave the crashed run waiting with no alert. After
    3 minutes of refused resumes (18 waits of 10 s; `sleep` is a no-op here) it exits 5 and
    leaves its verdict for the alert unit, the run as it was."""
    out, config = _killed_with_lease(tmp_path, "taken", ttl_ms=1000)
    path = out / ".leases" / "default__sma_demo.lease"
    entry = orjson.loads(path.read_bytes())["leases"]["default"]["sma_demo"]
    other = FileLease(path, "default", "sma_demo").acquire("other@h:1", entry["expires_ns"], 10**18)
    assert other is not None
    script, env = _recipe(tmp_path)
    sleep = script.parent / "sleep"
    sleep.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    sleep.chmod(0o755)
    done = subprocess.run(
        [str(script), str(out), "taken", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 5, done.stderr
    assert done.stderr.count("another live session (other@h:1) holds the lease") == 19
    why = "resume was refused for 3 minutes (its lease is held): a person must look"
    assert (out / "taken.supervisor").read_text(encoding="utf-8") == f"needs_operator\n{why}\n"
    assert run_status(out / "taken").verdict is Verdict.CRASHED
    FileLease(path, "default", "sma_demo").release(other)
    assert main(["resume", str(out / "taken"), "-q"]) == 0


@pytest.mark.broken_run("a venue journal line is damaged on purpose: the recipe must stop")
def test_the_restart_recipe_stops_for_a_person(tmp_path: Path) -> None:
    profile = Profile(name="damaged", seed=7, steps=150)
    out = tmp_path / "runs"
    assert dryrun(profile, out, crash_at="checkpoint:40").returncode == KILLED
    journal = out / profile.name / names.JOURNAL
    journal.write_bytes(b"not json\n" + journal.read_bytes())
    before = _files(out / profile.name)
    done = _supervise(tmp_path, out, profile.name, tmp_path / "unused.toml")
    assert done.returncode == 5
    assert done.stderr.strip() == f"livesession-supervise: {out / profile.name} needs an operator"
    assert _files(out / profile.name) == before


@pytest.mark.parametrize(
    "config_text",
    [
        'steps = 100\nstrategy_factory = "nosuch.mod:make"\n',  # a plug-in that does not import
        "steps = 100\nnot_a_key = 1\n",  # a bad config
        None,  # no config file at all
    ],
    ids=["plugin", "bad_key", "missing"],
)
def test_the_restart_recipe_gives_up_when_dryrun_makes_no_run(
    tmp_path: Path, config_text: str | None
) -> None:
    """Bug: a dryrun refused before it made the run directory (exit 2: a bad config, a
    missing config file, a plug-in that does not import) left `status` at exit 2 (no
    directory), so the recipe ran dryrun again, and again, forever. It now exits with
    dryrun's code (a bad input is not retried) and leaves its verdict for the alert unit."""
    config = tmp_path / "session.toml"
    if config_text is not None:
        config.write_text(config_text, encoding="utf-8")
    out = tmp_path / "runs"
    done = _supervise(tmp_path, out, "r1", config, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # dryrun's own line, once, then the recipe's
    assert lines[0].startswith("livesession: error: ")
    assert lines[1] == (
        f"livesession-supervise: {out / 'r1'} was not started: livesession dryrun exited 2 "
        "(its error is in the journal)"
    )
    assert not (out / "r1").exists()
    assert (out / "r1.supervisor").read_text(encoding="utf-8") == (
        "not_started\nwas not started: livesession dryrun exited 2 (its error is in the journal)\n"
    )
    assert main(["list", str(out)]) == 0  # the verdict file is not taken for a run


_APP_RE_ENABLES = (
    "`livesession ack` signals only `livesession dryrun` and `resume`: in "
    f"{writer_command('dryrun')}, which holds the run, the session's reenable_trading() "
    "re-enables trading"
)
"""What re-enables a halted run this test process holds: an application's, not the CLI's
(`livesession ack` refuses it: tests/test_status_embedded.py)."""


def test_trading_says_how_to_re_enable_a_live_halted_run() -> None:
    """A live run the kill switch halted: status says new orders are refused, and what
    re-enables them (the one verb that does); a sealed halted run says it ended so."""

    writer = {
        "pid": 4242,
        "host": "h",
        "since": "2026-01-01T00:00:00Z",
        "command": "livesession dryrun",
    }
    live = RunStatus(run_dir="r", verdict=Verdict.RUNNING, trading="HALTED", writer=writer)
    assert "trading     HALTED: new orders refused (`livesession ack r` re-enables trading)" in (
        live.lines()
    )
    sealed = RunStatus(run_dir="r", verdict=Verdict.COMPLETED, trading="HALTED")
    assert "trading     HALTED at the end: new orders were refused from the halt on" in (
        sealed.lines()
    )
    assert not [
        line
        for line in RunStatus(run_dir="r", verdict=Verdict.CRASHED).lines()
        if line.startswith("trading")
    ]
    # A crashed run is not at its end: resumed, it goes on halted until `ack`. It said
    # "HALTED at the end" after a confirmed kill and a crash.
    crashed = RunStatus(run_dir="r", verdict=Verdict.CRASHED, trading="HALTED")
    assert "trading     HALTED: new orders refused (`livesession ack r` re-enables trading)" in (
        crashed.lines()
    )


def test_a_sealed_run_s_trading_ended_whatever_state_it_was_left_in() -> None:
    """Bug: a run sealed FAILED (STOP_INCOMPLETE, or any ERROR_REQUIRES_OPERATOR seal) said
    `trading  ACTIVE`, as of a run that trades on. Sealed, its trading has ended; the state
    it was left in is said as that (`--json`'s `trading` keeps the checkpoint's)."""
    for verdict, state in (
        (Verdict.FAILED, "ERROR_REQUIRES_OPERATOR"),
        (Verdict.NEEDS_OPERATOR, "ERROR_REQUIRES_OPERATOR"),
        (Verdict.COMPLETED, "STOPPED"),
    ):
        for trading in ("ACTIVE", "REDUCING"):
            found = RunStatus(
                run_dir="r", verdict=verdict, state=state, trading=trading, sealed=True
            )
            assert f"trading     ended: the run is sealed ({trading} until its end)" in (
                found.lines()
            )
            assert found.to_json()["trading"] == trading
    # Not sealed (a crash; a seal in doubt): what it was left in, as before.
    crashed = RunStatus(run_dir="r", verdict=Verdict.CRASHED, trading="ACTIVE")
    assert "trading     ACTIVE" in crashed.lines()


@contextlib.contextmanager
def _throttled(tmp_path: Path, **config: Any) -> Iterator[LiveSessionOrchestrator]:
    """A live run ``thr`` buying every step until the throttle halts it (its second
    execution; no checkpoint since step 0), and its session, open; ``config`` adds keys."""
    cfg = DryrunConfig(
        run_id="thr",
        strategy_id="scripted",
        steps=500,
        checkpoint_every=500,
        risk={"max_executions": 2},
        **config,
    )
    strategy = ScriptedStrategy(lambda _n, _bar, _view: [buy("0.001")])
    with create_run(cfg, tmp_path, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        while session.trading_state is TradingState.ACTIVE:
            session.step()
        yield session


@pytest.mark.parametrize("durability", ["step", "none"])
def test_a_live_run_says_the_trading_state_of_its_newest_event(
    tmp_path: Path, durability: str
) -> None:
    """status took `trading` from checkpoint.json, written every `checkpoint_every` steps:
    a live run the throttle had halted said `trading ACTIVE` (and `steps 0 ... at the last
    checkpoint`). It now reads the newest trading event written since that checkpoint, from
    the end of events.jsonl; the halt is written out at once, with durability none too."""
    run_dir = tmp_path / "thr"
    with _throttled(tmp_path, durability=durability) as session:
        found = run_status(run_dir)
        assert (found.verdict, found.steps) == (Verdict.RUNNING, 0)
        assert found.trading == "HALTED"
        assert found.trading_as_of.startswith(
            "since TRADING_STATE_CHANGED (EXECUTION_THROTTLE), run time 2026-01-01T00:0"
        ), found.trading_as_of
        [line] = [line for line in found.lines() if line.startswith("trading")]
        assert line.startswith(
            "trading     HALTED by the execution throttle: new orders refused ("
            f"{_APP_RE_ENABLES}); since TRADING_STATE_CHANGED (EXECUTION_THROTTLE)"
        ), line
        assert session.reenable_trading("ops-1")  # checkpointed: the checkpoint says it
        found = run_status(run_dir)
        assert (found.trading, found.trading_as_of) == ("ACTIVE", "")
        while session.trading_state is TradingState.ACTIVE:
            session.step()
        assert run_status(run_dir).trading == "HALTED"
    found = run_status(run_dir)  # sealed: the sealing checkpoint's, as before
    assert (found.verdict, found.trading, found.trading_as_of) == (
        Verdict.COMPLETED,
        "HALTED",
        "",
    )


def test_a_live_run_the_daily_loss_cap_killed_says_halted_at_once(tmp_path: Path) -> None:
    """The kill switch a step pulls by itself (the daily-loss cap) is written out at once,
    with durability none too (it sat in the events file's buffer), and status says it."""
    cfg = DryrunConfig(
        run_id="cap",
        strategy_id="scripted",
        steps=500,
        checkpoint_every=500,
        durability="none",
        risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
    )
    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    strategy = ScriptedStrategy(at({1: [buy("1.000")]}))
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        assert session.trading_state is TradingState.HALTED
        found = run_status(tmp_path / "cap")
        assert found.trading == "HALTED"
        assert found.trading_as_of.startswith("since KILL_SWITCH (DAILY_LOSS), run time ")


def test_a_run_the_kill_switch_halted_says_the_kill_switch_did_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: status of a run the kill switch halted said `trading  HALTED at the end` as a
    throttle's halt does, though checkpoint.json keeps `kill_halted`: a reviewer could not
    tell that the kill switch fired (it cancels and flattens; a throttle leaves the position
    held). It says so now, live and sealed, and `--json` has `kill_halted`."""
    cfg = DryrunConfig(
        run_id="cap",
        strategy_id="scripted",
        steps=6,
        checkpoint_every=500,
        risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
    )
    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    strategy = ScriptedStrategy(at({1: [buy("1.000")]}))
    run_dir = tmp_path / "cap"
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        assert session.trading_state is TradingState.HALTED
        live = run_status(run_dir)  # the checkpoint says ACTIVE: read from the KILL_SWITCH
        assert live.kill_halted
        [line] = [line for line in live.lines() if line.startswith("trading")]
        assert line.startswith(
            "trading     HALTED by the kill switch (DAILY_LOSS): new orders refused ("
            f"{_APP_RE_ENABLES}); since KILL_SWITCH (DAILY_LOSS), run time "
        ), line
        session.run_to_end(6)
    assert orjson.loads((run_dir / names.CHECKPOINT).read_bytes())["kill_halted"] is True
    sealed = run_status(run_dir)
    assert (sealed.verdict, sealed.trading, sealed.kill_halted) == (
        Verdict.COMPLETED,
        "HALTED",
        True,
    )
    assert (
        "trading     HALTED at the end by the kill switch (DAILY_LOSS): new orders were refused "
        "from the halt on"
    ) in sealed.lines()
    code, document = _status(capsys, run_dir)
    assert (code, document["trading"], document["kill_halted"]) == (0, "HALTED", True)
    assert document["halted_by"] == "the kill switch (DAILY_LOSS)"


def test_a_halt_that_is_not_the_kill_switchs_is_not_said_to_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The execution throttle halts without the kill switch: `kill_halted` false, and the
    words name the throttle (they named nothing: `HALTED at the end: ...`)."""
    cfg = DryrunConfig(run_id="thr", strategy_id="scripted", steps=5, risk={"max_executions": 2})
    strategy = ScriptedStrategy(lambda _n, _bar, _view: [buy("0.001")])
    with create_run(cfg, tmp_path, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_to_end(5)
    found = run_status(tmp_path / "thr")
    assert (found.trading, found.kill_halted) == ("HALTED", False)
    assert found.halted_by == "the execution throttle"
    assert (
        "trading     HALTED at the end by the execution throttle: new orders were refused "
        "from the halt on"
    ) in found.lines()
    assert _status(capsys, tmp_path / "thr")[1]["kill_halted"] is False


def test_the_kill_switchs_halt_is_said_in_every_state_of_a_run() -> None:
    """`kill_halted` names the kill switch in the trading line, live, crashed and sealed;
    a run preflight rejected never traded, whatever its checkpoint keeps."""
    writer = {
        "pid": 4242,
        "host": "h",
        "since": "2026-01-01T00:00:00Z",
        "command": "livesession dryrun",
    }

    def killed(verdict: Verdict, **more: Any) -> list[str]:
        found = RunStatus(run_dir="r", verdict=verdict, trading="HALTED", kill_halted=True, **more)
        return found.lines()

    for going_on in (killed(Verdict.RUNNING, writer=writer), killed(Verdict.CRASHED)):
        assert (
            "trading     HALTED by the kill switch: new orders refused (`livesession ack r` "
            "re-enables trading)"
        ) in going_on
    assert (
        "trading     HALTED at the end by the kill switch: new orders were refused from the halt on"
    ) in killed(Verdict.FAILED)
    rejected = killed(Verdict.REJECTED, state="PREFLIGHT_FAILED")
    assert "trading     never traded (rejected at preflight)" in rejected


def _event(seq: int, event_type: str, **body: object) -> bytes:
    line = {"event_type": event_type, "payload": body, "seq": seq, "ts_utc": f"t{seq}"}
    return orjson.dumps(line, option=orjson.OPT_SORT_KEYS) + b"\n"


def test_the_newest_trading_event_is_found_from_the_end_without_reading_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read backwards a chunk at a time (tiny chunks here, so lines straddle them), only as
    far as the checkpoint's offset, never the line being written, never an event whose
    payload merely quotes the pattern; past its budget it says it did not read it all."""
    from livesession._artifacts import runread

    monkeypatch.setattr(runread, "_SCAN_CHUNK", 7)
    old = _event(1, "KILL_SWITCH", reason="old")
    mid = _event(2, "TRADING_STATE_CHANGED", to="REDUCING", reason="desk")
    quoting = _event(3, "RISK_REJECTED", note={"event_type": "KILL_SWITCH"})
    bars = b"".join(_event(4 + n, "BAR", close="1") for n in range(20))
    partial = _event(99, "KILL_SWITCH", reason="being written")[:-9]
    events = tmp_path / "events.jsonl"
    events.write_bytes(old + mid + quoting + bars + partial)
    types = ("TRADING_STATE_CHANGED", "KILL_SWITCH")
    found, whole = runread.newest_event(events, types)
    assert (found or {}).get("seq") == 2
    assert whole
    since = len(old + mid)
    assert runread.newest_event(events, types, since=since) == (None, True)
    assert runread.newest_event(events, ("KILL_SWITCH",), since=len(old)) == (None, True)
    assert runread.newest_event(events, types, budget=100) == (None, False)
    assert runread.newest_event(tmp_path / "missing.jsonl", types) == (None, False)


def test_a_live_run_whose_events_since_the_checkpoint_are_too_long_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Too much written since the checkpoint to read cheaply: the checkpoint's state, and
    the line says it is as of that checkpoint."""
    from livesession._artifacts import runread

    monkeypatch.setattr(runread, "_SCAN_CHUNK", 64)
    monkeypatch.setattr(runread, "_SCAN_BUDGET", 64)
    cfg = DryrunConfig(run_id="long", steps=500, checkpoint_every=500, durability="step")
    run_dir = tmp_path / "long"
    with create_run(cfg, tmp_path) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
        found = run_status(run_dir)
        assert (found.trading, found.trading_as_of) == (
            "ACTIVE",
            "as of the last checkpoint (step 0): the events after it were not read",
        )
        assert "trading     ACTIVE; as of the last checkpoint (step 0)" in "\n".join(found.lines())


@pytest.mark.parametrize("clock_mode", ["fixed", "sim"])
def test_a_live_runs_trading_and_position_say_the_runs_own_time(
    tmp_path: Path, clock_mode: str
) -> None:
    """The `run time` of a live run's halt (`trading`) and of its position was the event's
    `ts_utc`, the clock's stamp: on the fixed clock the start time, 2026-01-01T00:00:00Z,
    whenever the halt came. It is the run's own time now (`ts_sim`), as the report's."""
    with _throttled(tmp_path, clock_mode=clock_mode):
        found = run_status(tmp_path / "thr")
        lines = (tmp_path / "thr" / names.EVENTS).read_bytes().splitlines()
        events = [orjson.loads(line) for line in lines]
    [halt] = [e for e in events if e["event_type"] == "TRADING_STATE_CHANGED"]
    moved = [e for e in events if e["event_type"] == "POSITION_CHANGED"][-1]
    assert found.trading_as_of == (
        "since TRADING_STATE_CHANGED (EXECUTION_THROTTLE), run time "
        f"{format_utc_ns(halt['ts_sim'])}"
    )
    assert found.positions_as_of == (
        f"as of POSITION_CHANGED at run time {format_utc_ns(moved['ts_sim'])}"
    )
    assert "run time 2026-01-01T00:00:00Z" not in found.trading_as_of + found.positions_as_of
    if clock_mode == "fixed":  # the clock's stamp: the start time on every record
        assert halt["ts_utc"] == moved["ts_utc"] == "2026-01-01T00:00:00Z"


def test_a_system_clock_runs_halt_before_its_first_step_is_at_the_runs_own_time(
    tmp_path: Path,
) -> None:
    """A run on the wall clock killed before its first step: every record within one second
    of the wall, so the ends alone read one offset, and `status` said the halt at the wall
    time it was written (`run time 2026-12-05T14:38:51Z`). The run says its clock was the
    wall's (`clock_mode`), as `report` reads it: the run's own time, its start."""
    cfg = DryrunConfig(run_id="sysk", steps=5, clock_mode="system")
    with create_run(cfg, tmp_path) as session:
        assert session.preflight()
        assert session.kill("desk")
        found = run_status(tmp_path / "sysk")
        assert (found.verdict, found.trading) == (Verdict.RUNNING, "HALTED")
        assert found.trading_as_of == "since KILL_SWITCH (desk), run time 2026-01-01T00:00:00Z"
        session.activate()
        session.run_to_end(5)


def test_a_live_run_says_the_position_its_newest_fill_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A live run holding 0.010 BTC/USDT said `position  flat` and `open orders  none`: they
    came from the checkpoint (step 0 here: one every 100 steps), with no word that they did.
    The position is read now from the newest POSITION_CHANGED since the checkpoint, and
    says so; open orders say they are the checkpoint's."""
    from livesession._artifacts import runread

    cfg = DryrunConfig(run_id="pos", strategy_id="scripted", steps=500, durability="step")
    strategy = ScriptedStrategy(at({1: [buy("0.010")]}))
    run_dir = tmp_path / "pos"
    with create_run(cfg, tmp_path, feed=ScriptedFeed(["40000.00"]), strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
        assert str(session.book.positions["BTC/USDT"]) == "0.010"
        found = run_status(run_dir)
        assert (found.verdict, found.steps) == (Verdict.RUNNING, 0)
        assert found.positions == {"BTC/USDT": "0.010"}
        assert found.positions_as_of.startswith(
            "as of POSITION_CHANGED at run time 2026-01-01T00:0"
        ), found.positions_as_of
        text = "\n".join(found.lines())
        assert "position    BTC/USDT 0.010; as of POSITION_CHANGED at run time " in text
        assert "open orders none; as of the last checkpoint (step 0)\n" in text
        assert "flat" not in text
        # More written since the checkpoint than status reads: the checkpoint's, said so.
        monkeypatch.setattr(runread, "_SCAN_CHUNK", 64)
        monkeypatch.setattr(runread, "_SCAN_BUDGET", 64)
        session.run_n_steps(3)
        found = run_status(run_dir)
        assert (found.positions, found.positions_as_of) == (
            {},
            "as of the last checkpoint (step 0): the events after it were not read",
        )
        assert (
            "position    flat; as of the last checkpoint (step 0): the events after it were "
            "not read"
        ) in found.lines()
    sealed = run_status(run_dir)  # sealed: its end, as before
    assert (sealed.verdict, sealed.positions_as_of, sealed.open_orders_as_of) == (
        Verdict.COMPLETED,
        "",
        "",
    )
    assert "open orders none" in sealed.lines()


class _BuysThenCrashes(ScriptedStrategy):
    """Buys 0.010 on bar 1; raises KeyboardInterrupt inside bar 10, as Ctrl-C would."""

    def __init__(self, *, crash: bool = True) -> None:
        super().__init__(at({1: [buy("0.010")]}))
        self.crash = crash

    def on_bar(self, bar: object, view: object) -> object:  # type: ignore[override]
        if self.crash and int(bar.volume) == 10:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return super().on_bar(bar, view)  # type: ignore[arg-type]


def _died_holding(tmp_path: Path) -> Path:
    """A run that crashed (an interrupt) holding 0.010 bought after its step-0 checkpoint."""
    cfg = DryrunConfig(run_id="died", strategy_id="scripted", steps=500, durability="step")
    session = create_run(
        cfg, tmp_path, feed=ScriptedFeed(["40000.00"]), strategy=_BuysThenCrashes()
    )
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(500)
    return tmp_path / "died"


def test_a_crashed_run_says_its_position_is_the_checkpoints_and_what_events_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Crashed after a fill before its first checkpoint past activation (step 0), a run
    said `position  flat`: the checkpoint's, which is what resume restores, with no word of
    the 0.010 its events show it held when it died. The line says both now."""
    run_dir = _died_holding(tmp_path)
    code, status = _status(capsys, run_dir)
    assert (code, status["steps"]) == (6, 0)
    assert status["positions"] == {}
    assert status["positions_after_checkpoint"] == {"BTC/USDT": "0.010"}
    assert status["positions_as_of"] == (
        "as of the last checkpoint (step 0), what resume restores; events after it show "
        "BTC/USDT 0.010"
    )
    assert status["open_orders_as_of"] == "as of the last checkpoint (step 0)"
    assert main(["status", str(run_dir)]) == 6
    text = capsys.readouterr().out
    assert (
        "position    flat; as of the last checkpoint (step 0), what resume restores; events "
        "after it show BTC/USDT 0.010\n"
    ) in text
    assert "open orders none; as of the last checkpoint (step 0)\n" in text
    resumed = resume_run(
        run_dir, feed=ScriptedFeed(["40000.00"]), strategy=_BuysThenCrashes(crash=False)
    )
    with resumed:
        resumed.run_to_end(500)
    assert run_status(run_dir).verdict is Verdict.COMPLETED


@pytest.mark.broken_run("config.json is edited so that resume refuses the crashed run")
@pytest.mark.parametrize("damage", ["hash", "corrupt"])
def test_a_crashed_run_that_cannot_resume_says_what_events_after_its_checkpoint_show(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """A crashed run whose config.json no longer loads (its hash mismatches, or it is not
    JSON) was shown as a sealed run: `position  flat`, with no "as of" and no word of the
    0.010 its events after the checkpoint show. Unsealed and held by none, it is said as any
    crashed run is, resumable or not."""
    run_dir = _died_holding(tmp_path)
    config = run_dir / names.CONFIG
    raw = config.read_bytes()
    edited = raw.replace(b'"volatility_bps": 20', b'"volatility_bps": 21')
    config.write_bytes(edited if damage == "hash" else b"{")
    assert config.read_bytes() != raw
    code, status = _status(capsys, run_dir)
    assert (code, status["resumable"]) == (5, False)
    assert status["positions"] == {}
    assert status["positions_after_checkpoint"] == {"BTC/USDT": "0.010"}
    assert status["positions_as_of"] == (
        "as of the last checkpoint (step 0); events after it show "  # resume refuses it
        "BTC/USDT 0.010"
    )
    assert status["open_orders_as_of"] == "as of the last checkpoint (step 0)"
    assert main(["status", str(run_dir)]) == 5
    text = capsys.readouterr().out
    assert "events after it show BTC/USDT 0.010\n" in text
    assert "position    flat\n" not in text


def _killed_while_starting(completed: Path, tmp_path: Path) -> Path:
    """A copy of ``completed`` as a run killed after run.json, before it recorded anything."""
    run = tmp_path / "early"
    shutil.copytree(completed, run)
    for path in run.iterdir():
        if path.name not in (names.CONFIG, names.RUN_META):
            path.unlink()
    return run


def test_a_run_with_no_checkpoint_yet_is_not_called_flat(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run with no checkpoint (killed while it started, here) said `position  flat` and
    `open orders  none`: no checkpoint says either."""
    run = _killed_while_starting(completed, tmp_path)
    assert main(["status", str(run)]) == 6
    text = capsys.readouterr().out
    assert "position    no checkpoint yet\n" in text
    assert "open orders unknown: no checkpoint yet\n" in text
    assert "flat" not in text


def test_a_live_run_before_its_first_checkpoint_is_not_called_flat(
    completed: Path, tmp_path: Path
) -> None:
    """A live run whose events hold no POSITION_CHANGED yet, and that has no checkpoint, was
    said `flat; no POSITION_CHANGED yet`: its newest events may still be in its buffer."""
    lines = (completed / names.EVENTS).read_bytes().splitlines(keepends=True)
    kinds = [orjson.loads(line)["event_type"] for line in lines]
    first = min(i for i, kind in enumerate(kinds) if kind == "POSITION_CHANGED" or "FILL" in kind)
    assert first > 0, "the fixture's run: events before its first fill"
    live = tmp_path / "live"  # events.jsonl alone: what run_book reads of a live run
    live.mkdir()
    (live / names.EVENTS).write_bytes(b"".join(lines[:first]))

    book = run_book(live, {}, None, going_on="live")

    assert (book.positions, book.positions_as_of) == ({}, "no checkpoint yet")
    assert describe_positions(book.positions, book.positions_as_of) == "no checkpoint yet"
    assert book.open_orders_as_of == "unknown: no checkpoint yet"


class _StopsOnce:
    """The demo's id, no trades; raises KeyboardInterrupt once, inside step 50 (Ctrl-C)."""

    strategy_id = "sma_demo"

    def __init__(self, *, interrupt: bool) -> None:
        self.bars = 0
        self.interrupt = interrupt

    def on_bar(self, bar: object, view: object) -> list[object]:
        self.bars += 1
        if self.interrupt and self.bars == 50:
            raise KeyboardInterrupt
        return []

    def get_state(self) -> dict[str, int]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, int]) -> None:
        self.bars = state["bars"]


def test_a_crashed_run_started_with_objects_says_resume_it_from_python(tmp_path: Path) -> None:
    """`livesession resume` cannot rebuild an object: status says what can continue it."""
    out = tmp_path / "runs"
    session = create_run(
        DryrunConfig(run_id="obj", steps=120), out, strategy=_StopsOnce(interrupt=True)
    )
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(120)
    status = run_status(out / "obj")
    assert status.verdict is Verdict.CRASHED
    assert status.objects == {"strategy": f"{__name__}._StopsOnce"}
    assert status.next_step() == (
        f"continue it from Python: resume_run({str(out / 'obj')!r}, strategy=<a "
        f"{__name__}._StopsOnce>) (it was started with objects, which the command line "
        "cannot rebuild)"
    )
    # verify names the same call (it said `resume_run, passing the objects ... again`)
    assert verify_run(out / "obj").summary == (
        f"incomplete run: no C2_DRYRUN_STOP; {status.next_step()}"
    )
    with resume_run(out / "obj", strategy=_StopsOnce(interrupt=False)) as resumed:
        resumed.run_to_end(120)
    assert run_status(out / "obj").verdict is Verdict.COMPLETED


def test_the_resumable_line_of_a_run_started_with_objects_says_from_python(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resumable   yes` over a `next` line saying resume it from Python, and `livesession
    resume` refused it: the resumable line (and `--json`'s `resumable_from`) says only
    Python continues it. Still exit 6: it is resumable."""
    out = tmp_path / "runs"
    session = create_run(
        DryrunConfig(run_id="obj", steps=120), out, strategy=_StopsOnce(interrupt=True)
    )
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(120)
    call = f"resume_run({str(out / 'obj')!r}, strategy=<a {__name__}._StopsOnce>)"
    assert main(["status", str(out / "obj")]) == 6
    assert f"resumable   yes, from Python: {call}\n" in capsys.readouterr().out
    code, status = _status(capsys, out / "obj")
    assert (code, status["resumable"], status["resumable_from"]) == (6, True, "python")
    assert main(["resume", str(out / "obj"), "-q"]) != 0  # the command line cannot rebuild it
    capsys.readouterr()
    with resume_run(out / "obj", strategy=_StopsOnce(interrupt=False)) as resumed:
        resumed.run_to_end(120)


def test_a_crashed_run_whose_data_or_code_changed_is_not_called_resumable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status` said "crashed, resumable" (exit 6) for a run `resume` refuses (exit 2): its
    data file was changed, or its strategy's source was edited. A supervisor that trusts
    exit 6 resumed five times and reported a crash loop. Both are hashed now, the code never
    imported. (A row appended to the data file is no change: resume reads the bytes the run
    read, so status says resumable, as resume does.)"""
    from crash_harness import cli as run_cli

    example = Path(__file__).parents[1] / "examples"
    shutil.copytree(example / "mydesk", tmp_path / "mydesk")
    closes = [100 + (m * 37) % 11 for m in range(301)]
    rows = [
        f"2026-03-02T{m // 60:02d}:{m % 60:02d}:00Z,{closes[m]}.00,"
        f"{max(closes[m], closes[m + 1]) + 1}.00,{min(closes[m], closes[m + 1]) - 1}.00,"
        f"{closes[m + 1]}.00,5"
        for m in range(300)
    ]
    data = tmp_path / "bars.csv"
    data.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n", "utf-8")
    config = tmp_path / "desk.toml"
    config.write_text(
        'feed = "csv:bars.csv"\nsymbol = "DESK"\n'
        + (example / "mydesk.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    killed = run_cli(
        "dryrun", "-c", config, "--out", tmp_path / "runs", "-q", crash_at="checkpoint:2"
    )
    assert killed.returncode == KILLED, killed.stderr
    run_dir = tmp_path / "runs" / "mydesk"
    assert _status(capsys, run_dir)[0] == 6
    source = tmp_path / "mydesk" / "breakout.py"
    kept = data.read_bytes()
    data.write_bytes(kept + b"2026-03-02T05:00:00Z,100.00,101.00,99.00,100.00,5\n")
    assert _status(capsys, run_dir)[0] == 6  # a row appended: not played, no change
    data.write_bytes(kept)
    for path, edit, said in (
        (data, lambda kept: kept[:-2] + b"6\n", "data file"),  # the last volume rewritten
        (
            source,
            lambda kept: kept + b"# tuned after the crash\n",
            "the source of strategy 'mydesk.breakout",
        ),
    ):
        kept = path.read_bytes()
        path.write_bytes(edit(kept))
        code, status = _status(capsys, run_dir)
        assert (code, status["resumable"]) == (5, False), status
        assert said in str(status["resume_problem"])
        assert "changed since run" in str(status["resume_problem"])
        path.write_bytes(kept)
        assert _status(capsys, run_dir)[0] == 6
    assert run_cli("resume", run_dir, "-q").returncode == 0


_BROKEN_FILES = {
    # name: (how the completed run is broken, the problem said)
    "metrics.json deleted": (
        lambda run: (run / names.METRICS).unlink(),
        "metrics.json is missing",
    ),
    "metrics.json not JSON": (
        lambda run: (run / names.METRICS).write_bytes(b"{garbage"),
        "metrics.json is not a JSON object",
    ),
    "audit.jsonl deleted": (
        lambda run: (run / names.AUDIT).unlink(),
        "audit.jsonl is missing",
    ),
    "snapshots' last line not JSON": (
        lambda run: (run / names.SNAPSHOTS).write_bytes(
            (run / names.SNAPSHOTS).read_bytes() + b"{garbage\n"
        ),
        "state_snapshots.jsonl's last line is not a JSON object",
    ),
}


@pytest.mark.broken_run("it breaks a finished run's files to see status doubt its seal")
@pytest.mark.parametrize("case", sorted(_BROKEN_FILES))
def test_a_sealed_run_with_broken_files_is_not_handed_over(
    completed: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """A sealed run whose metrics.json was deleted was "completed (exit 0)", next "hand it
    over", though verify rejects it; with audit.jsonl deleted the problem said it "does not
    end with C2_DRYRUN_STOP" rather than that it is missing."""
    breaks, said = _BROKEN_FILES[case]
    breaks(completed)
    assert not verify_run(completed).ok
    code, status = _status(capsys, completed)
    assert (code, status["verdict"]) == (5, "needs_operator"), status["problem"]
    assert said in str(status["problem"])
    assert "C2_DRYRUN_STOP" not in str(status["problem"])
    assert "hand it over" not in str(status["next"])


def test_completed_says_to_verify_before_handing_over(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status reads only the ends of the files: a bad line in the middle (events line 50
    replaced by `{garbage`) is verify's to find, so completed's next step is verify first."""
    _, status = _status(capsys, completed)
    assert status["next"] == (
        f"verify before handing it over: `livesession verify {completed}`, then "
        f"`livesession evidence {completed}` (status reads only the ends of the files)"
    )


@pytest.mark.broken_run("its config.json is edited to something that does not load")
def test_the_heartbeat_line_of_a_run_whose_config_does_not_load(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With config.json edited, the heartbeat line read "every None steps"."""
    (completed / names.CONFIG).write_text('{"steps": "many"}', encoding="utf-8")
    main(["status", str(completed)])
    [heartbeat] = [s for s in capsys.readouterr().out.splitlines() if s.startswith("heartbeat")]
    assert "None" not in heartbeat
    assert heartbeat.endswith("s ago, checkpoint.json written)")


@pytest.mark.parametrize(
    ("back_s", "words"),
    [(93_900, "1 d 2 h 5 min ago"), (7_230, "2 h 0 min ago"), (59, "s ago")],
)
def test_a_heartbeat_hours_old_is_said_in_days_hours_and_minutes(
    completed: Path, capsys: pytest.CaptureFixture[str], back_s: int, words: str
) -> None:
    """A run crashed overnight, read before its resume the next morning: its heartbeat said
    "(93900.0 s ago, ...)", which an operator had to divide out. A minute or more is now
    said in days, hours and minutes; the JSON keeps ``heartbeat_age_s`` in seconds."""
    checkpoint = completed / names.CHECKPOINT
    then = checkpoint.stat().st_mtime - back_s
    os.utime(checkpoint, (then, then))
    main(["status", str(completed)])
    [heartbeat] = [s for s in capsys.readouterr().out.splitlines() if s.startswith("heartbeat")]
    assert f"{words}, checkpoint.json written" in heartbeat, heartbeat
    main(["status", str(completed), "--json"])
    assert json.loads(capsys.readouterr().out)["heartbeat_age_s"] >= back_s


def test_the_steps_of_a_run_that_keeps_no_checkpoint(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The runbook's Python invocation (four files, COMPLETED after 1000 steps) said "steps
    none yet at the last checkpoint": such a run has no checkpoint, its snapshots say."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in _FOUR:
        shutil.copyfile(completed / name, bare / name)
    assert main(["status", str(bare)]) == 0
    text = capsys.readouterr().out
    assert "steps       60 at the last snapshot (the run keeps no checkpoint)\n" in text
    assert run_status(bare).steps == 60


def test_a_run_on_an_applications_own_sinks_is_not_sent_to_evidence(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the four files an application wrote on its own sinks (the runbook's Python
    invocation, the README's embedding), sealed COMPLETED, got `next  verify before handing
    it over: ..., then livesession evidence DIR`, and that evidence refused the directory
    (exit 2, no run.json). Status now says verify, and why evidence cannot take it."""
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in _FOUR:
        shutil.copyfile(completed / name, bare / name)
    assert main(["evidence", str(bare)]) == 2
    assert "no run.json" in capsys.readouterr().err
    assert main(["status", str(bare)]) == 0
    [said] = [s for s in capsys.readouterr().out.splitlines() if s.startswith("next")]
    assert f"`livesession verify {bare}`" in said
    assert "then `livesession evidence" not in said
    assert "no run.json" in said
    # A run directory is still sent on to its evidence.
    assert f"then `livesession evidence {completed}`" in run_status(completed).next_step()


@pytest.mark.broken_run("its config.json is changed after the run on purpose")
def test_a_run_whose_config_cannot_be_read_is_not_said_to_have_no_run_json(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a sealed run whose ``config.json`` status could not read as the run's (changed
    after it began; or its config file's directory not nameable under ``LC_ALL=C
    PYTHONUTF8=0``) got ``next ... it has no run.json (an application wrote it on its own
    sinks)``, beside its ``run.json``. It says why its config cannot be read instead."""
    config = completed / "config.json"
    config.write_bytes(config.read_bytes().replace(b'"seed": 123', b'"seed": 124'))
    assert main(["status", str(completed)]) == 0
    [said] = [s for s in capsys.readouterr().out.splitlines() if s.startswith("next")]
    assert f"`livesession verify {completed}`" in said
    assert "no run.json" not in said
    assert f"its run config cannot be read here ({config} was changed after the run " in said
    assert "(seed differs from the config its checkpoint.json ran with)" in said
    # A directory named with braces: the reason names it, and the advice is a format string.
    braced = completed.rename(completed.with_name("{verify}"))
    assert f"its run config cannot be read here ({braced}/config.json " in (
        run_status(braced).next_step()
    )


@pytest.mark.broken_run("its config.json and run.json are changed after the run on purpose")
def test_a_sealed_run_whose_config_and_run_json_were_edited_says_so(completed: Path) -> None:
    """Bug: a sealed run whose ``config.json`` was edited and ``run.json``'s ``config_hash``
    written to match said ``next  verify before handing it over: ..., then `livesession
    evidence DIR```, as of an untouched run, where ``verify`` calls it broken. The digest the
    audited ``SESSION_STARTED`` records (and the checkpoint's config) is at the files'
    ends: status holds ``config.json`` to it, as ``verify`` and ``resume`` do."""
    from livesession._rundir.layout import config_hash, read_run_config

    config = completed / "config.json"
    config.write_bytes(config.read_bytes().replace(b'"seed": 123', b'"seed": 124'))
    meta = orjson.loads((completed / "run.json").read_bytes())
    meta["config_hash"] = config_hash(DryrunConfig.from_mapping(_without_sources(config)))
    (completed / "run.json").write_bytes(orjson.dumps(meta))
    read_run_config(completed)  # run.json now holds the edited config: it reads
    said = run_status(completed).next_step()
    assert said.startswith(f"verify before handing it over: `livesession verify {completed}`")
    assert f"its run config cannot be read here ({config} was changed after the run " in said
    assert "seed differs from the config its checkpoint.json ran with; it is not the config " in (
        said
    )
    assert "then `livesession evidence" not in said


def _without_sources(config: Path) -> dict[str, Any]:
    data = orjson.loads(config.read_bytes())
    data.pop("sources", None)
    return data


def test_a_run_killed_while_it_started_says_so(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed after run.json, before it recorded anything: status printed `state ? (?)`
    and `steps none yet of 60 at the last snapshot (the run keeps no checkpoint)`, though
    its config keeps one every 100 steps. verify says plainly what it is; status says the
    same, on its state and steps lines, and that resume starts it over."""
    run = _killed_while_starting(completed, tmp_path)
    assert main(["status", str(run)]) == 6
    text = capsys.readouterr().out
    assert (
        "state       none: a run killed while it started: events.jsonl and audit.jsonl are "
        "missing (it recorded nothing, and sent nothing)\n"
    ) in text
    assert (
        f"steps       none of 60: it recorded nothing; `livesession resume {run}` starts it over\n"
    ) in text
    assert f"next        start it over: livesession resume {run} (it recorded nothing" in text
    assert "?" not in text
    assert "keeps no checkpoint" not in text
    code, status = _status(capsys, run)
    assert (code, status["state"], status["steps"]) == (6, None, None)
    assert str(status["killed_while_starting"]).startswith("a run killed while it started: ")


def test_a_run_killed_while_it_started_that_cannot_resume_is_not_said_to_start_over() -> None:
    """Bug: a run killed while it started whose strategy source changed since said
    `steps  none of 40: it recorded nothing; livesession resume ... starts it over` and,
    three lines down, `resumable  no: the source of strategy ... changed`. Its steps line
    no longer promises what resume refuses; the resumable and next lines say why."""
    changed = "the source of strategy 'desk.slow:make' changed since run s1 started"
    unstarted = RunStatus(
        run_dir="many/half2",
        verdict=Verdict.NEEDS_OPERATOR,
        steps_planned=40,
        resume_problem=changed,
        killed_while_starting="a run killed while it started: events.jsonl and audit.jsonl "
        "are missing (it recorded nothing, and sent nothing)",
    )
    lines = unstarted.lines()
    assert "steps       none of 40: it recorded nothing" in lines
    assert f"resumable   no: {changed}" in lines
    assert not any("starts it over" in line or "start it over" in line for line in lines)
    assert unstarted.next_step() == (
        f"a person must look: the run crashed and cannot be resumed ({changed})"
    )


def test_a_run_killed_while_it_started_with_its_files_empty_says_so_too(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed 3-15 ms after run.json, its recorder's files opened but still empty: status
    said ``state ? (?)`` and ``steps none yet ... next continue it`` and verify listed
    violations (exit 1), where the same run with the files missing gets the documented
    "killed while it started". Empty files are taken as missing ones: every tool says so."""
    run = _killed_while_starting(completed, tmp_path)
    for name in (names.EVENTS, names.AUDIT, names.SNAPSHOTS):
        (run / name).write_bytes(b"")
    said = (
        "a run killed while it started: events.jsonl and audit.jsonl are empty (it recorded "
        "nothing, and sent nothing)"
    )
    assert main(["status", str(run)]) == 6
    text = capsys.readouterr().out
    assert f"state       none: {said}\n" in text
    assert f"next        start it over: livesession resume {run} (it recorded nothing" in text
    assert "?" not in text
    (run / names.AUDIT).unlink()  # one missing, one empty
    assert run_status(run).killed_while_starting == (
        "a run killed while it started: audit.jsonl is missing and events.jsonl is empty (it "
        "recorded nothing, and sent nothing)"
    )
    (run / names.AUDIT).write_bytes(b"")
    for command in ("verify", "report", "prom"):
        assert main([command, str(run)]) == 2, command
        assert capsys.readouterr().err == (
            f"livesession: error: {run} is {said}: start it over with `livesession resume {run}`\n"
        )
    assert main(["resume", str(run), "-q"]) == 0  # started over from nothing
    assert verify_run(run).ok
    assert (run / names.EVENTS).read_bytes() == (completed / names.EVENTS).read_bytes()


@pytest.mark.parametrize("torn_name", [names.AUDIT, names.EVENTS])
def test_a_run_killed_as_it_wrote_its_first_line_is_one_killed_while_it_started(
    completed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], torn_name: str
) -> None:
    """Killed as its first audit record (or event) was written out (the ``torn_audit:1``
    crash point: part of the line, no newline, the other file empty): status said
    ``state ? (?)``, ``steps none yet ... at the last snapshot`` and ``next continue it``,
    and verify listed 5 violations, where the run recorded nothing, as one killed with its
    files empty. It is that run now, in every tool's words, and resume starts it over."""
    run = _killed_while_starting(completed, tmp_path)
    other = names.EVENTS if torn_name == names.AUDIT else names.AUDIT
    first = (completed / torn_name).read_bytes().split(b"\n", 1)[0]
    (run / torn_name).write_bytes(first[: len(first) // 2])
    (run / other).write_bytes(b"")
    said = (
        f"a run killed while it started: {other} is empty and {torn_name} holds only a torn "
        "line (it recorded nothing, and sent nothing)"
    )
    assert main(["status", str(run)]) == 6
    text = capsys.readouterr().out
    assert f"state       none: {said}\n" in text
    assert f"next        start it over: livesession resume {run} (it recorded nothing" in text
    assert "?" not in text
    assert main(["verify", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"livesession: error: {run} is {said}: start it over with `livesession resume {run}`\n"
    )
    assert main(["resume", str(run), "-q"]) == 0  # started over from nothing
    assert verify_run(run).ok
    assert (run / names.EVENTS).read_bytes() == (completed / names.EVENTS).read_bytes()


def test_a_first_line_too_long_to_be_torn_is_not_taken_for_a_start(tmp_path: Path) -> None:
    """Only a short piece with no newline is a first line torn by a kill: a file of more
    than 64 KiB without one is damage, which no tool may start over."""
    from livesession._artifacts.runfind import unrecorded

    torn = tmp_path / "audit.jsonl"
    torn.write_bytes(b"{" * 100)
    assert unrecorded(torn) == "torn"
    torn.write_bytes(b"{" * (1 << 17))
    assert unrecorded(torn) == ""
    torn.write_bytes(b"{}\n{")
    assert unrecorded(torn) == ""
    torn.write_bytes(b"")
    assert unrecorded(torn) == "empty"


@pytest.mark.broken_run("a crash between a fill and its POSITION_CHANGED, made on purpose")
def test_a_crashed_run_s_position_counts_a_fill_whose_position_changed_was_not_written(
    tmp_path: Path,
) -> None:
    """A process killed between a fill and its POSITION_CHANGED (events end with
    ORDER_FILLED): the "events after it show" position missed the fill. It is the last
    POSITION_CHANGED's (or the checkpoint's) plus the fills after it now."""
    from test_interrupts import _interrupt_after

    run_dir = tmp_path / "torn"
    session = create_run(DryrunConfig(run_id="torn", steps=300, durability="none"), tmp_path)
    _interrupt_after(session, 400, KeyboardInterrupt, written_out=True)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(300)
    checkpoint = orjson.loads((run_dir / names.CHECKPOINT).read_bytes())
    at = checkpoint["recorder"]["offsets"]["events"]
    events = run_dir / names.EVENTS
    raw = events.read_bytes()
    lines = raw[at:].splitlines(keepends=True)
    kinds = [orjson.loads(line)["event_type"] for line in lines]
    fill = max(i for i, kind in enumerate(kinds[:-1]) if kind == "ORDER_FILLED")
    assert kinds[fill + 1] == "POSITION_CHANGED", "the fixture's run: a fill after the checkpoint"
    events.write_bytes(raw[:at] + b"".join(lines[: fill + 1]))  # killed before its POSITION_CHANGED
    changed = orjson.loads(lines[fill + 1])["payload"]
    symbol, held = changed["symbol"], changed["position"]

    found = run_status(run_dir)
    assert found.verdict is Verdict.CRASHED
    restored = checkpoint["book"]["positions"].get(symbol, "0")
    assert found.positions_after_checkpoint.get(symbol, restored) == held
    assert found.positions == checkpoint["book"]["positions"]  # what resume restores
    # A live run whose file ends there (its buffer written out between the two) says the same.
    live = run_book(run_dir, checkpoint, None, going_on="live")
    assert live.positions[symbol] == held
    filled_at = orjson.loads(lines[fill])["ts_utc"]
    assert live.positions_as_of == (
        f"as of ORDER_FILLED at run time {filled_at} (its POSITION_CHANGED not written yet)"
    )


def test_a_run_whose_config_keeps_checkpoints_is_not_said_to_keep_none() -> None:
    """Before its first checkpoint (a live run, say), a run whose config keeps one every
    100 steps was said to be "(the run keeps no checkpoint)"."""
    writer = {"pid": 4242, "host": "h", "since": "2026-01-01T00:00:00Z", "command": "dryrun"}
    early = RunStatus(
        run_dir="r", verdict=Verdict.RUNNING, writer=writer, steps=None, checkpoint_every=100
    )
    assert "steps       none yet at the last snapshot (no checkpoint yet: one every 100 steps)" in (
        early.lines()
    )


def test_list_of_a_run_says_it_is_a_run(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`livesession list RUN_DIR` printed "(no runs in RUN_DIR)" and exited 0."""
    assert main(["list", str(completed)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"livesession: error: {completed} is a run, not a directory of runs: "
        f"`livesession status {completed}` says where it stands (`livesession list "
        f"{completed.parent}` lists it with the others)\n"
    )


def test_the_hint_counts_the_runs_list_shows(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status OUT said "a directory of 10 run(s)" where list OUT showed 12: a run killed
    before its first event (run.json alone) was listed but not counted."""
    out = completed.parent
    early = out / "early"
    early.mkdir()
    shutil.copyfile(completed / names.RUN_META, early / names.RUN_META)
    assert main(["list", str(out), "--json"]) == 0
    listed = len(json.loads(capsys.readouterr().out)["runs"])
    assert listed == 2
    assert main(["status", str(out)]) == 2
    assert f"it is a directory of {listed} run(s) (done, early)" in capsys.readouterr().err


# -- a run killed while it checked its data file (before it wrote anything) ---------------------


def _killed_while_checking(tmp_path: Path) -> Path:
    """``dryrun`` killed (SIGKILL) while it checked its data file: status said `running`
    (exit 7) while it did. Bug: it said `not_a_run` (exit 2), then and after the kill."""
    with dryrun_checking(tmp_path) as (child, run_dir):
        assert [p.name for p in run_dir.iterdir()] == [names.WRITER_LOCK]
        found = run_status(run_dir)
        assert found.verdict is Verdict.RUNNING
        assert found.writer is not None
        assert found.writer["pid"] == child.pid
        lines = found.lines()
        assert (
            "state       none: starting: no run.json yet (it checks its data file and "
            "builds its plug-ins before it writes the run)"
        ) in lines
        assert "steps       none yet" in lines
        # Bug: `position    flat; no POSITION_CHANGED yet`, of a run that holds nothing yet.
        assert "position    no checkpoint yet" in lines
        assert "open orders unknown: no checkpoint yet" in lines
        assert found.positions_as_of == "no checkpoint yet"
        assert main(["status", str(run_dir)]) == Verdict.RUNNING.value
    assert child.returncode == KILLED
    return run_dir


def test_a_run_killed_while_it_checked_its_data_file_is_said_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _killed_while_checking(tmp_path)
    capsys.readouterr()
    found = run_status(run_dir)
    assert found.verdict is Verdict.NOT_A_RUN
    again = f"livesession dryrun --out {run_dir.parent} --run-id r1 ..."
    assert found.next_step() == (
        f"start it again with its own config: {again} takes the directory over"
    )
    assert found.problem == (
        f"{run_dir} is a run killed while it started, before it wrote anything: only "
        "writer.lock is there, held by no process (killed while it checked its data file or "
        f"built its plug-ins; it recorded nothing, and sent nothing); {found.next_step()}"
    )
    assert found.killed_while_starting
    assert main(["status", str(run_dir)]) == 2
    assert capsys.readouterr().err == f"livesession: error: {found.problem}\n"
    code, status = _status(capsys, run_dir)
    assert (code, status["next"]) == (2, found.next_step())
    before = _files(run_dir)
    assert main(["resume", str(run_dir)]) == 2  # no config to start it from: dryrun does
    assert "; it holds only writer.lock: a dryrun starting (checking its data file), or " in (
        capsys.readouterr().err
    )
    assert _files(run_dir) == before


def test_dryrun_takes_over_the_directory_of_a_run_killed_while_it_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `already exists but holds no run (no run.json)`, for good."""
    run_dir = _killed_while_checking(tmp_path)
    code = main(["dryrun", "--out", str(run_dir.parent), "--run-id", "r1", "--steps", "20", "-q"])
    assert code == 0, capsys.readouterr().err
    assert run_status(run_dir).verdict is Verdict.COMPLETED
    assert verify_run(run_dir).ok


def test_a_directory_with_anything_else_or_a_held_lock_is_never_taken_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _killed_while_checking(tmp_path)
    (run_dir / "notes.txt").write_text("mine\n", encoding="utf-8")
    before = _files(run_dir)
    args = ["dryrun", "--out", str(run_dir.parent), "--run-id", "r1", "--steps", "20", "-q"]
    assert main(args) == 2
    assert "already exists but holds no run (no run.json)" in capsys.readouterr().err
    assert _files(run_dir) == before
    assert run_status(run_dir).killed_while_starting == ""  # not a run killed so: notes.txt
    (run_dir / "notes.txt").unlink()
    with held_by_a_child(run_dir, "livesession dryrun"):
        before = _files(run_dir)
        assert main(args) == 3
        assert "is being written by pid" in capsys.readouterr().err
        assert _files(run_dir) == before
        assert run_status(run_dir).verdict is Verdict.RUNNING


def test_the_restart_recipe_starts_a_run_killed_while_it_checked_again(tmp_path: Path) -> None:
    """Bug: status said exit 2 with the directory there, so the recipe left it for good."""
    run_dir = _killed_while_checking(tmp_path)
    config = tmp_path / "session.toml"
    config.write_text("steps = 40\n", encoding="utf-8")
    done = _supervise(tmp_path, run_dir.parent, "r1", config)
    assert done.returncode == 0, done.stderr
    assert run_status(run_dir).verdict is Verdict.COMPLETED


# -- a run killed as it wrote config.json and run.json ----------------------------------------


@pytest.fixture(params=["checkpoint_tmp:1", "checkpoint_tmp:2"], ids=["config", "run"])
def killed_writing(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path, list[str]]:
    """``dryrun`` killed (SIGKILL) as it wrote its first files, each a temporary file made
    durable, then renamed: ``config.json``'s (1) or ``run.json``'s (2), that file's
    temporary one left. Found killing dryruns at random moments: status said `not a run`
    (exit 2), dryrun `already exists but holds no run`, and the restart recipe gave up
    (exit 2) on a directory nothing had been recorded or sent from."""
    config = tmp_path / "session.toml"
    config.write_text("steps = 40\n", encoding="utf-8")
    out = tmp_path / "runs"
    args = ("dryrun", "--config", config, "--out", out, "--run-id", "r1", "-q")
    assert crash_cli(*args, crash_at=request.param).returncode == KILLED
    run_dir = out / "r1"
    left = sorted(p.name for p in run_dir.iterdir())
    first = request.param.endswith("1")
    assert len(left) == (2 if first else 3), left
    assert (names.CONFIG in left) is not first
    assert names.RUN_META not in left
    return run_dir, config, left


def test_a_run_killed_as_it_wrote_its_first_files_is_said_so(
    killed_writing: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, _, left = killed_writing
    found = run_status(run_dir)
    assert found.verdict is Verdict.NOT_A_RUN
    written = ", ".join(name for name in left if name != names.WRITER_LOCK)
    assert found.killed_while_starting == (
        "a run killed while it started, before it wrote run.json: only writer.lock, held by "
        f"no process, and what it was writing ({written}) are there (it recorded nothing, and "
        "sent nothing)"
    )
    assert found.next_step().endswith(" takes the directory over")
    assert main(["status", str(run_dir)]) == 2
    assert capsys.readouterr().err.endswith(" takes the directory over\n")
    assert main(["list", str(run_dir.parent), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["runs"]
    assert listed["verdict"] == "not_a_run"


def test_dryrun_takes_over_the_directory_of_a_run_killed_as_it_wrote_its_first_files(
    killed_writing: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir, config, _ = killed_writing
    args = ["dryrun", "--config", str(config), "--out", str(run_dir.parent), "--run-id", "r1"]
    assert main([*args, "-q"]) == 0, capsys.readouterr().err
    assert run_status(run_dir).verdict is Verdict.COMPLETED
    assert verify_run(run_dir).ok
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_the_restart_recipe_starts_a_run_killed_as_it_wrote_its_first_files_again(
    tmp_path: Path, killed_writing: tuple[Path, Path, list[str]]
) -> None:
    run_dir, config, _ = killed_writing
    done = _supervise(tmp_path, run_dir.parent, "r1", config)
    assert done.returncode == 0, done.stderr
    assert run_status(run_dir).verdict is Verdict.COMPLETED


@pytest.mark.broken_run("a run file is replaced by a symlink on purpose")
def test_a_run_file_that_is_no_regular_file_exits_5_in_status_and_0_in_list(
    completed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RUNBOOK said `status` and `list` both exit 5 for it: `list` exits 0 whatever the
    verdicts (``cmd_list``), and the RUNBOOK now says so."""
    events = completed / "events.jsonl"
    moved = completed.parent / "events.elsewhere"
    events.rename(moved)
    events.symlink_to(moved)
    code, document = _status(capsys, completed)
    assert (code, document["verdict"], document["unread"]) == (5, "needs_operator", True)
    assert main(["list", str(completed.parent), "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert (run["verdict"], run["unread"]) == ("needs_operator", True)
    runbook = operator_flat()
    assert (
        "`status` and `list` say `needs_operator` with that line as the problem (`status` "
        "exits 5; `list` exits 0, as it always does for a directory it can read)"
    ) in runbook
    events.unlink()
    moved.rename(events)


class _FeedFailsAt(ScriptedFeed):
    """A ``ScriptedFeed`` that raises on its bar ``at``: a fault after the steps before it."""

    def __init__(self, closes: list[str], at: int) -> None:
        super().__init__(closes)
        self._at = at

    def next_bar(self, ts_ns: int) -> Any:
        if self.get_state()["n"] + 1 == self._at:
            raise ConnectionError("the venue's stream closed")
        return super().next_bar(ts_ns)


def test_a_kill_after_the_last_checkpoint_is_named_though_the_seals_checkpoint_is_unwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the daily-loss cap killed a run after its last checkpoint, a feed error then
    sealed it FAILED in ERROR_REQUIRES_OPERATOR with no checkpoint between, and the process
    ended before its sealing checkpoint: status said `trading  HALTED at the end` as a throttle's halt, naming no
    kill, though the events and audit hold the KILL_SWITCH (the checkpoint status reads it
    from, as `resume` will write it, took the trading state and not the kill's). It names
    the kill switch now, and the checkpoint `resume` writes keeps `kill_halted`."""
    from livesession._session.checkpoint import Checkpointer

    cfg = DryrunConfig(
        run_id="cap",
        strategy_id="scripted",
        steps=20,
        checkpoint_every=500,
        risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
    )
    feed = _FeedFailsAt(["40000.00", "40000.00", "39000.00"], at=6)
    strategy = ScriptedStrategy(at({1: [buy("1.000")]}))
    run_dir = tmp_path / "cap"
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        assert session.trading_state is TradingState.HALTED  # the daily-loss cap's kill
        session.run_n_steps(5)  # the feed fails on bar 6
        assert session.state.value == "ERROR_REQUIRES_OPERATOR"  # sealed so: no checkpoint
        monkeypatch.setattr(Checkpointer, "save_quiet", lambda _self: None)  # ended before it
    assert b'"C2_KILL_SWITCH"' in (run_dir / names.AUDIT).read_bytes()
    assert "kill_halted" not in orjson.loads((run_dir / names.CHECKPOINT).read_bytes())
    found = run_status(run_dir)
    assert found.unwritten_checkpoint.startswith("its sealing checkpoint was not written")
    assert (found.verdict, found.trading, found.kill_halted) == (
        Verdict.NEEDS_OPERATOR,
        "HALTED",
        True,
    )
    assert (
        "trading     HALTED at the end by the kill switch (DAILY_LOSS): new orders were refused "
        "from the halt on"
    ) in found.lines()
    monkeypatch.undo()
    assert main(["resume", str(run_dir), "-q"]) == cli.EXIT_FAILED  # writes it: sealed FAILED
    capsys.readouterr()
    assert orjson.loads((run_dir / names.CHECKPOINT).read_bytes())["kill_halted"] is True
    assert run_status(run_dir).kill_halted


def test_status_of_a_run_the_strategy_failed_says_where_its_traceback_is(tmp_path, capsys):
    """Bug: ``status`` of a run sealed FAILED by its strategy's error (``STRATEGY_ERROR``,
    wound down, nothing in doubt) advised ``read audit.jsonl for C2_OPERATOR_REQUIRED and
    its reason; run verify``: the reason it sent the reader for was on the line above, and
    nothing said that the traceback was in the session log, nor that the run was done
    with. It says so now (the CLI's run writes session.log.jsonl, an application's session
    logs where the application's logging goes), and to fix the strategy and start anew."""
    config = DryrunConfig(run_id="raised", strategy_id="raiser", steps=10)
    with create_run(config, tmp_path, strategy=RaisesOnBar()) as session:
        result = session.run_to_end(10, operator="cli")
    assert (result.status.value, result.reason) == ("FAILED", "STRATEGY_ERROR")
    code, said = _status(capsys, tmp_path / "raised")
    assert (code, said["verdict"]) == (4, "failed")
    assert said["next"] == (
        "the strategy raised, or gave what the session cannot act on: audit.jsonl's "
        "C2_STRATEGY_ERROR says what, the session log its traceback (input_failed; the CLI's: "
        "session.log.jsonl); fix it and start a new run (this one stays as evidence; "
        f"`livesession verify {tmp_path / 'raised'}` checks it)"
    )
