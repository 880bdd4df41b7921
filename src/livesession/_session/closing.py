"""What a session lets go of as it ends, and a plug-in's ``close()`` that raises.

The rule of who closes a plug-in, in one place. A session closes the broker and the feed
it holds (any: made from a reference, or passed in). It closes its strategy only when the
strategy is its own: made from the config (``strategy_factory``, by the session itself, or
by the code that built the session for that config and handed it over, ``give_strategy``:
``create_run``, ``resume_run``, the testing kit's matrix); a strategy object the caller
passed in is the caller's, to close when the caller is done with it.

A plug-in's ``close()`` (a broker's, a feed's, a strategy's) is the caller's code, called
once the run's outcome is decided (after the seal; the feed's and the strategy's once the
run is let go of, its writer lock too: ``release``): one that raises changes nothing of the
run. It is said in one line (the session log's ``plugin_close_failed`` warning,
``SessionInspection.plugin_close_failed``, which the CLI prints on stderr), never raised;
what the session holds after it is let go of all the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._domain.lifecycle import SessionState
from .._support.logging import get_logger
from .._typing import Closable
from . import verbs
from .pipeline import error_message
from .preflight import close_unstarted

if TYPE_CHECKING:
    from collections.abc import Callable

    from .assembly import SessionParts
    from .lifecycle import SessionLifecycle
    from .threads import SessionGate

__all__ = ["LateSeal", "close_plugin", "let_go", "release", "sealed_late", "stop_and_seal"]


def close_plugin(role: str, plugin: object, *, run_id: str | None = None) -> str:
    """Close ``plugin`` (the ``role``'s) if it holds a resource; "" or what its close raised.

    Any error its ``close()`` raises (a ``SystemExit`` too) is logged and returned as one
    line (``the strategy's close() raised OSError: ...``, redacted); the operator's
    ``KeyboardInterrupt`` passes. ``run_id``: the session's, which the log line names (None:
    closed where no session was built).
    """
    looked = False  # a __getattr__ may raise KeyError looking for close: said so, as a raise
    try:
        if not isinstance(plugin, Closable):
            return ""
        looked = True
        plugin.close()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - the caller's code: said, never raised
        said = error_message(exc)
        error = type(exc).__name__
        get_logger().warning(
            "plugin_close_failed", plugin=role, error=error, message=said, run_id=run_id
        )
        what = f"the {role}'s close()" if looked else f"looking up the {role}'s close()"
        return f"{what} raised {error}{f': {said}' if said else ''}"
    return ""


def release(
    p: SessionParts, closes_with: list[Closable], *, strategy: bool, abandon: bool = False
) -> str:
    """Let go of what the session holds: lease, broker, sinks, store, the rest; feed, strategy.

    The strategy only when ``strategy`` (the session's own). Returns what a plug-in's
    ``close()`` raised ("" when none did); the sinks, the store and ``closes_with`` (a run
    directory's writer lock, last) are let go of whatever the broker's raised. ``abandon``:
    the sinks' files are closed without the lines they hold (``Recorder.close``).

    The feed and the strategy are closed once the run is let go of: what they hold is
    theirs, not the run's (a data file read, a model server's connection), where the
    broker's may be the run's (a simulated venue's journal). Closed first, one whose
    ``close()`` blocked (a thread it joins, a server that does not answer) kept the run's
    writer lock while it blocked: a torn session's run was said ``running`` (exit 7), and
    its resume refused, for as long as the application lived.
    """
    if p.lease is not None:
        p.lease.release(close=True)
    run_id = p.config.run_id
    try:
        said = [close_plugin("broker", p.broker, run_id=run_id)]
    finally:
        p.recorder.close(abandon=abandon)
        p.idempotency.close()
        while closes_with:  # last: a run directory's writer lock
            closes_with.pop().close()
    said.append(close_plugin("feed", p.feed, run_id=run_id))
    said.append(close_plugin("strategy", p.strategy, run_id=run_id) if strategy else "")
    return "; ".join(filter(None, said))


def let_go(
    p: SessionParts, gate: SessionGate, closes_with: list[Closable], *, strategy: bool
) -> str:
    """A torn session lets go of its run at once, and writes nothing more to it.

    Under the session lock, as the work that tore it ends (``SessionGate.on_torn``): the
    session log's ``session_interrupted``, the ``RUN_UNSEALED`` alert, then ``release``
    with its sinks abandoned: what they held past the last checkpoint is lost, as in a
    crash (``resume`` cuts back to that checkpoint all the same), and the writer lock goes
    last. Kept to ``close()`` or the garbage collection, the lock said ``running`` of a
    run that takes no step, and refused its resume, for as long as the application lived.
    """
    try:
        gate.log_torn(p.config.run_id, p.time.steps)
        p.settle(torn=gate.torn_by, error=gate.torn_error)
    finally:
        said = release(p, closes_with, strategy=strategy, abandon=True)
    return said


def sealed_late(seal: Callable[[], None], lifecycle: SessionLifecycle) -> BaseException | None:
    """``seal()``, and what interrupted it once the seal was on disk, for ``close`` to raise.

    The seal's alert is posted last, once the run is sealed: an alert sink's
    ``KeyboardInterrupt`` or ``SystemExit`` there cuts no work. Raised under the session
    lock, it tore the session (its calls then said to resume a run that is sealed) and
    kept the run's writer lock; ``close`` lets go of the session first, then raises it.
    What interrupts the seal itself (before it is on disk) goes on at once, as before.
    """
    try:
        seal()
    except BaseException as exc:
        if not lifecycle.sealed:
            raise
        return exc
    return None


class LateSeal:
    """A seal inside the owner's work (a rejected ``preflight``), whose late interrupt waits.

    ``sealed_late`` keeps what interrupted the seal's alert once the run was sealed; once
    the work is over and its lock let go, ``raise_late`` closes the session (a rejected one
    can only be closed: as ``close``, it lets go of the run first) and raises it. Raised at
    once, it left the session holding the run: ``run_to_end`` never closed it, and a second
    open of the run was refused (``RunHeld``) until the session was closed or collected.
    """

    def __init__(self, seal: Callable[[], None], lifecycle: SessionLifecycle) -> None:
        self._seal = seal
        self._lifecycle = lifecycle
        self.late: BaseException | None = None

    def __call__(self) -> None:
        self.late = sealed_late(self._seal, self._lifecycle)

    def raise_late(self, close: Callable[[], None]) -> None:
        """Close the session and raise the late interrupt, if there was one."""
        if self.late is not None:
            close()
            raise self.late


def stop_and_seal(p: SessionParts, seal: Callable[[], None]) -> None:
    """``close``'s end of a session not sealed yet: the stop (not deferred), then the seal."""
    verbs.stop_for_close(p)  # under close's lock
    if p.lifecycle.state is SessionState.INIT:
        close_unstarted(p)
    if not p.lifecycle.sealed:
        seal()
