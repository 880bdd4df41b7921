"""Every run a test makes is verified when the test ends (a pytest plugin).

At teardown the plugin checks, with the independent verifier (``verify_run``):

- every session built during the test (``LiveSessionOrchestrator``), through its sinks: a
  session still open is closed first, as its user would; sinks kept in memory (anything
  with ``lines``) are written out and verified; file sinks are found by the scan below;
- every run directory under the test's ``tmp_path`` (a directory holding ``events.jsonl``
  and ``audit.jsonl``), which covers runs made by the CLI in a subprocess.

A run that fails verify fails the test that made it. A test that breaks a run on purpose
says so with ``@pytest.mark.broken_run("why")``; a test that verifies its runs itself in a
loop (the failure matrix) calls ``mark_verified`` for each.
"""

from __future__ import annotations

import tempfile
import weakref
from pathlib import Path
from typing import Any

import pytest

from livesession import LiveSessionOrchestrator
from livesession.verify import verify_run

_BUILT: list[LiveSessionOrchestrator] = []
_VERIFIED: weakref.WeakSet[LiveSessionOrchestrator] = weakref.WeakSet()
_CONTRACT_LINES = {
    "events": "events.jsonl",
    "states": "state_snapshots.jsonl",
    "audit": "audit.jsonl",
}


def mark_verified(session: LiveSessionOrchestrator) -> None:
    """The caller verified ``session`` itself: teardown skips it."""
    _VERIFIED.add(session)


def verify_session(session: LiveSessionOrchestrator) -> list[str]:
    """Close ``session`` if still open and verify what its sinks hold ([] when clean).

    Sessions whose sinks are files are left to the directory scan; sinks with neither
    ``lines`` nor a file behind them cannot be read back and are skipped.
    """
    if repr(session).endswith("(<unconfigured>)"):
        return []
    session.close()
    recorder = session.recorder
    sinks = recorder.sinks
    if not all(isinstance(getattr(sink, "lines", None), list) for sink in sinks.values()):
        return []
    with tempfile.TemporaryDirectory(prefix="verify-") as tmp:
        run_dir = Path(tmp)
        for name, file_name in _CONTRACT_LINES.items():
            lines: list[bytes] = getattr(sinks[name], "lines")  # noqa: B009 - duck-typed sinks
            (run_dir / file_name).write_bytes(b"".join(_line(x) for x in lines))
        content = getattr(recorder.metrics_sink, "content", None)
        if isinstance(content, bytes):
            (run_dir / "metrics.json").write_bytes(content)
        result = verify_run(run_dir)
    return [f"session {session.config.run_id}: {v}" for v in result.violations[:10]]


def _last_writers(built: list[LiveSessionOrchestrator]) -> list[LiveSessionOrchestrator]:
    """The sessions to verify: of several writing into the same sinks, only the last.

    A test that resumes (restores a later session from an earlier one's checkpoint into
    the same sinks) abandons the earlier one as a crash would; closing that one now would
    write after the resumed run's end.
    """
    last: dict[int, LiveSessionOrchestrator] = {}
    for session in built:
        if repr(session).endswith("(<unconfigured>)"):
            continue
        last[id(session.recorder.sinks["events"])] = session
    return [s for s in built if s in last.values()]


def _line(line: bytes) -> bytes:
    return line if line.endswith(b"\n") else line + b"\n"


def run_dirs(root: Path) -> list[Path]:
    """The run directories below ``root``."""
    return sorted(
        path.parent
        for path in root.rglob("events.jsonl")
        if (path.parent / "audit.jsonl").is_file()
    )


@pytest.fixture(autouse=True)
def verify_every_run(request: pytest.FixtureRequest) -> Any:
    """Track the sessions a test builds; verify them and its run directories at teardown.

    It patches by hand rather than through ``monkeypatch``: a test's own monkeypatches
    (say, jsonschema made missing) are undone before this teardown runs.
    """
    built: list[LiveSessionOrchestrator] = []
    original = LiveSessionOrchestrator._build

    def tracking(self: LiveSessionOrchestrator, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        built.append(self)

    LiveSessionOrchestrator._build = tracking  # type: ignore[method-assign]
    try:
        yield
    finally:
        LiveSessionOrchestrator._build = original  # type: ignore[method-assign]
    if request.node.get_closest_marker("broken_run") is not None:
        return
    problems: list[str] = []
    for session in _last_writers(built):
        if session not in _VERIFIED:
            problems.extend(verify_session(session))
    tmp_path = request.node.funcargs.get("tmp_path")
    if isinstance(tmp_path, Path):
        for run_dir in run_dirs(tmp_path):
            # As a finished run, whole, even if some process still held it: at teardown
            # every run must be over (``live=None`` skips the live-run cut).
            result = verify_run(run_dir, live=None)
            problems.extend(f"{run_dir.name}: {v}" for v in result.violations[:10])
    if problems:
        pytest.fail(
            "a run made by this test fails verify (mark the test "
            '@pytest.mark.broken_run("why") if that is its purpose):\n' + "\n".join(problems),
            pytrace=False,
        )
