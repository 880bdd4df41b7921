"""A reviewer handed a copy of a run and its evidence bundle, on a machine of their own.

Bug: nothing held a ``manifest.json`` received to the run directory it came with. The docs
told the reviewer to compare "the files with its ``artifacts``" by hand, and ``verify``
took a run directory only: a manifest of another run, a manifest cut short, a manifest
whose digests were changed, or a file of the copy outside the audit chain changed
(``session.log.jsonl``, ``run.json``'s keys outside the chain) all passed ``verify``.
``verify RUN --manifest FILE`` now holds the manifest to the run, running nothing: its
``run_id``, ``audit_head`` and ``config_hash``, and the SHA-256 of every file it lists,
each difference a violation (exit 1) naming the file, and prints the manifest's SHA-256 to
compare with the published one.

Bug: ``evidence`` of a copy whose strategy package or data file is not on the reviewer's
machine said what it could not import or read, but not that the re-run needs them, nor
how the copy is checked without them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from _eurusd import eurusd_csv
from livesession.cli import main
from livesession.evidence import write_evidence

from crash_harness import KILLED, Profile, cli, dryrun

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parent.parent
MYDESK = ROOT / "examples" / "mydesk"


def _dryrun(out: Path, run_id: str) -> Path:
    args = ["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "120", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    return out / run_id


@pytest.fixture(name="handed", scope="module")
def _handed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """The team's run ``hand`` and its bundle, and the bundle of another run ``other``."""
    out = tmp_path_factory.mktemp("team")
    run, other = _dryrun(out, "hand"), _dryrun(out, "other")
    assert main(["evidence", str(run), "--out", str(out / "bundle-hand")]) == 0
    assert main(["evidence", str(other), "--out", str(out / "bundle-other")]) == 0
    return run, out / "bundle-hand" / "manifest.json", out / "bundle-other" / "manifest.json"


@pytest.fixture(name="copy")
def _copy(handed: tuple[Path, Path, Path], tmp_path: Path) -> Path:
    """The reviewer's copy of the run, under another name (a copy may be renamed)."""
    copy = tmp_path / "received"
    shutil.copytree(handed[0], copy)
    return copy


def _steps(run_dir: Path) -> int:
    steps = orjson.loads((run_dir / "metrics.json").read_bytes())["steps"]
    assert isinstance(steps, int)
    return steps


def _verify(
    copy: Path, manifest: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    code = main(["verify", str(copy), "--manifest", str(manifest)])
    return code, capsys.readouterr().out.splitlines()


class TestTheBundleOfThisRun:
    def test_matches_and_prints_the_manifests_sha256(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        manifest = handed[1]
        digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
        code, lines = _verify(copy, manifest, capsys)
        assert code == 0, lines
        assert lines[0].startswith(f"OK {copy}: ")
        assert lines[1].startswith(
            "manifest  manifest.json is run hand's: audit head, config hash and "
        )
        assert (
            "(the bundle says: evidence VERIFIED; the run: COMPLETED: ran its steps; sealed "
            f"COMPLETED after {_steps(copy)} of {_steps(copy)} steps); its sha256 {digest}: "
            "compare it"
        ) in lines[1]

    def test_json_says_the_manifests_sha256(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        manifest = handed[1]
        assert main(["verify", str(copy), "--manifest", str(manifest), "--json"]) == 0
        said = orjson.loads(capsys.readouterr().out)
        assert said["ok"] is True
        assert said["manifest"]["sha256"] == hashlib.sha256(manifest.read_bytes()).hexdigest()
        assert said["manifest"]["matches"] is True
        assert said["manifest"]["run_id"] == "hand"

    def test_says_the_runs_audit_head_it_asks_to_compare(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bug: the line told the reviewer to compare "the audit head" with the published
        one but did not say it (nor did ``--json``): without the run's code, where
        ``evidence`` prints its ``head``, the reviewer had to dig it out of a file."""
        head = orjson.loads((copy / "metrics.json").read_bytes())["audit_head"]
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 0, lines
        assert lines[1].endswith(
            f"and the audit head, with the ones the desk published: the run's audit head is {head}"
        )
        assert main(["verify", str(copy), "--manifest", str(handed[1]), "--json"]) == 0
        assert orjson.loads(capsys.readouterr().out)["manifest"]["audit_head"] == head

    def test_what_a_file_manager_leaves_in_the_copy_is_not_the_runs(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Finder writes .DS_Store in any folder it shows, and ._NAME files on a volume
        without extended attributes; Explorer Thumbs.db and desktop.ini. Before, a reviewer
        who had opened the copy was told ``.DS_Store: in the run directory, but not among
        manifest.json's artifacts``: the bundle not this run's."""
        for name in (".DS_Store", "._events.jsonl", "Thumbs.db", "desktop.ini"):
            (copy / name).write_bytes(b"\x00\x00\x00\x01Bud1")
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 0, lines
        # Windows' mark of the web on a zip downloaded and extracted by Explorer, copied into
        # WSL: a NAME:Zone.Identifier beside every file, each said not among the artifacts.
        for name in [p.name for p in copy.iterdir()]:
            (copy / f"{name}:Zone.Identifier").write_bytes(b"[ZoneTransfer]\r\nZoneId=3\r\n")
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 0, lines
        (copy / "notes.DS_Store").write_text("not a file manager's\n")
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 1
        assert (
            "notes.DS_Store: in the run directory, but not among manifest.json's artifacts" in lines
        )

    def test_a_version_control_folder_in_the_run_directory_is_not_the_runs(
        self, copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A desk keeping each run in a git repository of its own (``git init`` in the run
        directory) wrote the bundle, then committed it: ``evidence`` had listed every file
        of ``.git`` among the run's artifacts, and the commit changed them, so ``verify
        --manifest`` of the run and of the reviewer's clone said ``the evidence bundle is
        not this run's: 13 difference(s)`` (``.git/index: SHA-256 ...``) of intact files."""
        for vcs in (".git", ".hg", ".svn"):
            (copy / vcs / "objects").mkdir(parents=True)
            (copy / vcs / "index").write_bytes(b"as before the commit")
        bundle = tmp_path / "bundle"
        assert main(["evidence", str(copy), "--out", str(bundle)]) == 0
        capsys.readouterr()
        listed = orjson.loads((bundle / "manifest.json").read_bytes())["artifacts"]
        assert sorted(listed) == sorted(
            p.name for p in copy.iterdir() if p.is_file() and not p.name.startswith(".")
        )
        for vcs in (".git", ".hg", ".svn"):
            (copy / vcs / "index").write_bytes(b"as the commit left it")
            (copy / vcs / "objects" / "3f").write_bytes(b"the bundle, committed")
        code, lines = _verify(copy, bundle / "manifest.json", capsys)
        assert code == 0, lines
        (copy / "notes").mkdir()  # a folder of any other name holds files of the run
        (copy / "notes" / "index").write_bytes(b"")
        code, lines = _verify(copy, bundle / "manifest.json", capsys)
        assert code == 1
        assert "notes/index: in the run directory, but not among manifest.json's artifacts" in lines

    @pytest.mark.parametrize(
        "case",
        [
            (lambda data: data.replace(b"\n", b"\r\n"), "its lines end with \\r\\n"),
            (lambda data: b"\xef\xbb\xbf" + data, "it starts with a UTF-8 byte order mark"),
            (
                lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n"),
                "it starts with a UTF-8 byte order mark and its lines end with \\r\\n",
            ),
        ],
    )
    def test_a_manifest_converted_on_its_way_says_its_sha256_as_written(
        self,
        handed: tuple[Path, Path, Path],
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        case: tuple[Callable[[bytes], bytes], str],
    ) -> None:
        """A bundle handed over through a git checkout with ``core.autocrlf=true`` (or a
        transfer in text mode, an editor) holds a ``manifest.json`` of other bytes: verify
        printed only their SHA-256, which is not the one the desk published, and the runbook
        says a difference means the files are not the run's. A byte order mark made it
        ``not JSON``: the bundle not this run's."""
        convert, said = case
        data = handed[1].read_bytes()
        published = hashlib.sha256(data).hexdigest()
        received = tmp_path / "manifest.json"
        received.write_bytes(convert(data))
        code, lines = _verify(copy, received, capsys)
        assert code == 0, lines
        assert (
            f"its sha256 {hashlib.sha256(received.read_bytes()).hexdigest()} as received, but "
            f"{said} (a copy converted it on its way: git's core.autocrlf, a transfer in text "
            f"mode, an editor), which evidence never writes: as written its sha256 is "
            f"{published}: compare that, and the audit head, with the ones the desk published"
        ) in lines[1]
        assert main(["verify", str(copy), "--manifest", str(received), "--json"]) == 0
        held = orjson.loads(capsys.readouterr().out)["manifest"]
        assert (held["sha256_as_written"], held["converted"]) == (published, said)
        assert main(["verify", str(copy), "--manifest", str(handed[1]), "--json"]) == 0
        held = orjson.loads(capsys.readouterr().out)["manifest"]
        assert (held["sha256_as_written"], held["converted"]) == (published, "")

    def test_a_manifest_inside_the_run_directory_is_not_one_of_its_files(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        shutil.copy(handed[1], copy / "manifest.json")
        code, lines = _verify(copy, copy / "manifest.json", capsys)
        assert code == 0, lines
        shutil.copy(handed[1], copy / "received.json")
        code, lines = _verify(copy, copy / "received.json", capsys)
        assert code == 0, lines

    def test_a_bundle_written_into_a_folder_of_the_run(
        self, copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``evidence RUN --out RUN/evidence`` (a folder of the run directory is allowed):
        the bundle's own two files there are not files the manifest left out."""
        assert main(["evidence", str(copy), "--out", str(copy / "evidence")]) == 0
        capsys.readouterr()
        code, lines = _verify(copy, copy / "evidence" / "manifest.json", capsys)
        assert code == 0, lines


class TestWhatADishonestOrCarelessHandOverIs:
    def test_a_file_outside_the_chain_changed_passes_verify_but_not_the_manifest(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with (copy / "session.log.jsonl").open("ab") as log:
            log.write(b'{"event":"nothing to see"}\n')
        assert main(["verify", str(copy)]) == 0  # the chain does not cover the log
        capsys.readouterr()
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 1
        assert lines[0] == (
            f"the evidence bundle is not this run's: 1 difference(s) between manifest.json "
            f"and {copy}"
        )
        assert lines[1].startswith("session.log.jsonl: SHA-256 ")
        assert lines[1].endswith(
            "but manifest.json says "
            + orjson.loads(handed[1].read_bytes())["artifacts"]["session.log.jsonl"]
        )

    @pytest.mark.broken_run("a copy whose events gained a byte, held to the original's bundle")
    def test_a_broken_copy_counts_the_contract_s_violations_and_the_manifest_s_apart(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Its summary said `broken run: 5 violation(s) of the artifact contract` above six
        lines, the last the manifest's, and stderr `6 violation(s)`: the counts disagreed."""
        with (copy / "events.jsonl").open("ab") as events:
            events.write(b"x")
        code = main(["verify", str(copy), "--manifest", str(handed[1])])
        captured = capsys.readouterr()
        lines = captured.out.splitlines()
        assert code == 1
        contract = int(lines[0].split(": ")[1].split()[0])
        assert lines[0] == (
            f"broken run: {contract} violation(s) of the artifact contract; and 1 difference(s) "
            f"between manifest.json and {copy}"
        )
        assert lines[-1].startswith("events.jsonl: SHA-256 "), "the manifest's, last"
        assert len(lines) == 1 + contract + 1
        assert captured.err == f"{contract + 1} violation(s) in {copy}\n"

    def test_another_runs_manifest(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, lines = _verify(copy, handed[2], capsys)
        assert code == 1
        assert lines[1] == (
            "manifest.json: run_id 'other', but the run's is 'hand': a bundle of another run, "
            "or a run renamed"
        )
        assert lines[2].startswith("manifest.json: audit_head '")
        assert lines[2].endswith("these are not the files it was written from")

    def test_a_manifest_cut_short(
        self,
        handed: tuple[Path, Path, Path],
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        cut = tmp_path / "manifest.json"
        cut.write_bytes(handed[1].read_bytes()[:-100])
        code, lines = _verify(copy, cut, capsys)
        assert code == 1
        assert lines[1].startswith("manifest.json: not JSON (cut short, or not a manifest): ")

    @pytest.mark.broken_run("the copy's first event is garbled (a NUL over its first byte)")
    def test_a_record_a_copy_made_unreadable_is_not_another_config(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Before: ``config_hash '5c85...', but the run's is None: the audited config
        differs``, a Python None and another config, where a copy had made SESSION_STARTED
        unreadable. (A byte order mark before it no longer does: the line is read without
        it, as verify judges it; test_transit_damage holds that.)"""
        events = copy / "events.jsonl"
        events.write_bytes(b"\0" + events.read_bytes()[1:])
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 1
        held = orjson.loads(handed[1].read_bytes())["config_hash"]
        assert (
            f"manifest.json: config_hash {held!r}, but the run's record of it cannot be read "
            "(verify names the line)"
        ) in lines
        assert not [line for line in lines if "None" in line]
        assert any(line.startswith("events.jsonl:1: ") for line in lines)

    @pytest.mark.broken_run("a byte order mark is put before the copy's run.json")
    def test_evidence_of_a_run_json_a_copy_made_unreadable_says_why(
        self, copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Before: ``run.json is corrupt (not JSON)``, and nothing of the mark."""
        meta = copy / "run.json"
        meta.write_bytes(b"\xef\xbb\xbf" + meta.read_bytes())
        assert main(["evidence", str(copy), "--out", str(tmp_path / "ev")]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line == (
            f"livesession: error: {meta} is corrupt (not JSON: UTF-8 byte order mark (BOM) is "
            "not supported: line 1 column 1 (char 0)); restore it from a backup "
            f"(`livesession verify {copy}` says what else is wrong)"
        )

    def test_digests_changed_in_the_manifest(
        self,
        handed: tuple[Path, Path, Path],
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        held = orjson.loads(handed[1].read_bytes())
        held["artifacts"]["config.json"] = "0" * 64
        changed = tmp_path / "manifest.json"
        changed.write_bytes(orjson.dumps(held))
        code, lines = _verify(copy, changed, capsys)
        assert code == 1
        assert lines[1].startswith("config.json: SHA-256 ")
        assert lines[1].endswith(f"but manifest.json says {'0' * 64}")

    def test_a_manifest_naming_another_release_as_the_runs(
        self,
        handed: tuple[Path, Path, Path],
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Bug: a manifest whose ``run_version`` (the release its run says wrote it: the
        contract's manifest "version") named another than the run's audited
        ``SESSION_STARTED`` matched, ``manifest ... is run hand's``. Found by a checker
        written from ARTIFACTS.md alone, run beside ``verify --manifest``."""
        held = orjson.loads(handed[1].read_bytes())
        ran = held["run_version"]
        held["run_version"] = "9.9.9"
        changed = tmp_path / "manifest.json"
        changed.write_bytes(orjson.dumps(held))
        code, lines = _verify(copy, changed, capsys)
        assert code == 1
        assert (
            f"manifest.json: run_version '9.9.9', but the run's is {ran!r}: the run's audited "
            "record names another release"
        ) in lines

    def test_a_file_left_out_and_a_file_added(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        (copy / "timings.json").unlink()
        (copy / "notes.txt").write_text("added after the run\n")
        code, lines = _verify(copy, handed[1], capsys)
        assert code == 1
        assert any(
            line.startswith("timings.json: missing, but manifest.json lists it") for line in lines
        )
        assert "notes.txt: in the run directory, but not among manifest.json's artifacts" in lines

    @pytest.mark.parametrize(
        ("given", "why"),
        [("nope.json", "No such file or directory"), ("fifo", "not a regular file (a FIFO)")],
    )
    def test_no_manifest_there_is_bad_input(
        self,
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        given: str,
        why: str,
    ) -> None:
        """One line, exit 2; a FIFO is refused unread (never waited on)."""
        os.mkfifo(tmp_path / "fifo")
        assert main(["verify", str(copy), "--manifest", str(tmp_path / given)]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"livesession: error: --manifest {tmp_path / given}: {why}: give the "
            "manifest.json of the evidence bundle"
        )

    def test_the_bundles_folder_given_reads_its_manifest(
        self, handed: tuple[Path, Path, Path], copy: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bug: ``--manifest FOLDER`` (the bundle's folder, as a reviewer is handed it) was
        refused, ``--manifest FOLDER: Is a directory``, exit 2: its manifest.json is read."""
        code, lines = _verify(copy, handed[1].parent, capsys)
        assert code == 0, lines
        assert lines[1].startswith("manifest  manifest.json is run hand's: audit head, ")
        digest = hashlib.sha256(handed[1].read_bytes()).hexdigest()
        assert f"its sha256 {digest}: compare it" in lines[1]

    @pytest.mark.parametrize("held", [[], ["EV-20260302-hand.md"], ["a", "b", "c", "d", "e"]])
    def test_a_folder_without_a_manifest_says_what_it_holds(
        self, copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], held: list[str]
    ) -> None:
        """One line, exit 2, naming what the folder holds (the document first, when there)."""
        folder = tmp_path / "bundle"
        folder.mkdir()
        for name in held:
            (folder / name).write_text("x")
        assert main(["verify", str(copy), "--manifest", str(folder)]) == 2
        captured = capsys.readouterr()
        holds = {0: "it is empty", 1: "it holds EV-20260302-hand.md"}.get(
            len(held), "it holds a, b, c and 2 more"
        )
        assert captured.out == ""
        assert captured.err == (
            f"livesession: error: --manifest {folder} is a directory with no manifest.json in "
            f"it ({holds}): give the manifest.json of the evidence bundle, or the folder "
            "holding it\n"
        )

    @pytest.mark.parametrize("converted", [False, True])
    def test_the_bundles_document_given_for_its_manifest_is_bad_input(
        self,
        handed: tuple[Path, Path, Path],
        copy: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        converted: bool,
    ) -> None:
        """Bug: ``--manifest EV-<date>-<run_id>.md`` (the bundle's other file, the one a
        person reads) was "not JSON", so ``verify`` said ``the evidence bundle is not this
        run's`` (exit 1) of a run and a bundle that match. It is a wrong argument: exit 2,
        one line naming the file to give; a copy's CRLF or byte order mark changes nothing."""
        (document,) = handed[1].parent.glob("EV-*.md")
        given = document
        if converted:
            given = tmp_path / document.name
            given.write_bytes(b"\xef\xbb\xbf" + document.read_bytes().replace(b"\n", b"\r\n"))
        assert main(["verify", str(copy), "--manifest", str(given)]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == (
            f"livesession: error: --manifest {given} is the bundle's document (EV-*.md), not "
            "its manifest: give the manifest.json written beside it\n"
        )


@pytest.mark.broken_run("the run is killed mid-step: a crashed run, not sealed")
def test_the_bundle_of_a_crashed_run_is_said_to_match_after_its_violations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a crashed run handed over with its bundle (``evidence`` NOT VERIFIED, as it must
    be) was held to the manifest, but plain ``verify --manifest`` printed only the run's
    violations: nothing said the manifest was this run's, nor its SHA-256 to compare with
    the published one (``--json`` had both). The manifest's line follows the violations
    now; the exit code stays verify's."""
    profile = Profile(name="crashed", seed=3)
    assert dryrun(profile, tmp_path / "team", crash_at="write_events:120").returncode == KILLED
    run = tmp_path / "team" / "crashed"
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run), "--out", str(bundle)]) == 1  # NOT VERIFIED: not sealed
    copy = tmp_path / "received"
    shutil.copytree(run, copy)
    capsys.readouterr()

    manifest = bundle / "manifest.json"
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    code, lines = _verify(copy, manifest, capsys)
    assert code == 1
    assert lines[0].startswith("incomplete run: no C2_DRYRUN_STOP")
    assert lines[-1].startswith(
        "manifest  manifest.json is run crashed's: audit head, config hash and "
    )
    assert "(the bundle says: evidence NOT VERIFIED; the run: NOT SEALED: " in lines[-1]
    assert f"its sha256 {digest}: compare it" in lines[-1]

    # Another run's bundle is still its violations, and no such line.
    (copy / "notes.txt").write_text("added after the run\n")
    code, lines = _verify(copy, manifest, capsys)
    assert code == 1
    assert "notes.txt: in the run directory, but not among manifest.json's artifacts" in lines
    assert not [line for line in lines if line.startswith("manifest  ")]


def test_evidence_without_the_strategy_package_says_what_checks_the_copy(
    tmp_path: Path,
) -> None:
    """The team's package is not on the reviewer's machine: one line says the re-run needs
    it, and how the copy and its bundle are checked without it."""
    desk = tmp_path / "desk"
    shutil.copytree(MYDESK, desk / "mydesk", ignore=shutil.ignore_patterns("__pycache__"))
    config = desk / "desk.toml"
    config.write_text(
        'run_id = "deskrun"\nsteps = 60\nstrategy_factory = "mydesk.breakout:make_strategy"\n'
    )
    proc = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    shutil.rmtree(desk / "mydesk")  # the reviewer's machine: the run, not the team's code

    proc = cli("evidence", "runs/deskrun", "--out", "ev", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "strategy_factory: cannot import 'mydesk.breakout:make_strategy'" in err
    assert err.endswith(
        "; evidence re-runs the run, so it needs the run's code and data file here: without "
        "them, `livesession verify runs/deskrun` checks the run's files (and `--manifest FILE` "
        "holds them to an evidence bundle's manifest.json, if one came with the run), running "
        "nothing"
    )
    assert not (tmp_path / "ev").exists()


def test_without_the_strategy_package_the_advice_names_the_bundle_it_came_with(
    tmp_path: Path,
) -> None:
    """Bug: the refusal said `livesession verify RUN --manifest manifest.json` whatever the
    run held: a manifest.json of the working directory, which no bundle wrote there (pasted,
    `--manifest manifest.json: No such file or directory`, exit 2), and one of a run never
    bundled at all (the test above). A run whose bundle `evidence` wrote into it, handed over
    without the team's code, is told that manifest's path, and the command pasted as said
    checks the run and its bundle."""
    desk = tmp_path / "desk"
    shutil.copytree(MYDESK, desk / "mydesk", ignore=shutil.ignore_patterns("__pycache__"))
    config = desk / "desk.toml"
    config.write_text(
        'run_id = "deskrun"\nsteps = 60\nstrategy_factory = "mydesk.breakout:make_strategy"\n'
    )
    assert (
        cli("dryrun", "-c", config, "--out", tmp_path / "runs", "-q", cwd=tmp_path).returncode == 0
    )
    bundled = cli("evidence", "runs/deskrun", cwd=tmp_path)
    assert bundled.returncode == 0, bundled.stderr
    shutil.rmtree(desk / "mydesk")  # the reviewer's machine: the run and its bundle only

    proc = cli("evidence", "runs/deskrun", cwd=tmp_path)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    advised = "`livesession verify runs/deskrun --manifest runs/deskrun/manifest.json`"
    assert proc.stderr.strip().endswith(
        f"without them, {advised} checks the run and its bundle, running nothing"
    )
    pasted = cli(*advised.strip("`").split()[1:], cwd=tmp_path)
    assert pasted.returncode == 0, (pasted.stdout, pasted.stderr)
    assert "manifest  manifest.json is run deskrun's" in pasted.stdout


class TestTheDocumentSaysHowToCheckIt:
    """Bug: the EV document said to compare the audit head, but not how a copy of the run
    is held to the bundle, that the document itself is outside the published SHA-256, nor
    which data file the re-run needs (only the manifest's ``data`` said it)."""

    def test_how_to_check_a_copy_against_the_bundle(self, handed: tuple[Path, Path, Path]) -> None:
        (document,) = handed[1].parent.glob("EV-*.md")
        text = document.read_text(encoding="utf-8")
        assert (
            "- Check a copy of the run against this bundle: `livesession verify RUN_DIR "
            "--manifest manifest.json` holds the run to the manifest" in text
        )
        assert "the published SHA-256 covers `manifest.json`, not this file." in text
        assert "Data file" not in text  # the demo walk reads no file

    def test_names_the_data_file_the_re_run_reads(self, tmp_path: Path) -> None:
        data = tmp_path / "eurusd_2026-03-02.csv"
        eurusd_csv(data, 80)
        args = ["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "fx", "-q"]
        feed = ["--feed", f"csv:{data}", "--symbol", "EUR/USD", "--steps", "80"]
        assert main([*args, *feed, "--durability", "none"]) == 0
        result = write_evidence(tmp_path / "runs" / "fx", out_dir=tmp_path / "ev")
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        size = data.stat().st_size
        assert (
            f"- Data file: `csv:{data}` at `{data}`, SHA-256 `{digest}`, {size} bytes: the "
            "re-run reads it." in result.document.read_text(encoding="utf-8")
        )


def test_the_runbooks_reviewer_check_runs_as_written(tmp_path: Path) -> None:
    """RUNBOOK's "Receiving a run to review" block, run as the page writes it on a copy of a
    run and its bundle: each command exits 0, and the audit head ``verify`` and ``evidence``
    print is the team's."""
    text = (ROOT / "RUNBOOK.md").read_text(encoding="utf-8")
    block = text.split("<!-- BEGIN REVIEWER CHECK -->")[1].split("<!-- END REVIEWER CHECK -->")[0]
    script = block.split("```bash\n")[1].split("```")[0]
    team = tmp_path / "team"
    run = _dryrun(team, "drill-01")
    assert main(["evidence", str(run), "--out", str(tmp_path / "bundle")]) == 0
    shutil.copytree(run, tmp_path / "copy" / "drill-01")
    head = orjson.loads((run / "metrics.json").read_bytes())["audit_head"]
    # The page's `livesession` is this interpreter's, whatever PATH holds.
    shim = 'livesession() { "$LIVESESSION_PY" -m livesession.cli "$@"; }\nset -e\n'
    done = subprocess.run(
        ["bash", "-c", shim + script],
        cwd=tmp_path,
        env={**os.environ, "LIVESESSION_PY": sys.executable},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    digest = hashlib.sha256((tmp_path / "bundle" / "manifest.json").read_bytes()).hexdigest()
    assert out[0].startswith(digest)
    assert out[2].endswith(f"the run's audit head is {head}")
    assert f"head      {head} (audit head)" in out
    assert (tmp_path / "review" / "drill-01.html").is_file()
