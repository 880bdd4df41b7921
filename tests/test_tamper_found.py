"""What the tamper campaign (``test_tamper.py``, ``nox -s tamper``) found, each as its own
test: an edit to a finished run that a read-side command let through or mishandled."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.verify import verify_run


def _finished(out: Path, run_id: str = "t") -> Path:
    """A small sealed run made by ``create_run``."""
    with create_run(DryrunConfig(run_id=run_id, steps=5), out) as session:
        assert session.preflight()
        session.activate()
        session.run_to_end(5)
    return out / run_id


@pytest.mark.broken_run("run.json loses its config_hash on purpose")
@pytest.mark.parametrize("edit", ["renamed", "removed", "not_text"])
def test_run_json_without_its_config_hash_fails_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: str
) -> None:
    """A flipped byte of the key (``bonfig_hash``) verified OK while ``evidence`` and
    ``resume`` refused the run (``config.json does not match the run's config hash``)."""
    run = _finished(tmp_path)
    meta = orjson.loads((run / "run.json").read_bytes())
    recorded = meta.pop("config_hash")
    if edit == "renamed":
        meta["bonfig_hash"] = recorded
    elif edit == "not_text":
        meta["config_hash"] = 7
    (run / "run.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS))
    result = verify_run(run)
    assert not result.ok
    said = (
        "run.json: no config_hash: the hash of the whole config that resume and evidence "
        "hold config.json to is lost (they refuse the run); restore it from a backup"
    )
    assert result.violations == (said,)
    assert main(["verify", str(run)]) == 1
    assert "run.json: no config_hash" in capsys.readouterr().out
