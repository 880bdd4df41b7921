"""How a run that lost its lease says so: taken over, or its lease store reset under it.

A session loses its lease when another holder took it (a newer fencing token), or when
the store that keeps it was reset under the run (no newer token: ``C2_LEASE_LOST`` then
has ``refused_by_fence`` null or not above its ``fence``). What a reset is depends on the
backend the run's ``run.json`` names: the PostgreSQL lease table truncated or its row
deleted, the local lease file deleted or put back from an older copy. The CLI's last
line, ``stop``'s, a sealed run's advice (``seal.lease_lost_words``) and ``status``'s lease
line and ``next`` all take their words from here.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts import names
from .._artifacts.runread import read_json_object

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ResetWords", "lease_backend", "reset_of", "was_reset"]


@attrs.frozen(kw_only=True)
class ResetWords:
    """How a lease backend's store is reset under a run, in the words every tool says."""

    what: str
    """What happened, said of the store (``the lease table was reset``)."""
    causes: str
    """How it happens (``truncated, the row deleted, or the database recreated``)."""
    record: str
    """What the store keeps for one (account, strategy) (``row``)."""
    names: str
    """Where an operator finds the holder now (``the lease table's row names it: ...``)."""
    found: str
    """When the run found it out (``renewed its lease or wrote under it``)."""


_RESETS: Final = {
    "postgres": ResetWords(
        what="the lease table was reset",
        causes="truncated, the row deleted, or the database recreated",
        record="row",
        names="the lease table's row names it: its fences started again",
        found="renewed its lease or wrote under it",
    ),
    "file": ResetWords(
        what="the lease file was deleted or replaced",
        causes="removed, or put back from an older copy",
        record="entry",
        names="the lease file's entry names it: its fences started again or went back",
        found="renewed its lease",
    ),
    # A run without run.json (an application's sinks): the backend is not recorded.
    "": ResetWords(
        what="the lease's store was reset",
        causes="a lease file deleted or replaced, or a lease table truncated or its row deleted",
        record="record",
        names="the lease's store names it: its fences started again or went back",
        found="renewed its lease or wrote under it",
    ),
}


def lease_backend(run_dir: Path) -> str:
    """The lease backend ``run.json`` names: ``postgres``, ``file``, or ``""`` (unknown)."""
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError):
        meta = read_json_object(run_dir / names.RUN_META)
    if meta.get("store") == "postgres":
        return "postgres"
    return "file" if meta.get("lease") else ""


def reset_of(backend: str) -> ResetWords:
    """The words of a reset of ``backend``'s store (``lease_backend``'s answer)."""
    return _RESETS.get(backend, _RESETS[""])


def was_reset(lost: dict[str, Any]) -> bool:
    """Whether a ``C2_LEASE_LOST`` payload says the store was reset, not taken over.

    Reset: a refusal (``refused_by_fence``) that found no newer token than the run's own
    (null: the record was gone). Taken over: a newer token, or a renewal refused without
    one (the loss recorded without ``refused_by_fence``).
    """
    if "refused_by_fence" not in lost:
        return False
    newer, fence = lost["refused_by_fence"], lost.get("fence")
    return not (isinstance(newer, int) and isinstance(fence, int) and newer > fence)
