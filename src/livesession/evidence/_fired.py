"""What the run's events say, counted in the evidence's one pass over them.

How often each rail and preflight check fired, the kill switch's records (the manifest's
``fired``), and what the protective exits did (its ``exits``, read as the report reads
them: ``_rundir.exits``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .._artifacts.runread import payload
from .._domain import clock as _clock
from .._domain.reasons import DAILY_LOSS_KILL
from .._risk.checks import default_checks
from .._risk.rails import default_rails
from .._rundir import read_run_config
from .._rundir.exits import ExitTally

__all__ = ["Fired"]


class Fired:
    """How often each rail and preflight check fired, the kill switch's records, the exits.

    The daily-loss cap fires by pulling the kill switch (``KILL_SWITCH`` reason
    ``DAILY_LOSS``), not by refusing an order: each such kill is the DAILY_LOSS rail
    firing, so a run it halted never says that its rail did not fire.
    """

    def __init__(self, run_dir: Path) -> None:
        cfg, meta = read_run_config(run_dir)
        self.rails = {rail.rule: 0 for rail in default_rails(cfg.risk, cfg.allowed_symbols)}
        for record in (meta.get("sources") or {}).values():  # the desk's own, as recorded
            if isinstance(record, dict) and isinstance(record.get("rule"), str):
                self.rails.setdefault(record["rule"], 0)
        self.checks: dict[str, int] = {check.name: 0 for check in default_checks()}
        self.kill: list[dict[str, Any]] = []
        self.exits = ExitTally()

    def each(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``events``, each counted on its way (one pass over a stream: none is held)."""
        for event in events:
            self._count(event)
            self.exits.feed(event)
            yield event

    def _count(self, event: dict[str, Any]) -> None:
        fields = payload(event)
        kind = event.get("event_type")
        if kind == "RISK_REJECTED":
            rule = str(fields.get("rule"))
            self.rails[rule] = self.rails.get(rule, 0) + 1
        elif kind == "PREFLIGHT_CHECK" and not fields.get("passed", True):
            name = str(fields.get("check"))
            self.checks[name] = self.checks.get(name, 0) + 1
        elif kind in ("KILL_SWITCH", "KILL_SWITCH_FLAT"):
            at = event.get("ts_sim")
            when = _clock.format_utc_ns(at) if type(at) is int else None
            self.kill.append({"event": kind, "seq": event.get("seq"), "at": when, **fields})
            if kind == "KILL_SWITCH" and fields.get("reason") == DAILY_LOSS_KILL:
                self.rails[DAILY_LOSS_KILL] = self.rails.get(DAILY_LOSS_KILL, 0) + 1

    def result(self) -> dict[str, Any]:
        """The manifest's ``fired``."""
        return {"rails": self.rails, "checks": self.checks, "kill_switch": self.kill}
