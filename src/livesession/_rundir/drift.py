"""A crashed run's ``config.json`` held to the config the run traded under, before a resume.

A resumed run keeps the settings it started with, and reads them from ``config.json``
alone. That file is outside the audit chain: ``run.json``'s ``config_hash`` guards it, but
``run.json`` is outside the chain too, so an operator who edited a risk limit after a crash
and wrote the new hash into ``run.json`` had the resume trade under the new limit, and seal
a run ``verify`` then called broken (``config.json: not the config the run recorded as it
started``). The audited record (``SESSION_STARTED``'s ``config_sha256``, which
``C2_DRYRUN_START`` copies) says which config the run started with, and the checkpoint
holds the whole config the session ran with (``durability`` and ``checkpoint_every`` too,
which the audited digest leaves out): a resume (and ``status``'s ``resumable``) refuses a
``config.json`` that is neither, naming the keys that differ from the checkpoint's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.provenance import audited_start
from .._domain.config import DryrunConfig
from .._exceptions import LiveSessionError
from .._support.text import one_line

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

__all__ = [
    "changed_keys",
    "check_config_kept",
    "config_changed",
    "config_ran_with",
    "drift_from_checkpoint",
]

_NOT_COMPARED: Final = frozenset({"base_dir", "sources"})
"""Where the config file sat (``run.json``'s ``config_hash`` holds it) and the plug-ins'
source records (checked against their files by the resume): not settings of the run."""
_NAMED: Final = 3
"""The most keys a refusal names (then how many more)."""


def changed_keys(kept: Mapping[str, Any], found: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two configs, in sorted order."""
    keys = sorted((set(kept) | set(found)) - (_NOT_COMPARED if not prefix else frozenset()))
    changed: list[str] = []
    for key in keys:
        before, now = kept.get(key), found.get(key)
        if isinstance(before, dict) and isinstance(now, dict):
            changed += changed_keys(before, now, f"{prefix}{key}.")
        elif before != now or (key in kept) != (key in found):
            changed.append(f"{prefix}{key}")
    return changed


def _checkpoint_config(run_dir: Path) -> dict[str, Any] | None:
    """The config the checkpoint holds, or None (no checkpoint, or none readable there)."""
    try:
        checkpoint = orjson.loads((run_dir / names.CHECKPOINT).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None  # the resume's own checks name a checkpoint it cannot read
    config = checkpoint.get("config") if isinstance(checkpoint, dict) else None
    return config if isinstance(config, dict) else None


def config_ran_with(checkpoint: Mapping[str, Any]) -> DryrunConfig | None:
    """The config ``checkpoint`` holds, built; None where it holds none this release reads.

    What ``status`` describes a run by when its ``config.json`` does not read (edited after
    the run began, say): the settings the run traded under, its lease among them.
    """
    config = checkpoint.get("config")
    if not isinstance(config, dict):
        return None
    try:
        return DryrunConfig.from_mapping(config)
    except (LiveSessionError, TypeError, ValueError):
        return None


def named(keys: list[str]) -> str:
    """``risk.max_order_qty, seed`` (at most ``_NAMED``, then how many more)."""
    shown = ", ".join(one_line(key) for key in keys[:_NAMED])
    more = len(keys) - _NAMED
    return shown + (f" and {more} more" if more > 0 else "")


def drift_from_checkpoint(
    run_dir: Path, found: Mapping[str, Any], checkpoint: Mapping[str, Any] | None = None
) -> str:
    """``KEYS differ from ...`` for ``config.json``'s object ``found``; "" when none do.

    ``checkpoint``: the one the caller has read already (else it is read here).
    """
    if checkpoint is None:
        kept = _checkpoint_config(run_dir)
    else:
        config = checkpoint.get("config")
        kept = config if isinstance(config, dict) else None
    keys = [] if kept is None else changed_keys(kept, found)
    if not keys:
        return ""
    verb = "differs" if len(keys) == 1 else "differ"
    return f"{named(keys)} {verb} from the config its {names.CHECKPOINT} ran with"


def check_config_kept(
    run_dir: Path, cfg: DryrunConfig, checkpoint: Mapping[str, Any] | None = None
) -> str:
    """Why ``config.json`` (read as ``cfg``) is not the config the run traded under ("").

    Held to the audited ``config_sha256`` and, with a checkpoint, to its whole config
    (``checkpoint`` when the caller has read it, else read here).
    """
    started = audited_start(run_dir).get("config_sha256")
    audited = (
        f"it is not the config the run's audited record (SESSION_STARTED config_sha256 "
        f"{one_line(started)[:12]}...) says it started with"
        if isinstance(started, str) and started != cfg.recorded_sha256()
        else ""
    )
    why = "; ".join(
        part
        for part in (drift_from_checkpoint(run_dir, cfg.to_dict(), checkpoint), audited)
        if part
    )
    return config_changed(run_dir, why) if why else ""


def config_changed(run_dir: Path, why: str) -> str:
    """The one line for a ``config.json`` changed after the run began, ``why`` its keys.

    Said so whether ``run.json``'s ``config_hash`` still holds the old config (the usual
    hand edit: ``read_run_config`` finds it) or was edited to match (``check_config_kept``).
    """
    return (
        f"{run_dir / names.CONFIG} was changed after the run began ({why}): a resumed run "
        "keeps the settings it started with; put config.json back as it was (its "
        f'{names.CHECKPOINT} holds it under "config"), or start a new run with the new settings'
    )
