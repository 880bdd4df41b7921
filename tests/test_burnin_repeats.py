"""A burn-in of a run whose evidence found that it does not repeat says so.

``burnin`` reads the run's ``manifest.json`` for the kill drill's figure, and used to say
nothing of the determinism verdict the same manifest holds: a strategy that decides by an
unseeded random source, the wall clock or a set's order got ``PASS`` (exit 0), its flatten
line quoting the evidence that had said ``NOT VERIFIED: the determinism re-run does not
match``. The verdict stays the criteria's; a note now says what the evidence found.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from livesession.cli import main
from livesession.evidence import write_evidence
from test_burnin import _oco_run
from test_evidence import _REMEMBERS

_SAID = "the evidence in manifest.json says NOT VERIFIED: "
_ANY = ["--min-signals", "0", "--min-decisions", "0", "--min-oco", "0"]


def _burnin(run: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict, str]:
    """``burnin --json RUN``, then ``burnin RUN``: the code, the session, the lines."""
    code = main(["burnin", "--json", *_ANY, str(run)])
    session = orjson.loads(capsys.readouterr().out)["sessions"][0]
    assert main(["burnin", *_ANY, str(run)]) == code
    return code, session, capsys.readouterr().out


@pytest.fixture(name="unrepeatable", scope="module")
def _unrepeatable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sealed run of a strategy that buys at bar 10 when first made, at bar 11 after.

    Its package has a name of its own, and leaves this process's modules as it found them:
    test_evidence's test of the same strategy imports ``rememberplug`` from its own folder,
    which a process that already imported one from here refuses.
    """
    where = tmp_path_factory.mktemp("repeats")
    (where / "repeatsplug").mkdir()
    (where / "repeatsplug" / "__init__.py").write_text(_REMEMBERS)
    config = where / "remembers.toml"
    config.write_text('strategy_id = "remembers"\nstrategy_factory = "repeatsplug:make"\n')
    args = ["--config", str(config), "--out", str(where), "--run-id", "nd", "--steps", "30"]
    try:
        assert main(["dryrun", *args, "-q"]) == 0
        yield where / "nd"
    finally:
        sys.modules.pop("repeatsplug", None)


def test_a_burnin_says_the_evidence_found_the_run_does_not_repeat(
    unrepeatable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(unrepeatable, tmp_path / "nd"))
    result = write_evidence(run)
    problem = result.problems[0]
    assert problem.startswith("the determinism re-run does not match: events.jsonl line ")
    code, session, out = _burnin(run, capsys)
    # The criteria are met, and still are: the verdict is theirs, the note what it hides.
    assert (code, session["verdict"]) == (0, "PASS")
    assert session["notes"] == [_SAID + problem]
    assert f"      note         {_SAID}{problem}\n" in out
    assert (
        f"Note: {_SAID}the determinism re-run does not match: " in (run / "burnin.md").read_text()
    )
    # The manifest's own burn-in, written as the evidence ran, reads no earlier manifest.
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    assert not any("NOT VERIFIED" in note for note in manifest["burnin"]["notes"])


def test_no_note_before_the_evidence_or_of_another_runs_manifest(
    unrepeatable: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = Path(shutil.copytree(unrepeatable, tmp_path / "nd"))
    assert not [n for n in _burnin(run, capsys)[1]["notes"] if "NOT VERIFIED" in n]
    other = {
        "run_id": "other-1",
        "determinism": {"status": "MISMATCH", "first_difference": "events.jsonl line 9"},
        "problems": ["the determinism re-run does not match: events.jsonl line 9"],
    }
    (run / "manifest.json").write_bytes(orjson.dumps(other))
    assert not [n for n in _burnin(run, capsys)[1]["notes"] if "NOT VERIFIED" in n]
    # This run's, hand-edited to no problem lines: where the runs part, as recorded.
    head = hashlib.sha256((run / "audit.jsonl").read_bytes().splitlines()[-1]).hexdigest()
    mine = other | {"run_id": "nd", "audit_head": head, "problems": "\n".join(["x"] * 3)}
    (run / "manifest.json").write_bytes(orjson.dumps(mine))
    said = f'{_SAID}the determinism re-run does not match: "events.jsonl line 9"'
    assert _burnin(run, capsys)[1]["notes"] == [said]


def test_a_deterministic_run_verified_by_its_evidence_gets_no_such_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _oco_run(tmp_path / "runs")
    assert write_evidence(run).problems == ()
    code, session, _ = _burnin(run, capsys)
    assert (code, session["notes"]) == (0, [])
