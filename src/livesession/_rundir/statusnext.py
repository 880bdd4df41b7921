"""What ``livesession status`` advises next of a run (``RunStatus.next_step``'s words).

The advice a (verdict, reason) gives (``nextwords``), made particular to the run: a lost
lease and where its holder is named, a completed run whose config cannot be read or that
another release wrote, a crashed run waiting on its lease, and what a resume needs in its
environment (credentials, a webhook's variable). Read only, never written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.releases import release_of, written_by_other_release
from .._domain.reasons import LEASE_LOST
from .._exceptions import LiveSessionError
from .._support.text import command
from .._version import __version__
from .drift import check_config_kept
from .layout import read_run_config
from .leaselost import lease_backend, reset_of
from .nextwords import OWN_SINKS_NEXT, reason_advice
from .refused import StoreRefusal, refused_first

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["credentials_said", "lease_lost_next", "lease_wait", "next_advice", "webhook_said"]


def lease_lost_next(how: str = "without cancelling or flattening", backend: str = "") -> str:
    """``status``'s advice for a run that lost its lease: ``how`` it stopped.

    A run that lost it trading stopped without cancelling or flattening; one that lost it
    in its wind-down stopped there (``wind_down_words``), part of it done. ``backend``
    (``leaselost.lease_backend``) says where the holder is named after a reset.
    """
    reset = reset_of(backend)
    return (
        "a person must look (RUNBOOK: One session per account and strategy: the lease): this "
        f"run lost its lease (the lease line says how) and stopped {how}, since a session "
        "that took the account and strategy over owns the venue's open orders and positions: "
        "do not acknowledge this run, nor close what the venue holds by its book; check which "
        f"session holds the lease now (the highest fence, or, when {reset.what}, its "
        f"{reset.record}) and that it runs, or, when the "
        "backend failed and none does, fix it and start a new run; this run is evidence only"
    )


def next_advice(
    verdict: str,
    reason: str,
    said: str,
    planned: int | None,
    run_dir: str,
    *,
    wind_down: str = "",
    store: StoreRefusal | None = None,
    kept: Mapping[str, Any] | None = None,
) -> str:
    """What ``status`` advises, where the reason, ``run.json`` or its release changes ``said``.

    ``planned`` is the steps the run's config plans, None when no run config was read;
    ``wind_down`` how a fault in its wind-down left the run (``wind_down_words``), "" for
    a run with none: a run that lost its lease there stopped so. A crashed run whose sink
    died says which file was refused first (``refused_first``); ``store``: the store
    refusal status read already (None: read there); ``kept``: the checkpoint's ``config`` as
    ``status`` read it (``{"config": ...}``; None: read there).
    """
    if verdict == "CRASHED":
        return refused_first(Path(run_dir), said, braces=True, store=store)
    if (verdict, reason) == ("NEEDS_OPERATOR", LEASE_LOST):
        return lease_lost_next(
            wind_down or "without cancelling or flattening", lease_backend(Path(run_dir))
        )
    unread = _config_unread(Path(run_dir), kept) if verdict == "COMPLETED" else None
    if verdict == "COMPLETED" and (planned is None or unread):
        if unread is None:
            return OWN_SINKS_NEXT
        escaped = unread.replace("{", "{{").replace("}", "}}")  # the caller's format_map
        return (
            "verify before handing it over: `{verify}` (status reads only the ends of the "
            f"files); its run config cannot be read here ({escaped}), so `livesession "
            "evidence`, which re-runs the run from it, cannot take it as it is"
        )
    version = written_by_other_release(Path(run_dir))
    if verdict == "COMPLETED" and version is not None:  # evidence refuses to re-run it
        return (
            "verify before handing it over: `{verify}` (status reads only the ends of the "
            f"files); livesession {version} wrote it and `livesession evidence` of "
            f"{__version__} re-runs only runs of its own release: write its evidence bundle "
            f"with livesession {release_of(version)}.x"
        )
    return reason_advice(verdict, reason, Path(run_dir)) or said


def _config_unread(run_dir: Path, kept: Mapping[str, Any] | None) -> str | None:
    """Why a run with ``run.json`` has no config ``status`` could read; None without one.

    It was said to have no ``run.json`` at all, an application's own sinks: of a run whose
    ``config.json`` was changed after it started, or whose config file's directory this
    process cannot name (``LC_ALL=C PYTHONUTF8=0``). A ``config.json`` that reads, its
    ``run.json`` ``config_hash`` edited to match, is still held to the digest the audited
    ``SESSION_STARTED`` records and the checkpoint's config (``check_config_kept``, the
    resume's check, as ``verify`` holds it): both sit at the files' ends, cheap to read.
    """
    if not (run_dir / names.RUN_META).is_file():
        return None
    try:
        cfg, _ = read_run_config(run_dir, any_release=True)
    except LiveSessionError as exc:
        return str(exc)
    if written_by_other_release(run_dir) is not None:
        return None  # read with this release's defaults: another digest, no edit
    return check_config_kept(run_dir, cfg, kept) or None


def lease_wait(lease: dict[str, Any], run_id: str | None, run_dir: str) -> str:
    """What a crashed run whose lease is held (or may be) waits for (``status``'s next).

    Its own killed process keeps the lease until it expires; another session that took
    the account and strategy over holds it as long as it runs.
    """
    until = lease["expires_utc"] or f"lease_ttl_ms={lease['ttl_ms']} after its last renewal"
    resume, holder = command("resume", run_dir), lease.get("holder")
    if isinstance(holder, str) and holder and not holder.startswith(f"{run_id}@"):
        return (
            f"another live session ({holder}) holds the lease of this run's account and "
            f"strategy until {until}, unless it renews it: stop that session or let it "
            f"end, then {resume} (resume exits 3 until then)"
        )
    return (
        f"continue it once its lease is free: {resume} (a killed process keeps its lease "
        f"until it expires, {until}; resume exits 3 until then)"
    )


def credentials_said(variables: tuple[str, ...]) -> str:
    """What a crashed run's ``next`` adds when ``resume`` reads its credentials ("": none).

    The names alone, and whether they are set where ``status`` runs is not said: ``status``
    says the same to whoever runs it, and ``resume`` refuses while one is unset.
    """
    if not variables:
        return ""
    return (
        f"; resume needs the credential variables {', '.join(variables)} set in its "
        "environment (the run's broker is ccxt)"
    )


def webhook_said(variable: str) -> str:
    """What a crashed run's ``next`` adds when the run posted to a webhook ("": it did not).

    The run directory never keeps the URL, so a resume alerts only through ``variable``
    (``ALERT_ENV``): without it, it pages nobody of its kill switch or its seal. Whether it
    is set where ``status`` runs is not said, as for the credential variables.
    """
    if not variable:
        return ""
    return (
        f"; set {variable} in its environment too: the run posted to a webhook, and a resume "
        "takes the URL only from there (the run directory never keeps it)"
    )
