"""The kill drill: the wall time from a kill switch to flat, measured on a re-run.

The drill (``kill_drill``, run by ``evidence`` and ``burnin --drill``) re-runs the run's
config on its simulated venue in a temporary directory until it holds a position, trips the
kill switch and measures the wall time until ``KILL_SWITCH_FLAT``. A run on the system clock
that tripped its own kill switch measured it already: the
wall clock's time from its ``KILL_SWITCH`` record to ``KILL_SWITCH_FLAT`` (their ``ts_utc``;
``time_to_flat_ns`` is run time).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from .._artifacts import names
from .._artifacts.received import as_written
from .._artifacts.runread import read_bytes, read_json_object
from .._exceptions import RunDirectoryError
from .._rundir import create_run, read_run_config
from .._rundir.data import check_run_data, rerun_refused
from .._rundir.memoryids import scratch_reruns
from .._rundir.plugins import check_recorded_sources, not_rebuilt
from .._rundir.rerunnable import unrepeatable
from .._support.fsutil import raise_if_refused
from .._support.oserrors import cwd_kept, scratch_way_out
from .._support.secrets import redact_text
from .._support.signals import scratch_directory
from .._support.text import command
from ._criteria import quoted

__all__ = [
    "BURNIN_DRILL",
    "EVIDENCE_DRILL",
    "UNMEASURED",
    "burnin_drill",
    "evidence_mismatch",
    "kill_drill",
    "measured_flatten",
]

_NS: Final = 1_000_000_000
UNMEASURED: Final = ("not_measured", "not_applicable")
"""A drill's statuses that measured nothing (the reason is in its ``reason``)."""
EVIDENCE_DRILL: Final = "evidence kill drill (a re-run on the simulated venue)"
BURNIN_DRILL: Final = "burnin --drill (a kill drill re-run on the simulated venue)"
_MISMATCH: Final = "the determinism re-run does not match"
"""How the evidence's problem line of a determinism mismatch begins (``mismatch_said``)."""
_SAID_MAX: Final = 2000
"""The longest such line a note quotes (the evidence's are far shorter)."""


def kill_drill(
    run_dir: Path, *, max_steps: int | None = None, source: str = EVIDENCE_DRILL
) -> dict[str, Any]:
    """Re-run ``run_dir``'s config in a temporary directory and time a kill switch to flat.

    ``source`` says who ran it, in the measurement and in the flatten criterion quoting it:
    ``evidence``'s drill (recorded in its manifest) or ``burnin --drill``'s (``BURNIN_DRILL``).

    Only a run on a simulated venue with a simulated clock can be re-run; otherwise the
    drill is ``not_applicable``. The session steps until it holds a position, the kill switch
    trips, and the wall time runs until ``KILL_SWITCH_FLAT`` (or the steps run out). The
    search for a position stops where the run stopped: the re-run is the run, step for step,
    so a run that never held one gives ``not_measured`` at once, not after ``max_steps``.
    """
    cfg, meta = read_run_config(run_dir)
    sources: dict[str, Any] = meta.get("sources") or {}
    if not check_recorded_sources(cfg, sources, run_dir):
        return {"status": "not_applicable", "reason": not_rebuilt(sources)}
    if why := unrepeatable(cfg, sources):
        return {"status": "not_applicable", "reason": why}
    # The data file the run read, unchanged (one line naming it and the run otherwise): a
    # re-run on other bars measures another session.
    check_run_data(run_dir, cfg, meta)
    limit = min(cfg.max_steps, max_steps or cfg.max_steps)
    # The strategy steps in this process: one that calls os.chdir() must not move the
    # caller's relative paths (``evidence runs/x`` read runs/x from its directory after).
    with scratch_directory("livesession-drill-") as tmp, cwd_kept():
        with scratch_reruns(), _scratch_said(source, tmp):  # memory ids with any broker
            session = create_run(cfg, tmp, idempotency_backend="memory", alerts=False)
        try:
            if not session.preflight():
                return {"status": "not_measured", "reason": "the re-run failed its preflight"}
            session.activate()
            horizon = min(limit, _steps_run(run_dir, cfg.steps))
            return _drill(session, horizon, limit, source, patience=max(cfg.stop_max_polls, 1))
        finally:
            session.close()


def burnin_drill(run_dir: Path) -> dict[str, Any]:
    """``burnin --drill``'s kill drill, refused in one line when the run's code or data is gone.

    Moved or changed since the run: the line says what the drill needs, and what judges the
    run without it.

    Raises:
        DataFileError: the run's data file is missing or changed since the run.
        PluginError: a plug-in of the run cannot be imported, or its source changed.
    """
    hint = (
        "; burnin --drill re-runs the run, so it needs the run's code and data file here: "
        f"without --drill, `{command('burnin', run_dir)}` judges the run, running nothing "
        "(nothing was written)"
    )
    with rerun_refused(hint):
        return kill_drill(run_dir, source=BURNIN_DRILL)


@contextlib.contextmanager
def _scratch_said(source: str, tmp: Path) -> Iterator[None]:
    """Say a scratch run the host refused (a full disk) as the drill's, in its directory.

    It was ``cannot create run /tmp/livesession-drill-x/big: File too large`` alone: an
    ``evidence`` of a finished run that said it could not create a run, naming none of
    the operator's, nor that ``TMPDIR`` chooses where the drill writes.
    """
    try:
        yield
    except RunDirectoryError as exc:
        if not isinstance(exc.__cause__, OSError):
            raise
        raise RunDirectoryError(
            f"{source}: cannot make its scratch run in {tmp.parent}, the temporary directory "
            f"(TMPDIR chooses another): {exc}"
        ) from exc


def _steps_run(run_dir: Path, planned: int) -> int:
    """The steps the run took (its ``metrics.json``), else the ``planned`` ones."""
    steps = read_json_object(run_dir / names.METRICS).get("steps")
    return steps if isinstance(steps, int) and steps >= 0 else planned


def _drill(session: Any, horizon: int, limit: int, source: str, *, patience: int) -> dict[str, Any]:
    """Step to a position, kill, and step on until flat, ``not_flat`` after ``patience``.

    ``patience``: the config's ``stop_max_polls``, a stop's own wait for the venue. A venue
    that never confirms the kill's cancels would otherwise hold the drill, and
    ``evidence``, for ``max_steps`` steps (a million by default).
    """
    metrics = session.recorder.metrics
    active = "DRYRUN_ACTIVE"
    while (
        session.steps_done < horizon
        and session.state.value == active
        and not any(session.book.positions.values())
    ):
        session.step()
    position = {k: str(v) for k, v in sorted(session.book.positions.items()) if v}
    if refused := _refused(session):
        return refused
    if not position:
        return {"status": "not_measured", "reason": f"no position opened in {horizon} steps"}
    at_kill = session.steps_done
    started = time.monotonic()
    session.kill("DRILL")
    while (
        not metrics.count("KILL_SWITCH_FLAT")
        and session.steps_done < min(limit, at_kill + patience)
        and session.state.value == active
    ):
        session.step()
    wall_s = time.monotonic() - started
    if refused := _refused(session):
        return refused
    flat = bool(metrics.count("KILL_SWITCH_FLAT"))
    return {
        "status": "measured" if flat else "not_flat",
        "wall_s": round(wall_s, 6),
        "position_at_kill": position,
        "steps_to_flat": session.steps_done - at_kill,
        "source": source,
    }


def _refused(session: Any) -> dict[str, Any] | None:
    """Measured nothing when the system refused the scratch run's files (its sinks died).

    A ``TMPDIR`` that filled stopped the scratch run where it was: the drill said ``no
    position opened in 3000 steps`` of a run that had opened one, blaming the run.
    """
    refused = session.recorder.failure_summary()
    if not refused:
        return None
    way = scratch_way_out(session.recorder.errnos.values())
    reason = f"its scratch run's files were refused ({refused}): {way}, then run the drill again"
    return {"status": "not_measured", "reason": reason}


def measured_flatten(
    run_dir: Path,
    flat_ns: int | None,
    *,
    run_id: object,
    head: str | None,
    already_flat: bool = False,
    manifest_drill: bool = True,
) -> dict[str, Any] | None:
    """A wall-time kill-to-flat the run already has: an evidence drill, or its own kill.

    ``manifest_drill`` False leaves out the drill ``manifest.json`` records: a drill run
    now (``burnin --drill``, ``evidence``'s own) that measured nothing is not made up for
    by an older figure, which the reviewer asked for a fresh one not to trust.

    The drill ``manifest.json`` records counts only when the manifest is this run's: its
    ``run_id`` the run's and its ``audit_head`` the run's audit head (``head``). Another
    run's manifest copied in, or one written before the run changed, measured another run;
    so does one that cannot be read as a manifest. Such a drill is ``invalid``, with the
    reason, and the criterion fails naming it (``criteria.flatten``, which also holds
    ``wall_s`` to a finite number of seconds >= 0). The run's own kill counts only if it
    had something to flatten: one that found the book flat, no order open
    (``already_flat``), measured nothing, and says so; so did one whose flat record carries
    the kill's own reading of the clock (``flat_ns`` 0: it is read at each step and each
    wait, so the flatten's wall time went unmeasured).
    """
    manifest = run_dir / names.MANIFEST
    found = (
        _manifest_drill(manifest, run_id=run_id, head=head)
        if manifest_drill and manifest.is_file()
        else None
    )
    if found is not None and found["status"] not in UNMEASURED:
        return found
    cfg, _ = read_run_config(run_dir)
    if cfg.clock_mode == "system" and flat_ns is not None and already_flat and found is None:
        return {
            "status": "not_measured",
            "reason": "the run's own kill switch found it already flat (no position, no "
            "open order): it flattened nothing",
        }
    if cfg.clock_mode == "system" and flat_ns == 0 and not already_flat:
        return {
            "status": "not_measured",
            "reason": "the run's own kill switch went flat before the system clock was read "
            "again (it is read at each step and each wait: KILL_SWITCH and KILL_SWITCH_FLAT "
            "carry one ts_utc), so its wall time was not measured",
        }
    if cfg.clock_mode == "system" and flat_ns is not None and not already_flat:
        return {
            "status": "measured",
            "wall_s": flat_ns / _NS,
            "source": "the run's own kill switch (system clock)",
        }
    return found  # this run's drill that measured nothing, with its reason, or None


def _manifest_drill(path: Path, *, run_id: object, head: str | None) -> dict[str, Any] | None:
    """The kill drill ``path`` (a ``manifest.json``) records for this run, if any.

    None when it records no measurement of this run; a drill of this run that measured
    nothing (``not_measured``, ``not_applicable``) as recorded, which says why (no claim,
    but the reason a reviewer reads); ``invalid`` when what it records is not this run's
    to count.
    """
    document = _manifest(path)
    if isinstance(document, str):
        return _invalid(document)
    drill = document.get("kill_drill")
    if not isinstance(drill, dict) or drill.get("status") not in ("measured", "not_flat"):
        if not isinstance(drill, dict) or drill.get("status") not in UNMEASURED:
            return None
        # This run's drill measured nothing: no claim, but why (a reviewer reads it).
        return (
            None
            if _not_this_run(document, run_id, head)
            else drill | {"recorded_in": names.MANIFEST}
        )
    why = _not_this_run(document, run_id, head)
    return _invalid(why) if why else drill | {"recorded_in": names.MANIFEST}


def evidence_mismatch(run_dir: Path, *, run_id: object, head: str | None) -> str:
    """What this run's ``manifest.json`` says of a determinism re-run that did not match.

    ``the evidence in manifest.json says NOT VERIFIED: the determinism re-run does not match:
    events.jsonl line 10 (...) (is strategy '...' deterministic? ...)``, or "" when it says
    nothing of the kind: no manifest, another run's (its run id or audit head not this
    run's, which the flatten criterion says), or a re-run that matched or was not made. A
    deterministic strategy's re-run matches, so nothing is said of it; the criteria count
    what one run did, and this says whether that run repeats.
    """
    path = run_dir / names.MANIFEST
    document = _manifest(path) if path.is_file() else {}
    if isinstance(document, str) or not document or _not_this_run(document, run_id, head):
        return ""
    determinism = document.get("determinism")
    if not isinstance(determinism, dict) or determinism.get("status") != "MISMATCH":
        return ""
    problems = document.get("problems")
    lines = [p for p in problems if isinstance(p, str)] if isinstance(problems, list) else []
    where = determinism.get("first_difference")
    said = next(
        (p for p in lines if p.startswith(_MISMATCH)),
        f"{_MISMATCH}: {quoted(where)}" if where else _MISMATCH,
    )
    said = redact_text(" ".join(said.split()))  # one line; a hand-edited one redacted, cut
    said = said if len(said) <= _SAID_MAX else f"{said[: _SAID_MAX - 3]}..."
    return f"the evidence in manifest.json says NOT VERIFIED: {said}"


def _manifest(path: Path) -> dict[str, Any] | str:
    """The manifest's JSON object, or what is wrong with it (``{}`` if it is gone since)."""
    try:
        document = orjson.loads(as_written(read_bytes(path))[0])  # a BOM a copy added
    except OSError as exc:
        raise_if_refused(exc, path)
        return {}
    except orjson.JSONDecodeError:
        return "it is not JSON"
    return document if isinstance(document, dict) else "it is not a JSON object"


def _not_this_run(document: dict[str, Any], run_id: object, head: str | None) -> str:
    """Why the manifest is not this run's ("" when its run id and audit head are)."""
    if document.get("run_id") != run_id:
        said = quoted(document.get("run_id"))
        return f"it is the manifest of run {said}, not of this run ({run_id})"
    if head is None or document.get("audit_head") != head:
        said = quoted(document.get("audit_head"))
        return (
            f"its audit_head {said} is not this run's ({head}): it is another run's "
            "manifest, or was written before the run changed"
        )
    return ""


def _invalid(reason: str) -> dict[str, Any]:
    return {"status": "invalid", "reason": reason, "recorded_in": names.MANIFEST}
