r"""A sealed run as a reviewer receives it: what the copy did to it, said of the right file.

A copy changes a text file as it goes: git's ``core.autocrlf`` or a Windows editor gives
every line ``\r\n``, an editor adds a byte order mark or strips the final newline, a copy
cut short is zero-filled to its size. ``verify`` tells such a file from one changed by hand
on the digest ``C2_DRYRUN_STOP`` holds of it (the conversion undone matches the seal, or
nothing does), and neither it nor ``status`` puts the damage on a file the copy did not
touch (``checkpoint.json``) or calls a seal whose record is there a cut audit log.
"""

from __future__ import annotations

import html
import re
import shutil
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession.cli import main
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

_LOST = "its last byte lost on the way: a copy, or an editor that strips a file's final newline"


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "desk", "--steps", "60", "-q"]) == 0
    return out / "desk"


def _copy(sealed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "received" / "desk"
    shutil.copytree(sealed, copy)
    return copy


def _stop_line(run: Path) -> int:
    return (run / "audit.jsonl").read_bytes().count(b"\n")


def _problem(run: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["status", str(run)]) == 5
    return next(line for line in capsys.readouterr().out.splitlines() if line.startswith("problem"))


@pytest.mark.broken_run("events.jsonl loses its final newline, as an editor strips it")
def test_events_without_their_final_newline_blame_no_checkpoint(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(sealed, tmp_path)
    path = run / "events.jsonl"
    path.write_bytes(path.read_bytes()[:-1])

    found = verify_run(run).violations

    assert not [said for said in found if said.startswith("checkpoint.json")], found
    assert (
        f"audit.jsonl:{_stop_line(run)}: digest of events.jsonl does not match the file, but "
        "does with its final \\n back: changed on the way (taken for text), not in its "
        "records; get a byte-exact copy"
    ) in found
    problem = _problem(run, capsys)
    assert "checkpoint.json" not in problem
    assert problem.endswith(
        f"events.jsonl ends with SESSION_STOPPED, but without the \\n after it ({_LOST})"
    )


@pytest.mark.broken_run("audit.jsonl loses its final newline, as an editor strips it")
def test_an_audit_log_without_its_final_newline_is_not_called_cut(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _copy(sealed, tmp_path)
    path = run / "audit.jsonl"
    path.write_bytes(path.read_bytes()[:-1])

    result = verify_run(run)

    assert result.summary.startswith(
        "the seal's audit record lacks its final \\n: audit.jsonl ends with C2_DRYRUN_STOP, "
        f"whole but for the \\n after it ({_LOST}); the record is there"
    ), result.summary
    assert "tampering" not in result.summary
    problem = _problem(run, capsys)
    assert problem.endswith(
        f"audit.jsonl ends with C2_DRYRUN_STOP, but without the \\n after it ({_LOST})"
    )


@pytest.mark.broken_run("the last line of each contract file is dropped")
def test_files_cut_back_by_a_line_blame_no_checkpoint(sealed: Path, tmp_path: Path) -> None:
    """The checkpoint is held to the seal's records only, not to the lines before them."""
    run = _copy(sealed, tmp_path)
    for name in ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl"):
        path = run / name
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))

    found = verify_run(run).violations

    assert not [said for said in found if said.startswith("checkpoint.json")], found


@pytest.mark.broken_run("converted on the way, as a copy converts a text file")
@pytest.mark.parametrize(
    ("convert", "undone"),
    [
        (lambda data: data.replace(b"\n", b"\r\n"), "\\r\\n as \\n"),
        (lambda data: b"\xef\xbb\xbf" + data, "its BOM removed"),
        (lambda data: b"\xef\xbb\xbf" + data.replace(b"\n", b"\r\n")[:-2], None),
    ],
    ids=["crlf", "bom", "all-three"],
)
def test_a_file_a_copy_converted_is_said_changed_on_the_way(
    sealed: Path, tmp_path: Path, convert: object, undone: str | None
) -> None:
    run = _copy(sealed, tmp_path)
    path = run / "state_snapshots.jsonl"
    path.write_bytes(convert(path.read_bytes()))  # type: ignore[operator]
    undone = undone or "its BOM removed, \\r\\n as \\n, its final \\n back"

    found = verify_run(run).violations

    said = (
        f"audit.jsonl:{_stop_line(run)}: digest of state_snapshots.jsonl does not match the "
        f"file, but does with {undone}: changed on the way (taken for text), not in its records; "
        "get a byte-exact copy"
    )
    assert [line for line in found if line.startswith(said)], found


@pytest.mark.broken_run("zero-filled at its end, as a torn copy leaves a file")
def test_a_file_zero_filled_at_its_end_is_a_torn_copy(sealed: Path, tmp_path: Path) -> None:
    run = _copy(sealed, tmp_path)
    path = run / "events.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[:-100] + bytes(100))

    found = verify_run(run).violations

    assert (
        f"audit.jsonl:{_stop_line(run)}: digest of events.jsonl does not match the file: its "
        "last 100 bytes are zeros (a torn copy, cut short and zero-filled)"
    ) in found
    assert not [said for said in found if said.startswith("checkpoint.json")], found


@pytest.mark.broken_run("a record changed by hand")
def test_a_record_changed_by_hand_is_not_a_copy(sealed: Path, tmp_path: Path) -> None:
    run = _copy(sealed, tmp_path)
    path = run / "events.jsonl"
    path.write_bytes(
        path.read_bytes().replace(b'"ts_utc":"2026-01-01T00:0', b'"ts_utc":"2026-01-01T00:1', 1)
    )

    found = verify_run(run).violations

    assert (
        f"audit.jsonl:{_stop_line(run)}: digest of events.jsonl does not match the file: "
        "changed after the seal, not by a copy's conversion: by hand, or damage; keep the run "
        "as it is and report it"
    ) in found


_BOM_SAID = (
    "starts with a UTF-8 byte order mark (EF BB BF), which the contract does not write: added "
    "on the way (an editor, or a tool that took the file for text?); the line is judged without it"
)


@pytest.mark.broken_run("a byte order mark added, as an editor adds it")
@pytest.mark.parametrize("name", ["events.jsonl", "state_snapshots.jsonl", "audit.jsonl"])
def test_a_byte_order_mark_is_one_violation_not_a_record_lost(
    sealed: Path, tmp_path: Path, name: str
) -> None:
    """Not `seq is 2, expected 1 (1 record(s) missing or moved)`, a broken chain, and more."""
    run = _copy(sealed, tmp_path)
    path = run / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())

    found = verify_run(run).violations

    digest = (
        []
        if name == "audit.jsonl"  # its records' own hashes hold: the chain is of the lines
        else [
            (
                f"audit.jsonl:{_stop_line(run)}: digest of {name} does not match the file, but "
                "does with its BOM removed: changed on the way (taken for text), not in its records; "
                "get a byte-exact copy"
            )
        ]
    )
    assert found == (f"{name}:1: {_BOM_SAID}", *digest)


@pytest.mark.broken_run("a file of someone's is put beside the run's after its bundle")
def test_a_file_added_beside_the_bundle_is_not_another_runs_bundle(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `the evidence bundle is not this run's`, of the run's own bundle."""
    run = _copy(sealed, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run), "--out", str(bundle)]) == 0
    (run / "notes.txt").write_text("checked by the desk\n")
    capsys.readouterr()

    assert main(["verify", str(run), "--manifest", str(bundle / "manifest.json")]) == 1

    assert capsys.readouterr().out.splitlines()[:2] == [
        (
            "the run directory holds 1 file(s) the evidence bundle does not list (put there since "
            "manifest.json was written: ask whose they are, or verify a copy without them); every "
            "file it lists matches"
        ),
        "notes.txt: in the run directory, but not among manifest.json's artifacts",
    ]


@pytest.mark.broken_run("zero-filled at its end, as a torn copy leaves a file")
@pytest.mark.parametrize("name", ["events.jsonl", "audit.jsonl"])
def test_a_torn_copy_is_said_so_by_status_and_verify(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """Before: `does not end with C2_DRYRUN_STOP`, and `the audit log was cut: tampering`."""
    run = _copy(sealed, tmp_path)
    path = run / name
    data = path.read_bytes()
    path.write_bytes(data[:-100] + bytes(100))

    summary = verify_run(run).summary

    assert _problem(run, capsys) == (
        "problem     the seal is not borne out: "
        f"{name} ends in 100 zero bytes (a torn copy, cut short and zero-filled)"
    )
    assert "tampering" not in summary
    if name == "audit.jsonl":
        assert summary == (
            "the seal's audit record is missing: audit.jsonl ends in 100 zero bytes where it "
            "was (a torn copy, cut short and zero-filled): copy the run again from where it is "
            "whole"
        )


@pytest.mark.broken_run("audit.jsonl given Windows line endings, as git's autocrlf does")
def test_an_audit_log_given_crlf_is_one_violation_not_a_metrics_one(
    sealed: Path, tmp_path: Path
) -> None:
    """Before: `metrics.json:3: audit_head is ..., the run says ...` too, of a metrics.json
    the copy never touched: the head was taken over the last line's `\\r`."""
    run = _copy(sealed, tmp_path)
    path = run / "audit.jsonl"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    lines = _stop_line(run)

    found = verify_run(run).violations

    assert found == (
        (
            f"audit.jsonl:1: ends with \\r\\n, not \\n, as {lines} of its {lines} lines do: the "
            "contract ends every line with \\n alone (a file converted to Windows line endings?)"
        ),
    )


@pytest.mark.broken_run("a contract file lost on the way")
@pytest.mark.parametrize(
    "lost",
    [("events.jsonl",), ("audit.jsonl",), ("events.jsonl", "audit.jsonl")],
    ids=["events", "audit", "both"],
)
def test_a_run_that_lost_a_contract_file_is_judged_not_refused(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], lost: tuple[str, ...]
) -> None:
    """Before: `livesession: error: DIR is not a run: events.jsonl is missing`, exit 2, of
    a run `status` judged (`needs_operator`, `the seal is not borne out`); then, judged,
    `the 8 other violation(s) follow from the loss` and the 8 (the snapshots' transitions,
    `final step 60 but 0 BAR events`, the audit's `copies no event`, metrics.json's counts),
    each only the loss again. Now the loss is said once."""
    run = _copy(sealed, tmp_path)
    for name in lost:
        (run / name).unlink()
    capsys.readouterr()

    assert main(["verify", str(run)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert out == [_lost_said(lost), *(f"{name}: missing" for name in lost)]


@pytest.mark.broken_run("events.jsonl lost on the way, and metrics.json changed by hand")
def test_a_finding_besides_a_lost_file_is_kept(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What does not follow from the loss is still said, and counted apart from it."""
    run = _copy(sealed, tmp_path)
    (run / "events.jsonl").unlink()
    metrics = run / "metrics.json"
    metrics.write_bytes(
        re.sub(rb'"state_snapshots": \d+', b'"state_snapshots": 99', metrics.read_bytes())
    )
    capsys.readouterr()

    assert main(["verify", str(run)]) == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{_lost_said(('events.jsonl',))}; 1 other violation(s)"
    assert out[1] == "events.jsonl: missing"
    assert len(out) == 3
    assert out[2].startswith("metrics.json:"), out
    assert "state_snapshots is 99, the run says" in out[2], out


@pytest.mark.broken_run("a whole run given Windows line endings, as git's autocrlf does")
def test_verify_manifest_says_which_files_a_copy_converted(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `session.log.jsonl: SHA-256 ..., but manifest.json says ...` alone, of each
    file a copy converted, as of a file changed by hand."""
    run = _copy(sealed, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run), "--out", str(bundle)]) == 0
    log = run / "session.log.jsonl"
    log.write_bytes(log.read_bytes().replace(b"\n", b"\r\n"))
    timings = run / "timings.json"
    timings.write_bytes(timings.read_bytes() + b" ")  # not a conversion: nothing is said
    capsys.readouterr()

    assert main(["verify", str(run), "--manifest", str(bundle / "manifest.json")]) == 1

    out = capsys.readouterr().out.splitlines()
    (said,) = [line for line in out if line.startswith("session.log.jsonl: SHA-256 ")]
    assert said.endswith(
        "; it matches with \\r\\n as \\n: changed on the way (taken for text), not in its "
        "records; get a byte-exact copy"
    )
    (said,) = [line for line in out if line.startswith("timings.json: SHA-256 ")]
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    assert said.endswith(f"but manifest.json says {manifest['artifacts']['timings.json']}")


def _lost_said(lost: tuple[str, ...]) -> str:
    verb = "is" if len(lost) == 1 else "are"
    return (
        f"{' and '.join(lost)} {verb} missing from a run livesession made (run.json is there): "
        "lost on the way, or removed; get the run's own copy"
    )


@pytest.mark.broken_run("a contract file lost on the way")
@pytest.mark.parametrize("lost", [("events.jsonl",), ("audit.jsonl",)], ids=["events", "audit"])
@pytest.mark.parametrize(
    "tool",
    [["prom"], ["burnin"]],
    ids=["prom", "burnin"],
)
def test_every_tool_says_a_lost_file_as_verify_does_not_no_run(
    sealed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lost: tuple[str, ...],
    tool: list[str],
) -> None:
    """Before: `livesession: error: DIR is not a run: events.jsonl is missing`, as of a wrong
    path, of a run `verify` judged (`lost on the way, or removed`) and `status` too.
    (`evidence` and `report` write of such a run: see the test after this one.)"""
    run = _copy(sealed, tmp_path)
    for name in lost:
        (run / name).unlink()
    out = tmp_path / "out"
    capsys.readouterr()

    args = [arg.format(out=out) for arg in tool]
    assert main([args[0], str(run), *args[1:]]) == 2

    assert capsys.readouterr().err == f"livesession: error: {run}: {_lost_said(lost)}\n"
    assert not out.exists()
    assert _problem(run, capsys) == (f"problem     the seal is not borne out: {_lost_said(lost)}")


@pytest.mark.broken_run("a contract file lost on the way")
@pytest.mark.parametrize(
    "lost",
    [("events.jsonl",), ("audit.jsonl",), ("events.jsonl", "audit.jsonl")],
    ids=["events", "audit", "both"],
)
def test_evidence_and_report_of_a_run_that_lost_a_file_say_the_loss(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], lost: tuple[str, ...]
) -> None:
    """Bug: `evidence` and `report` of a run that lost `events.jsonl` or `audit.jsonl` on
    the way refused it (exit 2) and wrote nothing, so a reviewer handed the run had no
    bundle to file, where a run with a torn line gets one that says NOT VERIFIED and why.
    Now both write, as of that run: the bundle NOT VERIFIED (exit 1) naming the loss, the
    report (exit 0) saying it, and the run's own `report.html` refused as a seal in doubt's."""
    run = _copy(sealed, tmp_path)
    for name in lost:
        (run / name).unlink()
    bundle = tmp_path / "bundle"
    capsys.readouterr()
    doubt = f"the seal is not borne out: {_lost_said(lost)}"

    assert main(["evidence", str(run), "--out", str(bundle)]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"livesession: evidence NOT VERIFIED for {run}: {doubt}: "), err
    manifest = orjson.loads((bundle / "manifest.json").read_bytes())
    assert (manifest["ok"], manifest["evidence"]) == (False, "NOT VERIFIED")
    assert manifest["run_ended"]["said"].startswith(f"NOT SEALED: {doubt}")
    assert not set(lost) & set(manifest["artifacts"])  # no digest of a file that is not there
    (document,) = bundle.glob("EV-*.md")
    assert f"- Evidence: **NOT VERIFIED** ({doubt}: " in document.read_text(encoding="utf-8")

    report = tmp_path / "r.html"
    assert main(["report", str(run), "--output", str(report)]) == 0
    assert _lost_said(lost) in html.unescape(report.read_text(encoding="utf-8"))
    capsys.readouterr()
    assert main(["report", str(run)]) == 2  # run/report.html is a sealed run's: as a torn run's
    assert capsys.readouterr().err.startswith(f"livesession: error: {run}: {doubt}, and ")
    assert not (run / "report.html").exists()


@pytest.mark.broken_run("a run cut to its first snapshot, then given a byte order mark")
def test_status_reads_a_one_line_file_past_a_byte_order_mark(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the readers of a file's last line (``last_whole_line``, and ``status``'s look at
    each file's end) read a one-line file's only line with the mark a copy put before it:
    ``status`` of a run whose ``state_snapshots.jsonl`` holds its first snapshot alone said
    ``state_snapshots.jsonl's last line is not a JSON object`` and ``state STOPPED (?)``,
    where ``verify`` judges the line without the mark. It reads as the same run without it."""
    said = {}
    for name, mark in (("plain", b""), ("marked", b"\xef\xbb\xbf")):
        run = tmp_path / name / "desk"
        shutil.copytree(sealed, run)
        snapshots = run / "state_snapshots.jsonl"
        first = snapshots.read_bytes().split(b"\n", 1)[0]
        snapshots.write_bytes(mark + first + b"\n")
        capsys.readouterr()
        assert main(["status", str(run)]) == 5
        lines = capsys.readouterr().out.splitlines()
        said[name] = [
            line.replace(name, "RUN") for line in lines if line.startswith(("prob", "st"))
        ]
    assert said["marked"] == said["plain"]
    assert (
        "problem     the seal is not borne out: state_snapshots.jsonl does not end with the "
        in (said["plain"][0])
    )


@pytest.mark.broken_run("a byte order mark put before a run file's first line, after its bundle")
def test_verify_manifest_reads_the_first_record_past_a_byte_order_mark(
    sealed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: `manifest.json: config_hash '...', but the run's record of it cannot be
    read (verify names the line)`, of the line verify judges without the mark."""
    name = "events.jsonl"
    run = _copy(sealed, tmp_path)
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run), "--out", str(bundle)]) == 0
    path = run / name
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    capsys.readouterr()

    assert main(["verify", str(run), "--manifest", str(bundle / "manifest.json")]) == 1

    out = capsys.readouterr().out.splitlines()
    assert not [line for line in out if line.startswith("manifest.json:")], out
    assert next(line for line in out if line.startswith(f"{name}: SHA-256 ")).endswith(
        "; it matches with its BOM removed: changed on the way (taken for text), not in its "
        "records; get a byte-exact copy"
    )
