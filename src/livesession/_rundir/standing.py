"""What ``livesession status`` reads of a run beside its state, and without the lock.

Whether a directory is a run at all (``not_a_run``), its heartbeat (when ``checkpoint.json``
was last written), the plug-ins it was started with as objects (``objects_given``), and its
book: position and open orders (``book``). Read only, never written.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import RUN_MARKERS, runs_inside
from .._domain import clock as _clock

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["book", "heartbeat", "not_a_run", "objects_given"]

_NS_PER_S: Final = 1_000_000_000
_ORDER_FIELDS: Final = ("client_order_id", "symbol", "side", "quantity", "limit_price")


def objects_given(meta: dict[str, Any]) -> dict[str, str]:
    """The plug-ins ``config.json`` records as objects supplied in-process, by kind."""
    sources = meta.get("sources")
    if not isinstance(sources, dict):
        return {}
    return {
        str(kind): str(source.get("object", "?"))
        for kind, source in sources.items()
        if isinstance(source, dict) and "supplied" in source
    }


def not_a_run(run_dir: Path) -> str:
    """What is missing for ``run_dir`` to be a run ("" when it is one)."""
    if not run_dir.exists():
        return f"{run_dir} does not exist"
    if not run_dir.is_dir():
        return f"{run_dir} is not a directory"
    if (run_dir / names.RUN_META).is_file():
        return ""
    missing = [name for name in RUN_MARKERS if not (run_dir / name).is_file()]
    if missing:
        return (
            f"{run_dir} is not a run: no {names.RUN_META}, and {' and '.join(missing)} missing"
            f"{runs_inside(run_dir)}"
        )
    return ""


def heartbeat(run_dir: Path, now: dt.datetime) -> tuple[str | None, float | None]:
    """When ``checkpoint.json`` was last written (RFC 3339 UTC), and how long before ``now``.

    A live session rewrites it every ``checkpoint_every`` steps: its mtime is the beat.
    (None, None): there is none yet.
    """
    try:
        mtime_ns = (run_dir / names.CHECKPOINT).stat().st_mtime_ns
    except OSError:
        return None, None
    written = dt.datetime.fromtimestamp(mtime_ns / _NS_PER_S, tz=dt.UTC).replace(microsecond=0)
    age = max(0.0, (_clock.epoch_ns(now) - mtime_ns) / _NS_PER_S)
    return _clock.format_utc(written), round(age, 1)


def book(
    checkpoint: dict[str, Any], snapshot: dict[str, Any] | None
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Positions and open orders: the checkpoint's, else (a run that keeps none) the snapshot's."""
    held = checkpoint.get("book")
    if isinstance(held, dict):
        positions = {str(k): str(v) for k, v in dict(held.get("positions") or {}).items()}
        orders = []
        for item in held.get("open") or []:
            order = item.get("order", {}) if isinstance(item, dict) else {}
            orders.append(
                {key: order.get(key) for key in _ORDER_FIELDS}
                | {
                    "filled": item.get("filled"),
                    "in_doubt": bool(item.get("in_doubt")),
                }
            )
        return positions, orders
    if snapshot is not None:
        positions = {str(k): str(v) for k, v in dict(snapshot.get("positions") or {}).items()}
        return positions, [{"client_order_id": c} for c in snapshot.get("open_orders") or []]
    return {}, []
