"""What ``stop``, ``kill`` and ``ack`` say of a run no process holds (``control``).

- An unsealed run a release that takes no writer lock wrote (0.1.x): refused, since its
  writer may be writing it now and nothing in the run names it.
- A sealed run, for ``stop``: stopped already. ``systemctl stop`` of an inactive unit is
  no error, and a service manager's ``ExecStop=`` (or a second operator) stopping a run
  that is sealed got "nothing holds the run" (exit 8), which reads as a stop that failed.
- A ``livesession resume`` of the run that has not taken its writer lock yet (it loads,
  for a fraction of a second) is found by ``holderproc.resuming``: the command waits for
  it to take the run, rather than say nothing holds it while it is about to trade.
- An unfinished run (a crash), for ``kill`` and ``stop``: nothing was sent, and what the
  run left at the venue stays there until it runs again. An operator killing a basket
  (``for r in runs/*; do livesession kill "$r"; done``) was told of a crashed session only
  to continue it with ``resume``, not that its orders still rested at the venue, nor that
  the kill had to be sent again once it ran (exit 8's row of the table says so).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._artifacts.releases import unlocked_says
from .._domain.clock import SystemClock
from .._support.text import command, path_text
from .holderproc import stopped_pid
from .seal import claimed_seal, describe_seal, last_stop
from .standing import heartbeat

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["not_yet_held", "stopped_already", "unfinished_unsent", "unlocked_refusal"]


def unlocked_refusal(action: str, run_dir: Path) -> str:
    """Why an unsealed run a lockless release wrote is refused ("" for any other run).

    Such a process (0.1.x) may be writing the run now, and nothing in the run names it, so
    there is no process to signal; "nothing holds it" would be a guess.
    """
    if last_stop(run_dir) is not None:
        return ""
    says = unlocked_says(run_dir, heartbeat(run_dir, SystemClock().now())[1])
    if not says:
        return ""
    return (
        f"cannot {action} {path_text(run_dir)}, which no process can be found for: {says}; "
        "signal that process yourself by its pid"
    )


_AT_ONCE: Final = {
    "kill": "resume it and kill it at once",
    "stop": "resume it and stop it at once",
}
"""What ``kill`` and ``stop`` of a crashed run advise, by action (``ack`` has nothing to add)."""


def unfinished_unsent(action: str, run_dir: Path, said: str) -> str:
    """``said`` (``describe_seal``'s phrase) of a run nothing holds, for ``action``.

    For ``kill`` and ``stop`` of an unfinished run that ``resume`` continues (``said`` ends
    with its command), the phrase adds that nothing was sent, that the venue keeps what the
    run left there, and the commands that act on it: a ``resume`` in the background, and
    the action, which waits for the resume to take the run (``send_control``) and is taken
    at its first step boundary. Any other phrase is returned as it is.
    """
    resume = f"`{command('resume', run_dir)}`"
    if action not in _AT_ONCE or not said.endswith(f"continue it with {resume}"):
        return said
    head = said.removesuffix(f"continue it with {resume}")
    return (
        f"{head}nothing was sent, and what the run left at the venue (open orders, a "
        f"position) stays there until it runs again: {_AT_ONCE[action]}: "
        f"`{command('resume', run_dir)} -q & {command(action, run_dir)}` (the {action} waits "
        "for the resume to take the run, and is taken at its first step boundary)"
    )


def stopped_already(run_dir: Path) -> tuple[bool, str] | None:
    """A sealed run, for ``stop``: (sealed ``FAILED``, the line saying how it ended).

    ``COMPLETED`` and ``REJECTED`` (by preflight: it never traded) are done already (exit
    0); ``FAILED`` is said as a stop that ends ``FAILED`` is (exit 4).

    None for a run that is not sealed, or whose files do not bear its seal out.
    """
    seal = claimed_seal(run_dir)
    if seal is None or not seal.whole:
        return None
    return (
        seal.failed,
        f"{path_text(run_dir)} is stopped already: {describe_seal(run_dir, advise=True)}",
    )


def not_yet_held(action: str, run_dir: Path, pid: int) -> str:
    """A ``resume`` (``pid``) that did not take ``run_dir`` within the timeout: retry.

    One stopped as it loads (SIGSTOP, Ctrl-Z) never takes it until it runs again: the line
    said only that it was starting, and an operator waited on it; it now says so, and how
    (at once, without waiting out the timeout: ``send_control``).
    """
    again = f"once `{command('status', run_dir)}` says it runs, `{command(action, run_dir)}` again"
    if held := stopped_pid(pid):
        return (
            f"nothing was sent: `livesession resume` (pid {pid}) of {path_text(run_dir)} is "
            f"starting, but {held}; {again}"
        )
    return (
        f"nothing was sent: `livesession resume` (pid {pid}) of {path_text(run_dir)} is "
        f"starting and did not take the run within the timeout; {again}"
    )
