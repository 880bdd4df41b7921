"""The files a run directory keeps beside the four artifacts, when livesession made it.

``create_run`` (the CLI, an app) writes ``config.json`` and ``run.json`` before any
record, and a checkpoint as the session activates, before its first bar. A run directory
holding any of the three was made so, and keeps ``config.json`` and ``run.json``, and
``checkpoint.json`` once its events record a bar: without ``config.json`` the config its
limits and grid come from is lost (and the check of it against ``SESSION_STARTED``'s
``config_sha256``), without the checkpoint the file ``resume`` continues from and
``status`` reads the seal by. None is in the audit chain, so the chain cannot tell their
loss: these checks do. ``run.json``'s ``config_hash`` (the SHA-256 of the whole config,
``durability``, ``checkpoint_every`` and ``base_dir`` too, without ``sources``) holds the
keys of ``config.json`` that ``config_sha256`` leaves out: ``resume`` and ``evidence``
refuse a ``config.json`` that does not match it, and ``verify`` names it. A run written
by sinks keeps none of the three.

A resume sets the tail it cuts from each artifact aside in ``<file>.torn``, and its
``C2_RESUME`` record counts those bytes (``torn_bytes``; a resume killed before its record
is counted by the next), so a sealed run's records add up to the ``.torn`` files' sizes:
a ``.torn`` file removed, cut, grown or put into a run that never resumed does not.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.runread import read_bytes, read_json_object
from .._rundir.seal import sealing_checkpoint_unlike
from .._support.fsutil import raise_if_refused
from .._support.text import one_line
from .._version import __version__
from ._checkpoint import KeptCheckpoint
from ._config import UNRECORDED

if TYPE_CHECKING:
    from pathlib import Path

    from ._reading import Line
    from ._result import Violations

__all__ = ["check_ended", "check_kept", "check_kill_halted", "check_torn", "lost_checkpoint"]

_MADE_BY: Final = (names.RUN_META, names.CONFIG, names.CHECKPOINT)
_SOURCES: Final = "sources"
_RESTORE: Final = "restore it from a backup"
_LOST: Final = {
    names.CONFIG: "the config the run traded under is lost",
    names.RUN_META: "the version and config hash it records are lost",
}
_NO_HASH: Final = (
    "the hash of the whole config that resume and evidence hold config.json to is lost "
    "(they refuse the run)"
)
# Where a run of this release kept its client order ids: verify's own table, not _rundir's.
_KEPT_IN: Final = {"memory": "local", "jsonl": "local", "sqlite": "local", "postgres": "postgres"}
_NO_KEYS: Final = (
    "where the run kept its client order ids is lost (resume refuses the run: on another "
    "store it would send again what was sent)"
)
_KILL: Final = "C2_KILL_SWITCH"
_TRADING_CODES: Final = (_KILL, "C2_OPERATOR_REENABLE", "C2_TRADING_STATE")
"""The audit's records of what set trading: the kill switch's halt, and what ends it."""
_UNREAD: Final = {
    **_LOST,
    names.CHECKPOINT: "the state resume continues from and status reads the seal by is lost",
}


def _absent(path: Path) -> bool:
    """No file is at ``path``: nothing, or a directory.

    A symlink, even a dangling one, is a violation of its own.
    """
    return not path.is_symlink() and (path.is_dir() or not path.exists())


def _missing(path: Path) -> str:
    """``missing``, saying so when a directory is in the file's place (as for an artifact)."""
    return f"missing ({path.name} is a directory, not a file)" if path.is_dir() else "missing"


def _made(run_dir: Path) -> str | None:
    """The first file that shows livesession made ``run_dir``, or None (sinks wrote it)."""
    return next((name for name in _MADE_BY if not _absent(run_dir / name)), None)


def lost_checkpoint(run_dir: Path, bars: int) -> bool:
    """Whether ``run_dir`` (made by livesession) recorded ``bars`` and has no checkpoint."""
    return bars > 0 and _made(run_dir) is not None and _absent(run_dir / names.CHECKPOINT)


def check_kept(
    report: Violations,
    run_dir: Path | None,
    bars: int,
    config_sha256: object = None,
    checkpoint: KeptCheckpoint | None = None,
) -> None:
    """Report the files a run livesession made lost, and a config.json run.json disowns.

    ``bars``: the ``BAR`` events read. ``run_dir`` None: the run was given as bytes.
    ``config_sha256``: the digest ``SESSION_STARTED`` recorded; a ``config.json`` that is
    not that config is ``check_config``'s violation, and not named twice here.
    ``checkpoint``: the verification's ``checkpoint.json`` (None: read here).

    Raises:
        OSError: the host refused to read ``run.json`` or ``config.json``.
    """
    made = None if run_dir is None else _made(run_dir)
    if run_dir is None or made is None:
        return
    for name, lost in _LOST.items():
        if _absent(run_dir / name):
            report.add(
                name,
                0,
                f"{_missing(run_dir / name)}, but {made} shows livesession made this run, and "
                f"it writes {name} before any record: {lost}; {_RESTORE}",
            )
    if lost_checkpoint(run_dir, bars):
        report.add(
            names.CHECKPOINT,
            0,
            f"{_missing(run_dir / names.CHECKPOINT)}, but {names.EVENTS} records steps: the run "
            f"had a checkpoint (written as the session activates, before its first bar) and lost "
            f"it; {_RESTORE}",
        )
    kept = KeptCheckpoint(run_dir) if checkpoint is None else checkpoint
    _check_run_meta(report, run_dir, kept)
    for said in sealing_checkpoint_unlike(run_dir, kept.document()):
        _damaged(report, said)
    _check_config_hash(report, run_dir, config_sha256)


def _damaged(report: Violations, said: str) -> None:
    report.add(
        names.CHECKPOINT,
        0,
        f"the sealing checkpoint is damaged: {said} (status reads a sealed run's steps, "
        f"state and book from it); {_RESTORE}",
    )


def check_kill_halted(
    report: Violations,
    run_dir: Path | None,
    audit: list[dict[str, Any]],
    checkpoint: KeptCheckpoint | None = None,
) -> None:
    """A sealing checkpoint's ``kill_halted`` against the audit records that set trading.

    ``audit``: a sealed run's records. The kill switch's halt (``C2_KILL_SWITCH``) holds
    until trading changes (``C2_TRADING_STATE``) or an operator re-enables it
    (``C2_OPERATOR_REENABLE``): the checkpoint keeps it (``kill_halted``, written only when
    set), and ``status`` says a sealed run's halt was the kill switch's by it. One edited in
    or out verified clean. A lost lease halts so without a kill (``LEASE_LOST``): not held
    to it; nor a checkpoint of another release, which may not write the key.
    ``checkpoint``: the verification's ``checkpoint.json`` (None: read here).
    """
    kept = KeptCheckpoint(run_dir) if checkpoint is None else checkpoint
    sealing = {} if run_dir is None else kept.document()
    if sealing.get("sealed") is not True or sealing.get("reason") == "LEASE_LOST":
        return
    newest: dict[str, Any] = next(
        (r for r in reversed(audit) if r.get("code") in _TRADING_CODES), {}
    )
    killed, said = newest.get("code") == _KILL, sealing.get("kill_halted")
    told = "missing" if said is None else orjson.dumps(said).decode()
    at = f"{names.AUDIT}:{newest.get('seq')}'s {newest.get('code')}"
    if bool(said) == killed or (said is None and sealing.get("version") != __version__):
        return
    if killed:
        _damaged(
            report,
            f"its kill_halted {told}, but {at} halted trading, and no record after it ended that",
        )
    elif newest:
        _damaged(report, f"its kill_halted {told}, but {at} set trading after any kill switch")
    else:
        _damaged(report, f"its kill_halted {told}, but {names.AUDIT} holds no {_KILL}")


def _check_run_meta(report: Violations, run_dir: Path, checkpoint: KeptCheckpoint) -> None:
    """``run.json`` or ``checkpoint.json`` there but unreadable, or ``run.json`` of a format.

    Empty, not JSON or not an object; a ``run.json`` of a format this release does not
    read. Each verified OK while ``evidence``, ``burnin`` and ``resume`` refused the run
    (``run.json is corrupt (not JSON)``; ``checkpoint ... is not valid JSON``): what the
    file records was lost all the same.
    """
    for name in (names.RUN_META, names.CHECKPOINT):
        meta = _json_kept(report, run_dir, name, checkpoint)
        fmt = meta.get("format") if meta is not None and name == names.RUN_META else None
        if meta is None or name != names.RUN_META:
            continue
        if fmt in names.RUN_FORMATS_READ:  # each of them records the config's hash
            if not isinstance(meta.get("config_hash"), str):
                report.add(name, 0, f"no config_hash: {_NO_HASH}; {_RESTORE}")
            if fmt == names.RUN_FORMAT and not _keys_placed(meta):
                said = ", ".join(
                    f"{key} {one_line(str(meta[key])) if key in meta else 'missing'}"
                    for key in ("idempotency_backend", "store")
                )
                report.add(name, 0, f"{said}: {_NO_KEYS}; {_RESTORE}")
            continue
        report.add(
            name,
            0,
            f"format {one_line(fmt) if isinstance(fmt, str) else fmt!r}, which this release "
            f"does not read ({', '.join(names.RUN_FORMATS_READ)}): verify the run with the "
            "livesession release that wrote it",
        )


def _keys_placed(meta: dict[str, Any]) -> bool:
    """Whether ``run.json`` names a store of the client order ids, and the one its store has."""
    backend = meta.get("idempotency_backend")
    return isinstance(backend, str) and _KEPT_IN.get(backend, "") == meta.get("store")


def _json_kept(
    report: Violations, run_dir: Path, name: str, checkpoint: KeptCheckpoint
) -> dict[str, Any] | None:
    """The JSON object in ``run_dir/name``, or None: not there, or reported as no object.

    ``checkpoint``: read from, for ``checkpoint.json``.
    """
    path = run_dir / name
    try:
        raw = checkpoint.raw() if name == names.CHECKPOINT else read_bytes(path)
    except OSError as exc:
        raise_if_refused(exc, path)
        return None  # missing, or no file: said above, or of the file as a whole
    try:
        found = checkpoint.parsed() if name == names.CHECKPOINT else orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        said = "empty file" if not raw.strip() else f"not JSON ({exc})"
    else:
        if isinstance(found, dict):
            return found
        said = "not a JSON object"
    report.add(name, 0, f"{said}: {_UNREAD[name]}; {_RESTORE}")
    return None


def _digest(config: dict[str, Any], left_out: frozenset[str]) -> str | None:
    """The SHA-256 of ``config`` without ``left_out``, compact with sorted keys (None: none)."""
    kept = {key: value for key, value in config.items() if key not in left_out}
    try:
        return hashlib.sha256(orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except (TypeError, orjson.JSONEncodeError):
        return None  # nested past what orjson writes: check_config names it


def _check_config_hash(report: Violations, run_dir: Path, config_sha256: object) -> None:
    """``config.json`` against ``run.json``'s ``config_hash``, when both are objects."""
    recorded = read_json_object(run_dir / names.RUN_META).get("config_hash")
    config = read_json_object(run_dir / names.CONFIG)
    if not isinstance(recorded, str) or not config:
        return
    if isinstance(config_sha256, str) and _digest(config, UNRECORDED) != config_sha256:
        return  # not the config the run recorded: check_config said so
    found = _digest(config, frozenset({_SOURCES}))
    if found is not None and found != recorded:
        report.add(
            names.CONFIG,
            0,
            f"not the config {names.RUN_META} records (config_hash {recorded[:12]}..., this "
            f"file {found[:12]}...): one of them was changed after the run began",
        )


def check_ended(
    report: Violations,
    run_dir: Path | None,
    lines: list[Line],
    checkpoint: KeptCheckpoint | None = None,
) -> None:
    """What a sealed run's audit ``lines`` hold its kept files to: ``.torn``, ``kill_halted``.

    ``checkpoint``: the verification's ``checkpoint.json`` (None: read here).
    """
    audit = [line.obj for line in lines if line.obj]
    check_torn(report, run_dir, audit)
    check_kill_halted(report, run_dir, audit, checkpoint)


def check_torn(report: Violations, run_dir: Path | None, audit: list[dict[str, Any]]) -> None:
    """Each artifact's ``<file>.torn`` against the bytes ``audit``'s resumes set aside.

    ``audit``: a sealed run's records; its ``C2_RESUME`` records' ``torn_bytes`` count them.

    Raises:
        OSError: the host refused to look at a ``.torn`` file.
    """
    if run_dir is None:
        return
    counted: dict[str, int] = {}
    for record in audit:
        body = record.get("payload") if record.get("code") == "C2_RESUME" else None
        sizes = body.get("torn_bytes") if isinstance(body, dict) else None
        for name, size in (sizes if isinstance(sizes, dict) else {}).items():
            if type(size) is int and size > 0:
                counted[str(name)] = counted.get(str(name), 0) + size
    for name in (names.EVENTS, names.SNAPSHOTS, names.AUDIT):
        try:
            held: int | None = (run_dir / f"{name}.torn").lstat().st_size
        except FileNotFoundError:
            held = None
        said = counted.get(name, 0)
        if (held or 0) == said:
            continue
        records = f"the run's C2_RESUME records set {said:,} bytes of {name} aside (torn_bytes)"
        what = "missing" if held is None else f"{held:,} bytes"
        report.add(f"{name}.torn", 0, f"{what}, but {records}: it was changed after the run")
