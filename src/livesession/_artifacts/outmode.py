"""The mode of what a tool writes into a run directory: the run's own.

A report, a Prometheus textfile or an evidence bundle holds what the run's files hold (its
orders, fills, P&L, config, the paths of its code). Written into the run directory, it
takes ``events.jsonl``'s mode, as ``timings.json`` and ``alerts.jsonl`` do: a run kept from
other users (made under ``umask 027``, or ``chmod 640`` since) gained a ``report.html`` and
a ``manifest.json`` every user of the host could read (``0644``) when the report or the
evidence ran from a shell under the common ``umask 022``. Written anywhere else
(``--output``, ``--out``), it takes the umask's: a place of the operator's choosing (a
textfile collector's directory that another user reads).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import names

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["run_mode_file"]


def run_mode_file(run_dir: Path, where: Path) -> Path | None:
    """The run file whose mode a new file in the directory ``where`` takes; None: the umask's.

    ``run_dir``'s ``events.jsonl`` when ``where`` is ``run_dir`` (however it is spelled:
    ``.``, through a symlink); None when it is another directory, or either is not there.
    """
    try:
        same = run_dir.samefile(where)
    except OSError:
        return None
    return run_dir / names.EVENTS if same else None
