"""Where two runs of the failure matrix first part, and the likely culprit, in words.

Two runs of one case must write the same lines. When they do not, the first line where
they part points at the piece to look at: two different BARs come from the feed, anything
else follows the strategy's decisions. Runs that part with no crash between them (two
uninterrupted runs, or the same run in two processes) are not deterministic at all, which
no ``get_state`` can mend.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Final

import orjson

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "bar_first",
    "first_difference",
    "new_process_difference",
    "process_difference",
    "resume_difference",
]

_SHOWN: Final = 300
_HASHED: Final = "the hash of a str or bytes, the order of a set, or id()"
_OUTSIDE: Final = (
    "module-level or class-level state, a cache, a list or dict bound in the factory"
    " (a functools.partial's argument)"
)
"""State kept outside the strategy (or feed) object: shared by every object the factory
makes in one process, lost with that process. A list bound in a ``functools.partial``
(``partial(make, window=[])``) is one: every strategy the partial makes appends to it."""
_VARIES: Final = "an unseeded random source (uuid4() too), the wall clock, id(), threads that race"
"""What makes two runs in one process differ, besides state kept outside the object."""


def first_difference(
    left: Sequence[bytes],
    right: Sequence[bytes],
    *,
    names: tuple[str, str] = ("uninterrupted", "resumed"),
    what: str = "event",
) -> str:
    """The first line where ``left`` and ``right`` differ, both shown (cut at 300 bytes)."""
    width = max(len(name) for name in names) + 1
    for number, (a, b) in enumerate(zip(left, right, strict=False), start=1):
        if a != b:
            return (
                f"{what} {number} differs:\n  {names[0] + ':':<{width}} {a[:_SHOWN]!r}\n"
                f"  {names[1] + ':':<{width}} {b[:_SHOWN]!r}"
            )
    return f"{names[0]}: {len(left)} {what}s, {names[1]}: {len(right)}, the first alike"


def bar_first(left: Sequence[bytes], right: Sequence[bytes]) -> bool:
    """Whether the runs part at a BAR in both: the feed gave another bar, so it is to blame.

    A BAR in one run only is the next bar on time, after something the other run did
    before it (a SIGNAL, say): that something is the place to look.
    """
    for a, b in itertools.zip_longest(left, right):
        if a != b:
            return a is not None and b is not None and _kind(a) == _kind(b) == "BAR"
    return False


def _kind(line: bytes) -> object:
    event = orjson.loads(line)
    return event.get("event_type") if isinstance(event, dict) else None


def resume_difference(
    straight: Sequence[bytes], resumed: Sequence[bytes], again: Sequence[bytes], kill_after: int
) -> str:
    """Why the resumed run's events differ from the uninterrupted run's, and who to suspect.

    ``again`` is a second uninterrupted run of the same case, run only once the resume was
    found to differ: when it differs too, the resume is not the cause.
    """
    said = (
        f"crash-resume equivalence: killed after step {kill_after} and resumed, the run's"
        " events differ from an uninterrupted run's"
    )
    if list(again) != list(straight):
        who = "feed" if bar_first(straight, again) else "strategy"
        shown = first_difference(straight, again, names=("first run", "second run"))
        return (
            f"{said}, and so do two uninterrupted runs' (not the resume: the {who} is not"
            f" deterministic; {_VARIES}, or state one run leaves to the next ({_OUTSIDE})?)"
            f" {shown}"
        )
    step = _parted_in(straight, resumed)
    if step is not None and step < kill_after:
        who = "feed" if bar_first(straight, resumed) else "strategy"
        return (
            f"{said} in their first {step + 1} steps, before the kill (not the resume: the"
            f" {who} is not deterministic; {_VARIES}, or state one run leaves to the next"
            f" ({_OUTSIDE})?)"
            f" {first_difference(straight, resumed)}"
        )
    if bar_first(straight, resumed):
        hint = (
            "the first difference is a BAR: does the feed's get_state hold its whole position,"
            " and its set_state restore it?"
        )
    else:
        hint = "does the strategy's get_state hold all its memory?"
    return f"{said} ({hint}) {first_difference(straight, resumed)}"


def _parted_in(left: Sequence[bytes], right: Sequence[bytes]) -> int | None:
    """How many BARs the runs share before their first difference (None: none differs).

    Fewer than the kill step: the runs parted before the kill, while the resumed run was
    still an uninterrupted one, so no ``get_state`` or ``set_state`` had a part in it.
    """
    bars = 0
    for a, b in itertools.zip_longest(left, right):
        if a != b:
            return bars
        bars += _kind(a) == "BAR"
    return None


def process_difference(
    here: Mapping[str, Sequence[bytes]], there: Mapping[str, Sequence[bytes]], hash_seed: int
) -> str | None:
    """How the child process's reference run differs from this one's (None: it does not)."""
    for name, what in (("events", "event"), ("states", "snapshot")):
        mine, theirs = here[name], there[name]
        if list(mine) == list(theirs):
            continue
        if name == "states":
            who = "a get_state (the strategy's or the feed's)"
        else:
            who = "the feed" if bar_first(mine, theirs) else "the strategy"
        shown = first_difference(mine, theirs, names=("this process", "child process"), what=what)
        return (
            "not deterministic across processes: the uninterrupted run with no fault, run"
            f" again in a child process with PYTHONHASHSEED={hash_seed}, gives other {what}s"
            f" (does {who} depend on {_HASHED}, or on state an earlier run in this process"
            f" left behind ({_OUTSIDE})? `livesession evidence` re-runs a run in another"
            f" process, and would fail it) {shown}"
        )
    return None


def new_process_difference(
    straight: Sequence[bytes], resumed: Sequence[bytes], kill_after: int
) -> str | None:
    """How the run killed in one process and resumed in another differs (None: it does not).

    Both runs are the child's (one ``PYTHONHASHSEED``), and the same resume within one
    process gave the uninterrupted run's events: what differs is what a process keeps
    outside the strategy and feed objects, lost in a real crash, and no checkpoint's.
    """
    if list(straight) == list(resumed):
        return None
    who = "feed" if bar_first(straight, resumed) else "strategy"
    return (
        f"crash-resume equivalence in a new process: killed after step {kill_after} in a"
        " child process and resumed from its checkpoint in another (a fresh interpreter, as"
        " `livesession resume` after a crash), the run's events differ from an uninterrupted"
        " run's, though a resume within one process gave the same: state that did not"
        f" survive a resume in a new process ({_OUTSIDE}); the {who}'s get_state must hold"
        f" it, and its set_state restore it {first_difference(straight, resumed)}"
    )
