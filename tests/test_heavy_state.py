"""A strategy with a heavy state: a resume hands it back as taken, and bytes are said.

A resumed strategy gets its state's dicts in the order its ``get_state`` gave them.

Every checkpoint store writes the state with its keys sorted, at every level. A strategy
that keeps the last closes in a dict, oldest first, and drops ``next(iter(d))`` (a dict
keeps its insertion order) was handed them sorted by a resume: it dropped another close,
and the resumed run parted from the uninterrupted one, although ``get_state`` held all its
memory and ``set_state`` restored all of it (the evidence asked whether it did).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, OrderIntent, OrderType, Side
from livesession._exceptions import CheckpointError, PluginStateError
from livesession._rundir import create_run, resume_run
from livesession._session.plugstate import PlugInState
from livesession._session.stateorder import own_state
from livesession.verify import verify_run

STEPS, CRASH_AFTER, EVERY = 60, 27, 10


class Fifo:
    """Keeps the last 20 closes in a dict, oldest first; buys when the oldest is below."""

    strategy_id = "fifo"

    def __init__(self) -> None:
        self.recent: dict[str, int] = {}
        self.given: list[list[str]] = []  # the keys set_state was handed, in their order

    def on_bar(self, bar: Any, view: Any) -> list[OrderIntent]:
        self.recent[str(bar.close)] = len(self.recent)
        if len(self.recent) > 20:
            del self.recent[next(iter(self.recent))]  # the oldest
        oldest, held = Decimal(next(iter(self.recent))), view.position(bar.symbol)
        side = Side.BUY if oldest < bar.close and held <= 0 else None
        side = Side.SELL if oldest > bar.close and held > 0 else side
        if side is None:
            return []
        qty = Decimal("0.010") if side is Side.BUY else held
        return [
            OrderIntent(symbol=bar.symbol, side=side, quantity=qty, order_type=OrderType.MARKET)
        ]

    def get_state(self) -> dict[str, Any]:
        return {"window": {"recent": dict(self.recent)}, "kept": "all"}

    def set_state(self, state: dict[str, Any]) -> None:
        self.given.append(list(state))
        self.recent = dict(state["window"]["recent"])


def _config() -> DryrunConfig:
    return DryrunConfig(
        run_id="fifo", strategy_id="fifo", steps=STEPS, checkpoint_every=EVERY, seed=7
    )


def test_a_resumed_run_keeps_the_order_of_the_state_dicts(tmp_path: Path) -> None:
    cfg = _config()
    with create_run(cfg, tmp_path / "straight", strategy=Fifo()) as session:
        session.run_to_end(cfg.steps)
    crashed = create_run(cfg, tmp_path / "crashed", strategy=Fifo())
    assert crashed.preflight()
    crashed.activate()
    crashed.run_n_steps(CRASH_AFTER)
    del crashed  # the process dies here: never closed, never sealed
    again = Fifo()
    with resume_run(tmp_path / "crashed" / "fifo", strategy=again) as session:
        result = session.run_to_end(cfg.steps)
    assert result.status.value == "COMPLETED", result
    assert again.given == [["window", "kept"]]  # the top level's order too
    straight = (tmp_path / "straight" / "fifo" / "events.jsonl").read_bytes()
    assert (tmp_path / "crashed" / "fifo" / "events.jsonl").read_bytes() == straight
    assert verify_run(tmp_path / "crashed" / "fifo").ok


def test_a_sorted_state_adds_nothing_to_the_checkpoint(tmp_path: Path) -> None:
    class Sorted(Fifo):
        def get_state(self) -> dict[str, Any]:
            return {"kept": "all", "window": {"recent": dict(sorted(self.recent.items()))}}

    cfg = _config()
    with create_run(cfg, tmp_path, strategy=Sorted()) as session:
        session.run_to_end(cfg.steps)
    checkpoint = orjson.loads((tmp_path / "fifo" / "checkpoint.json").read_bytes())
    assert "strategy_key_order" not in checkpoint
    assert checkpoint["strategy"]["kept"] == "all"


@pytest.mark.parametrize(
    ("orders", "why"),
    [
        ("b a", "it is no list"),
        ([["x"]], "['x'] is no [place, keys] pair"),
        ([[["nowhere"], ["a"]]], "its place ['nowhere'] is not in the state"),
        ([[[], ["a"]]], "['a'] are not the keys it holds there"),
        ([[[], ["a", 1]]], "['a', 1] are not the keys it holds there"),
    ],
)
def test_an_order_that_does_not_fit_the_state_is_refused(orders: object, why: str) -> None:
    checkpoint = {"strategy": {"b": 1, "a": [2]}, "strategy_key_order": orders}
    with pytest.raises(CheckpointError) as caught:
        own_state(checkpoint, "strategy")
    assert str(caught.value) == (
        f"the checkpoint's strategy_key_order does not fit its strategy state ({why}): "
        "restore the checkpoint from a backup or start a new run directory"
    )


def test_an_order_is_put_back_at_its_place_in_lists_and_dicts() -> None:
    state = {"a": [{"z": 1, "y": 2}], "b": {"d": {"q": 0, "p": 1}}}
    checkpoint = {"strategy": orjson.loads(orjson.dumps(state, option=orjson.OPT_SORT_KEYS))}
    checkpoint["strategy_key_order"] = [[["a", 0], ["z", "y"]], [["b", "d"], ["q", "p"]]]
    back = own_state(checkpoint, "strategy")
    assert back == state
    assert list(back["a"][0]) == ["z", "y"]
    assert list(back["b"]["d"]) == ["q", "p"]


@pytest.mark.parametrize("blob", [b"\x80\x04K\x01.", bytearray(b"ab"), memoryview(b"ab")])
def test_bytes_in_the_state_are_refused_saying_what_keeps_them(blob: object) -> None:
    """A pickled model kept as bytes was refused with no word of what JSON can hold of it
    (a memoryview's word was ``x.tolist()``, a list of ints four times its size)."""

    class Pickled(Fifo):
        def get_state(self) -> dict[str, Any]:
            return {"model": {"pickled": blob}}

    with pytest.raises(PluginStateError) as caught:
        PlugInState("strategy", Pickled(), reason="STRATEGY_ERROR").get_state()
    said = str(caught.value.cause)
    assert said.startswith(
        f"get_state gave what JSON cannot hold (Type is not JSON serializable: "
        f"{type(blob).__name__}) at state['model']['pickled'] (base64.b64encode(x).decode() "
        "is it as text, base64.b64decode(s) it again): use only JSON types"
    ), said


class _Float32:
    """As numpy's float32 or bool_: no float or int subclass, ``item`` and ``tolist`` but no
    length (an array's ``tolist`` is a list)."""

    def item(self) -> float:
        return 0.5

    def tolist(self) -> float:
        return 0.5


def test_a_numpy_scalar_of_no_python_type_is_refused_saying_item_gives_it() -> None:
    """A float32 coefficient (or a bool_ flag) was refused with no word of what gives its
    value, as a float64 (a float) and an int64 (an index) are."""

    class Scalars(Fifo):
        def get_state(self) -> dict[str, Any]:
            return {"coef": [0.25, _Float32()]}

    with pytest.raises(PluginStateError) as caught:
        PlugInState("strategy", Scalars(), reason="STRATEGY_ERROR").get_state()
    assert str(caught.value.cause).startswith(
        "get_state gave what JSON cannot hold (Type is not JSON serializable: _Float32) at "
        "state['coef'][1] (x.item() is the plain value it holds): use only JSON types"
    )
