"""Reading beside a live writer: a run cut at its last checkpoint, without taking the lock.

The read-only tools (``verify``, ``report``, ``prom``, ``status``) never take a run's writer
lock: they ask whether a process holds it (``holder_of``, which queries the lock without
taking it) and, when one does, read the run as it stood at its last checkpoint. A
checkpoint is saved only after every line before its offsets was flushed, and the files
only grow while the lock is held (only a resume cuts them back, and it needs the lock), so
the bytes up to the offsets are whole lines that will not change.

``metrics.json`` is rewritten just before each checkpoint, so a reader can catch it one
checkpoint ahead of ``checkpoint.json``; the pair is taken when both name the same counts
(``events_emitted`` and ``audit_events`` against the checkpoint's ``event_seq`` and
``audit_seq``; a bar is an event, so every step moves the first), and re-read a few times
otherwise.

A crashed run (unsealed, held by no process) is read up to its last checkpoint as well
(``crashed_cut``): that is where ``resume`` cuts it back to before it steps on.

Four questions look past the cut, at the whole lines after it: how far a checkpoint holds
a file (``checkpointed_bytes``: the operator commands confirm an action only once it does),
whether it holds a stop (``checkpointed_stop``: a resume then finishes it), a live run's
trading state now (``live_trading``: a halt between two checkpoints), and the positions
the events after the checkpoint record (``positions_since``: a fill between two
checkpoints, which a live run holds now and a crashed one held when it died; and in the
same pass the orders it sent and closed: ``ordersafter``).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts import names
from .._artifacts.runread import RunCut, events_back, json_object, newest_event, payload
from .._artifacts.runtime import run_offset_ns, run_time
from .._domain.decimal import finite_decimal
from .._domain.model import FILL_EVENT_TYPES
from .lock import Holder, holder_of
from .ordersafter import ORDER_EVENTS, OrdersAfter
from .seal import held_seal, last_stop

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "TRADING_EVENTS",
    "LiveRun",
    "checkpointed_bytes",
    "checkpointed_stop",
    "crashed_cut",
    "live_cut",
    "live_trading",
    "positions_since",
]

TRADING_EVENTS: Final = ("TRADING_STATE_CHANGED", "TRADING_REENABLED", "KILL_SWITCH")
"""The events that change the trading state (the kill switch halts without one of its own)."""
_MOVES: Final = frozenset({"POSITION_CHANGED", *FILL_EVENT_TYPES})
"""The events ``positions_since`` reads a position from."""
_TRIES: Final = 20
_PAUSE_S: Final = 0.005
"""Between tries: the writer is between two atomic renames (metrics, then checkpoint)."""


@attrs.frozen
class LiveRun:
    """A run a process is writing now, and where a reader stops."""

    holder: Holder
    cut: RunCut

    def describe(self, *, read: bool = True) -> str:
        """``live run (pid 42 on host since …), checked up to step 300 (its last checkpoint)``.

        A checkpoint at step 0 (one a verb saved before the first step) is one: its records
        are read up to it, unless the reader checks nothing before a step (``read`` False:
        ``verify``). No checkpoint (nothing cut: no offsets) reads nothing.
        """
        if not any(self.cut.offsets.values()):
            where = "no checkpoint yet, so nothing is checked"
        elif not self.cut.steps and not read:
            where = (
                "its last checkpoint is at step 0 (before its first step), so nothing is checked"
            )
        elif not self.cut.steps:
            where = "read up to its last checkpoint, at step 0 (before its first step)"
        else:
            where = f"read up to step {self.cut.steps} (its last checkpoint)"
        return f"live run, written by {self.holder.describe()}: {where}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _object(raw: bytes | None) -> dict[str, Any] | None:
    return None if raw is None else json_object(raw)


def _offsets(checkpoint: dict[str, Any]) -> dict[str, int] | None:
    recorder = checkpoint.get("recorder")
    if not isinstance(recorder, dict) or not isinstance(recorder.get("offsets"), dict):
        return None
    try:
        return {names.ARTIFACTS[key]: int(value) for key, value in recorder["offsets"].items()}
    except (KeyError, TypeError, ValueError):
        return None


def checkpointed_bytes(run_dir: Path, file_name: str) -> int:
    """How many bytes of the artifact ``file_name`` the run's checkpoint holds (0: none).

    What a crash keeps: ``resume`` cuts the file back to this many bytes and continues from
    there, so a line that ends past it is lost with the process.
    """
    checkpoint = _object(_read(run_dir / names.CHECKPOINT))
    offsets = None if checkpoint is None else _offsets(checkpoint)
    return 0 if offsets is None else offsets.get(file_name, 0)


def checkpointed_stop(run_dir: Path, since: int) -> tuple[str, bool] | None:
    """The first stop in ``events.jsonl`` from byte ``since`` on: its reason, and whether kept.

    A stop is the session's move to STOPPING; it is kept when the run's checkpoint holds
    that line (the session saves one before the wind-down), so a resume after a crash in
    the wind-down finishes the stop rather than trading on. None: no stop was recorded.
    """
    try:
        with (run_dir / names.EVENTS).open("rb") as stream:
            stream.seek(since)
            data = stream.read()
    except OSError:
        return None
    end = since
    for line in data[: data.rfind(b"\n") + 1].splitlines():  # whole lines only
        end += len(line) + 1
        event = json_object(line) if b'"to_state":"STOPPING"' in line else None
        if event is not None and payload(event).get("to_state") == "STOPPING":
            reason = str(payload(event).get("reason", ""))
            return reason, checkpointed_bytes(run_dir, names.EVENTS) >= end
    return None


def _matches(checkpoint: dict[str, Any], metrics: bytes | None) -> bool:
    """Whether ``metrics`` is the ``metrics.json`` written with ``checkpoint``."""
    recorder = checkpoint.get("recorder")
    document = _object(metrics)
    return (
        isinstance(recorder, dict)
        and document is not None
        and document.get("events_emitted") == recorder.get("event_seq")
        and document.get("audit_events") == recorder.get("audit_seq")
    )


def _cut(checkpoint: dict[str, Any], offsets: dict[str, int], metrics: bytes | None) -> RunCut:
    steps = checkpoint.get("steps")
    return RunCut(
        steps=steps if isinstance(steps, int) else 0,
        offsets=offsets,
        metrics=metrics,
        sealed=checkpoint.get("sealed") is True,
    )


def live_cut(run_dir: Path) -> LiveRun | None:
    """The live writer of ``run_dir`` and where to stop reading, or None when none holds it.

    A live run with no checkpoint yet (or an unreadable one) is cut at step 0: nothing is
    read. When no ``metrics.json`` can be matched to the checkpoint (its sink failed, say),
    the cut leaves metrics out (``metrics`` None) rather than guess. None too for a run
    whose holder sealed it and only closes (``held_seal``): its records are final, and it
    is read whole, as the sealed run it is.
    """
    checkpoint_path = run_dir / names.CHECKPOINT
    nothing = RunCut(steps=0, offsets=dict.fromkeys(names.ARTIFACTS.values(), 0), metrics=None)
    for attempt in range(_TRIES):
        holder = holder_of(run_dir)
        if holder is None:
            return None
        before = _read(checkpoint_path)
        metrics = _read(run_dir / names.METRICS)
        after = _read(checkpoint_path)
        checkpoint = _object(after)
        if checkpoint is not None and held_seal(run_dir, checkpoint) is not None:
            return None  # sealed: its session closes (the last alerts to the webhook)
        offsets = None if checkpoint is None else _offsets(checkpoint)
        if checkpoint is None or offsets is None:
            return LiveRun(holder, nothing)
        if before == after and _matches(checkpoint, metrics):
            return LiveRun(holder, _cut(checkpoint, offsets, metrics))
        if attempt == _TRIES - 1:
            return LiveRun(holder, _cut(checkpoint, offsets, None))
        time.sleep(_PAUSE_S)
    return None  # pragma: no cover - the loop returns on its last try


def crashed_cut(run_dir: Path) -> RunCut | None:
    """Where a resume will cut ``run_dir``, unsealed and held by no process; None otherwise.

    A crashed run's files go on past its last checkpoint, and ``resume`` cuts them back to
    it before it steps on. A reader that counts (``prom``) stops there too, as it does for
    a live run, so that its counts never go down when the resume starts. None: a process
    holds the run (``live_cut``), it is sealed (its checkpoint, or its audit log's stop
    record beside a checkpoint the seal did not live to write), or it has no checkpoint (a
    run that keeps none is read whole). Call it after ``live_cut`` found no writer.
    """
    checkpoint = _object(_read(run_dir / names.CHECKPOINT))
    if checkpoint is None or checkpoint.get("sealed") is True or holder_of(run_dir) is not None:
        return None
    if last_stop(run_dir) is not None:
        return None
    offsets = _offsets(checkpoint)
    if offsets is None:
        return None
    metrics = _read(run_dir / names.METRICS)
    return _cut(checkpoint, offsets, metrics if _matches(checkpoint, metrics) else None)


def live_trading(run_dir: Path, checkpoint: dict[str, Any]) -> tuple[str | None, str, bool | None]:
    """A live run's trading state now, what it is read from, and whether the kill switch set it.

    What it is read from is "" for the checkpoint's ACTIVE; whether the kill switch set it,
    None when no trading event was written since the checkpoint (its ``kill_halted`` says it).

    A checkpoint comes every ``checkpoint_every`` steps, and a throttle or the kill switch
    halts trading in between: the newest ``TRADING_STATE_CHANGED``, ``TRADING_REENABLED``
    or ``KILL_SWITCH`` written after the checkpoint's events offset says what it is now
    (``since KILL_SWITCH (SIGNAL_SIGUSR1), run time ...``). None written since: the
    checkpoint's state is still the state, and a halt it holds is said by the event that
    made it, before the checkpoint (``_checkpointed_halt``). Too much written since to read
    (``newest_event`` gives up): the checkpoint's, and the phrase says so. A ``KILL_SWITCH``
    is the kill switch's halt; any other trading event ends one, as the governor's
    ``set_trading`` does.
    """
    trading = checkpoint.get("trading")
    state = trading if isinstance(trading, str) else None
    offsets = _offsets(checkpoint) or {}
    since = offsets.get(names.EVENTS, 0)
    event, read_all = newest_event(run_dir / names.EVENTS, TRADING_EVENTS, since=since)
    if event is None:
        steps = checkpoint.get("steps")
        at = f"the last checkpoint (step {steps})" if isinstance(steps, int) else "no checkpoint"
        if read_all:  # the checkpoint's state is the state: what set it, if not ACTIVE
            return state, _checkpointed_halt(run_dir, state), None
        return state, f"as of {at}: the events after it were not read", None
    now, said = _trading_event(run_dir, event, state)
    return now, said, event.get("event_type") == "KILL_SWITCH"


def _trading_event(
    run_dir: Path, event: dict[str, Any], state: str | None
) -> tuple[str | None, str]:
    """The trading state ``event`` set (``state`` when it names none), and the words for it.

    Its time is the run's own (``run_time``), as the report's: its ``ts_utc`` is the clock's
    stamp, on the fixed clock the start time whenever the halt came.
    """
    kind, body = event.get("event_type"), payload(event)
    now = {"KILL_SWITCH": "HALTED", "TRADING_REENABLED": "ACTIVE"}.get(str(kind), body.get("to"))
    why = body.get("operator") if kind == "TRADING_REENABLED" else body.get("reason")
    said = f"since {kind} ({why}), run time {run_time(event, run_offset_ns(run_dir))}"
    return (str(now) if now is not None else state), said


def _checkpointed_halt(run_dir: Path, state: str | None) -> str:
    """Why a live run's checkpoint holds a halt (or REDUCING): the event that set it.

    Said as a halt written since the checkpoint is (``since TRADING_STATE_CHANGED
    (BROKER_UNHEALTHY), run time ...``): it was dropped once a checkpoint held the halt.
    "" when trading is ACTIVE, or the event is not found within ``newest_event``'s budget
    (or is not the one that set this state: a newer one written meanwhile).
    """
    if state in (None, "ACTIVE"):
        return ""
    event, _ = newest_event(run_dir / names.EVENTS, TRADING_EVENTS)
    if event is None:
        return ""
    now, said = _trading_event(run_dir, event, state)
    return said if now == state else ""


def positions_since(
    run_dir: Path, checkpoint: dict[str, Any], orders: OrdersAfter | None = None
) -> tuple[dict[str, tuple[str, str, str]], bool]:
    """The position per symbol the events since ``checkpoint`` record; whether all was read.

    ``{"BTC/USDT": ("0.010", "2026-01-01T00:05:00Z", "POSITION_CHANGED")}``: the position,
    the run time of the newest event that says it (``run_time``), and that event's type. Read as
    ``live_trading`` reads (from the end of ``events.jsonl`` back to the checkpoint's events
    offset, or its start without one; whole lines only, at most ``newest_event``'s budget).
    A fill moves the position between two checkpoints: the checkpoint's is no longer the
    one held. A fill newer than its symbol's newest ``POSITION_CHANGED`` (a process killed
    between the two, or a live run's file cut between them) moves it too: the position is
    that one's (or the checkpoint's) plus the fills after it, said by the newest fill's
    type. No events file (a run killed while it started): nothing written, all read.
    ``orders`` is fed the order events of the same pass (``ordersafter``), newest first.
    """
    path = run_dir / names.EVENTS
    if not path.exists():
        return {}, True
    since = (_offsets(checkpoint) or {}).get(names.EVENTS, 0)
    found: dict[str, tuple[str, str, str]] = {}
    later: dict[str, tuple[Decimal, str, str]] = {}  # fills after the newest POSITION_CHANGED
    offset = run_offset_ns(run_dir)
    kinds = (*_MOVES, *(ORDER_EVENTS if orders is not None else ()))
    for event in events_back(path, kinds, since=since):
        if event is None:
            return found, False  # a fill whose POSITION_CHANGED was not reached is left out
        body, kind = payload(event), str(event.get("event_type"))
        if orders is not None:
            orders.feed(kind, body)
        symbol = body.get("symbol")
        if kind not in _MOVES or not isinstance(symbol, str) or symbol in found:
            continue
        when = run_time(event, offset)
        if kind != "POSITION_CHANGED":
            quantity = finite_decimal(body.get("quantity"))
            if quantity is not None:  # newest first: the first fill seen names the time
                moved, newest, its_kind = later.get(symbol, (Decimal(0), when, kind))
                signed = quantity if body.get("side") == "BUY" else -quantity
                later[symbol] = (moved + signed, newest, its_kind)
            continue
        position = body.get("position")
        if isinstance(position, str):
            found[symbol] = _moved(position, when, kind, later.pop(symbol, None))
    held = checkpoint.get("book")
    start = held.get("positions") if isinstance(held, dict) else None
    for symbol, fills in later.items():  # no POSITION_CHANGED since the checkpoint
        base = start.get(symbol, "0") if isinstance(start, dict) else "0"
        found[symbol] = _moved(str(base), "", "", fills)
    return found, True


def _moved(
    position: str, when: str, kind: str, fills: tuple[Decimal, str, str] | None
) -> tuple[str, str, str]:
    """``position`` as of its event, plus the fills after it (their newest time and type)."""
    if fills is None:
        return position, when, kind
    before = finite_decimal(position)
    if before is None:  # no number to add to: as it is
        return position, when, kind
    return str(before + fills[0]), fills[1], fills[2]
