"""Checkpoints on their own: when they are written, gather/restore, and a whole session's."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import hashlib
import io
import logging
from decimal import Decimal
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, SessionState, Transient
from livesession._artifacts import names
from livesession._artifacts.recorder import Recorder
from livesession._artifacts.sinks import MemoryLineSink, MemoryMetricsSink
from livesession._domain.lifecycle import Trigger
from livesession._domain.retry import RetryPolicy
from livesession._exceptions import CheckpointError, PluginStateError, SinkFailure
from livesession._session.assembly import (
    SessionEdges,
    SessionParts,
    assemble,
    replay_window_ns,
)
from livesession._session.checkpoint import (
    Checkpointer,
    VenueOffsets,
    gather,
    restore,
)
from livesession._session.pipeline import step_once
from livesession._session.plugstate import PlugInState
from livesession._session.preflight import run_preflight
from livesession._support.logging import configure_logging, disable_logging
from livesession._support.secrets import take_environment_secrets
from livesession.stores import FileCheckpointStore
from livesession.testing import FaultBroker

from _helpers import Sinks


class MemoryStore:
    """A checkpoint store that keeps every checkpoint it was given."""

    def __init__(self, error: Exception | None = None) -> None:
        self.saved: list[dict[str, Any]] = []
        self.error = error

    def save(self, checkpoint: dict[str, Any]) -> None:
        if self.error is not None:
            raise self.error
        self.saved.append(dict(checkpoint))

    def load(self) -> dict[str, Any] | None:
        return self.saved[-1] if self.saved else None


class Counter:
    """The state callable: a new number each time it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"n": self.calls}


def _recorder(metrics: MemoryMetricsSink) -> Recorder:
    return Recorder(
        run_id="t",
        strategy_id="s",
        events=MemoryLineSink(),
        states=MemoryLineSink(),
        audit=MemoryLineSink(),
        metrics=metrics,
    )


def _checkpointer(store, *, every: int = 3, durability: str = "none"):
    metrics = MemoryMetricsSink()
    state = Counter()
    cp = Checkpointer(
        store, recorder=_recorder(metrics), durability=durability, every=every, state=state
    )
    return cp, state, metrics


class CallsSink(MemoryLineSink):
    """A memory line sink that logs its flushes and syncs in ``calls``."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self._calls = calls

    def flush(self) -> None:
        self._calls.append("flush")

    def sync(self) -> None:
        self._calls.append("sync")


class CallsStore(MemoryStore):
    """A store that logs each save in the same ``calls`` as the sinks."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__()
        self._calls = calls

    def save(self, checkpoint: dict[str, Any]) -> None:
        self._calls.append("save")
        super().save(checkpoint)


def _logged(action: Any) -> list[dict[str, Any]]:
    """The session log's lines (info and up) while ``action`` runs."""
    log = io.StringIO()
    configure_logging(log, level=logging.INFO)
    try:
        action()
    finally:
        disable_logging()
    return [orjson.loads(line) for line in log.getvalue().splitlines()]


class TestCheckpointer:
    @pytest.mark.parametrize(
        ("durability", "step_1", "step_2"),
        [
            ("none", [], ["flush", "save"]),
            ("step", ["sync"], ["sync", "save"]),
            ("event", [], ["sync", "save"]),
        ],
    )
    def test_what_a_step_flushes_or_syncs_by_durability(self, durability, step_1, step_2):
        """durability none never syncs; step syncs at every step's end (the group commit);
        event (whose lines the recorder syncs as written) syncs before each checkpoint. The
        sinks are flushed, or synced, before the checkpoint is saved."""
        calls: list[str] = []
        rec = Recorder(
            run_id="t",
            strategy_id="s",
            events=CallsSink(calls),
            states=MemoryLineSink(),
            audit=MemoryLineSink(),
            metrics=MemoryMetricsSink(),
        )
        cp = Checkpointer(
            CallsStore(calls), recorder=rec, durability=durability, every=2, state=Counter()
        )
        rec.emit("ORDER_SUBMITTED", {})
        calls.clear()
        cp.end_of_step(1)
        assert calls == step_1
        rec.emit("ORDER_SUBMITTED", {})
        calls.clear()
        cp.end_of_step(2)
        assert calls == step_2

    def test_an_operator_s_verb_is_saved_now_between_steps_and_at_the_step_s_end_in_one(self):
        store = MemoryStore()
        cp, _, _ = _checkpointer(store, every=10)
        cp.operator_acted(in_step=False)
        assert store.saved == [{"n": 1}]
        cp.operator_acted(in_step=True)
        assert store.saved == [{"n": 1}]  # a step hook's verb: saved when the step ends
        cp.end_of_step(3)
        assert store.saved == [{"n": 1}, {"n": 2}]
        cp.end_of_step(4)  # owed once only
        assert store.saved == [{"n": 1}, {"n": 2}]

    def test_progress_is_logged_each_10000_steps(self):
        """The session log's periodic line, at the first step of each 10,000 reached (a
        step count that jumps logs once), with the run's counts."""
        rec = _recorder(MemoryMetricsSink())
        cp = Checkpointer(None, recorder=rec, durability="none", every=3, state=Counter())
        for event in ("ORDER_SUBMITTED", "ORDER_SUBMITTED", "ORDER_PARTIALLY_FILLED"):
            rec.emit(event, {})
        rec.emit("ORDER_FILLED", {})
        rec.emit("ORDER_REJECTED", {"reason": "VENUE_REJECT"})

        def run() -> None:
            for step in (9999, 10000, 10001, 19999, 20000, 35000, 39999, 40000):
                cp.end_of_step(step)

        lines = [line for line in _logged(run) if line["event"] == "progress"]
        assert [line["step"] for line in lines] == [10000, 20000, 35000, 40000]
        assert {k: lines[0][k] for k in ("events", "orders_submitted", "fills", "rejects")} == {
            "events": 5,
            "orders_submitted": 2,
            "fills": 2,
            "rejects": 1,
        }

    def test_saves_every_n_steps(self):
        store = MemoryStore()
        cp, state, metrics = _checkpointer(store, every=3)
        for step in range(1, 8):
            cp.end_of_step(step)
        assert store.saved == [{"n": 1}, {"n": 2}]  # steps 3 and 6
        assert state.calls == 2
        assert orjson.loads(metrics.content)["run_id"] == "t"  # metrics.json rewritten

    def test_into_a_file_store(self, tmp_path):
        store = FileCheckpointStore(tmp_path / "checkpoint.json", durable=False)
        cp, _, _ = _checkpointer(store, every=2)
        cp.end_of_step(1)
        assert store.load() is None
        cp.end_of_step(2)
        assert store.load() == {"n": 1}
        cp.end_of_step(4)
        assert store.load() == {"n": 2}

    def test_without_a_store_nothing_is_written(self):
        cp, state, metrics = _checkpointer(None, every=1)
        cp.end_of_step(1)
        cp.save()
        cp.save_quiet()
        assert state.calls == 0
        assert metrics.content == b""

    def test_seal_only_stops_every_write_but_the_seal(self):
        """A lost lease: no periodic or operator checkpoint from then on, but the seal's.

        Bug: every write stopped, the sealing one too, so a run sealed FAILED (LEASE_LOST)
        kept a checkpoint saying DRYRUN_ACTIVE, and status and resume took it for crashed.
        """
        store = MemoryStore()
        cp, state, _ = _checkpointer(store, every=1)
        cp.end_of_step(1)
        cp.seal_only()
        assert not cp.saving  # states are no longer recorded step by step
        cp.end_of_step(2)
        cp.save()
        assert store.saved == [{"n": 1}]
        assert state.calls == 1
        cp.save_quiet()  # the seal
        assert store.saved == [{"n": 1}, {"n": 2}]
        assert state.calls == 2

    @pytest.mark.parametrize(
        "error",
        [SinkFailure("events gone"), OSError(28, "No space left"), CheckpointError("cannot write")],
        ids=["sink", "os", "checkpoint"],
    )
    def test_save_quiet_swallows_sink_and_os_errors(self, error):
        cp, state, metrics = _checkpointer(MemoryStore(error=error))
        with pytest.raises(type(error)):
            cp.save()
        cp.save_quiet()
        assert state.calls == 2  # both tried
        assert orjson.loads(metrics.content)["run_id"] == "t"  # by save(), not save_quiet

    def test_save_quiet_leaves_metrics_alone(self):
        store = MemoryStore()
        cp, _, metrics = _checkpointer(store)
        cp.save_quiet()
        assert store.saved == [{"n": 1}]
        assert metrics.content == b""


class _JournaledBroker:
    """A venue whose journal offset the checkpoint asks for; ``error`` makes it fail."""

    def __init__(self) -> None:
        self.error: Exception | None = None

    def journal_offset(self) -> int:
        if self.error is not None:
            raise self.error
        return 7


def _venue_checkpointer(
    store: MemoryStore, broker: _JournaledBroker, *owners: Any, failed: Any = None
) -> Checkpointer:
    offsets = VenueOffsets(broker)  # type: ignore[arg-type]
    return Checkpointer(
        store,
        recorder=_recorder(MemoryMetricsSink()),
        durability="none",
        every=1,
        state=lambda: gather({}, [*owners, offsets]),
        venue_failed=failed,
    )


def _empty(journal: object) -> dict[str, Any]:
    return {
        "format": names.CHECKPOINT_FORMAT,
        "broker_journal_offset": journal,
        "venue_journal_offset": None,
    }


class TestVenueOffsets:
    def test_the_offset_is_asked_at_each_checkpoint(self):
        store = MemoryStore()
        cp = _venue_checkpointer(store, _JournaledBroker())
        cp.save()
        assert store.saved == [_empty(7)]

    def test_an_offset_the_broker_cannot_say_is_its_failure_and_the_last_checkpoint_stays(self):
        broker, store, failed = _JournaledBroker(), MemoryStore(), []
        broker.error = Transient("journal_offset timed out")
        cp = _venue_checkpointer(store, broker, failed=failed.append)
        cp.save()
        assert failed == [broker.error]
        assert store.saved == []
        cp = _venue_checkpointer(store, broker)  # no one to hand it to
        with pytest.raises(CheckpointError) as caught:
            cp.save()
        assert str(caught.value) == (
            "the broker's journal offset is unknown: journal_offset timed out"
        )

    def test_at_the_seal_the_offsets_are_given_up_and_its_checkpoint_goes_out(self):
        """A sealed run is never resumed; without its checkpoint status and resume would
        take it for a crashed one. The session log says why the offsets are None."""
        broker, store = _JournaledBroker(), MemoryStore()
        broker.error = Transient("journal_offset timed out")
        cp = _venue_checkpointer(store, broker, failed=lambda exc: pytest.fail("no step"))
        lines = _logged(cp.save_quiet)
        assert store.saved == [_empty(None)]
        assert cp.seal_refused is None
        assert [(line["event"], line["error"]) for line in lines] == [
            ("venue_offset_failed_at_seal", "journal_offset timed out")
        ]

    def test_a_plug_in_and_the_offsets_failing_at_the_seal_still_let_it_out(self):
        """The strategy's state fails first (before the offsets are asked), then the
        offsets: the seal's checkpoint holds None for both, and the log says each."""
        broker, store = _JournaledBroker(), MemoryStore()
        broker.error = Transient("journal_offset timed out")
        keyed = PlugInState("strategy", _Plugin(ValueError("x")), reason="STRATEGY_ERROR")
        cp = _venue_checkpointer(store, broker, keyed)
        lines = _logged(cp.save_quiet)
        assert store.saved == [{**_empty(None), "strategy": None}]
        assert [line["event"] for line in lines] == [
            "plugin_state_failed_at_seal",
            "venue_offset_failed_at_seal",
        ]
        assert (lines[0]["reason"], lines[0]["error"]) == ("STRATEGY_ERROR", "ValueError")


class TestSealRefused:
    """``kept_none``: the sealing checkpoint was refused and the store holds none."""

    def test_a_store_holding_an_earlier_checkpoint_kept_one(self):
        store = MemoryStore()
        cp, _, _ = _checkpointer(store)
        cp.save()
        store.error = OSError(28, "No space left")
        cp.save_quiet()
        assert (cp.seal_refused, cp.kept_none) == (store.error, False)

    def test_an_empty_store_kept_none(self):
        store = MemoryStore(error=OSError(28, "No space left"))
        cp, _, _ = _checkpointer(store)
        cp.save_quiet()
        assert (cp.seal_refused, cp.kept_none) == (store.error, True)

    def test_a_store_that_cannot_be_read_is_not_said_to_hold_none(self):
        class Unreadable(MemoryStore):
            def load(self) -> dict[str, Any] | None:
                raise OSError(5, "Input/output error")

        store = Unreadable(error=OSError(28, "No space left"))
        cp, _, _ = _checkpointer(store)
        cp.save_quiet()
        assert (cp.seal_refused, cp.kept_none) == (store.error, False)


class Owner:
    """A state owner with its own keys."""

    def __init__(self, **keys: Any) -> None:
        self.keys = keys
        self.restored: list[dict[str, Any]] = []

    def get_state(self) -> dict[str, Any]:
        return dict(self.keys)

    def set_state(self, state: dict[str, Any]) -> None:
        self.restored.append(state)


class TestGatherRestore:
    def test_gather_puts_format_first_and_merges_owners(self):
        state = gather({"version": "9"}, [Owner(a=1, b=2), Owner(c=[3])])
        assert list(state) == ["format", "version", "a", "b", "c"]
        assert state == {
            "format": names.CHECKPOINT_FORMAT,
            "version": "9",
            "a": 1,
            "b": 2,
            "c": [3],
        }
        assert names.CHECKPOINT_FORMAT == "livesession-checkpoint/1"

    def test_restore_hands_the_whole_checkpoint_to_every_owner(self):
        owners = [Owner(), Owner()]
        state = {"format": names.CHECKPOINT_FORMAT, "a": 1}
        restore(state, owners)
        assert [o.restored for o in owners] == [[state], [state]]


class _Regime(enum.StrEnum):
    UP = "up"


class _Level(enum.IntEnum):
    HIGH = 2


@dataclasses.dataclass
class _Point:
    x: int


class _Scalar:
    """numpy's integer scalars in what ``_json_hint`` sees: ``tolist``, ``__index__``, no len."""

    def tolist(self) -> int:
        return 7

    def __index__(self) -> int:
        return 7


def _nested(levels: int) -> list[Any]:
    """A set inside ``levels`` lists."""
    value: Any = {1}
    for _ in range(levels):
        value = [value]
    return value


class _Plugin:
    """A feed or strategy stand-in whose ``get_state`` gives ``state`` (or raises it)."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.restored: list[Any] = []

    def get_state(self) -> Any:
        if isinstance(self.state, BaseException):
            raise self.state
        return self.state

    def set_state(self, state: Any) -> None:
        self.restored.append(state)


def _plugin_checkpointer(store: MemoryStore, plugin: _Plugin, plugin_failed: Any) -> Checkpointer:
    """A checkpointer of one strategy's state, each step."""
    keyed = PlugInState("strategy", plugin, reason="STRATEGY_ERROR")
    return Checkpointer(
        store,
        recorder=_recorder(MemoryMetricsSink()),
        durability="none",
        every=1,
        state=lambda: gather({}, [keyed]),
        plugin_failed=plugin_failed,
    )


class TestPlugInState:
    def test_a_json_state_sits_under_its_key_and_restores(self):
        plug = _Plugin({"n": 3, "closes": ["1.5"]})
        keyed = PlugInState("strategy", plug, reason="STRATEGY_ERROR")
        assert keyed.get_state() == {
            "strategy": {"n": 3, "closes": ["1.5"]},
            "strategy_key_order": [[[], ["n", "closes"]]],  # the checkpoint sorts them
        }
        keyed.set_state({"strategy": {"n": 4}, "feed": {}})
        assert plug.restored == [{"n": 4}]

    @pytest.mark.parametrize(
        ("state", "shown"),
        [
            (
                {"n": 3, "ema": Decimal("1.0842")},
                "(Type is not JSON serializable: decimal.Decimal) at state['ema']: use only",
            ),
            ({"book": [1, {"ids": {7, 8}}]}, "serializable: set) at state['book'][1]['ids']"),
            (
                {"by_hour": {"09": "a", 10: "b"}},
                "(Dict key must be str) at a key of state['by_hour'], an int where a string",
            ),
            (  # a StrEnum is a str, but no JSON key: it was refused without a place
                {"by_regime": {_Regime.UP: 3}},
                "(Dict key must be str) at a key of state['by_regime'], a _Regime where",
            ),
        ],
    )
    def test_what_json_cannot_hold_is_named_where_it_is(self, state, shown):
        """Before, only the type was said ("Type is not JSON serializable: decimal.Decimal"):
        in a state of many keys the author was left to search them all for it."""
        keyed = PlugInState("strategy", _Plugin(state), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert shown in str(caught.value.cause)

    def test_a_numpy_like_integer_is_hinted_as_the_integer_it_holds(self):
        keyed = PlugInState("strategy", _Plugin({"n": _Scalar()}), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert "at state['n'] (int(x) is the integer it holds): use only" in str(caught.value.cause)

    @pytest.mark.parametrize(("levels", "named"), [(255, True), (256, False)])
    def test_a_place_is_named_down_to_256_levels(self, levels, named):
        """Deeper, the value is named without a place (a state that holds itself too)."""
        state = {"deep": _nested(levels)}  # the set sits at level levels + 1
        keyed = PlugInState("strategy", _Plugin(state), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        place = " at state['deep']" + "[0]" * levels + " (sorted(x) is a list of it"
        assert (place in str(caught.value.cause)) is named
        assert str(caught.value.cause).startswith(
            "get_state gave what JSON cannot hold (Recursion limit reached)"
        )

    def test_a_state_that_holds_itself_is_refused_without_a_place(self):
        state: dict[str, object] = {"n": 1}
        state["me"] = state
        keyed = PlugInState("strategy", _Plugin(state), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert str(caught.value.cause) == (
            "get_state gave what JSON cannot hold (Recursion limit reached): use only JSON "
            "types, and store Decimals as strings"
        )

    @pytest.mark.parametrize(
        ("state", "cause", "shown"),
        [
            ({"s": {1}}, TypeError, "get_state gave what JSON cannot hold (Type is not JSON"),
            ({1: "a"}, TypeError, "Dict key must be str"),
            (KeyError("gone"), KeyError, "gone"),
            # A BaseException other than an interrupt is the plug-in's failure too: before,
            # it escaped the checkpoint and tore the session.
            (asyncio.CancelledError("price task"), asyncio.CancelledError, "price task"),
        ],
    )
    def test_a_bad_state_fails_once_then_is_none(self, state, cause, shown):
        keyed = PlugInState("feed", _Plugin(state), reason="FEED_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert caught.value.reason == "FEED_ERROR"
        assert type(caught.value.cause) is cause
        assert shown in str(caught.value.cause)
        assert str(caught.value).startswith("the feed's get_state failed")
        assert keyed.failed
        assert keyed.get_state() == {"feed": None}  # the sealing checkpoint still goes out

    @pytest.mark.parametrize(
        ("state", "shown"),
        [
            (
                {"best": float("-inf")},
                "-inf (float) at state['best'], which JSON gives back as None",
            ),
            (
                {"w": [1.0, float("nan")]},
                "nan (float) at state['w'][1], which JSON gives back as None",
            ),
            ({"pair": (1, 2)}, "(1, 2) (tuple) at state['pair'], which JSON gives back as [1, 2]"),
            (  # the tuple is what changed, not the NaN in it
                {"pair": (1, float("nan"))},
                "(1, nan) (tuple) at state['pair'], which JSON gives back as [1, None]",
            ),
            (  # a long value is cut at 80 characters, what it becomes too
                {"w": tuple(range(40))},
                (
                    "(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 2"
                    " (tuple) at state['w'], which JSON gives back as [0, 1, 2, 3, 4, 5, 6, 7, 8,"
                    " 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 2"
                ),
            ),
            (  # orjson writes a dataclass as an object: no mapping in the state
                {"at": _Point(1)},
                "_Point(x=1) (_Point) at state['at'], which JSON gives back as {'x': 1}",
            ),
            (
                {"at": dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)},
                (
                    "datetime.datetime(2026, 3, 2, 9, 0, tzinfo=datetime.timezone.utc) (datetime)"
                    " at state['at'], which JSON gives back as '2026-03-02T09:00:00+00:00'"
                ),
            ),
            # A regime flag of a StrEnum (or an IntEnum) compares equal to its value, so the
            # round trip passed: a resume handed set_state 'up', whose .name raised.
            (
                {"n": 3, "regime": _Regime.UP},
                (
                    "<_Regime.UP: 'up'> (_Regime) at state['regime'], which JSON gives back as 'up':"
                    " a resume hands set_state the plain value (keep x.value, and make it a _Regime"
                    " again with _Regime(value))"
                ),
            ),
            (
                {"w": ["a", {"k": _Level.HIGH}]},
                (
                    "<_Level.HIGH: 2> (_Level) at state['w'][1]['k'], which JSON gives back as 2:"
                    " a resume hands set_state the plain value (keep x.value, and make it a _Level"
                    " again with _Level(value))"
                ),
            ),
        ],
    )
    def test_a_state_json_would_give_back_changed_fails(self, state, shown):
        """orjson writes NaN and infinities as null, tuples as lists, datetimes as text.

        Such a state passed the check and was saved changed: a strategy keeping a running
        maximum from ``float("-inf")`` checkpointed ``None`` and failed its resume with a
        TypeError, while the uninterrupted run completed.
        """
        keyed = PlugInState("strategy", _Plugin(state), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert str(caught.value.cause) == (
            f"get_state gave {shown}: use only JSON types, and store Decimals as strings"
        )
        assert keyed.failed

    def test_the_checkpointer_hands_the_failure_over_and_writes_nothing(self):
        store = MemoryStore()
        failures: list[PluginStateError] = []
        cp = _plugin_checkpointer(store, _Plugin({"s": {1}}), failures.append)
        cp.end_of_step(1)
        assert [f.reason for f in failures] == ["STRATEGY_ERROR"]
        assert store.saved == []  # the last good checkpoint stays
        cp.save_quiet()  # the seal: the failed key holds None
        assert store.saved == [{"format": names.CHECKPOINT_FORMAT, "strategy": None}]

    def test_without_a_handler_the_failure_is_raised(self):
        cp = _plugin_checkpointer(MemoryStore(), _Plugin({"s": {1}}), None)
        with pytest.raises(PluginStateError):
            cp.save()

    def test_failing_first_at_the_seal_writes_none(self):
        store = MemoryStore()
        cp = _plugin_checkpointer(
            store, _Plugin(ValueError("x")), lambda exc: pytest.fail("the seal is no step")
        )
        cp.save_quiet()
        assert store.saved == [{"format": names.CHECKPOINT_FORMAT, "strategy": None}]


KEYS = {
    "format",
    "version",
    "broker_journal_offset",
    "venue_journal_offset",
    "config",
    "fsm_state",
    "failed",
    "sealed",
    "reason",
    "steps",
    "ts_sim",
    "grid_ns",
    "last_utc",
    "intent_seq",
    "executions",
    "rate",
    "trading",
    "kill_started_ns",
    "day",
    "unmatched",
    "inbox",
    "finished",
    "reduce_only_fills",  # once a fill was applied
    "reconcile",
    "protect",
    "oco_filled",
    "broker_health",
    "recorder",
    "book",
    "feed",
    "strategy",
}

CONFIG = DryrunConfig(
    run_id="t",
    strategy_id="s",
    steps=40,
    checkpoint_every=10,
    volatility_bps=80,
    strategy={"fast": 2, "slow": 4},
)


def _assembled(store: MemoryStore | None = None) -> tuple[SessionParts, Sinks]:
    sinks = Sinks()
    parts = assemble(
        CONFIG,
        SessionEdges(broker=FaultBroker(), checkpoints=store, **sinks.kwargs()),
        seal=lambda: None,
    )
    return parts, sinks


class TestWholeSession:
    def test_checkpoint_round_trips_through_restore(self, tmp_path):
        store = MemoryStore()
        parts, sinks = _assembled(store)
        assert run_preflight(parts, extra_checks=(), seal=lambda: None)
        parts.lifecycle.transition(Trigger.ACTIVATE, "activated")
        for _ in range(25):
            step_once(parts, after_step=lambda: None)
        assert parts.lifecycle.state is SessionState.DRYRUN_ACTIVE
        assert len(store.saved) == 2  # steps 10 and 20
        state = parts.checkpoint_state()
        assert set(state) == KEYS
        assert next(iter(state)) == "format"
        assert state["steps"] == 25
        assert state["intent_seq"] > 0  # the strategy traded: the state is not trivial
        assert state["fsm_state"] == "DRYRUN_ACTIVE"
        assert store.saved[-1]["steps"] == 20

        file_store = FileCheckpointStore(tmp_path / "checkpoint.json", durable=False)
        file_store.save(state)
        loaded = file_store.load()
        assert loaded is not None

        def digests() -> dict[str, Any]:
            return {
                "events": hashlib.sha256(sinks.events.getvalue()),
                "states": hashlib.sha256(sinks.states.getvalue()),
            }

        fresh, _ = _assembled()
        assert fresh.checkpoint_state() != state
        fresh.restore(loaded, digests())
        again = fresh.checkpoint_state()
        assert list(again) == list(state)
        # By design a restored session holds back grace-based reconciliation until it has
        # re-run past the point the venue may have reached: the one key that moves.
        hold = state["ts_sim"] + replay_window_ns(CONFIG, RetryPolicy(seed=CONFIG.seed))
        assert again["reconcile"] == {**state["reconcile"], "hold_until_ns": hold}
        assert {**again, "reconcile": state["reconcile"]} == state
        assert fresh.reconciliation.before_next_step is True
        assert fresh.recorder.digest_hex() == parts.recorder.digest_hex()
        assert fresh.book.view() == parts.book.view()

        twice, _ = _assembled()
        twice.restore(orjson.loads(orjson.dumps(again)), digests())
        assert twice.checkpoint_state() == again  # a restored checkpoint restores to itself


def test_checkpoint_interval_follows_durability_unless_given() -> None:
    """Durable sinks checkpoint every 100 steps; durability none every 1,000 (cheap steps)."""
    from livesession import DryrunConfig

    assert DryrunConfig().checkpoint_every == 1_000
    assert DryrunConfig(durability="step").checkpoint_every == 100
    assert DryrunConfig(durability="event").checkpoint_every == 100
    assert DryrunConfig.from_mapping({"durability": "step"}).checkpoint_every == 100
    assert DryrunConfig(durability="none", checkpoint_every=7).checkpoint_every == 7
    assert DryrunConfig.from_mapping({"checkpoint_every": 50}).checkpoint_every == 50


SECRET = 'ZQXdesk"secret\t8833'
"""A value ``MYDESK_API_SECRET`` holds: JSON writes its quote and tab escaped."""


class _Leaky:
    """A strategy that keeps its key, read from the environment, in its state."""

    strategy_id = "leaky"

    def __init__(self, state: Any) -> None:
        self.state = state

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        return []

    def get_state(self) -> Any:
        return self.state

    def set_state(self, state: Any) -> None:
        self.state = state


class TestSecretsInAPlugInsState:
    """Before, a strategy whose ``get_state`` held ``os.environ["MYDESK_API_SECRET"]`` had it
    written as it was into ``checkpoint.json`` and the run sealed COMPLETED (exit 0); only
    ``evidence`` flagged it, after the file had been handed on. The state is now held to the
    environment's secrets as it is serialised (those the evidence's scan searches for): the
    plug-in's failure, naming the key and the variable, never the value."""

    @pytest.fixture(autouse=True)
    def _secret_in_the_environment(self, monkeypatch):
        monkeypatch.setenv("MYDESK_API_SECRET", SECRET)
        take_environment_secrets()  # as a session does as it is built

    @pytest.mark.parametrize(
        ("state", "where"),
        [
            ({"n": 3, "auth": {"k": SECRET}}, "state['auth']['k']"),
            ({"n": 3, "keys": ["x", f"Bearer {SECRET}"]}, "state['keys'][1]"),
            ({"n": 3, SECRET: 1}, "a key of state"),
        ],
    )
    def test_the_state_fails_naming_the_key_and_the_variable(self, state, where):
        keyed = PlugInState("strategy", _Plugin(state), reason="STRATEGY_ERROR")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        said = str(caught.value.cause)
        assert said.startswith(f"get_state gave the value of $MYDESK_API_SECRET at {where}: ")
        assert "8833" not in said
        assert keyed.failed
        assert keyed.get_state() == {"strategy": None}

    def test_the_key_a_plug_in_trimmed_of_the_variable_s_newline_is_found(self, monkeypatch):
        """Bug: only the value as written was searched; a variable ending in a newline (a
        secret file read whole) held by a strategy that strips it, as it reads its key, had
        the key written into checkpoint.json and the run sealed COMPLETED."""
        monkeypatch.setenv("MYDESK_API_SECRET", "Hx7pQ2vL9mZ4kT8w\n")
        take_environment_secrets()
        keyed = PlugInState("strategy", _Plugin({"key": "Hx7pQ2vL9mZ4kT8w"}), reason="X")
        with pytest.raises(PluginStateError) as caught:
            keyed.get_state()
        assert str(caught.value.cause).startswith(
            "get_state gave the value of $MYDESK_API_SECRET at state['key']: "
        )

    def test_a_state_without_it_is_taken_as_before(self):
        keyed = PlugInState("strategy", _Plugin({"n": 3, "k": "ZQXdesk"}), reason="X")
        assert keyed.get_state() == {
            "strategy": {"n": 3, "k": "ZQXdesk"},
            "strategy_key_order": [[[], ["n", "k"]]],
        }

    def test_a_run_fails_sealed_and_verified_with_the_value_in_no_file(self, tmp_path):
        from livesession import create_run, verify_run
        from livesession.evidence import scan_secrets

        cfg = DryrunConfig(run_id="leak", strategy_id="leaky", steps=20, durability="none")
        session = create_run(cfg, tmp_path, strategy=_Leaky({"n": 0, "key": SECRET}))
        session.preflight()
        session.activate()
        session.run_to_end(20)
        session.close()
        run_dir = tmp_path / "leak"
        events = [
            orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()
        ]
        (fault,) = [e["payload"] for e in events if e["event_type"] == "STRATEGY_ERROR"]
        assert fault["error"] == "ValueError"
        assert fault["message"].startswith(
            "get_state gave the value of $MYDESK_API_SECRET at state['key']: "
        )
        stopped = events[-1]["payload"]
        assert (stopped["status"], stopped["reason"]) == ("FAILED", "STRATEGY_ERROR")
        assert verify_run(run_dir).ok
        assert scan_secrets(run_dir, environ={"MYDESK_API_SECRET": SECRET}) == []
        for path in run_dir.rglob("*"):
            if path.is_file():
                assert b"8833" not in path.read_bytes(), path
