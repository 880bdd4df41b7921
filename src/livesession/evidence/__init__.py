"""Governance evidence for one run: a manifest and a human-readable EV-<date>-<run_id>.md.

The bundle records what a reviewer needs to sign a run off: how the run ended (status,
reason, the fault's detail, a halt of trading and by what, the resumes after a crash, what
was held at the seal, the operator's actions), digests of
every file, the independent verification result, a determinism re-run, how often each
preflight check and safety rail fired, the kill switch (the run's own firings and a
wall-time kill drill on a re-run), the burn-in acceptance result, the control map (which
rail or check implements each control a governance review asks for, how often it fired,
what exercises it), a secret scan, and blank approval fields. The burn-in result is
reported, not part of ``ok``: a short review run is still good evidence even though it is no
burn-in.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.outmode import run_mode_file
from .._artifacts.provenance import audit_head, audited_start, run_json_changed
from .._artifacts.runread import iter_records
from .._domain import clock as _clock
from .._domain.decimal import with_context
from .._rundir import check_run_data, config_hash, read_run_config
from .._rundir.plugins import check_recorded_sources
from .._rundir.refused import unsealed_by
from .._rundir.supplied import continued_by
from .._support.fsutil import atomic_write_set
from .._support.jsonwords import json_words, utf8_texts
from .._support.oserrors import not_writable
from .._support.secrets import environment_secrets, find_secrets, may_hold_secret
from .._support.text import valid_payload
from .._support.tmpfiles import remove_dead_tmp_of
from .._version import __version__
from ..burnin import Thresholds, evaluate_run, kill_drill
from ..controls import control_map
from ..status import RunStatus, Verdict, run_status
from ..verify import VerifyResult, verify_run
from ..verify._runmeta import version_said_elsewhere
from ._bundle import code_and_data_needed, run_digests
from ._commit import git_commit as _git_commit
from ._difference import mismatch_said
from ._document import markdown
from ._fired import Fired
from ._limits import run_limits
from ._lock import BundleLock, bundle_lock, refuse_a_writer, refuse_another_bundle
from ._outcome import outcome
from ._plugins import plugins_shown
from ._rerun import Rerun, objects_given, timeout_for
from ._steps import replay_steps
from ._venue import run_venue
from ._verdict import evidence_said, run_ended

__all__ = ["EvidenceResult", "scan_secrets", "write_evidence"]

CONTRACT: Final = names.CONTRACT
_SCAN_BLOCK: Final = 1 << 20


@attrs.frozen(kw_only=True)
class EvidenceResult:
    """Where the bundle went, whether every check in it passed, and what to hand over.

    ``audit_head`` (the SHA-256 of the last audit line, None for an empty audit log) and
    ``manifest_sha256`` (of the manifest as written) are what a reviewer compares with
    values published apart from the files: the chain has no key, so a run rewritten with
    its chain recomputed passes every check and differs only there (docs/artifacts.md).
    """

    manifest: Path
    document: Path
    ok: bool
    problems: tuple[str, ...]
    audit_head: str | None
    manifest_sha256: str
    run_ended: dict[str, str]
    """How the run ended (``_verdict.run_ended``): apart from ``ok``, which is the evidence's."""


def scan_secrets(
    run_dir: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Findings as ``file:line: kind`` (never the secret itself), over every file in the run.

    Besides the patterns, the values of the environment's secrets are searched for, in
    every spelling a file may hold them (``_needles``). Only the run's regular files: a
    symlink is not followed (what it leads to is not in the run, nor in a copy of it, and
    was read wherever it led: a file of root's, ``/proc/kcore``).
    """
    needles = _needles(os.environ if environ is None else environ)
    findings: list[str] = []
    for path in sorted(p for p in Path(run_dir).rglob("*") if stat.S_ISREG(p.lstat().st_mode)):
        if path.name in skip:
            continue
        rel = path.relative_to(run_dir)
        number = 0
        for block in _line_blocks(path):
            lines = block.splitlines()
            present = [(name, forms) for name, forms in needles if any(f in block for f in forms)]
            # No line can hold what the whole block does not (the common case): skipped.
            if present or may_hold_secret(block.decode("utf-8", "replace")):
                findings += _scan_lines(lines, f"{rel}", number, present)
            number += len(lines)
    return findings


def _scan_lines(
    lines: list[bytes], rel: str, before: int, present: list[tuple[str, list[bytes]]]
) -> list[str]:
    """The findings in ``lines``, numbered from ``before + 1``."""
    findings: list[str] = []
    for number, line in enumerate(lines, start=before + 1):
        # The patterns are text patterns; a byte that is not UTF-8 cannot be part of one.
        kinds = find_secrets(line.decode("utf-8", "replace"))
        findings.extend(f"{rel}:{number}: {kind}" for kind in kinds)
        for name, forms in present:
            if any(form in line for form in forms):
                findings.append(f"{rel}:{number}: value of ${name}")
    return findings


def _needles(env: Mapping[str, str]) -> list[tuple[str, list[bytes]]]:
    """Each secret of the environment, by name, in every spelling a file may hold it.

    The secrets redaction removes as well (``environment_secrets``: one definition of
    which variables hold one, and how short a value is none).
    """
    return [
        (name, sorted(form.encode("utf-8", "replace") for form in forms))
        for name, forms in environment_secrets(env)
    ]


def _line_blocks(path: Path) -> Iterator[bytes]:
    """``path``'s bytes in blocks of whole lines, about ``_SCAN_BLOCK`` bytes each.

    A file of a long run is tens of megabytes: scanned a block at a time, it is never held
    whole (nor its text). Each block but the last ends with a newline, so the blocks' lines
    are the file's lines and no UTF-8 character is cut. A line longer than a block is kept
    in pieces and joined once (joined to each block as it came, one line of 200 MB was
    copied again with every block).
    """
    pieces: list[bytes] = []
    with path.open("rb") as handle:
        while chunk := handle.read(_SCAN_BLOCK):
            end = chunk.rfind(b"\n") + 1
            if end:
                yield b"".join([*pieces, chunk[:end]]) if pieces else chunk[:end]
                pieces.clear()
            if end < len(chunk):
                pieces.append(chunk[end:])
    if rest := b"".join(pieces):
        yield rest


@with_context
def write_evidence(
    run_dir: str | os.PathLike[str],
    *,
    out_dir: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    rerun_timeout_s: float | None = None,
) -> EvidenceResult:
    """Write ``manifest.json`` and ``EV-<YYYYMMDD>-<run_id>.md`` for ``run_dir``.

    Evidence is of a finished run: a run a process is writing now is refused with
    ``RunHeld`` naming it (the CLI's exit 3), before anything is read or written. Its
    determinism re-run goes to a temporary run directory of its own, locked like any other,
    in a second process started first, so it runs on the other core while this one verifies
    and scans; it is stopped after ``rerun_timeout_s`` (default: scaled to the run's steps,
    ``_rerun.timeout_for``), and a re-run that died or was stopped is an ``ERROR`` that
    fails the bundle. ``progress`` is told each phase as it starts (the CLI shows them on a
    terminal). One at a time: a second evidence of the run (or into ``out_dir``) meanwhile
    is refused with ``RunHeld``, nothing written (``_lock``): the SHA-256 is the file's.
    """
    run, out = Path(run_dir), None if out_dir is None else Path(out_dir)  # a str is a path too
    with bundle_lock(run, out or run) as held:
        return _write_evidence(run, out, progress, rerun_timeout_s, held)


def _write_evidence(
    run_dir: Path,
    out_dir: Path | None,
    progress: Callable[[str], None] | None,
    rerun_timeout_s: float | None,
    held: BundleLock,
) -> EvidenceResult:
    """``write_evidence``, under its lock."""
    refuse_a_writer(run_dir)
    cfg, meta = read_run_config(run_dir)
    sources: dict[str, Any] = meta.get("sources") or {}
    with code_and_data_needed(run_dir):  # refused before anything is written, saying why
        data = check_run_data(run_dir, cfg, meta)  # the data file the run read, unchanged
        rerunnable = check_recorded_sources(cfg, sources, run_dir)  # the code that ran
    target = out_dir or run_dir
    _can_hold(target)  # made only when the bundle is written: an interrupt leaves nothing
    refuse_another_bundle(target, cfg.run_id)
    today = _clock.SystemClock().now()
    doc_name = f"EV-{today:%Y%m%d}-{cfg.run_id}.md"
    generated = {names.MANIFEST, doc_name}
    note = progress or _quiet
    timeout_s = rerun_timeout_s or timeout_for(replay_steps(run_dir, cfg.steps))
    standing = run_status(run_dir)
    # A seal in doubt is re-run (a whole run); a crash resume cannot continue (its directory
    # read-only, say) is no whole run either, and is not.
    crashed = standing.verdict is Verdict.CRASHED or standing.resume_problem is not None
    rerun = Rerun.start(
        run_dir,
        rerunnable=rerunnable,
        timeout_s=timeout_s,
        sealed=not crashed,
        stopped_by=unsealed_by(standing),
    )
    try:
        if rerun.running:
            note("determinism re-run started in a second process")
        checked = _checks(
            run_dir, rerunnable=rerunnable, generated=generated, note=note, standing=standing
        )
        if rerun.running:
            note("waiting for the determinism re-run")
        determinism = rerun.verdict()
    finally:
        rerun.close()
    verification, (fired, exits), drill, burnin, secrets, digests, ended = checked
    head = audit_head(run_dir)
    started = audited_start(run_dir)
    version = _text(started.get("version"))
    said = functools.partial(
        _problems,
        standing=standing,
        verification=verification,
        determinism=determinism,
        secrets=secrets,
        versions=(version, meta.get("version")),
        sources=sources,
        resumes=ended.get("resumes", []),
    )
    # The output names the run as typed; the bundle, read elsewhere, by its absolute path.
    where = run_dir.resolve()
    problems, documented = said(run_dir), said(where)
    unresumable = None if standing.resumable else standing.resume_problem
    ran = run_ended(ended, unresumable, run_dir=str(run_dir))  # the output's: as typed
    manifest = {
        "schema": "LIVESESSION_EVIDENCE_V1",
        "run_id": cfg.run_id,
        "created_utc": _clock.format_utc(today),
        "livesession_version": __version__,
        "run_version": version,  # the audited record's: run.json is no part of the chain
        "git_commit": _git_commit(),
        # The contract's "config hash": the digest the audit chain covers (SESSION_STARTED's).
        "config_hash": _text(started.get("config_sha256")),
        "full_config_sha256": config_hash(cfg),
        "data": data,
        "outcome": ended,
        "artifacts": digests,
        "audit_head": head,
        "verify": {"ok": verification.ok, "violations": list(verification.violations)},
        "determinism": determinism,
        "fired": fired,
        **({"exits": exits} if exits is not None else {}),  # a run without exits: as it was
        "limits": run_limits(cfg),
        "venue": run_venue(cfg),
        "kill_drill": drill,
        "burnin": burnin,
        "controls": control_map(fired, drill, burnin),
        "secret_scan": {"findings": secrets, "clean": not secrets},
        "approval": {"name": "", "role": "", "date": ""},
        "ok": not problems,
        "problems": documented,
        # Two verdicts apart: the evidence's (``ok``) is never how the run went (_verdict).
        "evidence": evidence_said(not problems, problems)[0],
        "run_ended": (run_ended(ended, unresumable, run_dir=str(where))),
    }
    if sources:  # runs on the built-in strategy, feed and broker keep their manifest as it was
        manifest["plugins"] = plugins_shown(run_dir, sources)
    with held.made(target, cfg.run_id):  # --out made now: held from the moment it is made
        manifest_path, document, manifest_sha256 = _write_bundle(target, doc_name, manifest, where)
    return EvidenceResult(
        manifest=manifest_path,
        document=document,
        ok=not problems,
        problems=tuple(problems),
        audit_head=head,
        manifest_sha256=manifest_sha256,
        run_ended=ran,
    )


def _problems(
    run_dir: Path,
    *,
    standing: RunStatus,
    verification: VerifyResult,
    determinism: dict[str, Any],
    secrets: list[str],
    versions: tuple[str | None, object],
    sources: dict[str, Any],
    resumes: list[dict[str, Any]],
) -> list[str]:
    """What fails the bundle: the seal (as ``status`` reads it), verify, the re-run, secrets.

    ``versions`` are the livesession version the audited record says wrote the run and the
    one ``run.json`` says: ``run.json`` is outside the audit chain, so a version of its own
    is a changed file, said with both. ``resumes`` are the run's (``C2_RESUME``), to ask of a
    mismatch past one whether the plug-ins' ``get_state`` held their memory.
    """
    problems: list[str] = []
    wrote, said = versions
    changed = run_json_changed(wrote, said)
    if changed:
        problems.append(changed)
    if standing.problem:  # a seal the files do not bear out: as status and verify say
        problems.append(f"{standing.problem}: keep the run as it is and report it")
    elif not standing.sealed:
        problems.append(
            f"the run is not sealed: {continued_by(run_dir, standing.objects)} finishes it, then "
            "write its evidence again"
            if standing.resumable
            else f"the run is not sealed and cannot be resumed ({standing.resume_problem})"
        )
    if not verification.ok:
        problems.append(f"verify found {verification.total} violation(s)")
        # The file and line, as verify names them: the count alone named neither.
        problems += [f"the first: {first}" for first in verification.violations[:1]]
    if determinism["status"] == "MISMATCH" and wrote not in (None, __version__):
        problems.append(
            f"the determinism re-run does not match (the run was written by livesession "
            f"{wrote}, the re-run is {__version__}: re-run the config with {__version__}, or "
            f"check it with livesession {wrote})"
        )
    elif determinism["status"] == "MISMATCH":
        problems.append(mismatch_said(determinism, sources, resumes))
    elif determinism.get("missing"):
        missing = " and ".join(determinism["missing"])
        problems.append(f"the determinism re-run was not started (the run's {missing} missing)")
    elif determinism["status"] == "ERROR":  # why, or the line sent one to the manifest
        problems.append(f"the determinism re-run did not complete ({determinism.get('reason')})")
    if secrets:
        problems.append(f"the secret scan found {len(secrets)} finding(s)")
    return problems


def _can_hold(target: Path) -> None:
    """Refuse at once a ``target`` that cannot be made a directory (a file on its way).

    It is made only when the bundle is written, so that evidence stopped on the way (a
    Ctrl-C, a failed re-run) leaves no empty directory behind; what would refuse it then
    is said now, before the work.

    Raises:
        NotADirectoryError: a file is where ``target`` or a directory above it would be.
        OSError: ``target`` (or the directory it is made in) cannot be written: a read-only
            run's own bundle failed only after the whole re-run.
    """
    existing = target
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(target))
    if (code := not_writable(existing)) is not None:
        said = f"{os.strerror(code)}: write the bundle elsewhere (out_dir)"
        raise OSError(code, said, str(target))


def _write_bundle(
    target: Path, doc_name: str, manifest: dict[str, Any], where: Path
) -> tuple[Path, Path, str]:
    r"""Write ``manifest.json`` and the EV document into ``target``; their paths, and a digest.

    ``where`` is the run's absolute path, which the document's advice names.

    The digest is the manifest's SHA-256, of the bytes written: what the desk publishes at
    hand-over. A path that is not UTF-8 (``bad\xffname``) is said as ``_support.text`` says it.
    Both are UTF-8 documents: a path their texts and commands name is its bytes read as
    UTF-8 under any locale (``utf8_texts``), as ``--json`` says it; under a Latin-1 locale
    they named ``/srv/d\u00c3\u00a9p\u00c3\u00b4t`` for ``/srv/d\u00e9p\u00f4t``.
    """
    as_read = valid_payload(manifest)  # the document reads it so: read as UTF-8 once, below
    manifest = valid_payload(utf8_texts(manifest))
    manifest_path = target / names.MANIFEST
    data = orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
    document = target / doc_name
    for path in (manifest_path, document):  # what a killed evidence left (tmpfiles.py)
        remove_dead_tmp_of(path)
    # Both or neither (a full disk): a manifest without its document is no bundle. In the
    # run directory, both take the run's mode, not the umask's (_artifacts.outmode).
    atomic_write_set(
        [(manifest_path, data), (document, json_words(markdown(as_read, where)).encode("utf-8"))],
        like=run_mode_file(where, target),
    )
    return manifest_path, document, hashlib.sha256(data).hexdigest()


def _text(value: object) -> str | None:
    """``value`` when it is text, else None (a record's field as the manifest takes it)."""
    return value if isinstance(value, str) else None


def _quiet(_phase: str) -> None:
    """No progress shown."""


def _checks(
    run_dir: Path,
    *,
    rerunnable: bool,
    generated: set[str],
    note: Callable[[str], None],
    standing: RunStatus,
) -> tuple[
    Any,
    tuple[dict[str, Any], dict[str, Any] | None],
    dict[str, Any],
    dict[str, Any],
    list[str],
    dict[str, str],
    dict[str, Any],
]:
    """Everything but the re-run.

    Verify, fired counts and the exits (``_fired``), kill drill, burn-in, scan, digests, and how
    the run ended (sealed as ``standing``, the run's status, reads the seal).
    """
    note("verifying the run")
    with version_said_elsewhere():  # a run.json of another version: said once, below
        verification = verify_run(run_dir.resolve())  # its advice is the bundle's: read elsewhere
    note("reading events")
    # One pass over a stream of the events: a long run's are never all held at once.
    counted = Fired(run_dir)
    ended = outcome(run_dir, counted.each(iter_records(run_dir / names.EVENTS)), standing)
    fired = counted.result(), counted.exits.result()
    note("kill drill")
    drill = kill_drill(run_dir) if rerunnable else objects_given(run_dir)
    note("burn-in criteria")
    burnin = evaluate_run(
        run_dir,
        Thresholds(),
        drill=drill,
        verification=verification,
        named=run_dir.resolve(),
        standing=standing,
    )
    # The run directory's own name, not the path typed (runs/x, /abs/runs/x/, .): two
    # bundles of one run differ only in what is measured as they are written.
    burnin["run_dir"] = run_dir.resolve().name
    note("secret scan")
    secrets = scan_secrets(run_dir, skip=frozenset(generated))
    note("file digests")
    digests = run_digests(run_dir, frozenset(generated))
    return verification, fired, drill, burnin, secrets, digests, ended
