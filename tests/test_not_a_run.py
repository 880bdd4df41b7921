"""Every run verifies: what is not a run is refused, and a broken run's report is short.

A run is a directory holding at least ``events.jsonl`` and ``audit.jsonl``. ``report``,
``prom``, ``verify``, ``evidence`` and ``resume`` refuse anything else with exit 2, one
line on stderr, and nothing written; but a run killed while it started (``run.json``, no
recorder files yet) is started over by ``resume``, and the others' refusal says so. ``verify`` on a broken run opens with a one-line
summary (``incomplete run: ...`` for a run without its closing ``C2_DRYRUN_STOP``), lists at
most 20 violations and counts the rest; the Python result keeps them all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from livesession import RunDirectoryError
from livesession.cli import main
from livesession.control import describe_run, send_control
from livesession.evidence import write_evidence
from livesession.verify import VerifyResult, verify_run

from crash_harness import KILLED, cli

# This module breaks runs on purpose (it builds directories that are not runs, or empty ones); the verify-every-run check skips them.
pytestmark = pytest.mark.broken_run("it builds directories that are not runs, or empty ones")

COMMANDS = ("report", "prom", "verify", "evidence", "resume")
CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


def _missing(root: Path) -> Path:
    return root / "nope"


def _file(root: Path) -> Path:
    path = root / "events.jsonl"
    path.write_text("{}\n", encoding="utf-8")
    return path


def _empty(root: Path) -> Path:
    path = root / "empty"
    path.mkdir()
    return path


def _unrelated(root: Path) -> Path:
    path = root / "photos"
    path.mkdir()
    (path / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    (path / "notes.txt").write_text("not a run\n", encoding="utf-8")
    return path


def _events_only(root: Path) -> Path:
    path = root / "half"
    path.mkdir()
    (path / "events.jsonl").write_bytes(b"")
    (path / "metrics.json").write_bytes(b"{}\n")
    return path


def _audit_is_a_directory(root: Path) -> Path:
    path = root / "odd"
    path.mkdir()
    (path / "events.jsonl").write_bytes(b"")
    (path / "audit.jsonl").mkdir()
    return path


def _case_folded(root: Path) -> Path:
    """A run copied through a file system or archiver that folds case: every file there."""
    path = root / "folded"
    path.mkdir()
    for name in ("EVENTS.JSONL", "Audit.jsonl", "RUN.JSON", "METRICS.JSON"):
        (path / name).write_bytes(b"{}\n")
    return path


def _directory_of_runs(root: Path) -> Path:
    """OUT typed for OUT/<run_id>: four runs (markers only) beside a hidden lease folder."""
    path = root / "out"
    for name in ("r4", "r1", "r3", "r2", ".leases"):
        (path / name).mkdir(parents=True)
        (path / name / "events.jsonl").write_bytes(b"")
        (path / name / "audit.jsonl").write_bytes(b"")
    return path


def _dangling(root: Path) -> Path:
    """A symlink to a run that is gone (a mount not there, a run moved or deleted)."""
    path = root / "latest"
    path.symlink_to("gone")
    return path


NON_RUNS = {
    "missing": (_missing, "does not exist"),
    # Before, "run directory latest does not exist": of a name ls lists.
    "dangling": (_dangling, "latest is a symlink to gone, which does not exist"),
    "file": (_file, "is not a directory"),
    "empty": (_empty, "is not a run: the directory is empty"),
    "unrelated": (_unrelated, "is not a run: events.jsonl and audit.jsonl are missing"),
    "events-only": (_events_only, "is not a run: audit.jsonl is missing"),
    "audit-dir": (_audit_is_a_directory, "is not a run: audit.jsonl is missing"),
    # Before, "missing" alone: a reviewer looked for files in plain sight.
    "case-folded": (
        _case_folded,
        (
            "is not a run: events.jsonl and audit.jsonl are missing; Audit.jsonl and "
            "EVENTS.JSONL are there, in another case (a copy through a file system or tool "
            "that folds case?): give each file of the run its own name back (audit.jsonl, "
            "events.jsonl, ...)"
        ),
    ),
    "runs": (
        _directory_of_runs,
        (
            "is not a run: events.jsonl and audit.jsonl are missing; it is a directory of"
            " 4 run(s) (r1, r2, r3, ...): give one of them, e.g. "
        ),
    ),
}


def _snapshot(root: Path) -> dict[str, str]:
    """Every entry under ``root``: kind, and the SHA-256 of each file's content."""
    entries: dict[str, str] = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        entries[str(base.relative_to(root))] = "dir"
        for name in filenames:
            path = base / name
            if path.is_symlink():  # a dangling one is listed among the files
                entries[str(path.relative_to(root))] = f"-> {path.readlink()}"
                continue
            entries[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return entries


@pytest.fixture(name="finished", scope="module")
def _finished(tmp_path_factory):
    """A completed run (in-process), to copy from."""
    out = tmp_path_factory.mktemp("finished")
    assert main(["dryrun", "--out", str(out), "--run-id", "ok", "--steps", "60", "-q"]) == 0
    return out / "ok"


class TestNotARun:
    @pytest.mark.parametrize("kind", sorted(NON_RUNS))
    @pytest.mark.parametrize("command", COMMANDS)
    def test_exit_2_one_line_nothing_written(self, tmp_path, monkeypatch, capsys, command, kind):
        """Each command on each kind of non-run: exit 2, one stderr line, the tree unchanged."""
        monkeypatch.chdir(tmp_path)  # so that a stray relative write would be seen too
        make, fragment = NON_RUNS[kind]
        path = make(tmp_path)
        before = _snapshot(tmp_path)

        code = main([command, str(path)])

        captured = capsys.readouterr()
        assert code == 2
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 1, captured.err
        assert captured.err.endswith("\n")
        assert lines[0].startswith("livesession: error: ")
        assert fragment in lines[0]
        assert str(path) in lines[0]
        assert _snapshot(tmp_path) == before

    @pytest.mark.parametrize("command", ["report", "prom", "evidence"])
    def test_explicit_output_is_not_written_either(self, tmp_path, capsys, command):
        """An output path elsewhere is not created for a non-run."""
        run = _unrelated(tmp_path)
        target = tmp_path / "elsewhere"
        option = "--out" if command == "evidence" else "--output"
        output = target if command == "evidence" else target / "file"
        before = _snapshot(tmp_path)

        assert main([command, str(run), option, str(output)]) == 2

        assert len(capsys.readouterr().err.splitlines()) == 1
        assert _snapshot(tmp_path) == before

    def test_status_names_the_runs_of_a_directory_of_runs(self, tmp_path, capsys):
        """``status OUT`` says which runs OUT holds and how to list them, as the others do."""
        path = _directory_of_runs(tmp_path)

        assert main(["status", str(path)]) == 2

        err = capsys.readouterr().err
        assert "it is a directory of 4 run(s) (r1, r2, r3, ...): give one of them" in err
        assert f"e.g. {path / 'r1'} (`livesession list {path}` shows them all)" in err
        assert len(err.splitlines()) == 1

    def test_status_names_files_renamed_by_case(self, tmp_path, capsys):
        path = _case_folded(tmp_path)

        assert main(["status", str(path)]) == 2

        err = capsys.readouterr().err
        assert (
            "no run.json, and events.jsonl and audit.jsonl missing; Audit.jsonl, EVENTS.JSONL "
            "and RUN.JSON are there, in another case"
        ) in err
        assert "its own name back (audit.jsonl, events.jsonl, run.json, ...)" in err
        assert len(err.splitlines()) == 1

    @pytest.mark.parametrize(
        ("argv", "said"),
        [
            (["status", "{path}"], "{path} is a symlink to {to}, which does not exist"),
            (["stop", "{path}"], "run directory {path} is a symlink to {to}, which does not exist"),
            (
                ["list", "{path}"],
                "{path} is a symlink to {to}, which does not exist, so it is not a directory of runs",
            ),
        ],
    )
    @pytest.mark.parametrize("absolute", [False, True])
    def test_a_dangling_symlink_is_said_to_be_one(self, tmp_path, capsys, argv, said, absolute):
        """Bug: a run path (or OUT) that is a symlink to nothing was said not to exist, of a
        name ``ls`` lists: the user looked for a typo in it. It names the link's target."""
        path = tmp_path / "latest"
        to = str(tmp_path / "gone") if absolute else "gone"
        path.symlink_to(to)
        assert main([arg.format(path=path) for arg in argv]) == 2
        assert capsys.readouterr().err == f"livesession: error: {said.format(path=path, to=to)}\n"

    def test_a_chain_and_a_loop_of_symlinks(self, tmp_path, capsys):
        """A symlink to a dangling one names where the chain ends; a loop is said as one."""
        (tmp_path / "middle").symlink_to(tmp_path / "gone")
        (tmp_path / "first").symlink_to("middle")
        (tmp_path / "a").symlink_to("b")
        (tmp_path / "b").symlink_to("a")
        assert main(["verify", str(tmp_path / "first"), "--json"]) == 2
        assert json.loads(capsys.readouterr().out)["error"] == (
            f"run directory {tmp_path / 'first'} is a symlink to middle, leading to "
            f"{tmp_path / 'gone'}, which does not exist"
        )
        assert main(["verify", str(tmp_path / "a")]) == 2
        assert capsys.readouterr().err.startswith(
            f"livesession: error: run directory {tmp_path / 'a'} is a symlink to b, a symlink "
            "loop ("
        )
        result = verify_run(tmp_path / "first")
        assert not result.ok
        assert "is a symlink to middle, leading to" in result.render(str(tmp_path / "first"))[0]

    @pytest.mark.parametrize("command", [*COMMANDS, "status", "stop"])
    def test_a_run_under_a_dangling_symlink_names_the_link(self, tmp_path, capsys, command):
        """Bug: ``verify latest/r1``, ``latest`` a symlink to a run folder that is gone (a
        mount not there), said only ``run directory latest/r1 does not exist``, sending the
        user to look for a typo in ``r1``; each tool that takes a run path now names the
        link and its target, as of a run path that is such a link itself."""
        (tmp_path / "latest").symlink_to(tmp_path / "gone")
        path = tmp_path / "latest" / "r1"
        before = _snapshot(tmp_path)
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert err.endswith(
            f"{path} does not exist ({tmp_path / 'latest'} is a symlink to "
            f"{tmp_path / 'gone'}, which does not exist)\n"
        )
        assert len(err.splitlines()) == 1
        assert _snapshot(tmp_path) == before

    def test_a_run_under_a_chain_of_symlinks_and_a_loop(self, tmp_path, capsys):
        """Deeper under the link, through a chain of links, or under a loop: the first link
        on the path that leads nowhere is named, as a run path that is one names itself."""
        (tmp_path / "real").mkdir()
        (tmp_path / "real" / "link").symlink_to("../first")
        (tmp_path / "first").symlink_to("gone")
        (tmp_path / "a").symlink_to("a")
        path = tmp_path / "real" / "link" / "runs" / "r1"
        assert main(["verify", str(path), "--json"]) == 2
        assert json.loads(capsys.readouterr().out)["error"] == (
            f"run directory {path} does not exist ({tmp_path / 'real' / 'link'} is a symlink "
            f"to ../first, leading to {tmp_path / 'gone'}, which does not exist)"
        )
        assert main(["list", str(tmp_path / "a" / "out")]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: {tmp_path / 'a' / 'out'} does not exist ({tmp_path / 'a'} is "
            "a symlink to a, a symlink loop (Too many levels of symbolic links)), so it is not "
            "a directory of runs\n"
        )
        assert "does not exist (" in verify_run(path).summary
        assert main(["verify", str(tmp_path / "real" / "r1")]) == 2  # no link on the way
        assert capsys.readouterr().err.endswith(f"{tmp_path / 'real' / 'r1'} does not exist\n")

    def test_an_unrelated_directory_gets_no_runs_hint(self, tmp_path, capsys):
        """Only a directory that holds runs gets the hint."""
        assert main(["verify", str(_unrelated(tmp_path))]) == 2
        assert "directory of" not in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("argv", "fragment"),
        [
            (["report", "{run}", "--output", "{out}"], "--output {out} is a directory: give a"),
            (["prom", "{run}", "--output", "{out}"], "--output {out} is a directory: give a"),
            (["evidence", "{run}", "--out", "{file}"], "--out {file} is not a directory"),
        ],
    )
    def test_an_output_of_the_wrong_kind_is_one_line(
        self, finished, tmp_path, capsys, argv, fragment
    ):
        """A directory given for a file, or a file for a directory: one line, exit 2, and
        nothing written (it used to say only "Is a directory" or "File exists")."""
        run = tmp_path / "run"
        shutil.copytree(finished, run)
        (tmp_path / "out").mkdir()
        (tmp_path / "file").write_text("mine\n")
        names = {"run": str(run), "out": str(tmp_path / "out"), "file": str(tmp_path / "file")}
        before = _snapshot(tmp_path)

        code = main([arg.format(**names) for arg in argv])

        err = capsys.readouterr().err
        assert code == 2
        assert fragment.format(**names) in err
        assert len(err.splitlines()) == 1
        assert _snapshot(tmp_path) == before

    def test_the_four_artifacts_alone_are_a_run(self, finished, tmp_path, capsys):
        """The runbook's own invocation writes only the four artifacts: verify accepts them."""
        run = tmp_path / "bare"
        run.mkdir()
        for name in CONTRACT:
            shutil.copyfile(finished / name, run / name)

        assert main(["verify", str(run)]) == 0
        assert capsys.readouterr().out.startswith(f"OK {run}: ")
        assert main(["report", str(run)]) == 0
        assert (run / "report.html").is_file()

    def test_empty_markers_are_a_run_that_fails_verification(self, tmp_path, capsys):
        """Both markers present (even empty) make a run: verify checks it (exit 1, not 2)."""
        run = tmp_path / "r"
        run.mkdir()
        (run / "events.jsonl").write_bytes(b"")
        (run / "audit.jsonl").write_bytes(b"")

        assert main(["verify", str(run)]) == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0] == "incomplete run: no C2_DRYRUN_STOP, and no run.json to resume it from"


@pytest.fixture(scope="module")
def crashed_with_rejects(tmp_path_factory):
    """A run killed at its 25th order, whose audit log holds a dozen refusals."""
    root = tmp_path_factory.mktemp("crashed")
    config = root / "c.toml"
    config.write_text('[risk]\nmax_order_notional = "419"\n', encoding="utf-8")
    crashed = cli(
        "dryrun", "--config", config, "--seed", "7", "--out", root, "--run-id", "c",
        "--steps", "1000", "-q", crash_at="after_send:25",
    )  # fmt: skip
    assert crashed.returncode == KILLED, crashed.stderr
    assert len((root / "c" / "audit.jsonl").read_bytes().splitlines()) > 5
    return root / "c"


class TestVerifyOutput:
    def test_clean_run_prints_exactly_the_ok_line(self, finished, capsys):
        """A clean run's output is the one OK line, byte for byte as before."""
        counts = verify_run(finished).counts

        assert main(["verify", str(finished)]) == 0

        captured = capsys.readouterr()
        listed = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        assert captured.out == f"OK {finished}: {listed}\n"
        assert captured.err == ""
        assert listed.startswith("audit.jsonl=")

    def test_crashed_run_is_incomplete_and_resumes_to_ok(self, tmp_path):
        """A killed run: the summary says so first and how to continue; after resume it is OK."""
        out = tmp_path / "runs"
        crashed = cli(
            "dryrun", "--out", out, "--run-id", "c", "--steps", "200", "-q",
            crash_at="after_send:5",
        )  # fmt: skip
        assert crashed.returncode == KILLED, crashed.stderr
        run = out / "c"

        verified = cli("verify", run)

        assert verified.returncode == 1, verified.stdout
        lines = verified.stdout.splitlines()
        assert lines[0] == (
            f"incomplete run: no C2_DRYRUN_STOP; continue it with `livesession resume {run}`"
        )
        assert "audit.jsonl:1: the last record is C2_DRYRUN_START, not a stop" in lines[1:]
        assert 1 < len(lines) <= 22
        assert cli("resume", run, "-q").returncode == 0
        assert cli("verify", run).stdout.startswith(f"OK {run}: ")

    def test_a_run_killed_while_starting_is_started_over(self, finished, tmp_path, capsys):
        """Killed after run.json, before its recorder opened (during a ccxt import): every
        command names the way out, status and resume agree, and resume starts it over."""
        run = tmp_path / "runs" / "ok"
        shutil.copytree(finished, run)
        for path in run.iterdir():
            if path.name not in ("config.json", "run.json", "writer.lock"):
                path.unlink()
        way_out = (
            f"{run} is a run killed while it started: events.jsonl and audit.jsonl are missing "
            f"(it recorded nothing, and sent nothing): start it over with `livesession resume "
            f"{run}`"
        )
        for command in ("verify", "report", "evidence"):
            assert main([command, str(run)]) == 2, command
            assert capsys.readouterr().err == f"livesession: error: {way_out}\n"
        assert main(["status", str(run)]) == 6
        assert f"livesession resume {run}" in capsys.readouterr().out

        assert main(["resume", str(run), "-q"]) == 0
        assert main(["verify", str(run)]) == 0
        assert capsys.readouterr().out.startswith(f"OK {run}: ")
        # Started over from nothing: the same run as the one never killed.
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run / name).read_bytes() == (finished / name).read_bytes(), name
        codes = [
            json.loads(line)["code"] for line in (run / "audit.jsonl").read_text().splitlines()
        ]
        assert codes == ["C2_RESUME", "C2_DRYRUN_START", "C2_DRYRUN_STOP"]

    def test_crashed_run_without_run_json_is_not_offered_a_resume(self, tmp_path):
        """Without run.json ``resume`` cannot continue a run; the summary does not suggest it."""
        out = tmp_path / "runs"
        crashed = cli(
            "dryrun", "--out", out, "--run-id", "c", "--steps", "100", "-q",
            crash_at="torn_audit:2",
        )  # fmt: skip
        assert crashed.returncode == KILLED, crashed.stderr
        (out / "c" / "run.json").unlink()

        result = verify_run(out / "c")

        assert result.summary == (
            "incomplete run: no C2_DRYRUN_STOP, and no run.json to resume it from"
        )

    @pytest.mark.parametrize("kept", [0, 1])
    def test_a_sealed_run_whose_audit_was_cut_is_not_offered_a_resume(
        self, finished, tmp_path, capsys, kept
    ):
        """SESSION_STOPPED in the events and a sealing checkpoint, but no C2_DRYRUN_STOP.

        ``head -n 1 audit.jsonl > audit.jsonl`` (which empties it) or keeping its first
        line: the seal's audit record is gone. ``resume`` refuses a sealed run, so verify
        must not send the operator there.
        """
        run = tmp_path / "cut"
        shutil.copytree(finished, run)
        audit = run / "audit.jsonl"
        audit.write_bytes(b"".join(audit.read_bytes().splitlines(True)[:kept]))

        assert main(["verify", str(run)]) == 1
        out = capsys.readouterr().out.splitlines()
        assert out[0] == (
            "the seal's audit record is missing: events.jsonl holds SESSION_STOPPED and "
            "checkpoint.json is sealed, but audit.jsonl has no C2_DRYRUN_STOP (the audit log "
            "was cut: tampering or a lost tail); resume cannot restore it: keep the run as "
            "it is and report it"
        )
        assert not any("livesession resume" in line for line in out)
        assert main(["resume", str(run), "-q"]) == 2  # what the old advice led to
        assert "nothing to resume" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("change", "damage"),
        [
            (
                lambda line: line.replace(b'"limit":"419"', b'"limit":"919"'),
                "the audit chain breaks at audit.jsonl:5",
            ),
            (lambda line: line[:-1] + b"]", "audit.jsonl:4 is not a valid record"),
        ],
    )
    def test_a_crashed_run_corrupt_in_the_middle_is_not_offered_a_resume(
        self, crashed_with_rejects, tmp_path, change, damage
    ):
        """One byte changed in line 4 of a crashed run's audit log: "a bad line
        in the middle is corruption: stop and report it" (the contract). verify advised
        ``livesession resume``, which then refused it ("audit chain broken")."""
        run = tmp_path / "c"
        shutil.copytree(crashed_with_rejects, run)
        audit = run / "audit.jsonl"
        lines = audit.read_bytes().splitlines(keepends=True)
        changed = change(lines[3][:-1]) + b"\n"
        assert changed != lines[3]
        audit.write_bytes(b"".join([*lines[:3], changed, *lines[4:]]))

        verified = cli("verify", run)

        assert verified.returncode == 1
        assert verified.stdout.splitlines()[0] == (
            "corrupt run: no C2_DRYRUN_STOP, but more is wrong than a crash leaves (a torn last "
            f"line): {damage}; resume cannot repair that: keep the run as it is and report it"
        )
        assert "livesession resume" not in verified.stdout
        resumed = cli("resume", run, "-q")  # what the old advice led to
        assert resumed.returncode == 2
        assert "audit chain broken" in resumed.stderr or "corrupt audit line" in resumed.stderr

    def test_a_crashed_run_with_a_torn_audit_tail_is_still_resumed(
        self, crashed_with_rejects, tmp_path
    ):
        """Half a record at the end is what a crash leaves: resume moves it aside."""
        run = tmp_path / "c"
        shutil.copytree(crashed_with_rejects, run)
        audit = run / "audit.jsonl"
        audit.write_bytes(audit.read_bytes() + b'{"code":"C2_REJ')

        verified = cli("verify", run)

        assert verified.stdout.splitlines()[0] == (
            f"incomplete run: no C2_DRYRUN_STOP; continue it with `livesession resume {run}`"
        )
        assert cli("resume", run, "-q").returncode == 0
        assert cli("verify", run).stdout.startswith(f"OK {run}: ")

    def test_a_process_killed_inside_the_seal_is_still_resumed(self, tmp_path):
        """Killed between SESSION_STOPPED and C2_DRYRUN_STOP: not sealed, so resume it."""
        out = tmp_path / "runs"
        crashed = cli(
            "dryrun", "--out", out, "--run-id", "c", "--steps", "60", "-q",
            crash_at="write_audit:2",
        )  # fmt: skip
        assert crashed.returncode == KILLED, crashed.stderr
        run = out / "c"
        assert b'"SESSION_STOPPED"' in (run / "events.jsonl").read_bytes()

        verified = cli("verify", run)

        assert verified.stdout.splitlines()[0] == (
            f"incomplete run: no C2_DRYRUN_STOP; continue it with `livesession resume {run}`"
        )
        assert cli("resume", run, "-q").returncode == 0
        assert cli("verify", run).stdout.startswith(f"OK {run}: ")

    def test_a_file_level_violation_names_no_line(self, finished, tmp_path, capsys):
        """``metrics.json: missing``, not ``metrics.json:0: missing``; --json keeps its keys."""
        run = tmp_path / "two"
        run.mkdir()
        for name in ("events.jsonl", "audit.jsonl"):
            shutil.copyfile(finished / name, run / name)

        assert main(["verify", str(run)]) == 1
        out = capsys.readouterr().out.splitlines()
        assert "state_snapshots.jsonl: missing" in out
        assert "metrics.json: missing" in out
        assert not [line for line in out if ":0:" in line]
        assert main(["verify", str(run), "--json"]) == 1
        document = json.loads(capsys.readouterr().out)
        assert set(document) == {
            "ok", "exit_code", "run_dir", "summary", "live", "incomplete", "counts", "total",
            "violations", "run_version",
        }  # fmt: skip
        assert document["violations"] == ["state_snapshots.jsonl: missing", "metrics.json: missing"]

    def test_many_violations_list_20_and_count_the_rest(self, finished, tmp_path, capsys):
        """A badly broken run prints the summary, exactly 20 violations and a count line."""
        run = tmp_path / "broken"
        shutil.copytree(finished, run)
        (run / "events.jsonl").write_bytes(b"x\n" * 80)

        assert main(["verify", str(run)]) == 1

        captured = capsys.readouterr()
        lines = captured.out.splitlines()
        result = verify_run(run)
        assert result.total > 70
        assert lines[0] == f"broken run: {result.total} violation(s) of the artifact contract"
        assert lines[1:21] == list(result.violations[:20])
        assert lines[21] == f"... and {result.total - 20} more violations"
        assert len(lines) == 22
        assert captured.err == f"{result.total} violation(s) in {run}\n"

    def test_the_python_result_keeps_every_violation(self, finished, tmp_path):
        """Only the CLI cuts the list: verify_run lists every violation (50 per file at most)."""
        run = tmp_path / "broken"
        shutil.copytree(finished, run)
        (run / "events.jsonl").write_bytes(b"x\n" * 30)

        result = verify_run(run)

        events = [v for v in result.violations if v.startswith("events.jsonl:")]
        assert len(events) == 30
        assert len(result.violations) == result.total > 30

    def test_tampered_complete_run_is_broken_not_incomplete(self, finished, tmp_path):
        """A run that did close its audit log but was changed afterwards is broken."""
        run = tmp_path / "t"
        shutil.copytree(finished, run)
        events = run / "events.jsonl"
        events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAR_"', 1))

        result = verify_run(run)

        assert result.summary.startswith("broken run: ")
        assert result.render(run)[0] == result.summary

    @pytest.mark.parametrize(
        ("total", "tail"),
        [
            (19, None),
            (20, None),
            (21, "... and 1 more violation"),
            (57, "... and 37 more violations"),
        ],
    )
    def test_render_limits(self, total, tail):
        """At most 20 violations are rendered, and a count line only when some are left out."""
        violations = tuple(f"events.jsonl:{n}: bad" for n in range(1, total + 1))
        result = VerifyResult(
            ok=False, violations=violations, total=total, summary="broken run: x", counts={}
        )

        lines = result.render("run")

        assert lines[0] == "broken run: x"
        assert lines[1 : min(total, 20) + 1] == violations[:20]
        assert len(lines) == 1 + min(total, 20) + (tail is not None)
        if tail is not None:
            assert lines[-1] == tail


@pytest.mark.parametrize("make", [_missing, _file], ids=["missing", "a-file"])
def test_the_api_refuses_a_run_path_that_is_no_directory_as_a_run_directory_error(tmp_path, make):
    """Bug: ``write_evidence`` (and ``send_control``) of a path that is a file raised
    ``NotADirectoryError: ... Not a directory: 'PATH/writer.lock'`` from the writer lock's
    probe, naming a file inside a file, where a missing path was a ``RunDirectoryError``; the
    CLI checks the path first, a host calling the API met the bare ``OSError``. A file holds
    no writer: the API now says what the CLI says of it, and writes nothing."""
    path = make(tmp_path)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(RunDirectoryError) as raised:
        write_evidence(path, out_dir=tmp_path / "bundle")
    said = f"{path} is not a directory" if path.exists() else f"run directory {path} does not"
    assert str(raised.value).startswith(said)
    outcome = send_control("stop", path, timeout_s=1)
    assert outcome.kind == "not_held", outcome
    assert sorted(tmp_path.iterdir()) == before


@pytest.mark.parametrize("make", [_missing, _file, _empty], ids=["missing", "a-file", "empty"])
def test_send_control_of_no_run_says_so_and_advises_no_resume(tmp_path, capsys, make):
    """``send_control`` (and ``describe_run``) of a path that holds no run said ``nothing
    holds PATH: unfinished (no C2_DRYRUN_STOP): continue it with `livesession resume
    PATH``` of a path that does not exist: advice no run can take. It says what the CLI's
    ``stop`` says of the path (exit 2)."""
    path = make(tmp_path)
    assert main(["stop", str(path)]) == 2
    said = capsys.readouterr().err.strip().removeprefix("livesession: error: ")
    outcome = send_control("stop", path, timeout_s=1)
    assert (outcome.kind, outcome.line) == ("not_held", f"nothing holds {path}: {said}")
    assert describe_run(path) == said
    assert "resume" not in outcome.line
