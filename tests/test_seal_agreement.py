"""status, verify, report and evidence read one seal, the way ``status`` reads it.

With only the audit log's closing ``C2_DRYRUN_STOP`` gone (a sealed checkpoint beside it),
verify said "the seal's audit record is missing: ... keep the run as it is", status "the
seal is not borne out", while the report showed a COMPLETED run with no NOT SEALED badge
whose Verification said "(incomplete run)" (the way to resume), and the evidence manifest
said ``"sealed": true`` with "At the seal: ...". The events' SESSION_STOPPED was taken for
the seal.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import orjson
import pytest

from livesession.cli import main
from livesession.evidence import write_evidence
from livesession.report import render_report
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

pytestmark = pytest.mark.broken_run("the audit log loses its closing record on purpose")

_DOUBT = "the seal is not borne out: audit.jsonl does not end with C2_DRYRUN_STOP"


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "cut", "--steps", "80", "-q"]) == 0
    return out / "cut"


@pytest.fixture(name="cut")
def _cut(sealed: Path, tmp_path: Path) -> Path:
    """The sealed run with its audit log's last line (C2_DRYRUN_STOP) cut off."""
    run = tmp_path / "cut"
    shutil.copytree(sealed, run)
    audit = run / "audit.jsonl"
    lines = audit.read_bytes().splitlines(keepends=True)
    assert b'"C2_DRYRUN_STOP"' in lines[-1]
    audit.write_bytes(b"".join(lines[:-1]))
    return run


def _text(document: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())


def test_status_and_verify_say_so(cut: Path) -> None:
    """What the other tools now agree with."""
    standing = run_status(cut)
    assert (standing.verdict, standing.problem, standing.sealed) == (
        Verdict.NEEDS_OPERATOR,
        _DOUBT,
        False,
    )
    assert verify_run(cut).summary.startswith("the seal's audit record is missing: ")


def test_a_whole_seal_is_sealed_for_every_tool(sealed: Path) -> None:
    """The run as sealed: status's ``sealed``, and the report with its final values."""
    assert run_status(sealed).sealed
    text = _text(render_report(sealed))
    assert "NOT SEALED" not in text
    assert "final equity" in text


def test_the_report_says_not_sealed_and_why(cut: Path) -> None:
    text = _text(render_report(cut))

    header = text[: text.index("Verification")]
    assert "NOT SEALED" in header
    assert "The seal is not borne out: audit.jsonl does not end with C2_DRYRUN_STOP" in header
    assert "keep the run as it is" in header
    assert "(incomplete run)" not in text
    assert (
        "audit.jsonl: no closing C2_DRYRUN_STOP record, though checkpoint.json is sealed: the "
        "seal's audit record is missing (the audit log was cut); resume cannot restore it: "
        "keep the run as it is and report it"
    ) in text
    assert "final equity" not in text
    assert "status COMPLETED (not sealed)" in text


def test_the_evidence_says_not_sealed_and_why(cut: Path, tmp_path: Path) -> None:
    result = write_evidence(cut, out_dir=tmp_path / "evidence")

    manifest = orjson.loads(result.manifest.read_bytes())
    assert manifest["outcome"]["sealed"] is False
    assert manifest["outcome"]["seal_problem"] == _DOUBT
    assert result.problems[0] == f"{_DOUBT}: keep the run as it is and report it"
    document = result.document.read_text(encoding="utf-8")
    assert f"The run is **not sealed**: {_DOUBT}" in document
    assert "At the seal" not in document


def test_the_report_of_it_goes_only_to_an_output_given(
    cut: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``RUN/report.html`` is only ever a sealed run's: of a run whose seal is in doubt it is
    refused without --output (exit 2, one line, nothing written), and written there."""
    assert main(["report", str(cut)]) == 2
    said = capsys.readouterr()
    assert said.out == ""
    assert said.err == (
        f"livesession: error: {cut}: {_DOUBT}, and {cut / 'report.html'} is a sealed run's: "
        "write its report elsewhere with --output PATH (keep the run as it is)\n"
    )
    assert not (cut / "report.html").exists()
    elsewhere = tmp_path / "doubt.html"
    assert main(["report", str(cut), "--output", str(elsewhere)]) == 0
    assert "NOT SEALED" in elsewhere.read_text(encoding="utf-8")
