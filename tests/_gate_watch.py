"""A wait on a session gate's own turns, for a test: never a poll of the clock.

What a gate tells of its turns (``waiting``, ``owner_waiting``, ``arrived``) changes only
under its turns' lock, and the change is made by the time the thread lets go of that lock
or waits on it (``Condition.wait`` lets go). ``GateWatch(gate)`` gives the gate a turns'
condition that, at those two points, also wakes the test's waits: ``watch.until(what,
done)`` wakes at each change and asks ``done`` again; its bound only ends a hang, with the
name of what it waited for. A test's own flag changed outside the gate is told with
``watch.tell()``.

It imports nothing but ``threading``: a child process's script is given it as source
(``inspect.getsource``) ahead of its own.
"""

from __future__ import annotations

import threading
from typing import Any


class _Told(threading.Condition):
    """The gate's turns' condition, which wakes ``changed``'s waiters as its lock is let go."""

    def __init__(self, lock: Any, changed: threading.Condition) -> None:
        super().__init__(lock)
        self._changed = changed

    def _tell(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._tell()

    def wait(self, timeout: float | None = None) -> bool:
        self._tell()  # what was changed under the lock is done: the wait lets go of it
        return super().wait(timeout)


class GateWatch:
    """Wake a test's waits each time ``gate``'s turns change (install it before any use)."""

    def __init__(self, gate: Any) -> None:
        self.changed = threading.Condition()
        # the seam: the gate reads its turns' condition anew at each use
        gate._turns = _Told(gate._turns_lock, self.changed)

    def tell(self) -> None:
        """Wake the waits: a flag they ask about changed outside the gate."""
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, done: Any, bound_s: float = 60.0) -> bool:
        """Wait until ``done()``, woken by each change; ``False`` once ``bound_s`` passed."""
        with self.changed:
            return self.changed.wait_for(done, bound_s)

    def until(self, what: str, done: Any, bound_s: float = 60.0) -> None:
        """``wait_for``, failing with ``what`` it waited for at the bound (a hang)."""
        if not self.wait_for(done, bound_s):
            raise AssertionError(f"timed out waiting for {what}")
