"""What the tamper campaign (``test_tamper.py``, ``nox -s tamper``) found, each as its own
test: an edit to a finished run that a read-side command let through or mishandled."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.verify import verify_run

from _helpers import crash_in_step


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


def _crashed_on_jsonl(out: Path) -> Path:
    """A JSON Lines run torn by an interrupt in its 12th step: its keys in idempotency.jsonl."""
    cfg = DryrunConfig(run_id="j", steps=30, checkpoint_every=5)
    crash_in_step(create_run(cfg, out, idempotency_backend="jsonl"), 12, 30)
    return out / "j"


def _files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ({"idempotency_backend": None}, "idempotency_backend missing, store local"),
        ({"store": None}, "idempotency_backend jsonl, store missing"),
        ({"store": "postgres"}, "idempotency_backend jsonl, store postgres"),
        ({"idempotency_backend": "sqlite3"}, "idempotency_backend sqlite3, store local"),
    ],
)
def test_run_json_that_loses_where_the_keys_are_refuses_resume_and_fails_verify(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: dict[str, object], said: str
) -> None:
    """Without ``idempotency_backend`` a resume fell back to ``sqlite``: a JSON Lines run's
    keys were not there, and the resume would have sent its orders again."""
    run = _crashed_on_jsonl(tmp_path)
    original = (run / "run.json").read_bytes()
    meta = orjson.loads(original)
    for key, value in edit.items():
        if value is None:
            del meta[key]
        else:
            meta[key] = value
    (run / "run.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n")
    before = _files(run)

    assert main(["resume", str(run), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"run.json does not say where the run kept its client order ids ({said})" in err
    assert "nothing was changed" in err
    assert _files(run) == before
    assert f"{said}: where the run kept its client order ids is lost" in " ".join(
        verify_run(run).violations
    )
    assert main(["status", str(run)]) == 5  # a person must look, not "crashed, resumable"
    capsys.readouterr()

    (run / "run.json").write_bytes(original)  # restored from a backup: it resumes
    assert main(["resume", str(run), "-q"]) == 0
    assert verify_run(run).ok
