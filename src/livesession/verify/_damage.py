"""What damage a run shows beyond a crash's torn last line, and whether a resume sets it aside.

``verify``'s first line of an unsealed run depends on it: damage that ``resume`` refuses
(``corruption``) is to keep and report; damage that lies only past the checkpoint
(``damaged_tail``) is set aside by a resume, which then continues the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._reading import AUDIT, EVENTS, SNAPSHOTS

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ._checks import Verifier

__all__ = ["corruption", "damaged_tail"]


def corruption(run: Verifier) -> str:
    """What shows ``run`` damaged beyond a torn last line, the first of it; "" if nothing.

    A crash tears the last line at most: a whole line that is no valid record, an audit
    chain that breaks, an audit record that is not its event's, or an event whose id is not
    its content's is damage that ``livesession resume`` cannot repair (it refuses an audit
    log whose chain breaks or whose head is not its checkpoint's outright). Damage only
    past the checkpoint, which a resume sets aside, is ``damaged_tail``'s instead.
    """
    return next((text for text, past in _damage(run) if not past), "")


def damaged_tail(run: Verifier) -> str:
    """The first damage past the checkpoint, when that is the only damage; "" for none.

    Said ``<file>:<line> ...``.

    Damage to ``events.jsonl`` or ``state_snapshots.jsonl`` whose bytes up to the
    checkpoint's offset hash as the checkpoint recorded lies past it, and so does damage to
    ``audit.jsonl`` numbered past the checkpoint's ``audit_seq`` when the record before its
    offset hashes to its ``audit_head``: a resume sets that aside (``<file>.torn``) and goes
    on from the checkpoint.
    """
    found = list(_damage(run))
    if not found or not all(past for _text, past in found):
        return ""
    return found[0][0]


def _damage(run: Verifier) -> Iterator[tuple[str, bool]]:
    """Each kind of damage found, and whether it lies past the checkpoint (see above)."""
    damaged, past = run.files.damaged, run.prefixes.audit_past
    if AUDIT in damaged:
        yield f"{AUDIT}:{damaged[AUDIT]} is not a valid record", past(damaged[AUDIT])
    if run.chain_break and past(run.chain_break):  # said file first: its .torn is named
        yield f"{AUDIT}:{run.chain_break} breaks the audit chain", True
    elif run.chain_break:
        yield f"the audit chain breaks at {AUDIT}:{run.chain_break}", False
    wrong = run.events.copies.first_wrong
    if wrong:
        yield f"{AUDIT}:{wrong} is not the record the events call for", past(wrong)
    for name in (EVENTS, SNAPSHOTS):
        if name in damaged:
            yield f"{name}:{damaged[name]} is not a valid record", run.prefixes.holds(name)
    bad_id = run.events.first_bad_id
    if bad_id:
        yield (
            f"{EVENTS}:{bad_id} is not the event its event_id was made from",
            run.prefixes.holds(EVENTS),
        )
    if run.prefixes.differs:
        yield run.prefixes.differs, False
