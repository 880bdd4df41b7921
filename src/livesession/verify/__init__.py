"""Check a run directory against the artifact contract, without trusting the writer.

``verify_run`` reads the four contract artifacts (``events.jsonl``,
``state_snapshots.jsonl``, ``metrics.json``, ``audit.jsonl``) as raw bytes and recomputes
everything it can: the canonical form of every line, the JSON schemas, the audit hash
chain and the digests it closes with, each audit record against the event it copies,
event ids, sequence numbers, the lifecycle transitions, the metrics and the positions
implied by the fills.

It shares no code with the session that wrote the run: only the lifecycle table
(``_lifecycle``), ``stable_id``, the fill event types and the JSON schemas shipped in
``livesession/schemas`` (and ``redact_text``, for the sink errors it quotes, and
``is_secret_name``, for the keys the audit redacts), and the decimal context it computes
in (``CONTEXT``, Python's default, whatever the caller's). It never raises on bad input:
whatever is wrong with the files, or missing, becomes a violation. Only a file the host
will not let it read (no permission, no file descriptor left) raises, its ``OSError``:
that says nothing of the run, and no verdict is drawn.

Modules: ``_reading`` (the verifier's own reader: bytes to lines and violations, streamed
in chunks), ``_schemas`` (the validators: compiled, with jsonschema to explain a rejected
line), ``_events`` (the checks of each event as it is read), ``_checks`` (the other checks,
one artifact after the other), ``_links`` and ``_replay`` (links between events; orders and
fills replayed into positions), ``_copies`` (the audit records that copy an event, held
to it), ``_result`` (the violations and the ``VerifyResult``), ``_rotated`` (a part of the
record rotated away beside it, named first in the summary).
``_config`` holds ``config.json``, when the run has one, to the config digest its first
event records, and ``_grid`` every price and quantity to the tick and lot it gives.
``read_records``, the lenient reader of the tools that summarise a run, is re-exported
here for its callers; the verifier itself never uses it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import attrs

from .._artifacts.runfiles import odd_files
from .._artifacts.runread import no_directory, read_records
from .._domain.decimal import with_context
from .._rundir.livecut import LiveRun, live_cut
from .._support.anchor import anchored
from .._support.fsutil import NotAFile, raise_if_refused, refuse_special
from ._checks import Verifier
from ._config import CONFIG
from ._damage import corruption, damaged_tail
from ._kept import lost_checkpoint
from ._reading import ARTIFACT_NAMES
from ._result import VerifyResult, summarize
from ._rotated import rotated_parts
from ._schemas import Schemas

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._reading import EventSink, RunFiles

__all__ = [
    "ARTIFACT_NAMES",
    "QUERY",
    "VerifyResult",
    "read_records",
    "verify_contents",
    "verify_run",
]

QUERY: Final = "query"
"""``verify_run``'s default ``live``: ask the run's writer lock whether the run is live."""


@with_context
def verify_run(
    run_dir: str | os.PathLike[str],
    *,
    live: LiveRun | Literal["query"] | None = QUERY,
    progress: Callable[[int, int], object] | None = None,
) -> VerifyResult:
    """Verify ``run_dir`` against the contract, docs/artifacts.md; never raises on bad artifacts.

    A run that a process is writing now (it holds the run's writer lock) is verified as it
    stood at its last checkpoint: whole lines up to the checkpoint's offsets, without the
    checks of a run's end (the stop record, the final snapshot), and the result's ``live``
    says so. A run whose process has sealed it and only closes (its last alerts to the
    webhook) is no live run: its records are final, and it is verified whole, as the
    sealed run it is. The lock is only queried, never taken: the writer is not disturbed.
    A tool that reads the run itself too passes the ``live`` it got from ``live_cut``, so
    that both read the same cut (None: the run is not live).

    ``progress``, if given, is called as the artifacts are read with the bytes read so far
    and the bytes to read in all (``done``, ``total``): ``done`` only grows, and the last
    call has ``done == total`` (a tool draws its own progress bar with it).

    A ``run_dir`` that does not exist (or is not a directory) raises nothing either: every
    artifact is ``missing``, and ``summary`` says what the CLI says of that path
    (``run directory runs/nope does not exist``).

    Raises:
        MissingExtra: ``jsonschema``, a dependency of livesession, is missing from this
            environment (a broken install).
        OSError: the host refused to read a file of the run (no permission, no file
            descriptor left, an I/O error), named as the error's ``filename``: a file that
            is there but unread is not judged, nor is the run. A missing file, or a
            directory in a file's place, is a violation as any other.
    """
    path = anchored(run_dir)  # one directory for the whole check: another thread may chdir
    if live == QUERY:  # a run holding a FIFO or a symlink is judged whole, as it is
        live = live_cut(path) if path.is_dir() and not odd_files(path) else None
    if live is not None and not live.cut.steps:
        return VerifyResult(
            ok=True, violations=(), total=0, summary="", counts={}, live=live.describe(read=False)
        )
    cut = None if live is None else live.cut

    def read(files: RunFiles, events: EventSink) -> None:
        files.read(path, cut, events)

    config = _config_bytes(path)
    result = _verify(Verifier(Schemas.get(), read, cut, progress, config, run_dir=path), path, live)
    absent = no_directory(path)  # as the CLI says it, not "broken run: 5 violation(s)"
    return attrs.evolve(result, summary=absent) if absent else result


def _config_bytes(path: Path) -> bytes | None:
    """``config.json`` of the run directory, if it has one (a run written by sinks has not).

    Raises:
        OSError: the host refused to read it (``raise_if_refused``).
    """
    try:
        refuse_special(path / CONFIG)
        return (path / CONFIG).read_bytes()
    except NotAFile:
        return None  # a violation of its own (``RunFiles.read``), never read
    except OSError as exc:
        raise_if_refused(exc, path / CONFIG)
        return None


@with_context
def verify_contents(
    contents: Mapping[str, bytes | None],
    *,
    run_dir: Path | str = "(in memory)",
    progress: Callable[[int, int], object] | None = None,
) -> VerifyResult:
    """Verify a finished run given as its artifacts' bytes, by file name (``events.jsonl``…).

    The same checks as ``verify_run``, without a directory: for runs written to memory
    (the testing kit's sessions). A name that is absent or None is a missing file;
    ``run_dir`` only names the run in the summary of a broken one.

    Raises:
        MissingExtra: ``jsonschema``, a dependency of livesession, is missing from this
            environment (a broken install).
    """

    def read(files: RunFiles, events: EventSink) -> None:
        files.read_contents(contents, events)

    config = contents.get(CONFIG)
    run = Verifier(Schemas.get(), read, None, progress, config)
    run.contents = contents
    return _verify(run, Path(run_dir), None)


def _verify(run: Verifier, path: Path, live: LiveRun | None) -> VerifyResult:
    run.run()
    total = run.report.total
    rotated = rotated_parts(run.run_dir) if total and run.run_dir is not None else ""
    return VerifyResult(
        ok=not total,
        violations=run.report.finish(),
        total=total,
        summary=(
            _with(rotated)
            + summarize(
                path,
                total,
                incomplete=run.incomplete,
                dead_sinks=tuple(sink.describe() for sink in run.dead_sinks),
                stopped=run.stopped,
                corrupt=corruption(run),
                tail=damaged_tail(run),
                lost_checkpoint=run.run_dir is not None and lost_checkpoint(run.run_dir, run.bars),
            )
            if total
            else ""
        ),
        counts=run.files.counts,
        live="" if live is None else live.describe(),
        run_version=version if isinstance(version := run.events.version, str) else "",
    )


def _with(rotated: str) -> str:
    """The summary's opening: the rotated parts of the record (``rotated_parts``) first."""
    return f"{rotated}; " if rotated else ""
