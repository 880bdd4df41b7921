"""``config.json`` against the config the run recorded as it started.

``SESSION_STARTED`` carries ``config_sha256``: the SHA-256 of the run's config as
``config.json`` holds it, compact with sorted keys, without ``base_dir``,
``checkpoint_every``, ``durability`` and ``sources`` (docs/artifacts.md). The audit chain
covers that event, so the config a run traded under, its risk limits above all, cannot be
changed afterwards unseen. Runs written before the field existed, and runs without a
``config.json`` (sinks given as files), have nothing to compare.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Final

import orjson

from .._artifacts import names
from ._reading import TOO_DEEP, nested_too_deep

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["CONFIG", "UNRECORDED", "check_config"]

CONFIG: Final = names.CONFIG
UNRECORDED: Final = frozenset({"base_dir", "checkpoint_every", "durability", "sources"})
"""Left out of the digest: where the config file sits, how often the state is saved and when
bytes reach the disk (none changes what a run records), and the plug-ins' source records
(written beside the config)."""


def check_config(report: Violations, raw: bytes | None, recorded: object) -> None:
    """Report ``config.json`` (``raw``) when it is not the config ``recorded`` names."""
    if raw is None or not isinstance(recorded, str):
        return
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        report.add(CONFIG, 0, f"not JSON ({exc})")
        return
    if not isinstance(data, dict):
        report.add(CONFIG, 0, "not a JSON object")
        return
    if nested_too_deep(data):  # its digest could not be computed (orjson writes 254 levels)
        report.add(CONFIG, 0, TOO_DEEP)
        return
    kept = {key: value for key, value in data.items() if key not in UNRECORDED}
    found = hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if found != recorded:
        report.add(
            CONFIG,
            0,
            f"not the config the run recorded as it started (SESSION_STARTED config_sha256 "
            f"{recorded[:12]}..., this file {found[:12]}...): it was changed after the run began",
        )
