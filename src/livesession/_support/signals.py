"""Signal handlers that stay the installing process's own.

A process forked while a handler of ours is installed (a strategy's ``multiprocessing``
pool, say) inherits it. There it would only set a flag of a session the child does not
run: a worker the pool terminates with SIGTERM would not end, and the pool's ``join``
would wait forever. ``ours`` wraps a handler so that, in any process but the one that
installed it, the signal takes its default action instead.
"""

from __future__ import annotations

import os
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = ["ours"]


def ours(
    handler: Callable[[int, FrameType | None], None],
) -> Callable[[int, FrameType | None], None]:
    """``handler`` in this process; the signal's default action in a forked child."""
    pid = os.getpid()

    def installed(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != pid:  # a child forked while the handler was in place
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        handler(signum, frame)

    return installed
