"""A resume refused after it cut the run back puts the cut tails back.

Some refusals can only come once the run is cut back to its checkpoint: those of the
session built on the cut files (a desk venue's ``resume_at`` or ``mark``, a broker's
``count_positions_from`` or ``recover``, a plug-in state the session cannot take, the
idempotency store or the files that will not open, ``C2_RESUME`` not written). Left cut
back, the run between that refusal and the next resume was not the one the crash left:
``status``, ``verify``, ``report`` and ``evidence`` read a run whose last steps sat in
``<file>.torn``, and a run handed over as it was, not resumed again, was handed over so.

``put_back`` undoes the cut: each tail is appended back to its file (synced), then its
``<file>.torn`` is cut back to the size it had (or removed, when the cut made it). A crash
at any point of it leaves what a crash leaves: a file holding part of its tail (the next
resume cuts it again) and a ``.torn`` file that may hold a copy of it too, bytes no
``C2_RESUME`` counts yet, which the next resume's record counts (``cut_back``), so the
records still add up to the ``.torn`` files' sizes. Once anything was written after the
cut (a ``C2_RESUME`` record that reached the audit log), nothing is put back: that record
counts the tails it set aside, and the run stays cut back, for the next resume.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from .._artifacts import names
from .._exceptions import LiveSessionError
from .._support.crash import crashpoint
from .._support.fsutil import fsync_dir, open_append, open_update, size_if_any
from .._support.logging import get_logger
from .._support.torn import torn_path

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Cut", "CutBack", "put_back", "put_back_refused"]


@attrs.frozen
class Cut:
    """What cutting one artifact back changed, to put it back."""

    path: Path
    offset: int
    """The size the file was cut to."""
    tail: bytes
    """What was cut from it, now at the end of its ``<file>.torn``."""
    torn_held: int
    """The size of its ``<file>.torn`` before the cut."""
    torn_made: bool
    """Whether the cut made the ``<file>.torn`` (it was not there)."""
    made: bool
    """Whether the file itself was missing, made empty for the resume to append to."""


@attrs.frozen
class CutBack:
    """A resume's cut: the bytes each ``<file>.torn`` holds uncounted, and each file's cut."""

    torn: dict[str, int]
    cuts: tuple[Cut, ...]
    run_id: str
    """The run's id, for the lines its put back logs."""


@contextlib.contextmanager
def put_back_refused(cut: CutBack) -> Iterator[None]:
    """Within: the resume goes on on the run ``cut`` cut; what it raises puts the cut back.

    The refusal's words (one of livesession's) end with what it left: nothing changed, or
    the run cut back and why (``said_of_cut``).
    """
    try:
        yield
    except BaseException as exc:
        kept = put_back(cut.cuts, cut.run_id)
        # Put back: the files it cut; else those still cut back (a put back that failed
        # part-way made the others whole again).
        left = [c for c in cut.cuts if c.tail and (kept is None or size_if_any(c.path) == c.offset)]
        said_of_cut(exc, kept, tuple(c.path.name for c in left), cut.run_id)
        raise


def put_back(cuts: tuple[Cut, ...], run_id: str) -> str | None:
    """Undo ``cuts`` (the files as before the cut); None, or why the run stays cut back.

    Nothing is put back unless every file still is as the cut left it. A write that fails
    part-way stops there, that file cut back to its offset again.
    """
    for cut in cuts:
        if changed := _changed(cut):
            return changed
    for cut in reversed([cut for cut in cuts if cut.tail or cut.made]):
        try:
            _put_back_one(cut, run_id)
        except OSError as exc:
            return f"putting the tail of {cut.path.name} back failed ({exc.strerror or exc})"
    return None


def _changed(cut: Cut) -> str:
    """Why ``cut`` cannot be put back (its file or ``.torn`` changed since), or ""."""
    size = size_if_any(cut.path)
    if size != cut.offset and cut.path.name == names.ARTIFACTS["audit"]:
        return f"its C2_RESUME record reached {cut.path.name}"
    if size != cut.offset:
        return f"{cut.path.name} was written to after it was cut back"
    torn = size_if_any(torn_path(cut.path))
    if cut.tail and torn != cut.torn_held + len(cut.tail):
        return f"{torn_path(cut.path).name} changed after the cut"
    return ""


def _put_back_one(cut: Cut, run_id: str) -> None:
    """Append ``cut``'s tail to its file, then cut its ``.torn`` back to its old size."""
    path, aside = cut.path, torn_path(cut.path)
    if not cut.tail:
        if cut.made:
            path.unlink()
            fsync_dir(path.parent)
        return
    fd = open_append(path)
    try:
        try:
            view = memoryview(cut.tail)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # as cut: the error is the one to say
                os.ftruncate(fd, cut.offset)
                os.fsync(fd)
            raise
    finally:
        os.close(fd)
    crashpoint("uncut_write")  # the tail in both: the next resume sets it aside again
    try:
        if cut.torn_made:
            aside.unlink()
        else:
            with os.fdopen(open_update(aside), "r+b") as handle:
                handle.truncate(cut.torn_held)
                handle.flush()
                os.fsync(handle.fileno())
        fsync_dir(path.parent)
    except OSError as exc:  # the file is whole again; its .torn keeps a copy of the tail
        get_logger().warning(
            "torn_copy_kept",
            run_id=run_id,
            file=aside.name,
            detail=f"the tail put back in {path.name} is kept in {aside.name} too, as cutting "
            f"it from there failed ({exc.strerror or exc}); the next resume counts it",
        )
    crashpoint("uncut_torn")


def said_of_cut(exc: BaseException, kept: str | None, names: tuple[str, ...], run_id: str) -> None:
    """End ``exc``'s message (one of livesession's) with what its refusal left of the run.

    ``kept``: None when the cut was put back, else why the run stays cut back (``names``:
    the files whose tails are in their ``.torn``).
    """
    if kept is None:
        said = " (nothing was changed: the tails it had cut back were put back)"
        said = said if names else " (nothing was changed)"
    else:
        torn = ", ".join(f"{name}.torn" for name in names)
        said = (
            f" (the run stays cut back to its checkpoint{f', its tails in {torn}' if torn else ''}"
            f": {kept}; status says so, and the next resume continues it)"
        )
        get_logger().warning("resume_left_cut_back", run_id=run_id, detail=kept, files=list(names))
    if isinstance(exc, LiveSessionError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        exc.args = (exc.args[0] + said,)
