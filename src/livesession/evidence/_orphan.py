"""The determinism re-run's process ends with the ``evidence`` process that started it.

``evidence`` kills its re-run and removes its scratch directory on any way out it sees (an
error, Ctrl-C, SIGTERM). Killed itself (SIGKILL, the OOM killer, a container's hard stop),
it sees none: its re-run ran on alone to its end, up to its time limit (over 14 hours for a
run of 10,000,000 steps), and left its scratch directory, a whole copy of the run, in the
system's temporary directory. The parent now holds the write end of a pipe whose read end
the child watches: the kernel closes it when the parent ends, however it ends, and the
child stops its re-run, removes the scratch directory and exits.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import threading

__all__ = ["ParentWatch"]


class ParentWatch:
    """In the child: whether the parent ended (``gone``); the re-run is interrupted then.

    The parent never writes to the pipe: a read returns only once every write end is
    closed. SIGINT gets Python's handler (a child of a shell script's background job
    inherits it ignored), which ``_thread.interrupt_main`` needs to interrupt anything.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.gone = threading.Event()
        self.finishing = False
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def start(self) -> None:
        """Watch from now on (inside the block the interrupt is caught in)."""
        threading.Thread(target=self._watch, name="livesession-parent-watch", daemon=True).start()

    def _watch(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._fd, 64):
                pass
        self.gone.set()
        if not self.finishing:  # the re-run is still at work: stop it where it is
            _thread.interrupt_main()
