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

from typing import TYPE_CHECKING, Any, Final, Protocol

from .._artifacts import names
from .._artifacts.recorder import crashpoint
from .._exceptions import (
    BrokerError,
    CheckpointError,
    LiveSessionError,
    PluginStateError,
    SinkFailure,
)
from .._support.logging import get_logger
from .._typing import JournaledVenue, RelayedVenue

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .._artifacts.recorder import Recorder
    from .._typing import Broker, CheckpointStore

__all__ = [
    "PROGRESS_EVERY",
    "Checkpointer",
    "Keyed",
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
