"""``sealing_checkpoint_unlike``: a sealing checkpoint held to the seal's own records.

Each value ``status`` reads of a sealed run from ``checkpoint.json`` (steps, state, reason,
failed, trading state, book) is held to the final snapshot, the audit's ``C2_DRYRUN_STOP``
and ``SESSION_STOPPED``; a checkpoint that says it is not sealed, or a key either side
lacks, is not held. Read here through the function itself, on a sealed dry run and
checkpoints edited in memory (the run's files untouched), so that each of its checks is
pinned, the ones that must stay quiet on an honest run too.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._rundir.seal import sealing_checkpoint_unlike
from livesession.cli import main


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "kept", "--steps", "60", "-q"]) == 0
    return out / "kept"


@pytest.fixture(name="checkpoint")
def _checkpoint(sealed: Path) -> dict[str, Any]:
    document = orjson.loads((sealed / names.CHECKPOINT).read_bytes())
    assert document["sealed"] is True
    assert document["failed"] is False
    assert document["book"]["positions"] == {"BTC/USDT": "0.000"}
    assert document["book"]["open"] == []
    return document


def _edited(checkpoint: dict[str, Any], **changes: Any) -> dict[str, Any]:
    edited = copy.deepcopy(checkpoint)
    edited.update(changes)
    return edited


def _with_book(checkpoint: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return _edited(checkpoint, book={**checkpoint["book"], **changes})


def test_an_honest_sealing_checkpoint_is_like_its_seal(
    sealed: Path, checkpoint: dict[str, Any]
) -> None:
    assert sealing_checkpoint_unlike(sealed) == []  # read from the file
    assert sealing_checkpoint_unlike(sealed, checkpoint) == []


def test_the_checkpoint_given_is_the_one_held(sealed: Path, checkpoint: dict[str, Any]) -> None:
    said = sealing_checkpoint_unlike(sealed, _edited(checkpoint, steps=61))
    assert said == ["its steps 61, but audit.jsonl's C2_DRYRUN_STOP says 60"]


def test_a_checkpoint_not_sealed_is_not_held(sealed: Path, checkpoint: dict[str, Any]) -> None:
    assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, sealed=False, steps=61)) == []
    assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, sealed=1, steps=61)) == []


def test_a_key_the_checkpoint_lacks_is_not_held(sealed: Path, checkpoint: dict[str, Any]) -> None:
    bare = {"sealed": True, "book": checkpoint["book"]}  # no steps, state, reason, trading
    assert sealing_checkpoint_unlike(sealed, bare) == []


def test_a_sealing_checkpoint_without_its_book_is_damaged(
    sealed: Path, checkpoint: dict[str, Any]
) -> None:
    """Every release's sealing checkpoint has a book (tests/data/v010 too): none is damage."""
    without = {key: value for key, value in checkpoint.items() if key != "book"}
    assert sealing_checkpoint_unlike(sealed, without) == ["its book None is no book"]


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        (
            {"fsm_state": "RUNNING"},
            "its fsm_state 'RUNNING', but state_snapshots.jsonl' final snapshot says 'STOPPED'",
        ),
        ({"reason": "KILLED"}, "its reason 'KILLED', but events.jsonl' SESSION_STOPPED says ''"),
        ({"failed": True}, "its failed True, but the seal says COMPLETED"),
        ({"trading": None}, "its trading None is no trading state"),
        ({"book": None}, "its book None is no book"),
    ],
    ids=["fsm_state", "reason", "failed", "trading", "no-book"],
)
def test_each_value_is_held_to_the_seal(
    sealed: Path, checkpoint: dict[str, Any], changes: dict[str, Any], said: str
) -> None:
    assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, **changes)) == [said]


@pytest.mark.parametrize("trading", ["ACTIVE", "REDUCING", "HALTED"])
def test_each_trading_state_is_one(sealed: Path, checkpoint: dict[str, Any], trading: str) -> None:
    assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, trading=trading)) == []


@pytest.mark.parametrize(
    "positions", [{"BTC/USDT": "0"}, {}, {"BTC/USDT": "0", "ETH/USDT": "0.00"}]
)
def test_flat_is_flat_however_written(
    sealed: Path, checkpoint: dict[str, Any], positions: dict[str, str]
) -> None:
    assert sealing_checkpoint_unlike(sealed, _with_book(checkpoint, positions=positions)) == []


@pytest.mark.parametrize(
    "positions", [{"BTC/USDT": "0.001"}, {"ETH/USDT": "1"}, {"BTC/USDT": "zero"}, None, ["0"]]
)
def test_positions_unlike_the_final_snapshot(
    sealed: Path, checkpoint: dict[str, Any], positions: object
) -> None:
    said = sealing_checkpoint_unlike(sealed, _with_book(checkpoint, positions=positions))
    assert said == [
        f"its positions {positions!r}, but the final snapshot's are {{'BTC/USDT': '0.000'}}"
    ]


def test_an_open_order_the_final_snapshot_lacks(sealed: Path, checkpoint: dict[str, Any]) -> None:
    book_open = [{"order": {"client_order_id": "ls1"}}, "not an order"]
    said = sealing_checkpoint_unlike(sealed, _with_book(checkpoint, open=book_open))
    assert said == ["its open orders ['ls1'], but the final snapshot's are []"]


@pytest.mark.broken_run("the final snapshot is edited to hold an open order")
@pytest.mark.parametrize("order", [{"client_order_id": "ls1"}, "ls1"], ids=["object", "id"])
def test_an_open_order_the_final_snapshot_holds(
    sealed: Path, checkpoint: dict[str, Any], tmp_path: Path, order: object
) -> None:
    run = _final_edited(sealed, tmp_path, open_orders=[order])
    held = _with_book(checkpoint, open=[{"order": {"client_order_id": "ls1"}}])
    assert sealing_checkpoint_unlike(run, held) == []
    assert sealing_checkpoint_unlike(run, checkpoint) == [
        "its open orders [], but the final snapshot's are ['ls1']"
    ]


@pytest.mark.broken_run("the last snapshot is made no final one")
def test_without_a_final_snapshot_only_the_audit_and_events_hold_it(
    sealed: Path, checkpoint: dict[str, Any], tmp_path: Path
) -> None:
    run = _final_edited(sealed, tmp_path, trigger="transition", fsm_state="RUNNING", step=59)
    assert sealing_checkpoint_unlike(run, _edited(checkpoint, book=None)) == []
    assert sealing_checkpoint_unlike(run, _edited(checkpoint, steps=59)) == [
        "its steps 59, but audit.jsonl's C2_DRYRUN_STOP says 60"
    ]


def _final_edited(sealed: Path, tmp_path: Path, **changes: object) -> Path:
    """A copy of ``sealed`` whose last snapshot has ``changes``."""
    run = tmp_path / "kept"
    run.mkdir()
    for name in (names.SNAPSHOTS, names.AUDIT, names.EVENTS):
        (run / name).write_bytes((sealed / name).read_bytes())
    *before, last = (run / names.SNAPSHOTS).read_bytes().splitlines(keepends=True)
    final = orjson.loads(last) | changes
    (run / names.SNAPSHOTS).write_bytes(b"".join(before) + orjson.dumps(final) + b"\n")
    return run


def test_a_book_of_another_type_is_no_book(sealed: Path, checkpoint: dict[str, Any]) -> None:
    """A garbled book (a list, text) is said so, not read as one (which raised)."""
    for book in (["open"], "book", 0):
        assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, book=book)) == [
            f"its book {book!r} is no book"
        ]


@pytest.mark.broken_run("the final snapshot is edited to hold no list of open orders")
@pytest.mark.parametrize("open_orders", [None, "none"])
def test_a_final_snapshot_without_its_open_orders_holds_none(
    sealed: Path, checkpoint: dict[str, Any], tmp_path: Path, open_orders: object
) -> None:
    """Where the final snapshot says no open orders (a key another release may lack), the
    checkpoint's are not held to them: only its positions are."""
    run = _final_edited(sealed, tmp_path, open_orders=open_orders)
    held = _with_book(checkpoint, open=[{"order": {"client_order_id": "ls1"}}])
    assert sealing_checkpoint_unlike(run, held) == []


@pytest.mark.broken_run("the audit's last record is edited to say no status")
def test_a_seal_that_says_no_status_holds_no_failed(
    sealed: Path, checkpoint: dict[str, Any], tmp_path: Path
) -> None:
    """``failed`` is held to the seal's status only where the seal says one."""
    run = _final_edited(sealed, tmp_path)
    *before, last = (run / names.AUDIT).read_bytes().splitlines(keepends=True)
    stop = orjson.loads(last)
    del stop["payload"]["status"]
    (run / names.AUDIT).write_bytes(b"".join(before) + orjson.dumps(stop) + b"\n")
    assert sealing_checkpoint_unlike(run, _edited(checkpoint, failed=True)) == []
    assert sealing_checkpoint_unlike(sealed, _edited(checkpoint, failed=True)) == [
        "its failed True, but the seal says COMPLETED"
    ]
