"""Checkpoints: what a resumed session needs, gathered from the collaborators that own it.

Every ``checkpoint_every`` steps (and when the session seals) the sinks are flushed (and,
when durable, synced), ``metrics.json`` is rewritten and the checkpoint replaces the last
one atomically. So it is after an operator's verb that changed a trading session (``kill``,
``reduce_only``, ``reenable_trading``): at once when it was applied between two steps, at
the end of the step when a step hook called it; a crash after it returned (and after the
CLI confirmed it) resumes with it, not with the state before it. A stop is saved once the
session is STOPPING, before its wind-down (``verbs.request_stop``). Each collaborator
contributes its own keys (``get_state``) and restores them (``set_state``); the format
(``livesession-checkpoint/1``) and the keys are the contract ``resume`` reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

import orjson

from .._artifacts import names
from .._artifacts.recorder import crashpoint
from .._domain.decimal import fenced
from .._exceptions import (
    INTERRUPTS,
    BrokerError,
    CheckpointError,
    LiveSessionError,
    PluginStateError,
    SinkFailure,
)
from .._support.logging import get_logger
from .._support.references import a_
from .._support.secrets import environment_secret_in
from .._typing import JournaledVenue, RelayedVenue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from .._artifacts.recorder import Recorder
    from .._typing import Broker, CheckpointStore, MarketFeed, Strategy

__all__ = [
    "PROGRESS_EVERY",
    "Checkpointer",
    "Keyed",
    "PlugInState",
    "StateOwner",
    "VenueOffsets",
    "gather",
    "restore",
]

PROGRESS_EVERY: Final = 10_000
"""Steps between the session log's ``progress`` lines."""


class StateOwner(Protocol):
    """A collaborator that owns some of the checkpoint's keys."""

    def get_state(self) -> dict[str, Any]:
        """Its keys, JSON-compatible."""
        ...

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore its keys from a whole checkpoint."""
        ...


def gather(head: dict[str, Any], owners: Sequence[StateOwner]) -> dict[str, Any]:
    """The checkpoint: ``head`` (format, version, config…) plus every owner's keys."""
    state = {"format": names.CHECKPOINT_FORMAT, **head}
    for owner in owners:
        state.update(owner.get_state())
    return state


def restore(state: dict[str, Any], owners: Sequence[StateOwner]) -> None:
    """Hand a checkpoint to every owner, in order."""
    for owner in owners:
        owner.set_state(state)


class Keyed:
    """A component whose whole state sits under one checkpoint key (the book)."""

    def __init__(self, key: str, owner: StateOwner) -> None:
        self.key = key
        self._owner = owner

    def get_state(self) -> dict[str, Any]:
        """``{key: the component's state}``."""
        return {self.key: self._owner.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        """Hand the component its own key of a whole checkpoint."""
        self._owner.set_state(state[self.key])


_USE_JSON: Final = ": use only JSON types, and store Decimals as strings"
_NOT_A_DICT: Final = (
    " (a forgotten return?): set_state gets it back on resume; return the state as a dict "
    "of JSON values, {} when there is nothing to keep"
)


def _changed(given: object, back: object, where: str) -> str:
    """Where JSON gives back something other than ``given``, and what (for the message).

    orjson writes a NaN or an infinity as null, a tuple as a list, a datetime as text: the
    checkpoint would hold it, and a resumed run would get another value than it saved.
    """
    if isinstance(given, dict) and isinstance(back, dict):
        for key, value in given.items():
            if back.get(key) != value:
                return _changed(value, back.get(key), f"{where}[{key!r}]")
    elif isinstance(given, list) and isinstance(back, list):
        for index, (value, again) in enumerate(zip(given, back, strict=False)):
            if again != value:
                return _changed(value, again, f"{where}[{index}]")
    shown = f"{given!r}"[:80]
    return f"{shown} ({type(given).__name__}) at {where}, which JSON gives back as {back!r:.80}"


_DEEPEST: Final = 256
"""Levels ``_refused_at`` looks down (orjson's own limit is 254): a state nested deeper, or
one that holds itself, is named without a place."""


def _refused_at(value: object, where: str, depth: int = 0) -> str | None:
    """Where in the state JSON cannot go: `` at state['ema']``, or None when it cannot say.

    A key that is not a string is named by the mapping it is in (its value may be anything,
    a secret too); a value JSON cannot hold by the key or index that leads to it.
    """
    if depth > _DEEPEST:
        return None
    children: Iterator[tuple[object, str]]
    if isinstance(value, dict):
        other = [key for key in value if not isinstance(key, str)]
        if other:
            return f" at a key of {where}, {a_(type(other[0]).__name__)} where a string belongs"
        children = ((item, f"{where}[{key!r}]") for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        children = ((item, f"{where}[{index}]") for index, item in enumerate(value))
    else:
        try:
            orjson.dumps(value)
        except TypeError:
            return f" at {where}{_json_hint(value)}"
        return None
    found = (_refused_at(item, at, depth + 1) for item, at in children)
    return next((place for place in found if place is not None), None)


def _json_hint(value: object) -> str:
    """What gives ``value``'s content as JSON (numpy's and pandas' types), or ""."""
    kind = type(value)
    if isinstance(value, float):  # a float subclass (numpy's float64): orjson takes none
        return " (float(x) is the float it holds)"
    if isinstance(value, int):  # beyond 64 bits (numpy's random state holds 128)
        return " (str(x) keeps it exactly, as text)"
    if isinstance(value, (set, frozenset)):
        return " (sorted(x) is a list of it, in an order that repeats)"
    if callable(getattr(kind, "tolist", None)) and hasattr(kind, "__len__"):
        return " (x.tolist() gives its values as plain lists and numbers)"  # an ndarray
    for method, hint in _JSON_HINTS:
        if callable(getattr(kind, method, None)):
            return hint
    return ""


_JSON_HINTS: Final = (
    ("__index__", " (int(x) is the integer it holds)"),  # numpy's int64
    ("to_dict", ' (x.to_dict("list") gives its columns as lists)'),  # a DataFrame
    ("isoformat", " (x.isoformat() is its text)"),  # a pandas Timestamp
)


def _holding(value: object, form: bytes, where: str) -> str:
    """Where in the state ``value`` its JSON holds ``form``: ``state['auth']['key']``.

    A key holding it is named by the mapping it is in, never quoted: the key is the secret.
    """
    if isinstance(value, dict):
        for key, item in value.items():
            if form in orjson.dumps(key):
                return f"a key of {where}"
            if form in orjson.dumps(item):
                return _holding(item, form, f"{where}[{key!r}]")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if form in orjson.dumps(item):
                return _holding(item, form, f"{where}[{index}]")
    return where


class PlugInState:
    """A feed's or a strategy's state under its checkpoint key, checked as JSON when taken.

    The caller's ``get_state`` may raise, give what JSON cannot hold (a set, a Decimal), or
    hold the value of one of the environment's secrets (``MYDESK_API_SECRET``'s, which the
    evidence's scan would find in ``checkpoint.json`` only after the run): each is that
    plug-in's failure (``PluginStateError`` with ``reason``), found when the state is taken
    rather than when the checkpoint file is written, and said by the variable's name and
    the state's key, never the value. So is a state that is no dict (None: a forgotten
    ``return``, which a resume would hand ``set_state``). From then on the key
    holds None: the run has failed and is never resumed from a later checkpoint, but its
    sealing checkpoint still goes out.
    """

    def __init__(self, key: str, owner: MarketFeed | Strategy, *, reason: str) -> None:
        self.key = key
        self._owner = owner
        self._reason = reason
        self.failed = False

    def get_state(self) -> dict[str, Any]:
        """``{key: state}``; raises ``PluginStateError`` the first time the state fails."""
        if self.failed:
            return {self.key: None}
        try:
            given: object = fenced(self._owner.get_state)  # typed dict; the caller's may not be
        except INTERRUPTS:
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller's code: one path for every error
            self._fail(exc)
        if not isinstance(given, dict):  # a forgotten return: resume would hand set_state None
            got = "None" if given is None else a_(type(given).__name__)
            self._fail(TypeError(f"get_state returned {got}, not a dict{_NOT_A_DICT}"))
        state: dict[str, Any] = given
        try:
            # What every checkpoint store does with it; a resume gets back what it reads.
            written = orjson.dumps(state)
            back = orjson.loads(written)
        except TypeError as exc:  # orjson.JSONEncodeError is a TypeError
            at = _refused_at(state, "state") or ""
            self._fail(TypeError(f"get_state gave what JSON cannot hold ({exc}){at}{_USE_JSON}"))
        if back != state:
            self._fail(TypeError(f"get_state gave {_changed(state, back, 'state')}{_USE_JSON}"))
        leaked = environment_secret_in(written)
        if leaked is not None:
            name, form = leaked
            self._fail(
                ValueError(
                    f"get_state gave the value of ${name} at {_holding(state, form, 'state')}: "
                    "the checkpoint is a file of the run, which reviewers are handed; keep "
                    "credentials out of the state (read them from the environment when needed)"
                )
            )
        return {self.key: state}

    def _fail(self, cause: BaseException) -> NoReturn:
        self.failed = True
        raise PluginStateError(self._reason, cause) from cause

    def set_state(self, state: dict[str, Any]) -> None:
        """Hand the plug-in its own key of a whole checkpoint."""
        fenced(self._owner.set_state, state[self.key])


class _VenueStateError(CheckpointError):
    """The broker could not say where its journal stands: ``cause`` is its failed call.

    Private: the session makes it its fault (``BROKER_CALL_FAILED``); a caller of
    ``get_state()`` meets it as the ``CheckpointError`` it is.
    """

    def __init__(self, cause: BrokerError, offsets: VenueOffsets) -> None:
        self.cause = cause
        self.offsets = offsets
        super().__init__(f"the broker's journal offset is unknown: {cause}")


class VenueOffsets:
    """The venue's journal positions a checkpoint records, asked of the broker each time.

    A broker of the caller's may fail to say: its ``journal_offset`` raises, or answers no
    offset (``GuardedBroker`` makes either a ``Transient`` naming the call). A checkpoint
    cannot wait for a retry, and one without the offset would resume a venue its journal
    does not match: ``_VenueStateError``, the broker's fault, and the last good checkpoint
    stays. The seal then writes its checkpoint with the keys None (``give_up``): a sealed
    run is never resumed, and without that checkpoint ``status`` and ``resume`` would take
    the run, sealed in its audit, for a crashed one.
    """

    def __init__(self, broker: Broker) -> None:
        self._journal = broker.journal_offset if isinstance(broker, JournaledVenue) else None
        self._relay = broker.venue_journal_offset if isinstance(broker, RelayedVenue) else None
        self._given_up = False

    def get_state(self) -> dict[str, Any]:
        """The two offset keys (None for a venue without that journal)."""
        if self._given_up:
            return {"broker_journal_offset": None, "venue_journal_offset": None}
        try:
            return {
                "broker_journal_offset": None if self._journal is None else self._journal(),
                "venue_journal_offset": None if self._relay is None else self._relay(),
            }
        except BrokerError as exc:
            raise _VenueStateError(exc, self) from exc

    def give_up(self) -> None:
        """From now on both keys hold None (the sealing checkpoint of a faulted run)."""
        self._given_up = True


class Checkpointer:
    """Writes checkpoints to a store at the step's end; silent without a store."""

    def __init__(
        self,
        store: CheckpointStore | None,
        *,
        recorder: Recorder,
        durability: str,
        every: int,
        state: Callable[[], dict[str, Any]],
        plugin_failed: Callable[[PluginStateError], None] | None = None,
        venue_failed: Callable[[BrokerError], None] | None = None,
    ) -> None:
        self._store = store
        self._plugin_failed = plugin_failed
        self._venue_failed = venue_failed
        self._recorder = recorder
        self._durable = durability != "none"
        self._sync_each_step = durability == "step"
        self._every = every
        self._state = state
        self._next_progress = PROGRESS_EVERY
        self._owed = False
        """An operator's verb applied inside this step waits for the step's end to be saved."""
        self._seal_only = False
        self.seal_refused: BaseException | None = None
        self.kept_none = False
        """The sealing checkpoint was refused, and the store holds none from before it."""
        """Why the sealing checkpoint was not written (None: it was, or not yet asked)."""

    @property
    def saving(self) -> bool:
        """Whether checkpoints are written (a store, not ``seal_only``): states are recorded."""
        return self._store is not None and not self._seal_only

    def seal_only(self) -> None:
        """Write no checkpoint from here on but the sealing one (a lost lease).

        The session stops at once, with no cancel and no flatten (the new holder owns the
        venue's orders), and seals: that seal must reach ``checkpoint.json``, or ``status``
        and ``resume`` would take the run for a crashed one and a resume would trade on.
        """
        self._seal_only = True

    def operator_acted(self, *, in_step: bool) -> None:
        """An operator's verb changed the session: checkpoint it before it is confirmed.

        Between two steps the session stands at a step boundary, which is what a checkpoint
        holds, so it is saved now; a verb a step hook called (``in_step``) is saved at the
        end of that step. Without it, a crash before the next periodic checkpoint resumed
        from the state before the verb: a kill switch the operator had seen trip was gone,
        and the resumed run traded again.
        """
        if in_step:
            self._owed = True
        else:
            self.save()

    def end_of_step(self, steps: int) -> None:
        """The step's group commit (durability ``step``) and, every N steps, a checkpoint.

        Also a checkpoint when an operator's verb applied during the step is owed one.
        """
        if (self._owed or steps % self._every == 0) and self.saving:
            self.save()  # flushes (and, when durable, syncs) every sink first
        elif self._sync_each_step:
            self._recorder.flush(sync=True)
        if steps >= self._next_progress:
            self._next_progress = (steps // PROGRESS_EVERY + 1) * PROGRESS_EVERY
            self._log_progress(steps)

    def _log_progress(self, steps: int) -> None:
        """The session log's periodic line: how far the run is (events.jsonl has the rest)."""
        rec = self._recorder
        metrics = rec.metrics
        get_logger().info(
            "progress",
            run_id=rec.run_id,
            step=steps,
            events=rec.event_seq,
            audit_records=rec.chain.seq,
            orders_submitted=metrics.count("ORDER_SUBMITTED"),
            fills=metrics.count("ORDER_FILLED") + metrics.count("ORDER_PARTIALLY_FILLED"),
            rejects=sum(metrics.rejects_by_reason.values()),
        )

    def save(self, *, metrics: bool = True, sealing: bool = False) -> None:
        """Flush the sinks, rewrite metrics.json, then replace the checkpoint.

        A plug-in whose state fails is handed to ``plugin_failed`` and the last good
        checkpoint stays. At the seal (``sealing``) it cannot fail the sealed run any more:
        its key holds None, and the session log says why. So with a broker that cannot say
        its journal offset (``VenueOffsets``): ``venue_failed`` gets its failed call.
        """
        store = self._store
        if store is None or (self._seal_only and not sealing):
            return
        self._owed = False
        rec = self._recorder
        rec.flush(sync=self._durable)
        if metrics:
            rec.write_metrics()
        try:
            state = self._taken(sealing=sealing)
        except _VenueStateError as exc:
            if self._venue_failed is None:
                raise
            self._venue_failed(exc.cause)
            return
        except PluginStateError as exc:
            if sealing:
                get_logger().error(
                    "plugin_state_failed_at_seal",
                    run_id=rec.run_id,
                    reason=exc.reason,
                    error=type(exc.cause).__name__,
                )
                state = self._taken(sealing=True)  # the failed key is None now
            elif self._plugin_failed is None:
                raise
            else:
                self._plugin_failed(exc)
                return
        crashpoint("checkpoint")
        store.save(state)

    def _taken(self, *, sealing: bool) -> dict[str, Any]:
        """The state; at the seal, one whose venue offsets failed holds them as None."""
        try:
            return self._state()
        except _VenueStateError as exc:
            if not sealing:
                raise
            get_logger().error(
                "venue_offset_failed_at_seal", run_id=self._recorder.run_id, error=str(exc.cause)
            )
            exc.offsets.give_up()
            return self._state()

    def save_quiet(self) -> None:
        """The sealing checkpoint (the seal has just written metrics.json itself).

        Refused (a full disk), the error is kept as ``seal_refused`` for the CLI's line and
        the seal's alert: the audit's ``C2_DRYRUN_STOP`` seals the run all the same, and
        ``resume`` writes the checkpoint once it can: over the one from before the seal.
        A run with none (preflight rejected it before its first) keeps none
        (``kept_none``), and ``resume`` has nothing to write.
        """
        try:
            self.save(metrics=False, sealing=True)
        except (SinkFailure, OSError, LiveSessionError) as exc:
            self.seal_refused = exc
            try:
                self.kept_none = self._store is not None and self._store.load() is None
            except (OSError, LiveSessionError):  # unreadable: say what resume would try
                self.kept_none = False
