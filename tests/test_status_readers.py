"""What ``status`` says of a sealed run whose checkpoint it reads damaged.

A sealed run's steps, state, trading state and book are read from its sealing checkpoint,
which the audit chain does not hold. One edited in place (a byte of its ``steps``, of its
``fsm_state``) read ``completed`` (exit 0), ``steps 90 of 60``, and verified clean: a
reviewer reading ``completed`` could hand it over. The seal's own records (the audit's
``C2_DRYRUN_STOP``, the final snapshot, ``SESSION_STOPPED``), written just before it, now
hold it: ``needs_operator`` (exit 5), the problem naming what, ``next`` pointing at
``verify``, which names it too.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

if TYPE_CHECKING:
    from collections.abc import Callable


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "kept", "--steps", "60", "-q"]) == 0
    return out / "kept"


def _positions_moved(checkpoint: bytes) -> bytes:
    document = orjson.loads(checkpoint)
    document["book"]["positions"] = {"BTC/USDT": "0.010"}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


@pytest.mark.broken_run("the sealing checkpoint is damaged on purpose")
@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (
            lambda raw: _last_replaced(raw, b'"steps": 60,', b'"steps": 90,'),
            "its steps 90, but audit.jsonl's C2_DRYRUN_STOP says 60",
        ),
        (
            lambda raw: _last_replaced(raw, b'"STOPPED"', b'"STOPPEX"'),
            "its fsm_state 'STOPPEX', but state_snapshots.jsonl' final snapshot says 'STOPPED'",
        ),
        (
            lambda raw: _last_replaced(raw, b'"trading": "ACTIVE"', b'"trading": "ACTIVX"'),
            "its trading 'ACTIVX' is no trading state",
        ),
        (
            _positions_moved,
            "its positions {'BTC/USDT': '0.010'}, but the final snapshot's are",
        ),
    ],
    ids=["steps", "state", "trading", "positions"],
)
def test_a_damaged_sealing_checkpoint_is_not_completed(
    sealed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    damage: Callable[[bytes], bytes],
    said: str,
) -> None:
    run = tmp_path / "kept"
    shutil.copytree(sealed, run)
    path = run / names.CHECKPOINT
    path.write_bytes(damage(path.read_bytes()))
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    standing = run_status(run)
    assert standing.verdict is Verdict.NEEDS_OPERATOR, standing.problem
    assert standing.problem.startswith("the seal is not borne out: checkpoint.json is damaged: ")
    assert said in standing.problem
    assert not standing.sealed
    assert main(["status", str(run)]) == Verdict.NEEDS_OPERATOR.value
    text = capsys.readouterr().out
    assert f"`livesession verify {run}` says what is wrong" in text

    found = verify_run(run)
    assert not found.ok
    assert any(
        v.startswith("checkpoint.json: the sealing checkpoint is damaged: ") and said in v
        for v in found.violations
    ), found.violations
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before, "status and verify read only"


def _last_replaced(raw: bytes, old: bytes, new: bytes) -> bytes:
    at = raw.rindex(old)
    return raw[:at] + new + raw[at + len(old) :]
