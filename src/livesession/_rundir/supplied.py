"""How a run's plug-in supplied in-process is named, and how a resume is given it again.

``config.json``'s ``sources`` records each plug-in handed to ``create_run`` as an object
(``supplied``: ``object supplied in-process``, ``object``: its class), and the broker a
caller's ``broker_factory`` built (``supplied``: ``from broker_factory=fac``, ``object``:
the factory). Neither can be rebuilt from the run's config: ``resume_run`` is given the
same object (``broker=``), or the same factory (``broker_factory=``), again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from .._exceptions import PluginError
from .._support.provenance import drift
from .._support.text import command

__all__ = [
    "FACTORY",
    "by_factory",
    "check_sources",
    "continued_by",
    "from_python",
    "given_again",
    "keyword_of",
    "objects_given",
    "pass_again",
    "resume_call",
]

FACTORY: Final = "broker_factory"
"""The keyword a broker built by a caller's factory is given again with (``resume_run``)."""
_FROM: Final = f"from {FACTORY}="
"""How ``sources.broker.supplied`` begins for a broker a caller's factory built."""


def by_factory(record: object) -> bool:
    """Whether a ``sources`` record is of a broker a caller's ``broker_factory`` built."""
    if not isinstance(record, Mapping):
        return False
    supplied = record.get("supplied")
    return isinstance(supplied, str) and supplied.startswith(_FROM)


def supplied_from(name: str) -> str:
    """``sources.broker.supplied`` for a broker the factory called ``name`` built."""
    return f"{_FROM}{name}"


def keyword_of(role: str, record: object) -> str:
    """The keyword ``resume_run`` takes the plug-in of ``role`` again with."""
    return FACTORY if by_factory(record) else role


def objects_given(meta: dict[str, Any]) -> dict[str, str]:
    """The plug-ins ``config.json`` records as supplied in-process, by ``resume_run``'s keyword.

    The keyword that takes each again: its kind (``strategy``), or ``broker_factory`` for a
    broker a caller's factory built.
    """
    sources = meta.get("sources")
    if not isinstance(sources, dict):
        return {}
    return {
        keyword_of(str(kind), source): str(source.get("object", "?"))
        for kind, source in sources.items()
        if isinstance(source, dict) and "supplied" in source
    }


def given_again(keyword: str, name: str) -> str:
    """``broker=<a desk.Paper>``, or ``broker_factory=<desk.open_paper>``: for an advice."""
    return f"{keyword}=<{name}>" if keyword == FACTORY else f"{keyword}=<a {name}>"


def pass_again(role: str, record: object) -> str:
    """What to pass to continue a run started with ``record`` in ``role``, in words."""
    if by_factory(record):
        return f"pass the same {FACTORY}= again"
    return f"pass the same object as {role}= again"


def resume_call(run_dir: str | os.PathLike[str], objects: Mapping[str, str]) -> str:
    """``resume_run('runs/x', broker=<a desk.Paper>)``: the call that continues a crashed run.

    ``objects``: what the run was started with in-process, by keyword (``objects_given``);
    the command line cannot rebuild them.
    """
    given = "".join(f", {given_again(key, name)}" for key, name in sorted(objects.items()))
    return f"resume_run({str(run_dir)!r}{given})"


def from_python(
    run_dir: str | os.PathLike[str], objects: Mapping[str, str], *, verb: str = "continue it"
) -> str:
    """``continue it from Python: resume_run(...) (...)``: ``status``'s and ``verify``'s advice.

    For a crashed run started with ``objects`` (``objects_given``), which only that call
    continues; ``create_run``'s refusal of its run id says it too, with its own ``verb``.
    """
    return (
        f"{verb} from Python: {resume_call(run_dir, objects)} (it was started with "
        "objects, which the command line cannot rebuild)"
    )


def continued_by(run_dir: str | os.PathLike[str], objects: Mapping[str, str]) -> str:
    """What continues a crashed run: `livesession resume`, or ``resume_run`` from Python."""
    if not objects:
        return f"`{command('resume', run_dir)}`"
    return f"{resume_call(run_dir, objects)} from Python (it was started with objects)"


def check_sources(recorded: Mapping[str, Any], current: Mapping[str, Any], *, run: str) -> None:
    """Refuse when the plug-ins now are not the ones ``run`` recorded (``PluginError``).

    ``recorded`` and ``current`` map a role (``strategy``, ``feed``, ``broker``) to a
    ``resolve``/``object_record`` record.
    """
    for role in sorted(set(recorded) | set(current)):
        was, now = recorded.get(role), current.get(role)
        if was is None:
            raise PluginError(f"run {run} was started on the built-in {role}, not on one given now")
        if "object" in was:
            if now is None or now.get("object") != was["object"]:
                raise PluginError(
                    f"run {run} was started with a {role} object supplied in-process "
                    f"({was['object']}): pass the same object as {role}= again"
                )
        elif now is None or now.get("ref") != was.get("ref"):
            raise PluginError(_not_the_reference(role, was, now, run=run))
        if now.get("sha256") != was.get("sha256"):
            name = was.get("ref") or was.get("object")
            raise PluginError(
                f"the source of {role} {name!r} changed since run {run} started (SHA-256 "
                f"{str(was.get('sha256'))[:12]}..., now {str(now.get('sha256'))[:12]}... in "
                f"{now.get('file')}): restore the code the run started with"
            )
        if "ref" in was and (moved := drift(was, now.get("file"))):
            raise PluginError(
                f"the code of {role} {was.get('ref')!r} differs from run {run}'s: {moved}; "
                "restore what the run started with (its config.json's sources record each "
                "file's SHA-256 and each package's version)"
            )


def _not_the_reference(
    role: str, was: Mapping[str, Any], now: Mapping[str, Any] | None, *, run: str
) -> str:
    """``check_sources``'s refusal of a run its config's reference built ``role`` for.

    Given an object or a factory now (``resume_run(..., broker_factory=fac)``), it names
    both: the run's reference and what was given (module and qualified name).
    """
    said = f"run {run} was started with {role} {was.get('ref')!r}"
    if now is None or "object" not in now:
        return f"{said}, not given now"
    keyword = keyword_of(role, now)
    return (
        f"{said} (a reference in its config), not with the {keyword}= given now "
        f"({now['object']}): resume it without {keyword}=, and its config's reference "
        f"builds the {role} again"
    )
