"""One stop at a time: ``livesession stop`` of a run whose stop is already under way.

A second stop signal ends the holder at once (``control``): an operator who sends it means
"now". Two operators who each run ``livesession stop`` (two terminals; a script and a
person) mean no such thing, yet the second command's SIGTERM ended the holder in its
wind-down and left the run unsealed. So ``stop`` first asks whether a stop is under way,
and when one is it sends nothing and waits for the same seal:

- another ``livesession stop`` of the run waits for its effect: each holds an ``flock`` on
  the run's ``writer.lock`` while it signals and waits. The writer's own lock on that file
  is an OFD lock (``fcntl``), which never meets an ``flock`` on Linux, so the commands meet
  only each other and the writer is not touched. Elsewhere the writer holds the ``flock``
  itself, so commands take none there;
- the holder's checkpoint holds a stop (STOPPING, or STOPPED and not sealed yet): it took a
  stop signal (a command's, Ctrl-C, a service manager's) and winds down. The session saves
  that checkpoint before the wind-down sends anything.

Left to the second signal: a stop from elsewhere (Ctrl-C, systemd) that the holder has not
reached a step boundary for yet, and a ``stop`` whose command gave up (``--timeout``)
before the holder took it; then a later ``stop`` sends the second signal, as it always
did. To end a holder at once on purpose: ``kill -TERM PID``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.runread import read_json_object
from .dirhold import OFD_SETLK
from .seal import last_stop

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["sealed_but_held", "stop_turn", "stop_under_way"]


@contextlib.contextmanager
def stop_turn(run_dir: Path) -> Iterator[bool]:
    """Whether this is the only ``stop`` command of ``run_dir`` now; its turn held for the block.

    False while another command's turn is held. A run whose ``writer.lock`` cannot be
    opened (or a system whose writer holds the ``flock``) takes no turn: True.
    """
    if OFD_SETLK is None:  # pragma: no cover - not Linux: the writer's own lock is a flock
        yield True
        return
    try:
        fd = os.open(run_dir / names.WRITER_LOCK, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            alone = False
        except OSError:  # a file system without flock: no turns to take
            alone = True
        else:
            alone = True
        yield alone
    finally:
        os.close(fd)


def stop_under_way(run_dir: Path, *, alone: bool) -> str:
    """Why a stop is under way in ``run_dir``'s holder already ("" when none is known)."""
    if not alone:
        return "another `livesession stop` of this run waits for it"
    checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is True or checkpoint.get("fsm_state") not in (
        "STOPPING",
        "STOPPED",
    ):
        return ""
    reason = checkpoint.get("reason")
    why = f" ({reason})" if isinstance(reason, str) and reason else ""
    return f"its checkpoint holds a stop{why}, and it winds down"


def sealed_but_held(run_dir: Path) -> str:
    """The seal a holder that has not let the run go yet wrote already ("" if none).

    After its seal a process still hands its alerts to the webhook (bounded by ``[alerts]``
    ``timeout_ms`` and a second) and prints its summary: a slow webhook's wait outlasted
    ``stop --timeout``, which said ``no effect seen`` of a run that was sealed.
    """
    stop = last_stop(run_dir)
    payload = stop.get("payload") if stop is not None else None
    if not isinstance(payload, dict):
        return ""
    why = f" ({payload['reason']})" if payload.get("reason") else ""
    return (
        f"it sealed the run {payload.get('status', '?')}{why}, but has not let it go yet (it "
        "hands its alerts to the webhook, for at most [alerts] timeout_ms and a second, and "
        "prints its summary)"
    )
