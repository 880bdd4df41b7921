"""Which release wrote a run: ``run.json``'s ``version``, compared with this one's.

A run another release (major.minor) wrote is read, verified and reported by this one, but
never continued by it: its config reads with keys this release added (another config hash),
and its files lack what this release added (causal links, the writer lock). So no tool of
this release advises ``livesession resume`` for such a run; each names the release to use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._support.oserrors import unwritable_run
from .._support.text import age_words, command
from .._version import __version__
from . import names
from .runread import read_json_object

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = [
    "before_0_2",
    "checked_by",
    "other_release",
    "release_of",
    "resume_advice",
    "unlocked_caution",
    "unlocked_writer",
    "written_by_other_release",
]

_BEFORE_0_2: Final = ("0.0.", "0.1.")


def before_0_2(version: object) -> bool:
    """Whether ``version`` is of a release before 0.2, whose runs lack what 0.2 added.

    Its writers take no ``writer.lock`` (nothing says whether one writes), its checkpoints
    keep no ``kill_halted``, its ``SESSION_STARTED`` carries no ``config_sha256`` and its
    decisions no ``signal_id`` links. (``verify`` keeps its own reading, on purpose.)
    """
    return isinstance(version, str) and version.startswith(_BEFORE_0_2)


def release_of(version: str) -> str:
    """The release (major.minor) of ``version``: ``0.1`` of ``0.1.0``."""
    return ".".join(version.split(".")[:2])


def checked_by(version: str) -> tuple[str, ...]:
    """``verify``'s line on a run another release (major.minor) wrote; none for this one's.

    A reviewer checking a run with another installed livesession was told ``OK`` and not
    that the verdict was this release's: one of a later release is held to the contract
    of an earlier one, which knows nothing of what that release added.
    """
    if not version or release_of(version) == release_of(__version__):
        return ()
    if _release_key(version) > _release_key(__version__):
        how = (
            "a later release than this one: held to this release's contract, which knows "
            f"nothing of what {release_of(version)} added; check it with livesession "
            f"{release_of(version)}.x"
        )
    else:
        how = "an earlier release: held to what that release's runs promise"
    return (f"version   written by livesession {version}, checked by {__version__}: {how}",)


def _release_key(version: str) -> tuple[int, ...]:
    """``(0, 3)`` of ``0.3.0``; a part that is no number counts as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split(".")[:2])


def other_release(meta: dict[str, Any]) -> str | None:
    """The version that wrote a run (``run.json``'s) when its release is not this one's.

    0.2.1 continues what 0.2.0 wrote; None: this release, or no version recorded.
    """
    version = meta.get("version")
    if not isinstance(version, str) or release_of(version) == release_of(__version__):
        return None
    return version


def written_by_other_release(run_dir: Path) -> str | None:
    """``other_release`` of ``run_dir``'s ``run.json`` (None when it has none to read)."""
    return other_release(read_json_object(run_dir / names.RUN_META))


def resume_advice(run_dir: Path, *, verb: str = "continue it") -> str:
    """How to continue the unfinished run ``run_dir``: with this release, or with its own.

    A run directory that cannot be written (read-only media) is said so first: ``resume``
    would refuse it until it can.
    """
    version = written_by_other_release(run_dir)
    if version is None:
        unwritable = unwritable_run(run_dir, *names.RESUME_OPENS)
        return unwritable or f"{verb} with `{command('resume', run_dir)}`"
    return (
        f"{verb} with livesession {release_of(version)}.x, which wrote it (this is "
        f"{__version__}, which continues only runs of its own release){unlocked_caution(run_dir)}"
    )


def unlocked_caution(run_dir: Path) -> str:
    """``, once no process writes it: ...`` for an unsealed run of a lockless release; "".

    A 0.1.x process on another host writing a shared folder's run leaves nothing to find:
    ``verify``, ``prom`` and ``report`` said such a live run crashed, and to continue it
    with 0.1.x, whose ``resume`` takes no lock either: two writers of one run.
    """
    version = unlocked_writer(run_dir)
    if version is None:
        return ""
    return (
        f", once no process writes it: livesession {version} takes no {names.WRITER_LOCK}, "
        "so whether one still does cannot be told here (look for it on its host first)"
    )


def unlocked_writer(run_dir: Path) -> str | None:
    """The version that wrote ``run_dir`` when it is a release whose writers take no lock.

    A process of such a release writing the run now leaves no ``writer.lock`` to find, so
    an unsealed run of it may be live as well as crashed: None when the run has the lock
    file (whoever made it takes locks) or its release does.
    """
    if (run_dir / names.WRITER_LOCK).exists():
        return None
    version = written_by_other_release(run_dir)
    return version if version is not None and before_0_2(version) else None


def unlocked_says(run_dir: Path, age_s: float | None) -> str:
    """What an unsealed run a lockless release wrote is, for ``status``; "" for any other."""
    version = unlocked_writer(run_dir)
    if version is None:
        return ""
    if age_s is None:
        beat = "no checkpoint yet"
    elif age_s >= 0:
        beat = f"its heartbeat is {age_s:.1f} s old"
    else:  # ahead of this machine's clock: said so, not "-3.0 s old"
        beat = f"its heartbeat is {age_words(age_s)}"
    return (
        f"livesession {version} wrote this run and takes no {names.WRITER_LOCK}, so whether a "
        f"process still writes it cannot be told ({beat}): look for that process on its host "
        f"before anything else; this release ({__version__}) cannot continue it"
    )
