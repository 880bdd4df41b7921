"""The sealing checkpoint a run's process did not live to write, written by ``resume``.

The seal closes the evidence first (``SESSION_STOPPED``, the final snapshot,
``metrics.json``, the audit's ``C2_DRYRUN_STOP``) and then writes the sealing checkpoint. A
process killed in between, or a full disk that refused the checkpoint, leaves evidence that
is sealed, whole and final beside the checkpoint from before the seal: every tool reads the
run as sealed (``_rundir.seal``), and ``resume`` writes the checkpoint the seal would have
written, and nothing else. Continuing the run from its old checkpoint instead cut the
evidence back and sealed it again: a ``C2_RESUME`` and another stop record, and a new audit
head, after the operator had been told the run was done (and may have published its head).

The checkpoint written is the last one with the seal's own keys read from the files' ends:
``sealed``, ``fsm_state`` (the final snapshot's), ``failed``, ``reason`` and ``steps`` (the
stop record's), ``trading`` and ``kill_halted`` (the newest trading event after the old
checkpoint: a ``KILL_SWITCH`` is the kill switch's halt, any other ends it), and the
book's ``positions`` and ``open`` orders (the final snapshot's). Its other keys are the old
checkpoint's, and ``resealed_from_step`` says from which step: a sealed run is never
restored from them. ``status`` shows a run in this state as the written checkpoint will.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.runread import last_whole_line, payload
from .._domain.lifecycle import reported_status
from .._exceptions import CheckpointError, RunDirectoryError, SealCheckpointWritten
from .._support.oserrors import errno_of, once_fixed, said_errno
from .._support.text import command
from ..stores import FileCheckpointStore
from .livecut import live_trading
from .seal import claimed_seal

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["reseal", "sealing_checkpoint"]


def sealing_checkpoint(
    run_dir: Path, checkpoint: dict[str, Any], snapshot: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``checkpoint`` sealed as the files' ends say: what ``reseal`` writes (see above)."""
    stop = payload(last_whole_line(run_dir / names.AUDIT) or {})
    if snapshot is None:
        snapshot = last_whole_line(run_dir / names.SNAPSHOTS)
    end = snapshot or {}
    trading, _, killed = live_trading(run_dir, checkpoint)
    book = checkpoint.get("book")
    book = dict(book) if isinstance(book, dict) else {}
    positions = end.get("positions")
    if isinstance(positions, dict):
        book["positions"] = positions
    orders = end.get("open_orders")
    if isinstance(orders, list):
        book["open"] = _open_at_end(book.get("open"), orders)
    steps = stop.get("steps")
    # The kill switch's halt since the old checkpoint (a kill, then a fault that sealed the
    # run without another): as the governor keeps it, or status named no kill.
    kill = {"kill_halted": True} if killed else {}
    kept = {k: v for k, v in checkpoint.items() if killed is None or k != "kill_halted"}
    return {
        **kept,
        **kill,
        "book": book,
        "failed": stop.get("status") == "FAILED",
        "fsm_state": end.get("fsm_state", checkpoint.get("fsm_state")),
        "reason": str(stop.get("reason") or ""),
        "resealed_from_step": checkpoint.get("steps"),
        "sealed": True,
        "steps": steps if isinstance(steps, int) else checkpoint.get("steps"),
        "trading": trading,
    }


def _open_at_end(kept: object, orders: list[Any]) -> list[dict[str, Any]]:
    """The final snapshot's open orders, as the book keeps them (the checkpoint's entry, if any).

    An order sent after the old checkpoint has no entry there: its snapshot's fields stand in.
    """
    entries = {
        entry["order"].get("client_order_id"): entry
        for entry in (kept if isinstance(kept, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("order"), dict)
    }
    out = []
    for order in orders:
        if not isinstance(order, dict):
            continue
        cid = order.get("client_order_id")
        fields = ("client_order_id", "symbol", "side", "quantity")
        entry = entries.get(cid) or {"order": {key: order.get(key) for key in fields}}
        out.append({**entry, "filled": order.get("filled", entry.get("filled"))})
    return out


def reseal(run_dir: Path, checkpoint: dict[str, Any] | None, *, durable: bool) -> None:
    """Refuse to resume a run its audit log seals, writing its sealing checkpoint if unwritten.

    Nothing happens to a run with no seal. Raises ``SealCheckpointWritten`` once the
    unwritten checkpoint is written (nothing else changed); ``RunDirectoryError`` for a run
    sealed without any checkpoint (nothing is missing), for a seal the files do not bear
    out (kept as it is: ``verify`` says what is wrong), or for a checkpoint the file system
    refuses (the line names the error). The caller holds the run's writer lock.
    """
    seal = claimed_seal(run_dir, checkpoint or {})
    if seal is None:
        return
    status = reported_status(seal.fsm_state, failed=seal.failed)
    if seal.doubt:
        raise RunDirectoryError(
            f"nothing to resume: the audit log of {run_dir} holds a seal, but {seal.doubt}: "
            f"`{command('verify', run_dir)}` says more; keep the run as it is and report it"
        )
    if checkpoint is None:
        raise RunDirectoryError(f"nothing to resume: {run_dir} already ended with status {status}")
    path = run_dir / names.CHECKPOINT
    for stale in run_dir.glob(f".{names.CHECKPOINT}.*.tmp"):  # a checkpoint killed mid-write
        stale.unlink(missing_ok=True)
    try:
        FileCheckpointStore(path, durable=durable).save(sealing_checkpoint(run_dir, checkpoint))
    except CheckpointError as exc:
        raise RunDirectoryError(
            f"cannot write the sealing checkpoint {path} ({said_errno(exc)}): nothing else "
            f"was changed; once {once_fixed(errno_of(exc))}, resume again"
        ) from exc
    raise SealCheckpointWritten(
        f"{run_dir} is sealed {status} (its audit log's C2_DRYRUN_STOP), but its process ended "
        "before it wrote the sealing checkpoint: wrote it now, and nothing else (nothing to "
        "resume)",
        status=status,
    )
