"""`livesession status` of a finished run whose evidence bundle lies beside it.

Status told every COMPLETED run `verify ..., then livesession evidence ...`, also after
the evidence was written: a reviewer read that the bundle was still to be made. A bundle
of the run's own records (its run id and audit head) is now named, with the command that
holds the run to it; any other (another run's, an older head, its document gone) leaves the
verdict's own advice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.status import run_status

_GENERIC = (
    "verify before handing it over: `livesession verify {run}`, then `livesession evidence {run}`"
)


def _run(out: Path, run_id: str) -> Path:
    assert main(["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "30", "-q"]) == 0
    return out / run_id


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    run = _run(tmp_path / "runs", "done")
    assert run_status(run).next_step().startswith(_GENERIC.format(run=run))
    assert main(["evidence", str(run)]) == 0
    return run


def _document(run: Path) -> Path:
    (found,) = run.glob("EV-*-done.md")
    return found


def test_status_names_the_bundle_and_the_command_that_holds_the_run_to_it(
    bundled: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    said = run_status(bundled).next_step()
    created = orjson.loads((bundled / names.MANIFEST).read_bytes())["created_utc"][:19]
    held = f"livesession verify --manifest {bundled} {bundled}"
    assert said == (
        f"hand over its evidence bundle ({_document(bundled).name} and manifest.json: "
        f"VERIFIED, written {created}Z); `{held}` holds the run to it first (status reads "
        "only the ends of the files)"
    )
    capsys.readouterr()
    assert main(held.split()[1:]) == 0, "the command it prints holds the run to its bundle"
    assert "manifest  manifest.json is run done's" in capsys.readouterr().out


def test_a_bundle_that_is_not_verified_says_so(bundled: Path) -> None:
    manifest = bundled / names.MANIFEST
    document = orjson.loads(manifest.read_bytes())
    manifest.write_bytes(orjson.dumps(document | {"evidence": "NOT VERIFIED", "ok": False}))
    assert run_status(bundled).next_step() == (
        f"its evidence bundle says NOT VERIFIED ({_document(bundled).name} says why): put "
        f"that right, then `livesession evidence {bundled}` writes it again"
    )


def test_a_bundle_of_other_records_leaves_the_advice_to_write_one(bundled: Path) -> None:
    other = _run(bundled.parent, "other")
    for name in (names.MANIFEST, _document(bundled).name):
        shutil.copy2(bundled / name, other / name)
    assert run_status(other).next_step().startswith(_GENERIC.format(run=other)), "another run's"
    _document(bundled).unlink()
    assert run_status(bundled).next_step().startswith(_GENERIC.format(run=bundled)), "no document"
