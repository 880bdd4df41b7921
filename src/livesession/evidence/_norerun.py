"""Why a run's determinism re-run is not started: the verdict it has as it stands.

A run that is not sealed has no whole run to compare with; one started with objects (a
plug-in, a clock) is not rebuilt; a lost lease or an unrepeatable source came from outside
its config and code; a file the re-run reads is missing. ``Rerun.start`` asks these first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.runread import iter_records, payload
from .._rundir import read_run_config
from .._rundir.layout import Backing
from .._rundir.plugins import not_rebuilt
from .._rundir.refused import unsealed_because
from .._rundir.rerunnable import unrepeatable

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["leased", "missing_files", "not_applicable", "objects_given", "unsealed"]


def unsealed(stopped_by: str = "") -> dict[str, Any]:
    """The verdict of a run that is not sealed: there is no whole run to compare with.

    ``stopped_by``: the refused write its process logged as it stopped (``status``'s
    ``stopped by``), said as the run line says it (``unsealed_because``); "": a crash.
    """
    return {
        "status": "not_applicable",
        "reason": f"the run is not sealed ({unsealed_because(stopped_by)}), so there is no "
        "whole run to compare with",
    }


def not_applicable(run_dir: Path, *, rerunnable: bool) -> dict[str, Any] | None:
    """Why this run cannot be re-run (the verdict as it stands), or None when it can."""
    cfg, meta = read_run_config(run_dir)
    if not rerunnable:  # a plug-in, or the clock, given as an object
        return objects_given(run_dir)
    if leased(meta) and (outside := _lease_from_outside(run_dir)):
        return {"status": "not_applicable", "reason": outside}
    if cfg.feed == "venue":
        return None
    if why := unrepeatable(cfg, meta.get("sources") or {}):
        return {"status": "not_applicable", "reason": why}
    return None


def objects_given(run_dir: Path) -> dict[str, Any]:
    """The verdict of a run started with objects (a plug-in, a clock): they are not rebuilt."""
    sources = read_run_config(run_dir)[1].get("sources") or {}
    return {"status": "not_applicable", "reason": not_rebuilt(sources)}


def leased(meta: dict[str, Any]) -> bool:
    """Whether the run held the (account, strategy) lease (``--lease``, ``--store postgres``)."""
    backing = Backing.from_meta(meta)
    return backing.lease or backing.store != "local"


def _lease_from_outside(run_dir: Path) -> str:
    """Why the run's lease makes it one no re-run repeats ("" when it does not).

    The re-run holds a lease of its own that no one else holds or takes: a run that lost
    its lease (``C2_LEASE_LOST``) would be traded on where it stopped, and one preflight
    refused because another session held it (``C2_REJECT_LEASE_HELD``) would trade where
    it did not. Neither is what the config and code produce.
    """
    for record in iter_records(run_dir / names.AUDIT):
        if record.get("code") == "C2_LEASE_LOST":
            step = payload(record).get("step")
            return (
                f"the run lost its lease (LEASE_LOST, at step {'?' if step is None else step}): "
                "that came from outside its config and code (another session, or the lease's "
                "backend), and a re-run cannot repeat it"
            )
        if record.get("code") == "C2_REJECT_LEASE_HELD":
            return (
                "preflight refused the run its lease (LEASE_HELD: another live session held "
                "it): that came from outside its config and code, and a re-run, which holds "
                "a lease of its own, cannot repeat it"
            )
    return ""


def missing_files(run_dir: Path) -> dict[str, Any] | None:
    """``ERROR`` at once when a file of the run the re-run reads or compares is missing.

    Said of the run, before any re-run is started: a re-run started anyway died on the
    file (``the re-run process exited with code 1: FileNotFoundError: ...``), which reads
    like a re-run that ran out of memory or was killed. None when every file is there.
    """
    cfg, _ = read_run_config(run_dir)
    needed = (
        (names.EVENTS, names.MARKET_JOURNAL)
        if cfg.feed == "venue"
        else (names.EVENTS, names.SNAPSHOTS, names.AUDIT)
    )
    missing = [name for name in needed if not (run_dir / name).is_file()]
    if not missing:
        return None
    what = f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"
    return {
        "status": "ERROR",
        "reason": f"the run's {what}, so there is nothing to compare a re-run with: none "
        "was started",
        "missing": missing,
    }
