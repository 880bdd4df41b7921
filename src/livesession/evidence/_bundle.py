"""An evidence bundle received, held to the run directory it came with (``verify --manifest``).

A reviewer who is handed a run directory and its ``manifest.json`` checks, without running
any of the run's code, that the manifest is an evidence manifest of this run: its
``run_id``, ``audit_head``, ``config_hash`` and ``run_version`` are the run's own, and
every file its ``artifacts`` lists is in the directory with that SHA-256, and no other. What
it cannot check is that the manifest is the one the desk published: its own SHA-256 is
compared with the published one, apart from the files (docs/artifacts.md, "What the chain
proves, and what it does not").
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.provenance import audit_head, audited_start
from .._artifacts.received import as_written
from .._artifacts.releases import before_0_2
from .._artifacts.runread import iter_records, read_json_object
from .._exceptions import UsageError
from .._rundir.data import rerun_refused
from .._support.fsutil import NotAFile, refuse_special
from .._support.text import command, one_line, option
from .._support.tmpfiles import tmp_target
from ..verify._transit import transit_said
from ._rerun import sha256_file
from ._verdict import EVIDENCE_NOT_VERIFIED, EVIDENCE_VERIFIED

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from ..verify import VerifyResult

__all__ = [
    "MANIFEST_SCHEMA",
    "BundleCheck",
    "check_manifest",
    "code_and_data_needed",
    "held_to",
    "run_digests",
    "tool_output",
]

MANIFEST_SCHEMA: Final = "LIVESESSION_EVIDENCE_V1"
_MAX_BYTES: Final = 64 * 1024 * 1024
"""A manifest larger than this is refused unread (one of a run with many files is far less)."""
_SHOWN: Final = 3
"""How many names of a folder without a manifest its refusal shows."""
_DOCUMENT: Final = b"# Evidence: run "
"""How the bundle's ``EV-<date>-<run_id>.md`` opens: said "not JSON", it made ``verify``
call the bundle not the run's (exit 1), where a reviewer had only given the wrong file."""

_TOOL_OUTPUTS: Final = frozenset(
    {names.REPORT, names.PROM, f"{names.BURNIN}.md", f"{names.BURNIN}.json", names.MANIFEST}
)


_FILE_MANAGERS: Final = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})
"""What Finder and Explorer leave in any folder they show (and ``._NAME``, macOS's
AppleDouble copy of a file's attributes on a volume without them, and ``NAME:Zone.Identifier``,
Windows' mark of the web on a downloaded file, made a file of its own by a copy into WSL):
not the run's."""


def _file_managers(name: str) -> bool:
    """Whether a file of this name is a file manager's, put there by opening the folder.

    A reviewer who browsed the copy (Finder writes ``.DS_Store`` as it shows a folder) was
    told the bundle was not the run's: ``.DS_Store: in the run directory, but not among
    manifest.json's artifacts``.
    """
    return name in _FILE_MANAGERS or name.startswith("._") or name.endswith(":Zone.Identifier")


def tool_output(path: Path, run_dir: Path) -> bool:
    """Whether ``path`` is a tool's file in the run directory, not one of the run's.

    ``report``, ``prom`` and ``burnin`` write there, and so does ``evidence`` (any day's);
    also the temporary file one of them killed mid-write left (``.report.html.PID.N.tmp``):
    it was counted among the run's files, and ``verify --manifest`` called the bundle not
    the run's for a ``prom`` a timer killed.
    """
    name = tmp_target(path.name) or path.name
    in_dir = path.parent == run_dir
    return in_dir and (name in _TOOL_OUTPUTS or names.is_evidence_document(name))


_VERSION_CONTROL: Final = frozenset({".git", ".hg", ".svn"})
"""A version-control system's own folder (or git's ``.git`` file) at the run directory's
top: a desk keeping each run in a repository of its own has one there."""


def _version_control(relative: str) -> bool:
    """Whether the file at ``relative`` (to the run directory) is a version-control system's.

    Not the run's: a desk that ran ``git init`` in the run directory wrote the bundle and
    committed it, which changed ``.git``; every file of it was listed among the artifacts,
    so ``verify --manifest`` of the run and of a clone said the bundle was not the run's.
    """
    return relative.replace("\\", "/").split("/", 1)[0] in _VERSION_CONTROL


def _entries(run_dir: Path) -> Iterator[Path]:
    """Every entry under ``run_dir`` (as ``rglob("*")``), never into a version-control folder."""
    for top in run_dir.iterdir():
        if top.name in _VERSION_CONTROL:
            continue
        yield top
        if top.is_dir() and not top.is_symlink():
            yield from top.rglob("*")


def run_digests(run_dir: Path, generated: frozenset[str] = frozenset()) -> dict[str, str]:
    """The SHA-256 of every file of the run, by its path in the directory (``artifacts``).

    The run's files only: not a tool's beside them (a report, a bundle of another day), nor
    a file manager's (``_file_managers``), nor a version-control system's
    (``_version_control``).
    """
    return {
        str(p.relative_to(run_dir)): sha256_file(p)
        for p in sorted(_entries(run_dir))
        if p.is_file()
        and p.name not in generated
        and not tool_output(p, run_dir)
        and not _file_managers(p.name)
    }


@attrs.frozen(kw_only=True)
class BundleCheck:
    """A manifest held to a run: ``problems`` (one line each; none: it is the run's)."""

    name: str
    sha256: str
    run_id: str | None
    verdict: str
    files: int
    problems: tuple[str, ...]
    run_ended: str = ""
    """How the bundle says the run ended (its ``run_ended``); "" in a bundle from before."""
    converted: str = ""
    """What a copy changed in the manifest's bytes on its way (``as_written``); "" none."""
    sha256_as_written: str = ""
    """The SHA-256 of the manifest as ``evidence`` wrote it: ``sha256`` when not converted."""
    audit_head: str = ""
    """The run's audit head ("" when its audit log has no line), which a match says the
    manifest gives too."""

    def describe(self) -> str:
        """The line ``verify --manifest`` prints when the manifest is the run's."""
        ended = f"; the run: {self.run_ended}" if self.run_ended else ""
        compare = f"its sha256 {self.sha256}: compare it"
        if self.converted:
            compare = (
                f"its sha256 {self.sha256} as received, but {self.converted} (a copy "
                "converted it on its way: git's core.autocrlf, a transfer in text mode, an "
                "editor), which evidence never writes: as written its sha256 is "
                f"{self.sha256_as_written}: compare that"
            )
        return (
            f"manifest  {self.name} is run {self.run_id}'s: audit head, config hash and "
            f"{self.files} file(s) by SHA-256 match (the bundle says: evidence "
            f"{self.verdict}{ended}); "
            f"{compare}, and the audit head, with the ones the desk published: the run's "
            f"audit head is {self.audit_head}"
        )


def check_manifest(run_dir: Path, manifest: Path) -> BundleCheck:
    """Hold the evidence manifest at ``manifest`` to the run in ``run_dir``.

    A directory is the bundle's folder: its ``manifest.json`` is read (a reviewer is handed
    the folder ``evidence --out`` wrote, or the run directory it wrote the bundle into).

    Raises:
        UsageError: ``manifest`` is no file to read (missing, a directory without a
            ``manifest.json``, a FIFO, larger than 64 MiB): bad input, not a verdict on the run.
        OSError: the host refused to read a file (no permission).
    """
    manifest = _in_folder(manifest)
    received = _read(manifest)
    name = manifest.name
    digest = hashlib.sha256(received).hexdigest()
    data, converted = as_written(received)
    if data.startswith(_DOCUMENT):  # the bundle's other file: given by mistake, not a verdict
        msg = (
            f"--manifest {manifest} is the bundle's document (EV-*.md), not its manifest: "
            "give the manifest.json written beside it"
        )
        raise UsageError(msg)
    try:
        held = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return _unread(name, digest, f"not JSON (cut short, or not a manifest): {exc}")
    if not isinstance(held, dict) or held.get("schema") != MANIFEST_SCHEMA:
        return _unread(name, digest, f"not an evidence manifest (no schema {MANIFEST_SCHEMA})")
    head = audit_head(run_dir)
    problems = [*_identity(run_dir, held, name, head), *_files(run_dir, held, name, manifest)]
    listed = held.get("artifacts")
    return BundleCheck(
        name=name,
        sha256=digest,
        run_id=_run_id(run_dir),
        verdict=EVIDENCE_VERIFIED if held.get("ok") is True else EVIDENCE_NOT_VERIFIED,
        run_ended=_ended_said(held.get("run_ended")),
        files=len(listed) if isinstance(listed, dict) else 0,
        problems=tuple(problems),
        converted=converted,
        sha256_as_written=hashlib.sha256(data).hexdigest() if converted else digest,
        audit_head=head or "",
    )


def _ended_said(ended: object) -> str:
    """The manifest's ``run_ended`` line, on one printable line ("" when it has none)."""
    said = ended.get("said") if isinstance(ended, dict) else None
    return one_line(said) if isinstance(said, str) else ""


def _in_folder(given: Path) -> Path:
    """``given``, or the ``manifest.json`` in it when it is a directory (the bundle's folder).

    A folder without one is bad input, told in one line naming what it holds (its
    ``EV-*.md`` first: the bundle's document without its manifest).
    """
    if not given.is_dir():
        return given
    inside = given / names.MANIFEST
    if os.path.lexists(inside):
        return inside
    try:
        held = sorted(
            (p.name for p in given.iterdir()), key=lambda n: (not names.is_evidence_document(n), n)
        )
    except OSError as exc:
        holds = f"it cannot be read: {exc.strerror}"
    else:
        shown = ", ".join(held[:_SHOWN]) + (
            f" and {len(held) - _SHOWN} more" if held[_SHOWN:] else ""
        )
        holds = f"it holds {shown}" if held else "it is empty"
    msg = (
        f"--manifest {given} is a directory with no {names.MANIFEST} in it ({holds}): "
        f"give the {names.MANIFEST} of the evidence bundle, or the folder holding it"
    )
    raise UsageError(one_line(msg))


def _read(manifest: Path) -> bytes:
    """The manifest's bytes; a path that is no file to read is bad input (``UsageError``)."""
    try:
        refuse_special(manifest)
        if manifest.stat().st_size > _MAX_BYTES:
            msg = f"--manifest {manifest} is larger than 64 MiB: no evidence manifest is"
            raise UsageError(msg)
        return manifest.read_bytes()
    except (NotAFile, FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        why = exc.strerror or type(exc).__name__
        msg = f"--manifest {manifest}: {why}: give the manifest.json of the evidence bundle"
        raise UsageError(msg) from None


def _unread(name: str, digest: str, why: str) -> BundleCheck:
    return BundleCheck(
        name=name, sha256=digest, run_id=None, verdict="", files=0, problems=(f"{name}: {why}",)
    )


def _run_id(run_dir: Path) -> str | None:
    """The run id the run's audit records carry (its first record's)."""
    first = next(iter_records(run_dir / names.AUDIT), None)
    value = None if first is None else first.get("run_id")
    return value if isinstance(value, str) else None


def _identity(run_dir: Path, held: dict[str, Any], name: str, head: str | None) -> list[str]:
    """The manifest's run id, audit head, config hash and run version against the run's own.

    ``run_version`` (the contract's manifest "version": the release the run's audited
    ``SESSION_STARTED`` names) is held when the manifest gives it and the run names one.
    """
    started = audited_start(run_dir)
    config, differs = started.get("config_sha256"), "the audited config differs"
    if config is None and before_0_2(started.get("version")):
        # 0.1.x audited no config digest: its manifest's is run.json's, a file the
        # manifest's own SHA-256 holds. The bundle was said to be another run's.
        config = read_json_object(run_dir / names.RUN_META).get("config_hash")
        differs = "run.json's config hash differs (the release that wrote the run audited none)"
    theirs = (
        ("run_id", _run_id(run_dir), "a bundle of another run, or a run renamed"),
        ("audit_head", head, "these are not the files it was written from"),
        ("config_hash", config, differs),
    )
    found = [
        f"{name}: {key} {held.get(key)!r}, but the run's is {own!r}: {why}"
        if own is not None
        # Not another value: the record that holds it is gone or unreadable (a byte order
        # mark a copy put before it, say), which verify names; "differs" sent a reader
        # looking for another config.
        else f"{name}: {key} {held.get(key)!r}, but the run's record of it cannot be read "
        "(verify names the line)"
        for key, own, why in theirs
        if held.get(key) != own
    ]
    ran, said = started.get("version"), held.get("run_version")
    if "run_version" in held and isinstance(ran, str) and said != ran:
        found.append(
            f"{name}: run_version {said!r}, but the run's is {ran!r}: the run's audited record "
            "names another release"
        )
    return found


def _files(run_dir: Path, held: dict[str, Any], name: str, manifest: Path) -> list[str]:
    """Each file the manifest lists against the run directory's, and the files it leaves out."""
    listed = held.get("artifacts")
    if not isinstance(listed, dict):
        return [f"{name}: artifacts is not a table of files and their SHA-256"]
    found = run_digests(run_dir, _generated(run_dir, held, manifest))
    problems = []
    for file, digest in listed.items():
        if _version_control(file):
            continue  # listed by an earlier build: neither listed nor held now
        if file not in found:
            problems.append(f"{file}: missing, but {name} lists it (SHA-256 {digest})")
        elif found[file] != digest:
            how = transit_said(run_dir / file, digest, other=False)  # a copy's conversion
            how = how.replace(", but does with ", "; it matches with ", 1)
            problems.append(f"{file}: SHA-256 {found[file]}, but {name} says {digest}{how}")
    problems += [
        f"{file}: in the run directory, but not among {name}'s artifacts"
        for file in found
        if file not in listed
    ]
    return problems


def held_to(result: VerifyResult, check: BundleCheck, run_dir: object) -> VerifyResult:
    """``verify``'s result with the manifest's differences from the run added as violations."""
    if not check.problems:
        return result
    many = len(check.problems)
    added = f"but not among {check.name}'s artifacts"
    # A broken run's summary counts the contract's violations: the manifest's differences
    # are said apart, or its count read one less than the total said after it.
    apart = f"; and {many} difference(s) between {check.name} and {run_dir}"
    summary = (result.summary and result.summary + apart) or (
        # Every file it lists, and the run's identity, match: a file was put beside them.
        f"the run directory holds {many} file(s) the evidence bundle does not list (put there "
        f"since {check.name} was written: ask whose they are, or verify a copy without them); "
        "every file it lists matches"
        if all(problem.endswith(added) for problem in check.problems)
        else f"the evidence bundle is not this run's: {many} difference(s) between "
        f"{check.name} and {run_dir}"
    )
    return attrs.evolve(
        result,
        ok=False,
        violations=(*result.violations, *check.problems),
        total=result.total + many,
        summary=summary,
    )


@contextlib.contextmanager
def code_and_data_needed(run_dir: Path) -> Iterator[None]:
    """Say, on the refusal's one line, what ``evidence`` needs that this machine lacks.

    ``evidence`` re-runs the run: it imports the run's plug-ins and reads its data file, and
    refuses a missing or changed one (``PluginError``, ``DataFileError``). A reviewer handed
    only the run directory and its bundle checks them without running anything instead: the
    line names the bundle's manifest in the run directory, where ``evidence`` writes it. It
    said ``--manifest manifest.json`` whatever there was, a file of the working directory
    that no bundle ever wrote there, nor one of a run never bundled.
    """
    bundled = run_dir / names.MANIFEST
    check = (  # the manifest where ``evidence`` left it; none: it was never made (say so)
        f"`{command('verify', run_dir)} {option('--manifest', os.fspath(bundled))}` checks "
        "the run and its bundle"
        if bundled.is_file()
        else f"`{command('verify', run_dir)}` checks the run's files (and `--manifest FILE` "
        "holds them to an evidence bundle's manifest.json, if one came with the run)"
    )
    hint = (
        "; evidence re-runs the run, so it needs the run's code and data file here: "
        f"without them, {check}, running nothing"
    )
    with rerun_refused(hint):
        yield


def _generated(run_dir: Path, held: dict[str, Any], manifest: Path) -> frozenset[str]:
    """The bundle's own files, by name, which ``evidence`` left out of ``artifacts``.

    Wherever they are in the run directory (``evidence RUN --out RUN/evidence`` writes into
    a folder of it): ``manifest.json`` and that day's ``EV-<date>-<run_id>.md``, and the
    manifest given, whatever its name, when it lies in the run directory.
    """
    generated = {names.MANIFEST}
    created, run_id = held.get("created_utc"), held.get("run_id")
    if isinstance(created, str) and isinstance(run_id, str):
        generated.add(f"EV-{created[:10].replace('-', '')}-{run_id}.md")
    if manifest.resolve().is_relative_to(run_dir.resolve()):
        generated.add(manifest.name)
    return frozenset(generated)
