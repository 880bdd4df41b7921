"""What ties a report to the run it speaks of: the run's audit head.

The audit head is the SHA-256 of the last line of ``audit.jsonl``: what ``evidence``
records in its manifest and prints, and what a reviewer compares with the head published
apart from the files (docs/artifacts.md, "What the chain proves, and what it does not").
A report read back from a run directory (``burnin`` reads the kill drill of the manifest
found there) is the run's own only when its head is the run's: a manifest copied in from
another run, or written before the run changed, is not. ``evidence`` and ``burnin`` read
it here, one way.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from .._support.fsutil import raise_if_refused
from . import names

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["audit_head"]


def audit_head(run_dir: Path) -> str | None:
    """The SHA-256 (hex) of the last line of the run's ``audit.jsonl``; None when it has none.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``: named, exit 2).
    """
    path = run_dir / names.AUDIT
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise_if_refused(exc, path)
        return None  # missing: the run's own flaw, which verify names
    lines = data.splitlines()
    return hashlib.sha256(lines[-1]).hexdigest() if lines else None
