"""Whether this machine's clock can stamp a system-clock run's records after its checkpoint.

A run stamps ``ts_utc`` from the wall clock (``clock_mode`` ``system``) and a record's time
never goes back: a clock that reads earlier than the record before fails the run
(``CLOCK_REGRESSION``). A resume on a host whose clock is behind the crashed run's last
record (another host's, a clock stepped back since) failed the run so at its first step,
sealed in ``ERROR_REQUIRES_OPERATOR`` with its position still held, and no resume could
continue it after. ``resume`` refuses it first now, with nothing changed, and ``status``
says the run is not resumable yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._domain import clock as _clock
from .._exceptions import RunDirectoryError
from .._support.text import age_words
from .plugins import CLOCK

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig
    from .._typing import Clock

__all__ = ["refuse_clock_behind"]


def refuse_clock_behind(
    run_dir: Path,
    cfg: DryrunConfig,
    meta: dict[str, Any],
    checkpoint: dict[str, Any] | None,
    *,
    clock: Clock | None = None,
) -> None:
    """``RunDirectoryError`` when the wall clock reads before the checkpoint's last record.

    Only a run whose config's ``system`` clock stamps it: a caller's clock object is the
    caller's to set (``clock``, given again), and a simulated or fixed clock is restored
    with the checkpoint.
    """
    sources = meta.get("sources") or {}
    if checkpoint is None or clock is not None or cfg.clock_mode != "system" or CLOCK in sources:
        return
    last = checkpoint.get("last_utc")
    if not isinstance(last, str):
        return
    last_us = _clock.epoch_us(_clock.parse_utc(last))
    now = _clock.SystemClock().now()
    behind_us = last_us - _clock.epoch_us(now)
    if behind_us <= 0:
        return
    behind = age_words(behind_us / 1e6).removesuffix(" ago")
    raise RunDirectoryError(
        f"cannot resume {run_dir} (nothing was changed): this machine's clock reads "
        f"{_clock.format_utc(now)}, {behind} before the run's last record ({last}), and the "
        "system clock stamps its records, whose times never go back (its first step would "
        "fail the run, CLOCK_REGRESSION): set this machine's clock right, or resume once it "
        f"reads past {last}"
    )
