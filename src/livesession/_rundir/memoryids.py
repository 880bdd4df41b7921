"""Who may keep a run's client order ids in memory: the one check ``create_run`` makes.

A resume asks the venue for the orders the idempotency store says were sent before the
crash, and sends the rest again with the same ids. The ``memory`` store dies with the
process: the resumed run would take every order it had sent for unsent. A real venue
(``ccxt:``) already has them, and Binance takes an id again once its first order is no
longer open, so each was sent twice (the venue held the position while the run said flat).
A broker of one's own (a reference, an object, a ``broker_factory``) may keep its orders
across a crash (a paper account), and got those sent after the checkpoint a second time.
So ``memory`` is kept to the venues a resume rebuilds as they stood at the checkpoint,
``mock`` and ``realish``, whoever creates the run: the CLI's ``dryrun``, ``create_run``,
``aio.open_session(out_dir=...)``. Only the throwaway re-runs ``evidence`` and ``burnin``
make in a scratch directory, which nothing ever resumes, keep it with any broker.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

from .._exceptions import ConfigError
from .._support.flags import ContextFlag

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = ["refuse_memory_ids", "scratch_reruns"]

REBUILT_VENUES: Final = ("mock", "realish")
"""The venues a resume rebuilds as they stood at the checkpoint (from the run's journal)."""

_SCRATCH: Final = ContextFlag("livesession_scratch_rerun")


def scratch_reruns() -> contextlib.AbstractContextManager[None]:
    """Within the block, runs are throwaway re-runs (never resumed): ``memory`` is kept."""
    return _SCRATCH.within()


def refuse_memory_ids(
    cfg: DryrunConfig, idempotency_backend: str, *, own_broker: str | None, cli: bool
) -> None:
    """``ConfigError`` for ``memory`` ids with a broker whose orders outlive the process.

    ``own_broker`` names a broker given in-process (an object, a ``broker_factory``), None
    for the config's. ``cli`` chooses the fix said: the CLI's flags or ``create_run``'s
    arguments. Refused before anything is created.
    """
    if idempotency_backend != "memory" or _SCRATCH:
        return
    exchange = own_broker is None and cfg.broker.startswith("ccxt:")
    if not exchange and own_broker is None and cfg.broker in REBUILT_VENUES:
        return
    fix = (
        "--idempotency-backend sqlite (the default) or jsonl, or --store postgres"
        if cli
        else "idempotency_backend='sqlite' (the default) or 'jsonl', or store='postgres'"
    )
    venue = "already has" if exchange else "keeps"
    broker = own_broker if own_broker is not None else repr(cfg.broker)
    raise ConfigError(
        f"idempotency backend 'memory' cannot be used with broker {broker}: its client "
        f"order ids die with the process, and a resume after a crash would send the orders "
        f"the venue {venue} again (memory is for the mock and realish venues); use {fix}"
    )
